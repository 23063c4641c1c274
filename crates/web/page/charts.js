// The four charts (ECharts, embedded from the npm package). Each series holds
// the API's own numbers (counts, fen), so what a chart shows can be compared
// with the API; only labels and tooltips are formatted.

import { CHANNELS, count, escape, num, percent, yuan, yuanShort } from './format.js';

const SEGMENT_COLOURS = [
  '#2f6bff', '#15aabf', '#7048e8', '#e64980', '#40c057', '#fab005', '#fd7e14', '#868e96',
];
const CHANNEL_COLOURS = ['#40c057', '#2f6bff', '#fab005', '#15aabf', '#212529'];

/** The chart instances by name, for resizing and for tests (getOption()). */
export const charts = {};

export function chart(name, element) {
  if (!charts[name]) {
    charts[name] = window.echarts.init(element, null, { renderer: 'canvas' });
  }
  return charts[name];
}

window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));

/** The segment donut and its legend; `onPick(segment)` on a slice or row. */
export function renderSegments(answer, onPick, picked) {
  const segments = answer.segments || [];
  const total = num(answer.customers);
  const c = chart('segments', document.getElementById('chart-segments'));
  c.setOption({
    color: SEGMENT_COLOURS,
    tooltip: {
      trigger: 'item',
      formatter: (p) => `${escape(p.name)}<br>${count(p.value)} 位客户（${percent(p.value, total)}）`,
    },
    title: {
      text: count(total), subtext: '活跃客户', left: 'center', top: '40%',
      textStyle: { fontSize: 22 }, subtextStyle: { fontSize: 12 },
    },
    series: [{
      type: 'pie',
      radius: ['48%', '76%'],
      avoidLabelOverlap: true,
      stillShowZeroSum: false,
      label: { show: false },
      selectedMode: 'single',
      data: segments.map((s) => ({
        name: s.label, value: num(s.customers), segment: s.segment, selected: s.segment === picked,
      })),
    }],
  }, true);
  c.off('click');
  c.on('click', (p) => onPick(p.data.segment));
  const legend = document.getElementById('segment-legend');
  legend.innerHTML = segments.map((s, i) => `<li data-segment="${escape(s.segment)}" class="${s.segment === picked ? 'on' : ''}">
      <span class="dot" style="background:${SEGMENT_COLOURS[i % 8]}"></span>
      <span>${escape(s.label)}</span><span class="n">${count(s.customers)}</span>
      <span class="share">${percent(s.customers, total)}</span></li>`).join('');
  legend.onclick = (e) => {
    const li = e.target.closest('li[data-segment]');
    if (li) onPick(li.dataset.segment);
  };
}

export function renderHours(answer) {
  const hours = answer.hours || [];
  chart('hours', document.getElementById('chart-hours')).setOption({
    grid: { left: 48, right: 16, top: 16, bottom: 32 },
    tooltip: {
      trigger: 'axis',
      formatter: (ps) => {
        const h = hours[ps[0].dataIndex];
        return `${ps[0].axisValue}<br>订单 ${count(h.orders)}<br>营收 ${yuan(h.revenueFen)}`;
      },
    },
    xAxis: { type: 'category', data: hours.map((h) => `${h.hour}时`) },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => count(v) } },
    series: [{
      type: 'bar', name: '订单数', itemStyle: { color: '#2f6bff' },
      data: hours.map((h) => num(h.orders)),
    }],
  }, true);
}

export function renderProducts(answer, by) {
  // Best at the top: a horizontal bar chart draws its first category lowest.
  const products = [...(answer.products || [])].reverse();
  const value = (p) => (by === 'revenue' ? num(p.revenueFen) : num(p.quantity));
  chart('products', document.getElementById('chart-products')).setOption({
    grid: { left: 8, right: 72, top: 8, bottom: 8, containLabel: true },
    tooltip: {
      trigger: 'axis', axisPointer: { type: 'shadow' },
      formatter: (ps) => {
        const p = products[ps[0].dataIndex];
        return `${escape(p.productName || p.productId)}<br>${escape(p.categoryName)}<br>`
          + `销量 ${count(p.quantity)}<br>销售额 ${yuan(p.revenueFen)}`;
      },
    },
    xAxis: {
      type: 'value',
      axisLabel: { formatter: (v) => (by === 'revenue' ? yuanShort(v) : count(v)) },
    },
    yAxis: {
      type: 'category',
      data: products.map((p) => p.productName || p.productId),
      axisLabel: { width: 120, overflow: 'truncate' },
    },
    series: [{
      type: 'bar',
      name: by === 'revenue' ? '销售额' : '销量',
      itemStyle: { color: by === 'revenue' ? '#f08c00' : '#15aabf' },
      label: {
        show: true, position: 'right',
        formatter: (p) => (by === 'revenue' ? yuanShort(p.value) : count(p.value)),
      },
      data: products.map(value),
    }],
  }, true);
}

export function renderChannels(answer) {
  const channels = answer.channels || [];
  const total = channels.reduce((s, c) => s + num(c.orders), 0);
  chart('channels', document.getElementById('chart-channels')).setOption({
    color: CHANNEL_COLOURS,
    tooltip: {
      trigger: 'item',
      formatter: (p) => {
        const c = channels[p.dataIndex];
        return `${escape(p.name)}<br>订单 ${count(c.orders)}（${percent(c.orders, total)}）<br>营收 ${yuan(c.revenueFen)}`;
      },
    },
    legend: { bottom: 0 },
    series: [{
      type: 'pie',
      radius: ['0%', '68%'],
      stillShowZeroSum: false,
      center: ['50%', '45%'],
      label: { formatter: (p) => `${p.name} ${percent(p.value, total)}` },
      data: channels.map((c) => ({ name: CHANNELS[c.channel] || c.channel, value: num(c.orders), channel: c.channel })),
    }],
  }, true);
}
