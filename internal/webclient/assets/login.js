// The login form: Matrix ID and password (m.login.password), or an access
// token. The homeserver is the one typed, else the one Walkie's config
// names for its own server, else the server's .well-known/matrix/client.
import { $, say } from './dom.js';
import { loginWithPassword, whoami } from './matrix.js';

// fullUserId turns "alice" into "@alice:<server>"; Matrix IDs pass through.
export function fullUserId(typed, serverName) {
  const t = typed.trim();
  if (t.startsWith('@') && t.includes(':')) return t;
  return `@${t.replace(/^@/, '')}:${serverName}`;
}

function normaliseURL(url) {
  const u = url.trim().replace(/\/+$/, '');
  return /^https?:\/\//.test(u) ? u : `https://${u}`;
}

export async function discoverHomeserver(serverName, config) {
  if (serverName === config.server_name && config.homeserver_url) return config.homeserver_url;
  try {
    const wk = await fetch(`https://${serverName}/.well-known/matrix/client`, { signal: AbortSignal.timeout(5000) });
    const base = (await wk.json())['m.homeserver']?.base_url;
    if (base) return normaliseURL(base);
  } catch {
    // no .well-known: the server name is the homeserver's own host
  }
  return `https://${serverName}`;
}

async function logIn(config) {
  const typedHS = $('login-homeserver').value.trim();
  const token = $('login-token').value.trim();
  if (token) {
    const homeserver = normaliseURL(typedHS || config.homeserver_url);
    const me = await whoami(homeserver, token);
    const deviceId = me.device_id || $('login-device').value.trim();
    if (!deviceId) throw new Error('This homeserver does not say which device the token belongs to: type its device ID.');
    return { homeserver, accessToken: token, userId: me.user_id, deviceId };
  }
  if (!$('login-user').value.trim() || !$('login-password').value) {
    throw new Error('Type your Matrix ID and password, or an access token.');
  }
  const userId = fullUserId($('login-user').value, config.server_name);
  const homeserver = typedHS ? normaliseURL(typedHS) : await discoverHomeserver(userId.split(':').slice(1).join(':'), config);
  const resp = await loginWithPassword(homeserver, userId, $('login-password').value);
  return {
    homeserver: resp.well_known?.['m.homeserver']?.base_url ? normaliseURL(resp.well_known['m.homeserver'].base_url) : homeserver,
    accessToken: resp.access_token,
    userId: resp.user_id,
    deviceId: resp.device_id,
  };
}

function explain(err) {
  if (err.errcode === 'M_FORBIDDEN') return 'Wrong Matrix ID or password.';
  if (err.errcode === 'M_UNKNOWN_TOKEN') return 'The homeserver does not know this access token.';
  if (err.status === 0) return 'The homeserver cannot be reached. Check its address.';
  return err.message;
}

// setUpLogin wires the form; onSession gets the new session.
export function setUpLogin(config, onSession, { userHint = '' } = {}) {
  $('login-homeserver').placeholder = config.homeserver_url || 'https://matrix.example.org';
  if (userHint) $('login-user').value = userHint;
  $('login-server-name').textContent = config.server_name;
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = $('login-submit');
    button.disabled = true;
    say($('login-error'), '');
    try {
      onSession(await logIn(config));
      $('login-password').value = '';
      $('login-token').value = '';
    } catch (err) {
      say($('login-error'), explain(err));
    } finally {
      button.disabled = false;
    }
  });
}
