// The logged-in device, kept in localStorage so a reload stays logged in.

const KEY = 'walkie.session';

export function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || 'null');
    return s && s.homeserver && s.accessToken && s.userId && s.deviceId ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s) {
  localStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession() {
  localStorage.removeItem(KEY);
}
