// The 客群画像 page: filters in the URL, panels filled from the gateway's
// JSON API, each refresh timed (window.portrait.timings) for the browser test.

import { describe, get, post } from './api.js';
import { charts, renderChannels, renderHours, renderProducts, renderSegments } from './charts.js';
import {
  apiFilter, multiSelect, previousFilter, readUrl, shownRange, toQuery,
} from './filters.js';
import { change, count, num, setZone, today, yuan } from './format.js';
import { customerNotFound, openCustomer } from './customer.js';
import { recomputeClusters, renderAssociations, renderClusters } from './insights.js';
import { listRequest, loadList } from './list.js';
import { renderSummary } from './summary.js';
import { syncButton } from './sync.js';
import { appendCustomers, renderQuality } from './tables.js';
import { renderSuggestions, wireSuggestions } from './suggestions.js';
import { wireEffects } from './effect.js';
import { renderFlows, renderModelFit } from './models.js';

const CUSTOMERS_PAGE = 20;
let state = readUrl();
let generation = 0;
let segmentAnswer = null;
let customersToken = '';
const timings = [];
const $ = (id) => document.getElementById(id);

window.portrait = {
  charts,
  timings,
  state: () => state,
  listRequest,
  filter: () => apiFilter(state),
  previous: () => previousFilter(apiFilter(state)),
};

function panel(id, kind, text) {
  const el = $(id);
  el.classList.remove('loading', 'empty', 'failed');
  if (kind) el.classList.add(kind);
  el.querySelector('.state').textContent = text || '';
}

function banner(text) {
  $('page-error').textContent = text || '';
  $('page-error').classList.toggle('hidden', !text);
}

/** Runs a panel's load: loading, then filled, empty or failed in words. */
async function load(id, record, fetchAndRender, gen) {
  const t0 = performance.now();
  panel(id, 'loading', '加载中…');
  try {
    const filled = await fetchAndRender(() => gen === generation);
    if (gen === generation) panel(id, filled ? null : 'empty', filled ? '' : '当前筛选条件下暂无数据');
  } catch (e) {
    if (gen === generation) panel(id, 'failed', `加载失败：${describe(e)}`);
  } finally {
    record[id] = Math.round((performance.now() - t0) * 10) / 10;
  }
}

function setKpi(id, value, previous, format) {
  const card = $(id);
  const el = card.querySelector('.value');
  el.textContent = format(value);
  el.dataset.value = String(value ?? '');
  el.dataset.previous = previous === undefined ? '' : String(previous);
  const c = card.querySelector('.change');
  const delta = previous === undefined ? null : change(value, previous);
  c.className = `change ${delta ? delta.dir : ''}`;
  c.textContent = previous === undefined ? '全部时间，无上期可比'
    : delta ? `较上期 ${delta.text}` : '上期无数据';
}

async function kpis(f, isCurrent) {
  const prev = previousFilter(f);
  const [now, before] = await Promise.all([
    get('/v1/overview', f),
    prev ? get('/v1/overview', prev) : Promise.resolve(null),
  ]);
  if (!isCurrent()) return true;
  const p = (key) => (before ? before[key] : undefined);
  setKpi('kpi-total', now.totalCustomers, p('totalCustomers'), count);
  setKpi('kpi-active', now.activeCustomers, p('activeCustomers'), count);
  setKpi('kpi-aov', now.averageOrderValueFen, p('averageOrderValueFen'), yuan);
  setKpi('kpi-ltv', now.lifetimeValueFen, p('lifetimeValueFen'), yuan);
  $('kpi-orders-note').textContent = `所选期间 ${count(now.orders)} 单，营收 ${yuan(now.revenueFen)}`;
  return true;
}

async function loadCustomers(replace) {
  const f = apiFilter(state);
  const gen = generation;
  const box = $('panel-segment-customers');
  if (!state.segment) {
    box.classList.add('hidden');
    return;
  }
  box.classList.remove('hidden');
  const figure = (segmentAnswer?.segments || []).find((s) => s.segment === state.segment);
  $('segment-customers-title').textContent = figure
    ? `${figure.label} · ${count(figure.customers)} 位客户` : '客户名单';
  if (replace) customersToken = '';
  await load('panel-segment-customers', {}, async (isCurrent) => {
    const page = await get('/v1/rfm', {
      ...f, segment: state.segment, pageSize: CUSTOMERS_PAGE, pageToken: customersToken,
    });
    if (!isCurrent()) return true;
    const shown = appendCustomers(page, replace);
    customersToken = page.nextPageToken || '';
    $('segment-customers-more').classList.toggle('hidden', !customersToken);
    return shown > 0;
  }, gen);
}

function showCustomer() {
  if (!state.customer) {
    $('customer-drawer').classList.add('hidden');
    return Promise.resolve();
  }
  return openCustomer(state.customer, apiFilter(state), () => update({ customer: '' }, false));
}

function pickCustomer(id) {
  const wanted = (id || '').trim();
  if (!wanted) return;
  update({ customer: wanted }, false);
  showCustomer();
}

