// The logged-in device. Each tab keeps its own (sessionStorage), so two
// windows can be two people; the last login is also kept in localStorage,
// so a reload or a new tab stays logged in.

const KEY = 'walkie.session';

function read(storage) {
  try {
    const s = JSON.parse(storage.getItem(KEY) || 'null');
    return s && s.homeserver && s.accessToken && s.userId && s.deviceId ? s : null;
  } catch {
    return null;
  }
}

export function loadSession() {
  return read(sessionStorage) || read(localStorage);
}

export function saveSession(s) {
  const text = JSON.stringify(s);
  sessionStorage.setItem(KEY, text);
  localStorage.setItem(KEY, text);
}

// clearSession forgets this tab's session, and the stored one if it is the
// same (another tab's later login stays).
export function clearSession() {
  const mine = read(sessionStorage);
  sessionStorage.removeItem(KEY);
  if (!mine || read(localStorage)?.accessToken === mine.accessToken) localStorage.removeItem(KEY);
}
