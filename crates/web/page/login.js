// The login: a token (an API key or a JWT) kept in sessionStorage for this
// tab and sent as `authorization: Bearer …` with every call. A 401 shows the
// login again; nothing else about the caller lives in the page.

const KEY = 'portraitToken';

export function token() {
  try {
    return sessionStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
}

let shown = false;

/** Asks for a token (once, however many calls were refused), then reloads. */
export function showLogin(message) {
  if (shown) return;
  shown = true;
  const dialog = document.createElement('div');
  dialog.id = 'login';
  dialog.setAttribute('role', 'dialog');
  dialog.setAttribute('aria-modal', 'true');
  dialog.innerHTML = `
    <form class="login-box">
      <h2>登录 客群画像</h2>
      <p class="login-why"></p>
      <label>访问令牌 <input name="token" type="password" autocomplete="off" required></label>
      <button type="submit">登录</button>
      <p class="login-hint">令牌由管理员发放（portrait auth new-key）；portrait run 启动时会打印一个。</p>
    </form>`;
  dialog.querySelector('.login-why').textContent = message || '请输入访问令牌';
  dialog.querySelector('form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = dialog.querySelector('input').value.trim();
    if (!value) return;
    try {
      sessionStorage.setItem(KEY, value);
    } catch {
      // Storage refused (private mode): the token cannot outlive this page.
    }
    location.reload();
  });
  document.body.appendChild(dialog);
  dialog.querySelector('input').focus();
}
