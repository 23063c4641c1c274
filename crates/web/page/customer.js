// One customer's portrait in a drawer, opened from a segment's list or by
// search: GetCustomer, GetCustomerPreferences and ListCustomerDays for the
// page's filter. Every number shown is the API's; the facts keep the raw
// value in data-value for the browser test.

import { caller, describe, get, post } from './api.js';
import { chart } from './charts.js';
import { CHANNELS, SEGMENTS, count, escape, num, yuan } from './format.js';

export const HOUR_BANDS = {
  HOUR_BAND_BREAKFAST: '早餐 6–10点',
  HOUR_BAND_LUNCH: '午餐 10–14点',
  HOUR_BAND_AFTERNOON: '下午茶 14–17点',
  HOUR_BAND_DINNER: '晚餐 17–21点',
  HOUR_BAND_LATE_NIGHT: '夜宵 21–6点',
};
const WEEKDAYS = ['周一', '周二', '周三', '周四', '周五', '周六', '周日'];
const DAYS_SHOWN = 10;
const ITEMS_SHOWN = 10;
const $ = (id) => document.getElementById(id);
let opened = 0;

function fact(key, label, value, text) {
  return `<div><dt>${label}</dt><dd data-key="${key}" data-value="${escape(value ?? '')}">${escape(text)}</dd></div>`;
}

/** The rfm service's segment and scores of the customer in the filter. */
function rfmFacts(r) {
  if (!r) return [fact('segment', '客户分层', '', '—')];
  return [
    fact('segment', '客户分层', r.segment, SEGMENTS[r.segment] || r.segment),
    fact('rfmScores', 'R / F / M 评分', `${r.rScore}/${r.fScore}/${r.mScore}`, `${r.rScore} / ${r.fScore} / ${r.mScore}`),
  ];
}

/** The suggest service's model figures, when a fit is in service. */
function modelFacts(m) {
  if (!m || !m.fitted) {
    return [fact('alive', '活跃概率', '', '模型未拟合'), fact('predictedClv', '预测价值', '', '—')];
  }
  return [
    fact('alive', '活跃概率', m.aliveProbability, `${(num(m.aliveProbability) * 100).toFixed(1)}%`),
    fact('predictedClv', '预测价值', m.predictedClvFen, yuan(m.predictedClvFen)),
    fact('expectedPurchases', '预计购买', m.expectedPurchases, `${num(m.expectedPurchases).toFixed(1)} 次`),
    fact('expected30d', '未来30天预计', m.expectedPurchases30d, `${num(m.expectedPurchases30d).toFixed(2)} 次`),
    fact('expected90d', '未来90天预计', m.expectedPurchases90d, `${num(m.expectedPurchases90d).toFixed(2)} 次`),
    fact('historicalClv', '历史价值', m.historicalClvFen, yuan(m.historicalClvFen)),
  ];
}

function renderFacts(b, model, rfm) {
  const none = !b.firstOrderDate;
  const d = (n) => `${count(n)} 天`;
  $('customer-facts').innerHTML = [
    fact('orders', '订单数', b.orders, count(b.orders)),
    fact('spendFen', '消费金额', b.spendFen, yuan(b.spendFen)),
    fact('averageOrderValueFen', '客单价', b.averageOrderValueFen, yuan(b.averageOrderValueFen)),
    fact('firstOrderDate', '首次消费', b.firstOrderDate, b.firstOrderDate || '—'),
    fact('lastOrderDate', '最近消费', b.lastOrderDate, b.lastOrderDate || '—'),
    fact('daysSinceLastOrder', '距今', b.daysSinceLastOrder, none ? '—' : d(b.daysSinceLastOrder)),
    fact('tenureDays', '客龄', b.tenureDays, none ? '—' : d(b.tenureDays)),
    fact('ordersPer30Days', '月均频次', b.ordersPer30Days, `${num(b.ordersPer30Days).toFixed(2)} 次/30天`),
    fact('meanGapDays', '平均间隔', b.meanGapDays, `${num(b.meanGapDays).toFixed(1)} 天`),
    fact('lastGapDays', '最近间隔', b.lastGapDays, d(b.lastGapDays)),
    fact('favouriteStoreId', '常去门店', b.favouriteStoreId, b.favouriteStoreName || b.favouriteStoreId || '—'),
    fact('favouriteChannel', '常用渠道', b.favouriteChannel, CHANNELS[b.favouriteChannel] || '—'),
    fact('favouriteHourBand', '常购时段', b.favouriteHourBand, HOUR_BANDS[b.favouriteHourBand] || '—'),
    fact('favouriteCategoryId', '偏好品类', b.favouriteCategoryId, b.favouriteCategoryName || b.favouriteCategoryId || '—'),
    ...modelFacts(model),
    ...rfmFacts(rfm),
  ].join('');
}

