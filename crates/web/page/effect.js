// The suggestion loop on the page: an adopt button on each suggestion row of
// the AI营销建议 panel, and the 建议效果 panel: the adopted suggestions and,
// for the one picked, its live effect (treated vs control, lift with 95 %
// intervals, realised vs expected). Figures come from the API as they are.

import { ApiError, describe, get, post } from './api.js';
import { SUGGESTION_TYPES, count, escape, num, yuan } from './format.js';

const STATUS = {
  SUGGESTION_STATUS_NEW: { label: '新建议', css: 'low' },
  SUGGESTION_STATUS_ADOPTED: { label: '跟踪中', css: 'medium' },
  SUGGESTION_STATUS_FINISHED: { label: '已完成', css: 'high' },
  SUGGESTION_STATUS_DISMISSED: { label: '已放弃', css: 'low' },
};

let picked = '';

const $ = (id) => document.getElementById(id);

function state(kind, text) {
  const el = $('panel-effects');
  el.classList.remove('loading', 'empty', 'failed');
  if (kind) el.classList.add(kind);
  el.querySelector('.state').textContent = text || '';
}

/** A row's suggestion id, as the panel gives it. */
function suggestionId(row) {
  return row.dataset.suggestionId || '';
}

/** Adds the adopt button to every suggestion row, whenever the rows are drawn. */
function hookSuggestionRows() {
  const table = $('suggestions');
  if (!table) return;
  const head = table.querySelector('thead tr');
  if (head && !head.querySelector('.adopt')) head.insertAdjacentHTML('beforeend', '<th class="adopt">跟踪</th>');
  const add = () => {
    table.querySelectorAll('tbody tr').forEach((row) => {
      const id = suggestionId(row);
      if (!id || row.querySelector('.adopt')) return;
      row.insertAdjacentHTML('beforeend',
        `<td class="adopt"><button type="button" class="link" data-adopt="${escape(id)}">采纳</button></td>`);
    });
  };
  new MutationObserver(add).observe(table.querySelector('tbody'), { childList: true });
  add();
  table.addEventListener('click', async (e) => {
    const button = e.target.closest('button[data-adopt]');
    if (!button) return;
    e.stopPropagation();
    const id = button.dataset.adopt;
    try {
      // The filter the list was computed for: its dates pick the audience.
      const filter = JSON.parse(table.dataset.filter || '{}');
      await post('/v1/suggestions:adopt', { id, filter });
      $('effect-message').textContent = `已采纳 ${id}：对照组请勿触达`;
    } catch (err) {
      const known = err instanceof ApiError && err.code === 6;
      $('effect-message').textContent = known ? `${id} 已采纳` : `采纳失败：${describe(err)}`;
    }
    picked = id;
    await loadEffects();
  });
}

function pct(rate) {
  return `${(num(rate) * 100).toFixed(1)}%`;
}

function interval(ci, format) {
  return ci ? `[${format(ci.low)}, ${format(ci.high)}]` : '—';
}

function signedPct(v) {
  return `${num(v) >= 0 ? '+' : ''}${(num(v) * 100).toFixed(1)}%`;
}

function drawAdoptions(list) {
  $('adoptions').querySelector('tbody').innerHTML = list.map((a) => {
    const s = STATUS[a.status] || { label: a.status, css: 'low' };
    return `<tr data-adoption="${escape(a.id)}" class="${a.id === picked ? 'on' : ''}">
      <td>${escape(SUGGESTION_TYPES[a.type] || a.type)}</td>
      <td>${escape(a.title)}</td>
      <td><span class="tag ${s.css}">${s.label}</span></td>
      <td>${escape(a.adoptedDate || '—')}</td>
      <td class="num">${escape(String(a.windowDays))} 天</td>
      <td class="num" data-value="${escape(a.treatedCustomers)}">${count(a.treatedCustomers)}</td>
      <td class="num" data-value="${escape(a.controlCustomers)}">${count(a.controlCustomers)}</td></tr>`;
  }).join('');
}

function groupRow(name, g) {
  return `<tr data-group="${name}">
    <td>${name === 'treated' ? '实验组（触达）' : '对照组（不触达）'}</td>
    <td class="num" data-field="customers" data-value="${escape(g.customers)}">${count(g.customers)}</td>
    <td class="num" data-field="responders" data-value="${escape(g.responders)}">${count(g.responders)}</td>
    <td class="num" data-field="responseRate" data-value="${escape(g.responseRate)}">${pct(g.responseRate)}</td>
    <td class="num" data-field="orders" data-value="${escape(g.orders)}">${count(g.orders)}</td>
    <td class="num" data-field="revenueFen" data-value="${escape(g.revenueFen)}">${yuan(g.revenueFen)}</td>
    <td class="num" data-field="revenuePerCustomerFen" data-value="${escape(g.revenuePerCustomerFen)}">${yuan(g.revenuePerCustomerFen)}</td></tr>`;
}

