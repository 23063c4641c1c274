// 同步数据: starts a sync job (POST /v1/sync:trigger), follows it
// (GET /v1/sync/jobs/{id}) until it ends, and says how it went.

import { describe, get, post } from './api.js';
import { count, num } from './format.js';

const POLL_MS = 400;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function say(text, kind) {
  const el = document.getElementById('sync-message');
  el.textContent = text;
  el.className = `sync-message ${kind || ''}`;
}

function progress(job) {
  const box = document.getElementById('sync-progress');
  if (!job) {
    box.classList.add('hidden');
    return;
  }
  const read = num(job.counts?.read);
  const expected = num(job.sourceRows);
  box.classList.remove('hidden');
  box.querySelector('.bar').style.width = expected > 0 ? `${Math.min(100, (read / expected) * 100)}%` : '10%';
  const phase = { reading: '读取订单', finding_missing: '核对已删除订单', done: '收尾' }[job.phase] || job.phase || '准备';
  say(`同步中（任务 #${job.jobId}）：${phase}，已处理 ${count(read)}${expected ? ` / 约 ${count(expected)}` : ''} 单`);
}

function result(job) {
  const c = job.counts || {};
  const seconds = ((num(job.finishedAtMs) - num(job.startedAtMs)) / 1000).toFixed(1);
  return `读取 ${count(c.read)} 单：新增或变更 ${count(c.accepted)}，未变 ${count(c.unchanged)}，`
    + `撤回 ${count(c.retracted)}，拒绝 ${count(c.rejected)}（用时 ${seconds} 秒）`;
}

/** Waits until every accepted order is applied, so a refresh shows them. */
async function caughtUp() {
  for (let i = 0; i < 50; i += 1) {
    const status = await get('/v1/status');
    if (status.caughtUp) return;
    await sleep(200);
  }
}

/** Wires the button; `afterJob()` refreshes the page once a job has ended. */
export function syncButton(afterJob) {
  const button = document.getElementById('sync-button');
  button.addEventListener('click', async () => {
    button.disabled = true;
    say('正在启动同步…');
    try {
      // Incremental unless 全量 is ticked: a full run re-reads everything and retracts
      // orders deleted at the source.
      const full = document.getElementById('sync-full').checked;
      const started = await post('/v1/sync:trigger', { mode: full ? 'SYNC_MODE_FULL' : 'SYNC_MODE_INCREMENTAL' });
      let job = started.job;
      document.body.dataset.syncJob = job.jobId;
      while (job.state === 'SYNC_JOB_STATE_RUNNING') {
        progress(job);
        await sleep(POLL_MS);
        job = await get(`/v1/sync/jobs/${encodeURIComponent(job.jobId)}`);
      }
      progress(null);
      if (job.state === 'SYNC_JOB_STATE_SUCCEEDED') {
        say(`同步完成（任务 #${job.jobId}）：${result(job)}`, 'ok');
        await caughtUp();
      } else {
        const why = job.error || '任务中断';
        say(`同步失败（任务 #${job.jobId}）：${why}`, 'error');
      }
      document.body.dataset.syncState = job.state;
      await afterJob();
    } catch (e) {
      progress(null);
      const why = e.code === 9 ? `尚未配置门店订单库数据源（sync.source）。服务端说明：${e.message}` : describe(e);
      say(`无法同步：${why}`, 'error');
      document.body.dataset.syncState = 'ERROR';
    } finally {
      button.disabled = false;
    }
  });
}
