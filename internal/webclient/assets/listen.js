// Listening in one room: the broadcast the controller's floor state names
// plays live through the Player, chunk by chunk as they arrive (missed
// chunks are fetched with /messages); broadcasts that have ended stay
// listed as voice messages that can be replayed.
import { INFO_TYPES, chunkInfo, referenced } from './protocol.js';

const END_GRACE_MS = 5000; // chunks of a revoked broadcast may still be in flight
const PAGES = 5; // how far back a catch-up looks: 5 pages of 100 events
const CATCH_UP_EVERY_MS = 3000; // at most one catch-up per broadcast this often

export class Listen {
  constructor({ client, room, player, onChange }) {
    Object.assign(this, { client, room, player, onChange });
    this.me = client.userId;
    this.device = client.deviceId;
    this.broadcasts = new Map(); // started event ID → broadcast
    this.liveId = null;
    this.replays = 0;
  }

  broadcast(id, sender = '', device = '', ts = 0) {
    let b = this.broadcasts.get(id);
    if (!b) {
      b = { id, sender, device, ts, chunks: new Map(), queued: new Set(), downloaded: 0, live: false, ended: false, lastSeq: 0, redacted: false, finished: false };
      this.broadcasts.set(id, b);
    }
    b.sender ||= sender;
    b.device ||= device;
    b.ts ||= ts;
    return b;
  }

  own(b) {
    return b.sender === this.me && b.device === this.device;
  }

  onTimeline(ev) {
    const c = ev.content || {};
    if (ev.type === 'm.room.redaction') {
      const id = ev.redacts || c.redacts;
      if (this.broadcasts.has(id)) this.broadcasts.get(id).redacted = true;
      for (const b of this.broadcasts.values()) for (const [seq, ci] of b.chunks) if (ci.eventId === id) b.chunks.delete(seq);
      return;
    }
    if (INFO_TYPES.includes(ev.type) && ev.state_key === ev.sender) {
      if (c.state === 'started') this.broadcast(ev.event_id, ev.sender, c.device_id, ev.origin_server_ts);
      if (c.state === 'stopped') {
        const id = referenced(c) || [...this.broadcasts.values()].reverse().find((b) => b.sender === ev.sender)?.id;
        if (!id) return;
        const b = this.broadcast(id, ev.sender);
        b.ended = true;
        b.lastSeq = c.last_chunk_sequence || b.lastSeq;
        this.settle(b);
      }
      return;
    }
    const ci = chunkInfo(ev);
    if (!ci) return;
    const b = this.broadcast(ci.started, ci.sender);
    if (ci.sender !== b.sender || b.chunks.has(ci.sequence)) return;
    b.chunks.set(ci.sequence, ci);
    if (b.live) this.play(b, ci);
  }

  // onFloor: the controller names the broadcast that holds the floor.
  onFloor() {
    const f = this.room.floor || {};
    const id = f.broadcast_event_id && f.holder ? f.broadcast_event_id : null;
    if (id === this.liveId) return;
    const previous = this.broadcasts.get(this.liveId);
    if (previous) {
      previous.ended = true;
      setTimeout(() => this.finish(previous), END_GRACE_MS);
    }
    this.liveId = id;
    if (!id) return this.onChange();
    const b = this.broadcast(id, f.holder.user_id, f.holder.device_id);
    if (this.own(b)) return this.onChange();
    b.live = true;
    for (const ci of [...b.chunks.values()].sort((x, y) => x.sequence - y.sequence)) this.play(b, ci);
    this.onChange();
  }

  // afterSync: once a sync's events are in, fetch what the live broadcast
  // is missing (a gappy sync, a client that opened mid-broadcast).
  afterSync(limited) {
    const b = this.broadcasts.get(this.liveId);
    if (!b || !b.live) return;
    const highest = Math.max(0, ...b.chunks.keys());
    if (limited || b.chunks.size < highest || (b.chunks.size === 0 && b.ts && Date.now() - b.ts > 2000)) this.catchUp(b);
  }

  async catchUp(b) {
    if (b.catchingUp || Date.now() - (b.caughtUpAt || 0) < CATCH_UP_EVERY_MS) return;
    b.catchingUp = true;
    b.caughtUpAt = Date.now();
    try {
      let from;
      for (let page = 0; page < PAGES; page++) {
        const resp = await this.client.messages(this.room.id, { from, dir: 'b', limit: 100 });
        const events = resp.chunk || [];
        for (const ev of events) if (chunkInfo(ev)?.started === b.id) this.onTimeline(ev);
        if (!resp.end || events.length === 0 || events.some((ev) => ev.event_id === b.id)) break;
        from = resp.end;
      }
    } catch (err) {
      console.warn('catch-up:', err.message);
    } finally {
      b.catchingUp = false;
    }
    this.settle(b);
  }

  async play(b, ci) {
    if (b.queued.has(ci.sequence) || b.finished) return;
    b.queued.add(ci.sequence);
    try {
      const buf = await this.client.download(ci.url);
      this.player.enqueue(b.id, ci.sequence, buf);
    } catch (err) {
      console.warn(`chunk ${ci.sequence} not played:`, err.message);
    }
    b.downloaded++;
    this.settle(b);
  }

  // settle ends a live broadcast in the Player once it stopped and every
  // chunk up to its last one has been handed over.
  settle(b) {
    if (b.live && b.ended && b.lastSeq && b.downloaded >= b.lastSeq) this.finish(b);
    else if (b.live && b.ended && b.lastSeq > b.chunks.size) this.catchUp(b);
    this.onChange();
  }

  finish(b) {
    if (b.finished) return;
    b.finished = true;
    if (b.live) this.player.end(b.id);
    this.onChange();
  }

  // finished broadcasts with audio, newest first: the voice messages.
  get messages() {
    return [...this.broadcasts.values()]
      .filter((b) => b.ended && !b.redacted && b.chunks.size > 0 && b.id !== this.liveId)
      .sort((x, y) => y.ts - x.ts)
      .slice(0, 20);
  }

  async replay(id) {
    const b = this.broadcasts.get(id);
    if (!b) return;
    const stream = `replay:${id}:${++this.replays}`;
    const chunks = [...b.chunks.values()].sort((x, y) => x.sequence - y.sequence);
    const bufs = await Promise.all(chunks.map((ci) => this.client.download(ci.url).catch(() => null)));
    chunks.forEach((ci, i) => bufs[i] && this.player.enqueue(stream, ci.sequence, bufs[i]));
    this.player.end(stream);
  }
}
