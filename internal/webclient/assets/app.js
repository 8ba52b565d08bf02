// Walkie's reference web client: boot, session, sync and routing. The
// hash routes are "#/" (the rooms) and "#/room/<room ID or alias>";
// as a room widget, "?roomId=!room:server" opens that room (see
// docs/client.md for the widget URL).
import { Player } from './audio/player.js';
import { $, inTime, say, show } from './dom.js';
import { FloorPath } from './floorpath.js';
import { setUpLogin } from './login.js';
import { Client } from './matrix.js';
import { Mic } from './mic.js';
import { setUpPermits } from './permits.js';
import { Rooms } from './rooms.js';
import { parseRoomLink, renderRoomList, roomHash, setUpOpenForm } from './roomlist.js';
import { RoomView } from './roomview.js';
import { clearSession, loadSession, saveSession } from './session.js';
import { Sync } from './sync.js';
import { setUpTalkButton } from './talkbutton.js';

const params = new URLSearchParams(location.search);
const widget = { roomId: params.get('roomId') || '', userId: params.get('userId') || '', isWidget: params.has('widgetId') };

window.walkieDebug = { player: null, recorder: null, floorPath: null };
let current = null; // {client, rooms, sync, view, mic, floorPath}

function showView(name) {
  for (const v of ['loading', 'login', 'rooms', 'room']) show($(`${v}-view`), v === name);
  show($('account'), name === 'rooms' || name === 'room');
}

async function boot() {
  if (widget.isWidget) document.body.classList.add('widget');
  let config;
  try {
    const resp = await fetch(new URL('_walkie/client/v1/config', document.baseURI), { cache: 'no-store' });
    config = await resp.json();
  } catch (err) {
    say($('loading-view'), `Walkie's configuration could not be loaded: ${err.message}`);
    return;
  }
  window.walkieDebug.player = new Player({ onLevel: (level) => ($('level').value = level), toneHz: 1000 });
  const wake = () => window.walkieDebug.player.resume().catch(() => {});
  document.addEventListener('pointerdown', wake, { capture: true });
  document.addEventListener('keydown', wake, { capture: true });
  setUpLogin(config, (session) => {
    saveSession(session);
    start(session, config);
  }, { userHint: widget.userId });
  setUpOpenForm();
  setUpPermits(() => ({ client: current?.client, room: current?.view.room }));
  setUpTalkButton({ press: () => current?.view.press(), release: () => current?.view.release() });
  $('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  const session = loadSession();
  if (session) start(session, config);
  else showView('login');
}

function start(session, config) {
  const client = new Client(session);
  const rooms = new Rooms(config.controller);
  const mic = new Mic();
  let synced;
  const firstSync = new Promise((resolve) => (synced = resolve));
  // The floor channel, where Walkie serves one: requests and floor pushes
  // in milliseconds while it is ready, room events otherwise.
  const floorPath = new FloorPath({
    client, config, rooms,
    onFloor: (room) => {
      current?.view.onFloorPush(room);
      renderRoomList(rooms, client);
    },
    onLater: (room, response) => current?.view.onLaterAnswer(room, response),
    onStatus: () => current?.view.render(),
  });
  const view = new RoomView({ client, rooms, player: window.walkieDebug.player, mic, firstSync, floorPath });
  const sync = new Sync(client, {
    onResponse: (resp) => {
      for (const update of rooms.apply(resp)) view.onSync(update);
      renderRoomList(rooms, client);
      synced();
    },
    onStatus: showConnection,
    onLoggedOut: () => {
      stop();
      clearSession();
      showView('login');
      say($('login-error'), 'The homeserver ended this session. Log in again.');
    },
  });
  current = { client, rooms, sync, view, mic, floorPath };
  window.walkieDebug.floorPath = floorPath;
  renderRoomList(rooms, client);
  sync.start();
  route();
}

function stop() {
  if (!current) return;
  current.sync.stop();
  current.view.close();
  current.floorPath.close();
  current.mic.close();
  window.walkieDebug.recorder = window.walkieDebug.floorPath = null;
  current = null;
  showConnection({ state: 'ok' });
}

async function logout() {
  const client = current?.client;
  stop();
  clearSession();
  location.hash = '#/';
  showView('login');
  try {
    await client?.logout();
  } catch (err) {
    console.warn('logout:', err.message);
  }
}

let countdown;
function showConnection(status) {
  const node = $('connection');
  node.dataset.state = status.state;
  clearInterval(countdown);
  show(node, status.state !== 'ok');
  if (status.state === 'lost') {
    const tell = () => say(node, `Connection to the homeserver lost. Reconnecting in ${inTime(status.retryAt)}…`);
    tell();
    countdown = setInterval(tell, 1000);
  } else if (status.state === 'retrying') {
    say(node, 'Connection to the homeserver lost. Reconnecting now…');
  } else {
    say(node, '');
  }
}

function route() {
  if (!current) return;
  let link = location.hash.startsWith('#/room/') ? parseRoomLink(location.hash) : null;
  if (!link && widget.roomId && !location.hash.startsWith('#/')) {
    link = { ref: widget.roomId, via: [] };
    history.replaceState(null, '', roomHash(widget.roomId));
  }
  if (link) {
    showView('room');
    if (link.ref !== current.view.ref && link.ref !== current.view.room?.id) current.view.open(link.ref, link.via);
  } else {
    current.view.close();
    showView('rooms');
  }
}

boot();
