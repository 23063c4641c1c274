// The tables: a segment's customers and the data-quality report of the last
// sync (the suggestions have their own module, suggestions.js).

import {
  FINDING_KINDS, SYNC_MODES, SYNC_STATES,
  count, dateTime, escape, num, yuan,
} from './format.js';

/** Rows of a ListRfm page, appended to the segment's customer table. */
export function appendCustomers(answer, replace) {
  const body = document.querySelector('#segment-customers tbody');
  const rows = (answer.customers || []).map((c) => `<tr data-customer="${escape(c.customerId)}">
      <td>${escape(c.customerId)}</td>
      <td class="num">${count(c.recencyDays)} 天前</td>
      <td class="num">${count(c.frequency)} 次</td>
      <td class="num">${yuan(c.monetaryFen)}</td>
      <td class="num">${c.rScore} / ${c.fScore} / ${c.mScore}</td></tr>`).join('');
  if (replace) body.innerHTML = rows; else body.insertAdjacentHTML('beforeend', rows);
  return body.children.length;
}

function jobLine(job) {
  const mode = SYNC_MODES[job.mode] || job.mode;
  const state = SYNC_STATES[job.state] || job.state;
  return `#${escape(job.jobId)} ${escape(mode)} · ${escape(state)} · ${dateTime(job.startedAtMs)}`;
}

/** A DataQualityReport; false when no job ran yet. */
export function renderQuality(report) {
  const root = document.getElementById('quality');
  const job = (report.recentJobs || []).find((j) => j.jobId === report.jobId);
  document.getElementById('quality-job').textContent = job ? `任务 ${jobLine(job)}` : '';
  if (num(report.jobId) === 0) {
    root.innerHTML = '<p class="muted">尚无同步记录。配置门店订单库（sync.source）后，点击右上角「同步数据」即可同步并生成数据质量报告。</p>';
    return true;
  }
  const c = report.counts || {};
  const cells = [
    ['读取', c.read], ['新增或变更', c.accepted], ['未变', c.unchanged],
    ['撤回', c.retracted], ['拒绝', c.rejected], ['修正后接受', c.corrected],
  ];
  const reasons = report.reasons || [];
  root.innerHTML = `<div class="counts">${cells.map(([label, v]) => `<div><b>${count(v)}</b><span>${label}</span></div>`).join('')}</div>
    ${reasons.length === 0 ? '<p class="muted">本次同步没有发现数据问题。</p>' : `<table class="table" id="quality-reasons">
      <thead><tr><th>原因</th><th>处理</th><th class="num">订单数</th><th>样例（源订单号：说明）</th></tr></thead>
      <tbody>${reasons.map((r) => `<tr><td>${escape(r.reason)}</td><td>${escape(FINDING_KINDS[r.kind] || r.kind)}</td>
        <td class="num">${count(r.count)}</td>
        <td>${(r.samples || []).map((s) => `${escape(s.sourceOrderId)}：${escape(s.detail)}`).join('<br>')}</td></tr>`).join('')}</tbody>
    </table>`}
    <p class="muted">最近任务：${(report.recentJobs || []).slice(0, 5).map(jobLine).join('；')}</p>`;
  return true;
}
