// AI营销建议: every suggestion of ListSuggestions with its priority, expected
// effect and audience size (sortable), and one suggestion's audience, paged
// through ListSuggestionAudience. The figures are the API's, only formatted.

import { get } from './api.js';
import { PRIORITIES, SUGGESTION_TYPES, count, escape, num, yuan } from './format.js';
import { customerRow } from './list.js';

const AUDIENCE_PAGE = 20;
const $ = (id) => document.getElementById(id);
let rows = [];
let sort = { key: 'priority', desc: true };
let audience = { id: '', filter: {}, token: '' };

function sortValue(s, key) {
  switch (key) {
    case 'priority': return (PRIORITIES[s.priority]?.rank ?? 0) * 1e15 + num(s.valueAtStakeFen);
    case 'audience': return num(s.audienceSize);
    case 'type': return SUGGESTION_TYPES[s.type] || s.type;
    case 'content': return s.title;
    default: return num(s.expectedEffect?.extraRevenueFen);
  }
}

function effect(e) {
  if (!e) return '—';
  const rate = `${(num(e.responseRate) * 100).toFixed(1)}%`;
  return `触达 ${count(e.reached)} 人 · 预计响应 ${num(e.responders).toFixed(1)} 人（${rate}）
    · 增加 ${num(e.extraOrders).toFixed(1)} 单 · 增收 ${yuan(e.extraRevenueFen)}`;
}

function draw() {
  const table = $('suggestions');
  const sorted = [...rows].sort((a, b) => {
    const x = sortValue(a, sort.key);
    const y = sortValue(b, sort.key);
    const order = typeof x === 'number' ? x - y : String(x).localeCompare(String(y), 'zh-CN');
    return sort.desc ? -order : order;
  });
  table.querySelectorAll('th').forEach((th) => {
    th.classList.toggle('asc', th.dataset.sort === sort.key && !sort.desc);
    th.classList.toggle('desc', th.dataset.sort === sort.key && sort.desc);
  });
  table.querySelector('tbody').innerHTML = sorted.map((s) => {
    const p = PRIORITIES[s.priority] || { label: '—', css: 'low' };
    const e = s.expectedEffect || {};
    const omitted = (s.omitted || []).map((o) => `<p class="muted">未含：${escape(o)}</p>`).join('');
    return `<tr data-suggestion="${escape(s.id)}" data-suggestion-id="${escape(s.id)}" data-type="${escape(s.type)}" data-priority="${escape(s.priority)}"
        data-audience="${escape(num(s.audienceSize))}" data-revenue="${escape(num(e.extraRevenueFen))}"
        data-responders="${escape(num(e.responders))}">
      <td>${escape(SUGGESTION_TYPES[s.type] || s.type)}</td>
      <td><strong>${escape(s.title)}</strong><p class="muted">${escape(s.content)}</p>${omitted}</td>
      <td><span class="tag ${p.css}">${p.label}</span></td>
      <td>${effect(s.expectedEffect)}<p class="muted">${escape(e.responseRateSource || '')}</p></td>
      <td class="num">${count(s.audienceSize)} 人<br><button type="button" class="link audience-open">查看名单</button></td></tr>`;
  }).join('');
}

/** The suggestions of a ListSuggestions answer; false when there are none. */
export function renderSuggestions(answer) {
  rows = answer.suggestions || [];
  // Adopting a row (effect.js) sends the filter its audience was computed for.
  $('suggestions').dataset.filter = JSON.stringify(answer.filter || {});
  const notes = (answer.notes || []).join('；');
  $('suggestions-total').textContent = `共 ${count(answer.total)} 条建议${notes ? `（${notes}）` : ''}`;
  draw();
  if (audience.id && !rows.some((s) => s.id === audience.id)) closeAudience();
  return rows.length > 0;
}

function sortableSuggestions() {
  document.querySelector('#suggestions thead').addEventListener('click', (e) => {
    const key = e.target.closest('th')?.dataset.sort;
    if (!key) return;
    sort = { key, desc: sort.key === key ? !sort.desc : true };
    draw();
  });
}

function closeAudience() {
  audience = { id: '', filter: {}, token: '' };
  $('suggestion-audience').classList.add('hidden');
}

/** A page of suggestion `id`'s audience for filter `f`; `replace` starts over. */
export async function loadAudience(f, id, replace) {
  if (replace) audience = { id, filter: f, token: '' };
  const page = await get(`/v1/suggestions/${encodeURIComponent(audience.id)}/audience`, {
    ...audience.filter, pageSize: AUDIENCE_PAGE, pageToken: audience.token,
  });
  const body = $('suggestion-audience-table').querySelector('tbody');
  const html = (page.customers || []).map(customerRow).join('');
  if (replace) body.innerHTML = html; else body.insertAdjacentHTML('beforeend', html);
  audience.token = page.nextPageToken || '';
  $('suggestion-audience').classList.remove('hidden');
  $('suggestion-audience').dataset.suggestion = audience.id;
  $('suggestion-audience').dataset.total = String(num(page.total));
  $('suggestion-audience-title').textContent = `${page.suggestion?.title || ''}：共 ${count(page.total)} 人`;
  $('suggestion-audience-more').classList.toggle('hidden', !audience.token);
  return body.children.length > 0;
}

/** Wires the panel: a row's 查看名单 opens its audience, 加载更多 pages it. */
export function wireSuggestions(filter, pickCustomer) {
  sortableSuggestions();
  $('suggestions').addEventListener('click', (e) => {
    const row = e.target.closest('tr[data-suggestion]');
    if (row && e.target.closest('.audience-open')) loadAudience(filter(), row.dataset.suggestion, true);
  });
  $('suggestion-audience-more').addEventListener('click', () => loadAudience(audience.filter, audience.id, false));
  $('suggestion-audience-close').addEventListener('click', closeAudience);
  $('suggestion-audience-table').addEventListener('click', (e) => {
    const row = e.target.closest('tr[data-customer]');
    if (row) pickCustomer(row.dataset.customer);
  });
}
