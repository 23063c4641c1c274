// 客户画像 view: ListCustomers for the page's filter, sorted and paged; a row
// opens the customer drawer.

import { get } from './api.js';
import { CHANNELS, PRIORITIES, SEGMENTS, count, escape, num, yuan } from './format.js';

const PAGE = 20;
const $ = (id) => document.getElementById(id);
let token = '';
let lastRequest = {};

/** One customer of a list (ListCustomers, a suggestion's audience). */
export function customerRow(c) {
  const risk = PRIORITIES[c.risk];
  return `<tr data-customer="${escape(c.customerId)}">
    <td>${escape(c.maskedCustomerId)}</td>
    <td>${escape(SEGMENTS[c.segment] || '—')}</td>
    <td class="num">${count(c.recencyDays)} 天前</td>
    <td class="num">${count(c.orders)} 次</td>
    <td class="num">${yuan(c.spendFen)}</td>
    <td>${risk ? `<span class="tag ${risk.css}">${risk.label}</span>` : '—'}</td>
    <td class="num">${c.scored ? `${(num(c.aliveProbability) * 100).toFixed(1)}%` : '—'}</td>
    <td class="num">${c.scored ? yuan(c.predictedClvFen) : '—'}</td>
    <td>${num(c.cluster) ? escape(c.cluster) : '—'}</td>
    <td>${escape(CHANNELS[c.mainChannel] || '—')}</td></tr>`;
}

/** A page of the list for filter `f` and the view's state; `replace` starts over. */
export async function loadList(f, state, replace) {
  if (replace) token = '';
  lastRequest = {
    ...f,
    orderBy: `CUSTOMER_ORDER_${state.sort.toUpperCase()}`,
    atRisk: state.atRisk ? 'true' : '',
    cluster: state.cluster,
    mainChannel: state.channel,
  };
  const page = await get('/v1/customers', { ...lastRequest, pageSize: PAGE, pageToken: token });
  const body = $('customers').querySelector('tbody');
  const rows = (page.customers || []).map(customerRow).join('');
  if (replace) body.innerHTML = rows; else body.insertAdjacentHTML('beforeend', rows);
  token = page.nextPageToken || '';
  $('customers-more').classList.toggle('hidden', !token);
  $('customers-total').textContent = `共 ${count(page.total)} 位客户`;
  $('customers').dataset.total = String(num(page.total));
  $('customers').dataset.labels = page.labelsGeneration || '';
  return body.children.length > 0;
}

/** The parameters of the list shown (the browser test asks the API the same). */
export function listRequest() {
  return lastRequest;
}
