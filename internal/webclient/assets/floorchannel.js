// Walkie's floor channel, for the web client (docs/protocol.md, "Floor
// channel"): a WebSocket beside the room events that asks for the floor
// and hears floor changes in milliseconds. It is an accelerator: whenever
// it is not "ready", the app uses room events (talk_request, the room's
// floor state) instead, and both paths share one queue and one term.
//
//   const channel = connect({
//     url: "wss://walkie.example.org/_walkie/v1/floor",
//     getOpenIdToken: () => matrixClient.requestOpenIdToken(), // a promise of the object
//     deviceId, userId,                                        // userId optional
//     onFloor: (roomId, floorState, version) => {},
//     onStatus: (status, detail) => {},  // "connecting" | "ready" | "unavailable" | "closed"
//     onError: (error) => {},            // {errcode, error, room_id?} not about a request,
//                                        // e.g. M_FORBIDDEN for a subscribe
//     onLater: (roomId, response) => {}, // a later answer to a request of this device
//   });
//   channel.subscribe(roomId);
//   const response = await channel.request(roomId, { preempt: false });
//   await channel.release(roomId, { term: response.term });
//   channel.close();
//
// request, release and cancel resolve with the talk_response content
// ({status, reason, error, position, term, expires_ts}), or reject when the
// channel cannot answer (unavailable, or no answer in time): the caller
// then sends the same request as a room event. Answers that come after
// (docs/protocol.md "Later answers": granted from the queue, dropped from
// it, a turn revoked) go to onLater, for the rooms followed.

const REQUEST_TIMEOUT_MS = 10000;
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;

// Close codes after which trying again with the same setup cannot work.
const PERMANENT = new Map([
  [4000, "bad_auth_message"],
  [4003, "wrong_user"],
]);

export function connect({ url, getOpenIdToken, deviceId, userId, onFloor = () => {}, onStatus = () => {}, onError = () => {}, onLater = () => {}, WebSocketImpl = globalThis.WebSocket }) {
  const rooms = new Set();            // rooms to follow, across reconnections
  const versions = new Map();         // room → the latest version handed to onFloor
  const pending = new Map();          // request id → {resolve, reject, timer}
  let socket = null;
  let status = "";
  let retryMs = FIRST_RETRY_MS;
  let retryTimer = null;
  let closed = false;
  let nextId = 0;

  const setStatus = (next, detail = {}) => {
    if (next === status && next !== "unavailable") return;
    status = next;
    try { onStatus(next, detail); } catch (e) { console.error("floor channel onStatus:", e); }
  };

  const send = (message) => {
    if (!socket || socket.readyState !== 1 || status !== "ready") return false;
    socket.send(JSON.stringify(message));
    return true;
  };

  const failPending = (why) => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`floor channel: ${why}`));
      pending.delete(id);
    }
  };

  const scheduleRetry = (detail) => {
    if (closed) return;
    const delay = Math.round(retryMs * (0.75 + Math.random() * 0.5));
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    setStatus("unavailable", { ...detail, retryInMs: delay });
    retryTimer = setTimeout(open, delay);
  };

  const onMessage = (event) => {
    let m;
    try { m = JSON.parse(event.data); } catch { return; }
    switch (m.type) {
      case "ready":
        retryMs = FIRST_RETRY_MS;
        setStatus("ready", { userId: m.user_id, deviceId: m.device_id });
        for (const room of rooms) send({ type: "subscribe", room_id: room });
        break;
      case "floor": {
        const { type, room_id: room, version, ...floor } = m;
        if (!rooms.has(room) || version <= (versions.get(room) ?? -1)) return; // old news
        versions.set(room, version);
        try { onFloor(room, floor, version); } catch (e) { console.error("floor channel onFloor:", e); }
        break;
      }
      case "response":
      case "error": {
        const p = m.id !== undefined && pending.get(m.id);
        if (!p) {
          if (m.type === "response") {
            // A later answer: its request was answered (and forgotten)
            // already, maybe on an earlier socket.
            const { type, id, room_id: room, ...response } = m;
            if (!rooms.has(room)) return;
            try { onLater(room, response); } catch (e) { console.error("floor channel onLater:", e); }
            return;
          }
          console.warn("floor channel:", m.errcode, m.error);
          try { onError(m); } catch (e) { console.error("floor channel onError:", e); }
          return;
        }
        pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.type === "response") {
          const { type, id, room_id, ...response } = m;
          p.resolve(response);
        } else {
          const err = new Error(`floor channel: ${m.errcode}: ${m.error}`);
          err.errcode = m.errcode;
          p.reject(err);
        }
        break;
      }
    }
  };

  async function open() {
    retryTimer = null;
    if (closed) return;
    setStatus("connecting");
    let token;
    try {
      token = await getOpenIdToken();
    } catch (e) {
      scheduleRetry({ reason: "no_openid_token", error: String(e) });
      return;
    }
    if (closed) return;
    let ws;
    try {
      ws = new WebSocketImpl(url);
    } catch (e) {
      setStatus("unavailable", { reason: "bad_url", error: String(e), permanent: true });
      return;
    }
    socket = ws;
    ws.onopen = () => {
      const auth = { type: "auth", openid: token, device_id: deviceId };
      if (userId) auth.user_id = userId;
      ws.send(JSON.stringify(auth));
    };
    ws.onmessage = onMessage;
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      failPending("the connection closed");
      if (closed) return;
      const permanent = PERMANENT.get(event.code);
      const detail = { code: event.code, reason: event.reason || "connection lost" };
      if (permanent) {
        setStatus("unavailable", { ...detail, permanent: true });
        return;
      }
      if (event.code === 4004) retryMs = MAX_RETRY_MS; // too many sockets: no hurry
      scheduleRetry(detail);
    };
  }

  const ask = (type, room, extra = {}) => new Promise((resolve, reject) => {
    const id = `r${++nextId}`;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error("floor channel: no answer in time"));
    }, REQUEST_TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer });
    if (!send({ type, room_id: room, id, ...extra })) {
      pending.delete(id);
      clearTimeout(timer);
      reject(new Error(`floor channel: ${status || "not connected"}`));
    }
  });

  open();

  return {
    get status() { return status; },
    subscribe(room) {
      rooms.add(room);
      send({ type: "subscribe", room_id: room });
    },
    unsubscribe(room) {
      rooms.delete(room);
      versions.delete(room);
      send({ type: "unsubscribe", room_id: room });
    },
    request: (room, { preempt = false } = {}) => ask("request", room, preempt ? { preempt: true } : {}),
    release: (room, { term } = {}) => ask("release", room, term ? { term } : {}),
    cancel: (room) => ask("cancel", room),
    close() {
      closed = true;
      clearTimeout(retryTimer);
      failPending("closed");
      if (socket) socket.close(1000, "");
      socket = null;
      setStatus("closed");
    },
  };
}