/** The view the state names: its tab marked, its sections shown. */
function showView() {
  document.querySelectorAll('.views .view[data-view]').forEach((a) => {
    a.classList.toggle('active', a.dataset.view === state.view);
  });
  $('view-overview').classList.toggle('hidden', state.view !== 'overview');
  $('view-customers').classList.toggle('hidden', state.view !== 'customers');
  $('customers-sort').value = state.sort;
  document.querySelectorAll('#basis-switch button').forEach((b) => {
    b.classList.toggle('on', b.dataset.basis === `ASSOCIATION_BASIS_${state.basis.toUpperCase()}`);
  });
  $('customers-risk').checked = state.atRisk;
  $('customers-channel').value = state.channel;
}

/** The summary drilled into a city, or back to every city (''). */
function drillTo(city) {
  update({ drill: city }, false);
  load('panel-summary', {}, async () => renderSummary(apiFilter(state), state.by, state.drill, drillTo), generation);
}

function pickSegment(segment) {
  update({ segment }, false);
  renderSegments(segmentAnswer, pickSegment, state.segment);
  loadCustomers(true);
  $('panel-segment-customers').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

async function refresh(reason) {
  generation += 1;
  const gen = generation;
  document.body.dataset.started = String(gen);
  const f = apiFilter(state);
  const record = {};
  const t0 = performance.now();
  document.body.dataset.state = 'loading';
  banner('');
  document.querySelectorAll('.kpi').forEach((k) => k.classList.add('loading'));
  const overview = state.view !== 'customers';
  const kpiLoad = (overview ? kpis(f, () => gen === generation) : Promise.resolve()).catch((e) => {
    if (gen === generation) banner(`指标加载失败：${describe(e)}`);
  }).finally(() => {
    record.kpis = Math.round((performance.now() - t0) * 10) / 10;
    document.querySelectorAll('.kpi').forEach((k) => k.classList.remove('loading'));
  });
  const orderBy = state.top === 'revenue' ? 'PRODUCT_ORDER_REVENUE' : 'PRODUCT_ORDER_QUANTITY';
  showView();
  const basis = `ASSOCIATION_BASIS_${state.basis.toUpperCase()}`;
  const panels = state.view === 'customers' ? [
    load('panel-customers', record, async () => loadList(f, state, true), gen),
    load('panel-associations', record, async () => renderAssociations(f, basis), gen),
    load('panel-clusters', record, async () => renderClusters(state.cluster), gen),
    load('panel-model', record, async () => renderModelFit(), gen),
    load('panel-flows', record, async () => renderFlows(), gen),
  ] : [
    load('panel-segments', record, async (isCurrent) => {
      const answer = await get('/v1/segments', f);
      if (!isCurrent()) return true;
      segmentAnswer = answer;
      renderSegments(answer, pickSegment, state.segment);
      return num(answer.customers) > 0;
    }, gen),
    load('panel-hours', record, async (isCurrent) => {
      const answer = await get('/v1/hours', f);
      if (isCurrent()) renderHours(answer);
      return (answer.hours || []).some((h) => num(h.orders) > 0);
    }, gen),
    load('panel-products', record, async (isCurrent) => {
      const answer = await get('/v1/products', { ...f, limit: 10, orderBy });
      if (isCurrent()) renderProducts(answer, state.top);
      return (answer.products || []).length > 0;
    }, gen),
    load('panel-channels', record, async (isCurrent) => {
      const answer = await get('/v1/channels', f);
      if (isCurrent()) renderChannels(answer);
      return (answer.channels || []).some((c) => num(c.orders) > 0);
    }, gen),
    load('panel-summary', record, async () => renderSummary(f, state.by, state.drill, drillTo), gen),
    load('panel-suggestions', record, async (isCurrent) => {
      const answer = await get('/v1/suggestions', { ...f, pageSize: 100 });
      return isCurrent() ? renderSuggestions(answer) : true;
    }, gen),
  ];
  await Promise.all([kpiLoad, ...panels]);
  if (gen !== generation) return;
  if (overview && state.segment) await loadCustomers(true);
  if (state.customer) await showCustomer();
  const now = performance.now();
  timings.push({
    reason, at: Math.round(now), totalMs: Math.round((now - t0) * 10) / 10, panels: record,
  });
  document.body.dataset.generation = String(gen);
  document.body.dataset.state = 'ready';
}

async function loadQuality() {
  await load('panel-quality', {}, async () => renderQuality(await get('/v1/sync/qualityReport')), generation);
}

let stores;
let cities;

function showControls() {
  const [first, last] = shownRange(state);
  $('from-date').value = first;
  $('to-date').value = last;
  $('as-of-date').value = state.asOf || today();
  document.querySelectorAll('#presets button').forEach((b) => {
    b.classList.toggle('on', b.dataset.range === state.range);
  });
  document.querySelectorAll('#product-switch button').forEach((b) => {
    b.classList.toggle('on', b.dataset.by === state.top);
  });
  stores?.set(state.stores);
  cities?.set(state.cities);
}

/** A new state: into the URL (a new history entry), then the panels. */
function update(partial, reload = true) {
  state = { ...state, ...partial };
  window.history.pushState(null, '', toQuery(state));
  showControls();
  if (reload) refresh('filter');
}

function wire() {
  document.querySelectorAll('#presets button').forEach((b) => {
    b.addEventListener('click', () => update({ range: b.dataset.range, from: '', to: '' }));
  });
  const custom = () => update({ range: 'custom', from: $('from-date').value, to: $('to-date').value });
  $('from-date').addEventListener('change', custom);
  $('to-date').addEventListener('change', custom);
  $('as-of-date').addEventListener('change', () => update({ asOf: $('as-of-date').value }));
  $('reset-filter').addEventListener('click', () => update(readUrl('')));
  document.querySelectorAll('#product-switch button').forEach((b) => {
    b.addEventListener('click', () => update({ top: b.dataset.by }));
  });
  $('segment-customers-close').addEventListener('click', () => {
    update({ segment: '' }, false);
    loadCustomers(true);
    if (segmentAnswer) renderSegments(segmentAnswer, pickSegment, '');
  });
  $('segment-customers-more').addEventListener('click', () => loadCustomers(false));
  $('segment-customers').addEventListener('click', (e) => {
    const row = e.target.closest('tr[data-customer]');
    if (row) pickCustomer(row.dataset.customer);
  });
  document.querySelectorAll('.views .view[data-view]').forEach((a) => {
    a.addEventListener('click', (e) => {
      e.preventDefault();
      if (a.dataset.view !== state.view) update({ view: a.dataset.view });
    });
  });
  document.querySelectorAll('#summary-switch button').forEach((b) => {
    b.addEventListener('click', () => {
      update({ by: b.dataset.by, drill: '' }, false);
      load('panel-summary', {}, async () => renderSummary(apiFilter(state), state.by, '', drillTo), generation);
    });
  });
  $('customers-sort').addEventListener('change', () => update({ sort: $('customers-sort').value }));
  $('customers-risk').addEventListener('change', () => update({ atRisk: $('customers-risk').checked }));
  $('customers-cluster').addEventListener('change', () => update({ cluster: $('customers-cluster').value }));
  $('customers-channel').addEventListener('change', () => update({ channel: $('customers-channel').value }));
  // A cluster's row lists its customers.
  $('clusters').addEventListener('click', (e) => {
    const row = e.target.closest('tr[data-cluster]');
    if (!row) return;
    update({ cluster: row.dataset.cluster });
    $('panel-customers').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  });
  document.querySelectorAll('#basis-switch button').forEach((b) => {
    b.addEventListener('click', () => {
      update({ basis: b.dataset.basis.replace('ASSOCIATION_BASIS_', '').toLowerCase() });
    });
  });
  $('clusters-recompute').addEventListener('click', () => {
    load('panel-clusters', {}, async () => recomputeClusters(apiFilter(state).asOfDate, state.cluster), generation);
  });
  $('customers-more').addEventListener('click', () => {
    load('panel-customers', {}, async () => loadList(apiFilter(state), state, false), generation);
  });
  $('customers').addEventListener('click', (e) => {
    const row = e.target.closest('tr[data-customer]');
    if (row) pickCustomer(row.dataset.customer);
  });
  $('customer-search').addEventListener('submit', async (e) => {
    e.preventDefault();
    const query = $('customer-query').value.trim();
    if (!query) return;
    // An id or a phone: the gateway finds the customer (a phone by its hash).
    try {
      pickCustomer((await post('/v1/customers:find', { query })).customerId);
    } catch (err) {
      update({ customer: '' }, false);
      customerNotFound(err.code === 5 ? '未找到匹配的客户' : `查找失败：${describe(err)}`);
    }
  });
  window.addEventListener('popstate', () => {
    state = readUrl();
    showControls();
    refresh('history');
  });
  wireSuggestions(() => apiFilter(state), pickCustomer);
  syncButton(async () => {
    await Promise.all([refresh('sync'), loadQuality()]);
  });
}

async function start() {
  // Dates are the chain's calendar days: learn its zone before any range is computed.
  await get('/v1/status').then((status) => setZone(status.timeZone)).catch(() => {});
  wire();
  stores = multiSelect($('store-select'), {
    all: '全部门店', unit: '门店', options: [], selected: state.stores,
    onChange: (values) => update({ stores: values }),
  });
  cities = multiSelect($('city-select'), {
    all: '全部城市', unit: '城市', options: [], selected: state.cities,
    onChange: (values) => update({ cities: values }),
  });
  showControls();
  const listed = get('/v1/stores').then((answer) => {
    const list = answer.stores || [];
    stores.options(list.map((s) => ({ value: s.storeId, label: s.name || s.storeId, hint: `${s.city} · ${s.storeId}` })));
    const names = [...new Set(list.map((s) => s.city).filter(Boolean))].sort((a, b) => a.localeCompare(b, 'zh-CN'));
    cities.options(names.map((c) => ({ value: c, label: c })));
  }).catch((e) => banner(`门店列表加载失败：${describe(e)}`));
  await Promise.all([listed, refresh('load'), loadQuality(), wireEffects()]);
}

start();
