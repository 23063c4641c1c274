// The view's state lives in the URL's query, so a view can be shared and a
// reload restores it: stores, cities, range (7d, 30d, 90d, ytd, all or
// custom with from and to, both days included), asOf, top (quantity or
// revenue) and segment (the donut slice whose customers are listed).

import { addDays, daysBetween, escape, today } from './format.js';

const RANGES = ['7d', '30d', '90d', 'ytd', 'all', 'custom'];
/** The customer list's orders, as ListCustomers names them without the prefix. */
export const LIST_ORDERS = ['spend', 'recency', 'frequency', 'predicted_clv', 'alive_probability'];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function list(params, key) {
  return params.getAll(key).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

function date(params, key) {
  const v = params.get(key) || '';
  return DATE.test(v) ? v : '';
}

export function readUrl(search = window.location.search) {
  const p = new URLSearchParams(search);
  const range = RANGES.includes(p.get('range')) ? p.get('range') : '30d';
  return {
    stores: list(p, 'stores'),
    cities: list(p, 'cities'),
    range,
    from: date(p, 'from'),
    to: date(p, 'to'),
    asOf: date(p, 'asOf'),
    top: p.get('top') === 'revenue' ? 'revenue' : 'quantity',
    segment: p.get('segment') || '',
    customer: p.get('customer') || '',
    drill: p.get('drill') || '',
    view: p.get('view') === 'customers' ? 'customers' : 'overview',
    sort: LIST_ORDERS.includes(p.get('sort')) ? p.get('sort') : 'spend',
    atRisk: p.get('atRisk') === '1',
    cluster: /^[1-9]$/.test(p.get('cluster') || '') ? p.get('cluster') : '',
    channel: /^CHANNEL_[A-Z_]+$/.test(p.get('channel') || '') ? p.get('channel') : '',
    basis: p.get('basis') === 'customer' ? 'customer' : 'basket',
    by: ['segment', 'cluster', 'channel', 'hour_band'].includes(p.get('by')) ? p.get('by') : 'city',
  };
}

export function toQuery(state) {
  const p = new URLSearchParams();
  if (state.stores.length) p.set('stores', state.stores.join(','));
  if (state.cities.length) p.set('cities', state.cities.join(','));
  p.set('range', state.range);
  if (state.range === 'custom') {
    if (state.from) p.set('from', state.from);
    if (state.to) p.set('to', state.to);
  }
  if (state.asOf) p.set('asOf', state.asOf);
  if (state.top !== 'quantity') p.set('top', state.top);
  if (state.segment) p.set('segment', state.segment);
  if (state.customer) p.set('customer', state.customer);
  if (state.drill) p.set('drill', state.drill);
  if (state.by !== 'city') p.set('by', state.by);
  if (state.view !== 'overview') p.set('view', state.view);
  if (state.view === 'customers' && state.sort !== 'spend') p.set('sort', state.sort);
  if (state.view === 'customers' && state.atRisk) p.set('atRisk', '1');
  if (state.view === 'customers' && state.cluster) p.set('cluster', state.cluster);
  if (state.view === 'customers' && state.channel) p.set('channel', state.channel);
  if (state.view === 'customers' && state.basis !== 'basket') p.set('basis', state.basis);
  return `?${p.toString()}`;
}

/** The shown range as days included: [first, last], '' for unbounded. */
export function shownRange(state) {
  const asOf = state.asOf || today();
  const back = { '7d': 6, '30d': 29, '90d': 89 }[state.range];
  if (back !== undefined) return [addDays(asOf, -back), asOf];
  if (state.range === 'ytd') return [`${asOf.slice(0, 4)}-01-01`, asOf];
  if (state.range === 'custom') return [state.from, state.to];
  return ['', ''];
}

/** The API's Filter for the state (to_date excluded, as the API counts). */
export function apiFilter(state) {
  const [first, last] = shownRange(state);
  return {
    storeIds: state.stores,
    cities: state.cities,
    fromDate: first,
    toDate: last ? addDays(last, 1) : '',
    asOfDate: state.asOf || today(),
  };
}

/**
 * The period of the same length just before the filter's, analysed as of its
 * last day; null when the range has no start (全部).
 */
export function previousFilter(filter) {
  if (!filter.fromDate) return null;
  const cap = addDays(filter.asOfDate, 1);
  const end = filter.toDate && filter.toDate < cap ? filter.toDate : cap;
  const days = daysBetween(filter.fromDate, end);
  if (days <= 0) return null;
  return {
    ...filter,
    fromDate: addDays(filter.fromDate, -days),
    toDate: filter.fromDate,
    asOfDate: addDays(filter.fromDate, -1),
  };
}

/**
 * A searchable multi-select: a summary button opening a list of checkboxes.
 * `options` are {value, label, hint}; `onChange` gets the chosen values.
 */
export function multiSelect(root, { all, unit, options, selected, onChange }) {
  let chosen = new Set(selected);
  let items = options;
  root.innerHTML = `<button type="button" class="summary"></button>
    <div class="dropdown hidden">
      <input type="search" placeholder="搜索${escape(unit)}" aria-label="搜索${escape(unit)}">
      <ul class="options"></ul>
      <div class="actions"><span class="count"></span><button type="button" class="link clear">清空</button></div>
    </div>`;
  const summary = root.querySelector('.summary');
  const dropdown = root.querySelector('.dropdown');
  const search = root.querySelector('input[type=search]');
  const ul = root.querySelector('.options');

  function label(value) {
    const o = items.find((i) => i.value === value);
    return o ? o.label : value;
  }

  function renderSummary() {
    const values = [...chosen];
    summary.textContent = values.length === 0 ? all
      : values.length <= 2 ? values.map(label).join('、') : `已选 ${values.length} 个${unit}`;
    summary.title = values.map(label).join('、') || all;
    root.querySelector('.count').textContent = `共 ${items.length} 个${unit}`;
  }

  function renderOptions() {
    const q = search.value.trim().toLowerCase();
    const shown = items.filter((o) => !q
      || [o.label, o.value, o.hint].some((t) => String(t || '').toLowerCase().includes(q)));
    ul.innerHTML = shown.length === 0 ? '<li class="muted">无匹配项</li>'
      : shown.map((o) => `<li><label><input type="checkbox" value="${escape(o.value)}"${chosen.has(o.value) ? ' checked' : ''}>
        <span>${escape(o.label)}</span><span class="hint">${escape(o.hint || '')}</span></label></li>`).join('');
  }

  summary.addEventListener('click', () => {
    dropdown.classList.toggle('hidden');
    if (!dropdown.classList.contains('hidden')) {
      renderOptions();
      search.focus();
    }
  });
  search.addEventListener('input', renderOptions);
  ul.addEventListener('change', (e) => {
    const box = e.target;
    if (box.checked) chosen.add(box.value); else chosen.delete(box.value);
    renderSummary();
    onChange([...chosen]);
  });
  root.querySelector('.clear').addEventListener('click', () => {
    chosen = new Set();
    renderSummary();
    renderOptions();
    onChange([]);
  });
  document.addEventListener('click', (e) => {
    if (!root.contains(e.target)) dropdown.classList.add('hidden');
  });
  renderSummary();
  return {
    set(values) {
      chosen = new Set(values);
      renderSummary();
      renderOptions();
    },
    options(next) {
      items = next;
      renderSummary();
      renderOptions();
    },
  };
}
