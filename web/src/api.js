// api.js - the portal's client of kumod's REST API (docs/api.md). Requests
// go to the same origin with the session cookie (HttpOnly: this code never
// sees it); every change carries the session's CSRF token in X-CSRF-Token.
// Errors become ApiError with kumod's code, message and target (the field
// at fault), so that forms can show them at the field.

let csrfToken = '';
let signedOut = () => {};

export function setCsrf(token) {
  csrfToken = token || '';
}
export function getCsrf() {
  return csrfToken;
}
// Called when kumod says the session is gone (401): the app shows sign-in.
export function onSignedOut(fn) {
  signedOut = fn;
}

export class ApiError extends Error {
  constructor(status, code, message, target) {
    super(message);
    this.status = status;
    this.code = code;
    this.target = target || '';
  }
}

export async function api(method, path, body, { text = false } = {}) {
  const headers = { Accept: text ? 'text/plain' : 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  let r;
  try {
    r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'NetworkError', `kumod did not answer (${e.message}): is it still running?`);
  }
  if (r.status === 204) return null;
  if (r.ok) return text ? r.text() : r.json();
  let err = {};
  try {
    err = (await r.json()).error || {};
  } catch {
    /* not JSON */
  }
  const e = new ApiError(
    r.status,
    err.code || `HTTP ${r.status}`,
    err.message || `${method} ${path} failed with HTTP status ${r.status}`,
    err.target,
  );
  if (r.status === 401 && !path.startsWith('/portal/api/session')) signedOut(e);
  throw e;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

export const enc = encodeURIComponent;
export const rgPath = (rg) => `/v1/resourceGroups/${enc(rg)}`;
export const vmPath = (rg, name) => `${rgPath(rg)}/virtualMachines/${enc(name)}`;

// Every resource of a kind in every resource group ("virtualMachines").
export async function listAll(kind) {
  const groups = (await get('/v1/resourceGroups')).value;
  const lists = await Promise.all(
    groups.map((g) =>
      get(`${rgPath(g.name)}/${kind}`)
        .then((r) => r.value)
        .catch((e) => (e.status === 404 ? [] : Promise.reject(e))),
    ),
  );
  return lists.flat();
}

// The session: who is signed in, and the CSRF token of the session.
export const session = {
  async get() {
    const s = await api('GET', '/portal/api/session');
    setCsrf(s.csrfToken);
    return s;
  },
  // {token} (kumod's API token) or {appId, secret} (a service principal)
  async signIn(credentials) {
    const s = await api('POST', '/portal/api/session', credentials);
    setCsrf(s.csrfToken);
    return s;
  },
  async signOut() {
    await api('DELETE', '/portal/api/session');
    setCsrf('');
  },
};
