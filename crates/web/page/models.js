// 客户画像 view's model panels: the customer-model fit in service with its
// holdout check (GetModelFit), and the segment transitions of the last 30
// days (GetSegmentFlows, from segments.v1).

import { get } from './api.js';
import { addDays, count, escape, num, SEGMENTS, today } from './format.js';

const $ = (id) => document.getElementById(id);

const MODELS = {
  TRANSACTION_MODEL_BG_NBD: 'BG/NBD',
  TRANSACTION_MODEL_MBG_NBD: 'MBG/NBD',
};
const PERIODS = { MODEL_PERIOD_DAY: '天', MODEL_PERIOD_WEEK: '周', MODEL_PERIOD_MONTH: '月' };
const FIT_STATES = {
  MODEL_FIT_STATUS_FITTED: '已拟合',
  MODEL_FIT_STATUS_NOT_ENOUGH_DATA: '数据不足',
  MODEL_FIT_STATUS_FAILED: '拟合失败',
};

const fixed = (v, digits) => num(v).toFixed(digits);

function holdoutRows(h) {
  const rows = [...(h.rows || []), ...(h.total ? [{ ...h.total, all: true }] : [])];
  return rows.map((r) => {
    const label = r.all ? '全部' : `${num(r.frequency)}${r.andMore ? ' 及以上' : ''}`;
    return `<tr data-frequency="${r.all ? 'all' : num(r.frequency)}" data-customers="${num(r.customers)}"
      data-actual="${escape(r.actualPurchases ?? 0)}" data-predicted="${escape(r.predictedPurchases ?? 0)}">
      <td>${label}</td><td class="num">${count(r.customers)}</td>
      <td class="num">${fixed(r.actualPurchases, 2)}</td><td class="num">${fixed(r.predictedPurchases, 2)}</td></tr>`;
  }).join('');
}

/** The fit in service (or why there is none) and its holdout table; false without a fit. */
export async function renderModelFit() {
  const fit = await get('/v1/models/fit');
  const box = $('model-fit');
  box.dataset.status = fit.status || '';
  box.dataset.model = fit.model || '';
  const p = fit.parameters || {};
  const fitted = Boolean(fit.fittedAt);
  const unit = PERIODS[fit.period] || '';
  const candidates = (fit.candidates || []).map((c) =>
    `${MODELS[c.model] || c.model} ${fixed(c.logLikelihood, 1)}`).join('，');
  box.innerHTML = fitted ? `
    <p>${escape(MODELS[fit.model] || fit.model)}，按${unit}计，截至 ${escape(fit.asOfDate)}：
      ${count(fit.customers)} 位客户，其中 ${count(fit.repeatCustomers)} 位复购；
      r = ${fixed(p.r, 4)}，α = ${fixed(p.alpha, 4)}，a = ${fixed(p.a, 4)}，b = ${fixed(p.b, 4)}；
      对数似然 ${fixed(fit.logLikelihood, 1)}${candidates ? `（候选：${escape(candidates)}）` : ''}</p>
    <p class="muted">最近一次：${escape(FIT_STATES[fit.status] || fit.status || '未尝试')}
      ${fit.reason ? `— ${escape(fit.reason)}` : ''}</p>`
    : `<p class="muted">${escape(FIT_STATES[fit.status] || '尚未拟合')}：${escape(fit.reason || '')}</p>`;
  const h = fit.holdout;
  const table = $('holdout');
  table.dataset.status = h ? h.status || '' : '';
  const held = h && h.status === 'MODEL_FIT_STATUS_FITTED';
  $('holdout-caption').textContent = !h ? '未做留出检验（models.holdout_days = 0）'
    : held ? `以 ${h.calibrationEnd} 之前的订单拟合，预测之后 ${fixed(h.durationPeriods, 1)} ${unit}的购买`
      : `留出检验：${FIT_STATES[h.status] || h.status} — ${h.reason || ''}`;
  table.querySelector('tbody').innerHTML = held ? holdoutRows(h) : '';
  return fitted;
}

/** Customers moved between segments in the last 30 days, largest flows first. The rfm
 * service assigns segments as of each real day, so this window is the calendar's, not the
 * page's as-of day. */
export async function renderFlows() {
  const window = { fromDate: addDays(today(), -29), toDate: addDays(today(), 1) };
  const answer = await get('/v1/segments/flows', window);
  $('flows').dataset.from = window.fromDate;
  $('flows').dataset.to = window.toDate;
  const totals = new Map();
  for (const f of answer.flows || []) {
    // Unspecified is "none": entered (no from) or left (no to).
    const side = (seg) => (seg && seg !== 'SEGMENT_UNSPECIFIED' ? seg : '');
    const key = `${side(f.from)}>${side(f.to)}`;
    totals.set(key, (totals.get(key) || 0) + num(f.customers));
  }
  const name = (s) => (s ? SEGMENTS[s] || s : '');
  const rows = [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  $('flows-total').textContent = `近 30 天 ${count(rows.reduce((n, r) => n + r[1], 0))} 次迁移`;
  $('flows').querySelector('tbody').innerHTML = rows.map(([key, n]) => {
    const [from, to] = key.split('>');
    const what = !from ? `新进入 ${name(to)}` : !to ? `离开 ${name(from)}` : `${name(from)} → ${name(to)}`;
    return `<tr data-flow="${escape(key)}" data-customers="${n}"><td>${escape(what)}</td>
      <td class="num">${count(n)}</td></tr>`;
  }).join('');
  return rows.length > 0;
}
