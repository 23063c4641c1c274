// 客群汇总: customers, orders, spend, recency and CLV per city, drilled down to
// a city's stores (GetPortraitSummary by city, then by store). The stores of
// the picked city are the store-level answer's rows whose city is it: the
// filter's stores and cities are a union, so asking for the city as a filter
// could widen a page filtered by stores.

import { get } from './api.js';
import { count, escape, num, yuan } from './format.js';

const $ = (id) => document.getElementById(id);

function row(g, drillable) {
  return `<tr data-key="${escape(g.key)}" data-customers="${escape(num(g.customers))}" class="${drillable ? 'drill' : ''}">
    <td>${escape(g.label || g.key)}${drillable ? ' <span class="muted">›</span>' : ''}</td>
    <td class="num">${count(g.customers)}</td>
    <td class="num">${(num(g.customerShare) * 100).toFixed(1)}%</td>
    <td class="num">${count(g.orders)}</td>
    <td class="num">${yuan(g.revenueFen)}</td>
    <td class="num">${yuan(g.averageOrderValueFen)}</td>
    <td class="num">${num(g.ordersPerCustomer).toFixed(2)}</td>
    <td class="num">${num(g.meanRecencyDays).toFixed(1)} 天</td>
    <td class="num">${yuan(g.meanHistoricalClvFen)}</td>
    <td class="num" data-predicted="${escape(num(g.scoredCustomers) ? num(g.meanPredictedClvFen) : '')}">${
      num(g.scoredCustomers) ? yuan(g.meanPredictedClvFen) : '—'}</td></tr>`;
}

const BY = { city: '城市 / 门店', segment: '客户分层', cluster: '客户聚类' };

/** Fills the summary for filter `f`: by `by` (city, segment or cluster); by
 * city, the stores of `city` when one is picked. */
export async function renderSummary(f, by, city, onDrill) {
  document.querySelectorAll('#summary-switch button').forEach((b) => {
    b.classList.toggle('on', b.dataset.by === by);
  });
  $('summary-group').textContent = BY[by] || BY.city;
  if (by !== 'city') return renderGroups(f, by);
  const dimension = city ? 'SUMMARY_DIMENSION_STORE' : 'SUMMARY_DIMENSION_CITY';
  const answer = await get('/v1/summary', { ...f, dimension });
  const groups = (answer.groups || []).filter((g) => !city || g.city === city);
  const crumbs = $('summary-crumbs');
  crumbs.innerHTML = city
    ? `<button type="button" class="link" data-city="">全部城市</button> › <b>${escape(city)}</b>`
    : '<b>全部城市</b>';
  crumbs.onclick = (e) => {
    const b = e.target.closest('button[data-city]');
    if (b) onDrill('');
  };
  const table = $('summary');
  table.dataset.level = city ? 'store' : 'city';
  table.querySelector('tbody').innerHTML = groups.map((g) => row(g, !city)).join('');
  table.querySelector('tfoot').innerHTML = city ? '' : row({ ...answer.total, label: '合计' }, false);
  table.querySelector('tbody').onclick = (e) => {
    const tr = e.target.closest('tr.drill');
    if (tr) onDrill(tr.dataset.key);
  };
  return groups.length > 0;
}

/** Segments or clusters: no drill-down. */
async function renderGroups(f, by) {
  const answer = await get('/v1/summary', { ...f, dimension: `SUMMARY_DIMENSION_${by.toUpperCase()}` });
  const groups = answer.groups || [];
  $('summary-crumbs').innerHTML = '';
  const table = $('summary');
  table.dataset.level = by;
  table.querySelector('tbody').innerHTML = groups.map((g) => row(g, false)).join('');
  table.querySelector('tfoot').innerHTML = row({ ...answer.total, label: '合计' }, false);
  table.querySelector('tbody').onclick = null;
  return groups.length > 0;
}
