// Formatting for China: ¥ and 万/亿, local dates, and the names of the API's
// enums. Figures are never computed here, only shown.

const plain = new Intl.NumberFormat('zh-CN', { maximumFractionDigits: 0 });
const two = new Intl.NumberFormat('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** An int64 from the JSON mapping (a string) or a double, as a Number. */
export function num(value) {
  const n = Number(value ?? 0);
  return Number.isFinite(n) ? n : 0;
}

function large(n, digits) {
  const abs = Math.abs(n);
  if (abs >= 1e8) return `${(n / 1e8).toFixed(2)}亿`;
  if (abs >= 1e4) return `${(n / 1e4).toFixed(2)}万`;
  return digits(n);
}

/** A count: 1,234 or 1.23万. */
export function count(value) {
  return large(num(value), (n) => plain.format(n));
}

/** Fen as yuan: ¥1,234.50 or ¥12.35万. */
export function yuan(fen) {
  const y = num(fen) / 100;
  return `¥${large(y, (n) => two.format(n))}`;
}

/** Fen as yuan on a chart axis: short. */
export function yuanShort(fen) {
  const y = num(fen) / 100;
  return `¥${large(y, (n) => plain.format(n))}`;
}

/** The change of a figure against the previous period, or null without one. */
export function change(current, previous) {
  const c = num(current);
  const p = num(previous);
  if (p === 0) return null;
  const ratio = (c - p) / p;
  const text = `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
  return { ratio, text, dir: ratio > 0 ? 'up' : ratio < 0 ? 'down' : 'flat' };
}

export function percent(part, whole) {
  const w = num(whole);
  return w === 0 ? '—' : `${((num(part) / w) * 100).toFixed(1)}%`;
}

// Calendar dates as YYYY-MM-DD, counted in UTC so no local offset moves them.
export function addDays(iso, days) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function daysBetween(from, to) {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86400000);
}

/** The chain's zone (domain.time_zone), told by /v1/status at start-up. */
let zone = 'Asia/Shanghai';

export function setZone(timeZone) {
  if (timeZone) zone = timeZone;
}

/** Today in the chain's zone: where the presets' ranges end. */
export function today() {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: zone }).format(new Date());
}

export function dateTime(ms) {
  const n = num(ms);
  if (!n) return '—';
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: zone, dateStyle: 'short', timeStyle: 'medium',
  }).format(new Date(n));
}

export const CHANNELS = {
  CHANNEL_WECHAT_MINI: '微信小程序',
  CHANNEL_POS: '门店收银',
  CHANNEL_MEITUAN: '美团',
  CHANNEL_ELEME: '饿了么',
  CHANNEL_DOUYIN: '抖音',
};

export const PRIORITIES = {
  PRIORITY_HIGH: { label: '高', css: 'high', rank: 3 },
  PRIORITY_MEDIUM: { label: '中', css: 'medium', rank: 2 },
  PRIORITY_LOW: { label: '低', css: 'low', rank: 1 },
};

export const SUGGESTION_TYPES = {
  SUGGESTION_TYPE_VIP_SERVICE: 'VIP服务',
  SUGGESTION_TYPE_SEGMENT_STRATEGY: '群体营销',
  SUGGESTION_TYPE_CHURN_WARNING: '流失预警',
  SUGGESTION_TYPE_RECOMMENDATION: '个性化推荐',
  SUGGESTION_TYPE_SECOND_PURCHASE: '新客培育',
  SUGGESTION_TYPE_WIN_BACK: '沉睡唤醒',
};

export const SYNC_MODES = {
  SYNC_MODE_INCREMENTAL: '增量同步',
  SYNC_MODE_FULL: '全量同步',
  SYNC_MODE_IMPORT: '文件导入',
};

export const SYNC_STATES = {
  SYNC_JOB_STATE_RUNNING: '进行中',
  SYNC_JOB_STATE_SUCCEEDED: '成功',
  SYNC_JOB_STATE_FAILED: '失败',
  SYNC_JOB_STATE_INTERRUPTED: '中断',
};

export const FINDING_KINDS = { rejected: '拒绝', corrected: '修正', retracted: '撤回' };

export function escape(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

export const SEGMENTS = {
  SEGMENT_IMPORTANT_VALUE: '重要价值客户',
  SEGMENT_IMPORTANT_DEVELOP: '重要发展客户',
  SEGMENT_IMPORTANT_KEEP: '重要保持客户',
  SEGMENT_IMPORTANT_WIN_BACK: '重要挽留客户',
  SEGMENT_GENERAL_VALUE: '一般价值客户',
  SEGMENT_GENERAL_DEVELOP: '一般发展客户',
  SEGMENT_GENERAL_KEEP: '一般保持客户',
  SEGMENT_GENERAL_WIN_BACK: '一般挽留客户',
};
