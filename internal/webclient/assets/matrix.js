// The Matrix client-server API calls the client makes, and nothing else:
// no state, no sync loop (sync.js), no views.

export class MatrixError extends Error {
  // status 0 means the request never got an answer (network down, CORS).
  constructor(status, body = {}) {
    super(body.error || (status ? `HTTP ${status}` : 'the homeserver cannot be reached'));
    this.status = status;
    this.errcode = body.errcode || '';
    this.retryAfterMs = body.retry_after_ms || 0;
  }

  // transient errors are worth retrying: no answer, rate limits, 5xx.
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

let txnCounter = 0;
const txnId = () => `walkie.${Date.now()}.${++txnCounter}.${Math.random().toString(36).slice(2, 8)}`;
const enc = encodeURIComponent;

export async function call(homeserver, method, path, { token, body, query, signal, raw } = {}) {
  const url = new URL(homeserver.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== '') url.searchParams.set(k, v);
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['Content-Type'] = body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(url, { method, headers, body: payload, signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new MatrixError(0);
  }
  if (!resp.ok) {
    throw new MatrixError(resp.status, await resp.json().catch(() => ({})));
  }
  return raw ? resp.arrayBuffer() : resp.json();
}

// loginWithPassword: m.login.password with a user identifier (a full
// Matrix ID or a localpart). A new device each time, named for people.
export function loginWithPassword(homeserver, user, password) {
  return call(homeserver, 'POST', '/_matrix/client/v3/login', {
    body: {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user },
      password,
      initial_device_display_name: 'Walkie web client',
    },
  });
}

export function whoami(homeserver, token) {
  return call(homeserver, 'GET', '/_matrix/client/v3/account/whoami', { token });
}

// Client is one logged-in device.
export class Client {
  constructor({ homeserver, accessToken, userId, deviceId }) {
    Object.assign(this, { homeserver, accessToken, userId, deviceId });
  }

  call(method, path, opts = {}) {
    return call(this.homeserver, method, path, { ...opts, token: this.accessToken });
  }

  logout() {
    return this.call('POST', '/_matrix/client/v3/logout', { body: {} });
  }

  sync({ since, filter, timeout, signal }) {
    return this.call('GET', '/_matrix/client/v3/sync', {
      query: { since, filter: JSON.stringify(filter), timeout: since ? timeout : 0, set_presence: 'offline' },
      signal,
    });
  }

  // openIdToken proves who the user is to a third party (the floor
  // channel) for about an hour, without handing it the access token.
  openIdToken() {
    return this.call('POST', `/_matrix/client/v3/user/${enc(this.userId)}/openid/request_token`, { body: {} });
  }

  join(roomIdOrAlias, via = []) {
    const query = via.length ? { server_name: via[0] } : {};
    return this.call('POST', `/_matrix/client/v3/join/${enc(roomIdOrAlias)}`, { body: {}, query });
  }

  sendState(roomId, type, stateKey, content) {
    return this.call('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, { body: content });
  }

  sendEvent(roomId, type, content) {
    return this.call('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${txnId()}`, { body: content });
  }

  messages(roomId, { from, dir = 'b', limit = 100, filter }) {
    return this.call('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, {
      query: { from, dir, limit, filter: filter && JSON.stringify(filter) },
    });
  }

  // upload returns the mxc:// URI of the stored blob.
  async upload(blob, filename) {
    const resp = await this.call('POST', '/_matrix/media/v3/upload', { body: blob, query: { filename } });
    return resp.content_uri;
  }

  // download fetches media through the v3 endpoint: Dendrite 0.13.8 fails
  // the CORS pre-flight of the authenticated v1 one (docs/client.md).
  download(mxc) {
    const m = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc || '');
    if (!m) return Promise.reject(new MatrixError(400, { error: `not a media URI: ${mxc}` }));
    return this.call('GET', `/_matrix/media/v3/download/${enc(m[1])}/${enc(m[2])}`, { raw: true });
  }
}

// retrying runs fn until it succeeds or fails for good, backing off from
// 500 ms to 8 s between transient failures (and honouring retry_after_ms).
export async function retrying(fn, { isCancelled = () => false, onRetry = () => {} } = {}) {
  let delay = 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof MatrixError) || !err.transient || isCancelled()) throw err;
      onRetry(err, attempt);
      await new Promise((r) => setTimeout(r, Math.max(delay, err.retryAfterMs)));
      delay = Math.min(delay * 2, 8000);
    }
  }
}