function renderCharts(b) {
  chart('customerHours', $('chart-customer-hours')).setOption({
    grid: { left: 32, right: 8, top: 8, bottom: 24 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: (b.hours || []).map((h) => `${h.hour}时`) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [{ type: 'bar', name: '订单', data: (b.hours || []).map((h) => num(h.orders)), itemStyle: { color: '#2f6bff' } }],
  }, true);
  chart('customerChannels', $('chart-customer-channels')).setOption({
    tooltip: { trigger: 'item' },
    series: [{
      type: 'pie', radius: ['40%', '70%'], label: { show: false },
      data: (b.channels || []).map((c) => ({ name: CHANNELS[c.channel] || c.channel, value: num(c.orders), channel: c.channel })),
    }],
  }, true);
  const cells = (b.weekdayHours || []).map((w) => [w.hour, w.weekday - 1, num(w.orders)]);
  chart('customerWeek', $('chart-customer-week')).setOption({
    grid: { left: 40, right: 8, top: 8, bottom: 56 },
    tooltip: { formatter: (p) => `${WEEKDAYS[p.value[1]]} ${p.value[0]}时：${p.value[2]} 单` },
    xAxis: { type: 'category', data: [...Array(24).keys()].map((h) => `${h}`) },
    yAxis: { type: 'category', data: WEEKDAYS },
    visualMap: {
      min: 0, max: Math.max(1, ...cells.map((c) => c[2])), calculable: false,
      orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120, itemWidth: 10, inRange: { color: ['#f1f3f5', '#2f6bff'] },
    },
    series: [{ type: 'heatmap', data: cells }],
  }, true);
}

function renderItems(table, items) {
  $(table).querySelector('tbody').innerHTML = (items || []).slice(0, ITEMS_SHOWN).map((i) => `
    <tr data-id="${escape(i.id)}"><td>${escape(i.name || i.id || '（无）')}</td>
    <td class="num">${count(i.orders)}</td><td class="num">${count(i.quantity)}</td>
    <td class="num">${yuan(i.spendFen)}</td><td class="num">${(num(i.spendShare) * 100).toFixed(1)}%</td>
    <td class="num" data-score="${escape(i.preferenceScore)}">${num(i.preferenceScore).toFixed(2)}</td></tr>`).join('');
}

function renderDays(answer) {
  $('customer-days').querySelector('tbody').innerHTML = (answer.days || []).map((d) => `
    <tr data-date="${escape(d.date)}"><td>${escape(d.date)}</td><td class="num">${count(d.orders)}</td>
    <td class="num">${yuan(d.spendFen)}</td><td>${escape((d.storeIds || []).join('、'))}</td>
    <td>${escape(CHANNELS[d.topChannel] || '—')}</td></tr>`).join('');
}

/** An admin's 显示 button: the customer's plain phone and ids, from
 * RevealCustomer, which records each reveal in the audit log. Others never
 * see it. */
async function offerReveal(id, mine) {
  const box = $('customer-reveal-box');
  const me = await caller();
  if (mine !== opened || !me || me.role !== 'admin') return;
  box.dataset.state = 'offered';
  box.innerHTML = `<button type="button" class="link" id="customer-reveal">显示</button>
    <span class="hint">显示该客户的手机号、微信 OpenID 与会员号（仅管理员；每次显示都记入审计日志）</span>`;
  $('customer-reveal').onclick = async () => {
    box.dataset.state = 'loading';
    box.querySelector('.hint').textContent = '正在显示…';
    try {
      const r = await post('/v1/customers:reveal', { customerId: id });
      if (mine !== opened) return;
      box.innerHTML = `<dl class="facts" id="customer-revealed">${[
        fact('phone', '手机号', r.phone, r.phone || '—'),
        fact('openId', '微信 OpenID', r.openId, r.openId || '—'),
        fact('memberId', '会员号', r.memberId, r.memberId || '—'),
      ].join('')}</dl><span class="hint">本次显示已记入审计日志。</span>`;
      box.dataset.state = 'ready';
    } catch (e) {
      if (mine !== opened) return;
      box.dataset.state = 'failed';
      box.querySelector('.hint').textContent = `无法显示：${describe(e)}`;
    }
  };
}

function clearReveal() {
  const box = $('customer-reveal-box');
  box.innerHTML = '';
  box.dataset.state = '';
}

function say(kind, text) {
  const drawer = $('customer-drawer');
  drawer.dataset.state = kind;
  $('customer-state').textContent = text || '';
}

/** The drawer open on a failed search, saying why in words. */
export function customerNotFound(message) {
  opened += 1;
  const drawer = $('customer-drawer');
  drawer.classList.remove('hidden');
  drawer.dataset.customer = '';
  $('customer-title').textContent = '客户画像';
  $('customer-range').textContent = '';
  $('customer-facts').innerHTML = '';
  clearReveal();
  $('customer-close').onclick = () => drawer.classList.add('hidden');
  say('failed', message);
}

/** Opens the drawer on `id` for the page's filter `f`; `onClose` when closed. */
export async function openCustomer(id, f, onClose) {
  opened += 1;
  const mine = opened;
  const drawer = $('customer-drawer');
  drawer.classList.remove('hidden');
  drawer.dataset.customer = id;
  $('customer-title').textContent = '客户画像';
  $('customer-close').onclick = () => {
    drawer.classList.add('hidden');
    onClose();
  };
  say('loading', '加载中…');
  clearReveal();
  const path = `/v1/customers/${encodeURIComponent(id)}`;
  try {
    // The profile first: an unknown id is one 404, not three.
    const profile = await get(path, f);
    const [prefs, days] = await Promise.all([
      get(`${path}/preferences`, { ...f, limit: ITEMS_SHOWN }),
      get(`${path}/days`, { ...f, pageSize: DAYS_SHOWN }),
    ]);
    if (mine !== opened) return;
    const b = profile.behaviour || {};
    $('customer-title').textContent = `客户 ${profile.maskedCustomerId}`;
    const applied = b.filter || {};
    $('customer-range').textContent = `${applied.fromDate || '最早'} 至 ${applied.toDate || ''}（不含），分析日 ${applied.asOfDate || ''}`;
    renderFacts(b, profile.model, profile.rfm);
    renderCharts(b);
    renderItems('customer-products', prefs.products);
    renderItems('customer-categories', prefs.categories);
    renderDays(days);
    say(num(b.orders) > 0 ? 'ready' : 'empty', num(b.orders) > 0 ? '' : '当前筛选条件下该客户没有订单');
    offerReveal(profile.customerId || id, mine);
  } catch (e) {
    if (mine !== opened) return;
    $('customer-facts').innerHTML = '';
    say('failed', e.code === 5 ? '未找到匹配的客户' : `加载失败：${e.message}`);
  }
}