function drawEffect(e) {
  const a = e.suggestion || {};
  const lift = e.lift;
  const real = e.realised;
  const exp = e.expectedForTreated || {};
  $('effect-view').innerHTML = `
    <p class="hint" id="effect-window">${escape(a.title)}：${escape(e.windowStart)} 起第 ${escape(String(e.daysElapsed))} / ${escape(String(a.windowDays))} 天
      （统计 ${escape(e.windowStart)} 至 ${escape(e.windowEnd)} 前，含全部门店的净订单）</p>
    <table class="table" id="effect-groups"><thead><tr><th>分组</th><th class="num">客户</th><th class="num">响应客户</th>
      <th class="num">响应率</th><th class="num">订单</th><th class="num">金额</th><th class="num">人均金额</th></tr></thead>
      <tbody>${groupRow('treated', e.treated || {})}${groupRow('control', e.control || {})}</tbody></table>
    <table class="table" id="effect-lift"><tbody>${lift ? `
      <tr><td>响应率提升</td><td class="num" data-value="${escape(lift.rateDifference)}">${signedPct(lift.rateDifference)}</td>
        <td>95% 区间 ${interval(lift.rateDifferenceCi, signedPct)}（Newcombe）</td></tr>
      <tr><td>响应率倍数</td><td class="num">${lift.rateRatio === undefined || lift.rateRatio === null ? '—' : num(lift.rateRatio).toFixed(2)}</td>
        <td>95% 区间 ${interval(lift.rateRatioCi, (v) => num(v).toFixed(2))}（对数法）</td></tr>
      <tr><td>人均金额差</td><td class="num">${yuan(lift.revenuePerCustomerDifferenceFen)}</td>
        <td>95% 区间 ${interval(lift.revenuePerCustomerDifferenceCi, yuan)}（Welch）</td></tr>`
    : '<tr><td>无对照组，无法计算提升</td></tr>'}</tbody></table>
    <table class="table" id="effect-realised"><thead><tr><th></th><th class="num">实际增量</th><th class="num">预期（按实验组规模）</th></tr></thead><tbody>
      <tr><td>增量响应客户</td><td class="num">${real ? num(real.extraResponders).toFixed(1) : '—'}</td><td class="num">${num(exp.responders).toFixed(1)}</td></tr>
      <tr><td>增量订单</td><td class="num">${real ? num(real.extraOrders).toFixed(1) : '—'}</td><td class="num">${num(exp.extraOrders).toFixed(1)}</td></tr>
      <tr><td>增量金额</td><td class="num">${real ? yuan(real.extraRevenueFen) : '—'}</td><td class="num">${yuan(exp.extraRevenueFen)}</td></tr>
    </tbody></table>
    <p><a class="link" href="/v1/adoptions/${encodeURIComponent(a.id)}/members?group=EFFECT_GROUP_CONTROL&pageSize=1000" target="_blank">对照组名单（请勿触达）</a>
      ${a.status === 'SUGGESTION_STATUS_ADOPTED' ? `<button type="button" class="link" id="effect-dismiss" data-id="${escape(a.id)}">放弃</button>` : ''}</p>`;
}

/** The adoptions, and the picked one's effect (the newest by default). */
export async function loadEffects() {
  state('loading', '加载中…');
  try {
    const list = (await get('/v1/adoptions')).suggestions || [];
    const adopted = list.filter((a) => num(a.adoptedAtMs) > 0);
    if (!adopted.some((a) => a.id === picked)) picked = adopted[0]?.id || '';
    drawAdoptions(list);
    $('effect-view').innerHTML = '';
    if (picked) drawEffect(await get(`/v1/adoptions/${encodeURIComponent(picked)}/effect`));
    state(list.length ? null : 'empty', list.length ? '' : '尚未采纳任何建议：在 AI营销建议 中点击“采纳”');
  } catch (err) {
    state('failed', `加载失败：${describe(err)}`);
  }
  document.body.dataset.effects = picked || 'none';
}

/** Hooks the suggestion rows, wires the panel and loads it. */
export function wireEffects() {
  hookSuggestionRows();
  $('adoptions').addEventListener('click', (e) => {
    const row = e.target.closest('tr[data-adoption]');
    if (!row) return;
    picked = row.dataset.adoption;
    loadEffects();
  });
  $('effect-view').addEventListener('click', async (e) => {
    const button = e.target.closest('#effect-dismiss');
    if (!button) return;
    try {
      await post('/v1/suggestions:dismiss', { id: button.dataset.id });
    } catch (err) {
      $('effect-message').textContent = `放弃失败：${describe(err)}`;
    }
    loadEffects();
  });
  return loadEffects();
}
