// The gateway's JSON API (/v1/…, same origin). Every figure the page shows
// comes from here; the page only formats it.

import { showLogin, token } from './login.js';

/** A failed call, with the google.rpc.Status the gateway answered. */
export class ApiError extends Error {
  constructor(httpStatus, code, message) {
    super(message);
    this.httpStatus = httpStatus;
    this.code = code;
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (Array.isArray(value)) {
      for (const v of value) q.append(key, v);
    } else if (value !== undefined && value !== null && value !== '') {
      q.append(key, String(value));
    }
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page, a cut connection): said in words below.
  }
  if (!response.ok) {
    const message = body && body.message ? body.message : `HTTP ${response.status}`;
    if (response.status === 401) showLogin(token() ? `令牌无效或已过期：${message}` : '请输入访问令牌');
    throw new ApiError(response.status, body ? body.code : undefined, message);
  }
  return body;
}

async function send(path, init) {
  const bearer = token();
  if (bearer) init.headers = { ...init.headers, authorization: `Bearer ${bearer}` };
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 14, `无法连接服务器（${e.message}）`);
  }
  return answer(response);
}

export function get(path, params) {
  return send(path + query(params), { headers: { accept: 'application/json' } });
}

export function post(path, body) {
  return send(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body || {}),
  });
}

/** A failure in words for a person. */
export function describe(error) {
  if (error instanceof ApiError) {
    const what = {
      0: '无法连接服务器',
      3: '请求参数有误',
      5: '未找到',
      7: '无权限',
      9: '条件不满足',
      10: '操作冲突',
      14: '服务暂不可用',
      16: '未登录',
    }[error.code] || '服务出错';
    return `${what}：${error.message}`;
  }
  return `页面出错：${error && error.message ? error.message : error}`;
}

let me = null;

/** Who the token is (GetCaller: subject, role, scope), asked once per page;
 * null when it cannot be said. The page only hides what the role may not
 * use: the server decides every call. */
export function caller() {
  if (!me) {
    me = get('/v1/caller').then(
      (c) => {
        document.body.dataset.role = c.role || '';
        return c;
      },
      () => {
        document.body.dataset.role = 'unknown';
        return null;
      },
    );
  }
  return me;
}
