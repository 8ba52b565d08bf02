// Small DOM helpers: the client builds its views with these instead of a
// framework, and never with innerHTML (names and reasons come from other
// people's events).

export const $ = (id) => document.getElementById(id);

// el('li', {class: 'x', dataset: {roomId}}, 'text', child) builds an element.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

// say puts text into a node only when it changed, so aria-live regions
// announce changes, not every re-render.
export function say(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function localpart(userId) {
  return userId.replace(/^@/, '').split(':')[0];
}

// relativeTime says "in 58 min" / "in 3 h 5 min" for a future Unix ms.
export function inTime(ts, now = Date.now()) {
  const s = Math.max(0, Math.round((ts - now) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function clock(ts) {
  return new Date(ts).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
}
