// 客户画像 view: ListCustomers for the page's filter, sorted and paged; a row
// opens the customer drawer.

import { get } from './api.js';
import { PRIORITIES, SEGMENTS, count, escape, num, yuan } from './format.js';

const PAGE = 20;
const $ = (id) => document.getElementById(id);
let token = '';

function row(c) {
  const risk = PRIORITIES[c.risk];
  return `<tr data-customer="${escape(c.customerId)}">
    <td>${escape(c.maskedCustomerId)}</td>
    <td>${escape(SEGMENTS[c.segment] || '—')}</td>
    <td class="num">${count(c.recencyDays)} 天前</td>
    <td class="num">${count(c.orders)} 次</td>
    <td class="num">${yuan(c.spendFen)}</td>
    <td>${risk ? `<span class="tag ${risk.css}">${risk.label}</span>` : '—'}</td>
    <td class="num">${c.scored ? `${(num(c.aliveProbability) * 100).toFixed(1)}%` : '—'}</td>
    <td class="num">${c.scored ? yuan(c.predictedClvFen) : '—'}</td></tr>`;
}

/** A page of the list for filter `f` and the view's state; `replace` starts over. */
export async function loadList(f, state, replace) {
  if (replace) token = '';
  const page = await get('/v1/customers', {
    ...f,
    orderBy: `CUSTOMER_ORDER_${state.sort.toUpperCase()}`,
    atRisk: state.atRisk ? 'true' : '',
    pageSize: PAGE,
    pageToken: token,
  });
  const body = $('customers').querySelector('tbody');
  const rows = (page.customers || []).map(row).join('');
  if (replace) body.innerHTML = rows; else body.insertAdjacentHTML('beforeend', rows);
  token = page.nextPageToken || '';
  $('customers-more').classList.toggle('hidden', !token);
  $('customers-total').textContent = `共 ${count(page.total)} 位客户`;
  $('customers').dataset.total = String(num(page.total));
  return body.children.length > 0;
}
