// The API as the page sees it: JSON in and out, the bearer token, and API.md's error body kept whole.
// The API root is found from this module's own URL (…/h5/api.js → …/), so the page works under any stage prefix.
export const ROOT = new URL('..', import.meta.url);
export const STAGE = document.querySelector('meta[name="hmb-stage"]')?.content || '';
export const SANDBOX = STAGE === 'local';

const TOKEN_KEY = 'hmb.token';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `请求失败(${status})`);
    this.status = status;
    this.code = (body && body.code) || 'HTTP_' + status;
    this.details = (body && body.details) || {};
  }
  get field() { return this.details.field || null; }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) { value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY); },
};

export async function call(method, path, body, { idempotencyKey, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && session.token) headers.Authorization = 'Bearer ' + session.token;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(new URL(path, ROOT), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, { code: 'NETWORK', message: '网络连接失败,请检查网络后重试。' });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (response.status === 401 && auth && session.token) session.token = null; // expired or revoked: log in again
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path, opts) => call('GET', path, undefined, opts);
export const post = (path, body = {}, opts) => call('POST', path, body, opts);
export const put = (path, body, opts) => call('PUT', path, body, opts);
export const del = (path, opts) => call('DELETE', path, undefined, opts);

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

// Plans are public and change rarely: one fetch per page view.
let plansCache = null;
export function plans(refresh = false) {
  if (!plansCache || refresh) plansCache = get('v1/plans', { auth: false }).catch((e) => { plansCache = null; throw e; });
  return plansCache;
}
