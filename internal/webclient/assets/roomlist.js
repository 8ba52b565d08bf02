// The list of rooms Walkie manages (its controller is joined), each with
// who holds the floor; invitations to accept; and a box to open a room by
// ID, alias or link.
import { $, el, say, show } from './dom.js';

export function roomHash(ref, via = []) {
  const q = via.length ? `?via=${via.map(encodeURIComponent).join('&via=')}` : '';
  return `#/room/${encodeURIComponent(ref)}${q}`;
}

// parseRoomLink accepts "!id:server", "#alias:server", a matrix.to link or
// a link to this client ("…/#/room/!id:server?via=…").
export function parseRoomLink(text) {
  let t = text.trim();
  const at = t.search(/#\/(room\/)?[!#]/);
  if (at >= 0) t = t.slice(at).replace(/^#\/(room\/)?/, '');
  const [ref, query = ''] = t.split('?');
  const via = new URLSearchParams(query).getAll('via');
  const decoded = decodeURIComponent(ref);
  return /^[!#][^:]+:.+/.test(decoded) ? { ref: decoded, via } : null;
}

function summary(room) {
  const f = room.floor;
  if (room.encrypted) return 'encrypted: not supported yet';
  if (!f) return 'waiting for Walkie';
  if (f.holder) return `${room.displayName(f.holder.user_id)} is talking`;
  return f.queue?.length ? 'free, people waiting' : 'free';
}

export function renderRoomList(rooms, client) {
  const managed = [...rooms.joined.values()].filter((r) => r.managed).sort((a, b) => a.name.localeCompare(b.name));
  $('rooms').replaceChildren(
    ...managed.map((r) =>
      el('li', { dataset: { roomId: r.id } }, el('a', { href: roomHash(r.id) }, r.name), ' ', el('span', { class: 'floor-summary' }, summary(r))),
    ),
  );
  show($('rooms-empty'), managed.length === 0);
  const invites = [...rooms.invited.entries()];
  show($('invites-panel'), invites.length > 0);
  $('invites').replaceChildren(
    ...invites.map(([id, inv]) =>
      el(
        'li',
        { dataset: { roomId: id } },
        `${inv.name}${inv.inviter ? ` (from ${inv.inviter})` : ''} `,
        el('button', { type: 'button', onclick: () => (location.hash = roomHash(id)) }, 'Join'),
      ),
    ),
  );
  say($('whoami'), `${client.userId} · device ${client.deviceId}`);
}

export function setUpOpenForm() {
  $('open-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const link = parseRoomLink($('open-room').value);
    say($('open-error'), link ? '' : 'That is not a room ID (!…:server), alias (#…:server) or room link.');
    if (!link) return;
    location.hash = roomHash(link.ref, link.via);
  });
}
