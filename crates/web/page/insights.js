// 客户画像 view's insight panels: product associations (GetAssociations, over
// all history at the filter's stores) and customer clusters (GetClusters,
// over all customers; 立即计算 recomputes them as of the page's day).

import { get, post } from './api.js';
import { count, escape, num } from './format.js';

const $ = (id) => document.getElementById(id);

/** The top rules by lift for the page's stores and cities; false when none. */
export async function renderAssociations(f, basis) {
  const answer = await get('/v1/associations', {
    storeIds: f.storeIds, cities: f.cities, basis, limit: 10, minCount: 2,
  });
  const rows = answer.associations || [];
  const unit = basis === 'ASSOCIATION_BASIS_CUSTOMER' ? '位客户' : '单';
  $('associations-population').textContent = `共 ${count(answer.population)} ${unit}`;
  $('associations').querySelector('tbody').innerHTML = rows.map((a) => `
    <tr data-pair="${escape(a.antecedentId)}>${escape(a.consequentId)}">
      <td>${escape(a.antecedentName || a.antecedentId)} → ${escape(a.consequentName || a.consequentId)}</td>
      <td class="num">${count(a.count)}</td>
      <td class="num">${(num(a.support) * 100).toFixed(2)}%</td>
      <td class="num">${(num(a.confidence) * 100).toFixed(1)}%</td>
      <td class="num">${num(a.lift).toFixed(2)}</td></tr>`).join('');
  return rows.length > 0;
}

function clusterRows(answer, selected) {
  $('clusters-when').textContent = answer.computedAt
    ? `${answer.asOfDate} 的数据，k = ${answer.k}，轮廓系数 ${num(answer.silhouette).toFixed(3)}`
    : '尚未计算';
  $('clusters').dataset.generation = answer.generation || '';
  const pick = $('customers-cluster');
  pick.innerHTML = '<option value="">全部</option>' + (answer.clusters || []).map((c) => `
    <option value="${escape(c.cluster)}">${escape(c.cluster)} ${escape(c.description)}</option>`).join('');
  pick.value = selected;
  $('clusters').querySelector('tbody').innerHTML = (answer.clusters || []).map((c) => `
    <tr data-cluster="${escape(c.cluster)}" data-customers="${escape(num(c.customers))}">
      <td>${escape(c.cluster)}</td><td>${escape(c.description)}</td>
      <td class="num">${count(c.customers)}</td><td class="num">${(num(c.share) * 100).toFixed(1)}%</td>
      <td class="num">${num(c.recencyDays).toFixed(0)} 天</td><td class="num">${num(c.orders).toFixed(1)}</td></tr>`).join('');
  return (answer.clusters || []).length > 0;
}

/** The clusters in service, `selected` chosen in the list's picker; false
 * before the first computation. */
export async function renderClusters(selected) {
  return clusterRows(await get('/v1/clusters'), selected);
}

/** Recomputes the clusters as of `asOf` and shows them. */
export async function recomputeClusters(asOf, selected) {
  return clusterRows(await post('/v1/clusters:recompute', { asOfDate: asOf }), selected);
}
