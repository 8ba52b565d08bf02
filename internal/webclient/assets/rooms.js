// What the client knows of each room, built from /sync: current state,
// the floor as the controller last published it (or the floor channel
// pushed it, whichever is newer: floorstate.js), and invites. Timeline
// events are passed on to whoever listens (talk.js, listen.js); only
// state is kept here.
import { DIALECTS, FLOOR, INFO_TYPES, PERMIT, permitKey } from './protocol.js';
import { localpart } from './dom.js';
import { FloorTracker } from './floorstate.js';

const TIMELINE_KEPT = 300;

export class Room {
  constructor(id, controller) {
    this.id = id;
    this.controller = controller;
    this.state = new Map(); // type → Map(stateKey → event)
    this.floors = new FloorTracker(); // the controller's latest floor content
    this.timeline = []; // the latest events, for a view opened later
  }

  remember(events) {
    this.timeline.push(...events);
    if (this.timeline.length > TIMELINE_KEPT) this.timeline.splice(0, this.timeline.length - TIMELINE_KEPT);
  }

  // floor is the latest floor state, from /sync or the floor channel.
  get floor() {
    return this.floors.floor;
  }

  get(type, key = '') {
    return this.state.get(type)?.get(key);
  }

  applyState(ev) {
    if (!this.state.has(ev.type)) this.state.set(ev.type, new Map());
    this.state.get(ev.type).set(ev.state_key, ev);
    // Only the controller's floor state is believed (docs/protocol.md).
    if (ev.type === FLOOR && ev.state_key === '' && ev.sender === this.controller) {
      this.floors.offer(ev.content || {}, 'sync', ev.event_id);
    }
  }

  // applyRedaction strips a redacted state event's content, as the server
  // does, so a redacted permit reads as no permit.
  applyRedaction(redactedId) {
    for (const byKey of this.state.values()) {
      for (const ev of byKey.values()) if (ev.event_id === redactedId) ev.content = {};
    }
  }

  membership(userId) {
    return this.get('m.room.member', userId)?.content?.membership || 'leave';
  }

  get managed() {
    return this.membership(this.controller) === 'join';
  }

  get encrypted() {
    return !!this.get('m.room.encryption')?.content?.algorithm;
  }

  get name() {
    const name = this.get('m.room.name')?.content?.name;
    return name || this.get('m.room.canonical_alias')?.content?.alias || this.id;
  }

  displayName(userId) {
    return this.get('m.room.member', userId)?.content?.displayname || localpart(userId);
  }

  permit(userId, deviceId) {
    return this.get(PERMIT, permitKey(userId, deviceId))?.content || {};
  }

  // dialect: the broadcast dialect this room already uses (the latest
  // info event sent in it), else Element's.
  get dialect() {
    let latest = null;
    for (const type of INFO_TYPES) {
      for (const ev of this.state.get(type)?.values() || []) {
        if (!latest || ev.origin_server_ts > latest.origin_server_ts) latest = ev;
      }
    }
    return DIALECTS.find((d) => d.info === latest?.type) || DIALECTS[0];
  }
}

export class Rooms {
  constructor(controller) {
    this.controller = controller;
    this.joined = new Map();
    this.invited = new Map(); // roomId → {name, inviter}
  }

  room(id) {
    if (!this.joined.has(id)) this.joined.set(id, new Room(id, this.controller));
    return this.joined.get(id);
  }

  // apply takes one /sync response and returns, per joined room, its new
  // timeline events and whether the server left a gap before them.
  apply(resp) {
    const updates = [];
    for (const [id, r] of Object.entries(resp.rooms?.join || {})) {
      this.invited.delete(id);
      const room = this.room(id);
      for (const ev of r.state?.events || []) room.applyState(ev);
      const events = r.timeline?.events || [];
      for (const ev of events) {
        if (ev.state_key !== undefined) room.applyState(ev);
        if (ev.type === 'm.room.redaction') room.applyRedaction(ev.redacts || ev.content?.redacts);
      }
      room.remember(events);
      updates.push({ room, events, limited: !!r.timeline?.limited, prevBatch: r.timeline?.prev_batch });
    }
    for (const [id, r] of Object.entries(resp.rooms?.invite || {})) {
      const events = r.invite_state?.events || [];
      const name = events.find((e) => e.type === 'm.room.name')?.content?.name;
      const invite = events.find((e) => e.type === 'm.room.member' && e.content?.membership === 'invite');
      this.invited.set(id, { name: name || id, inviter: invite?.sender || '' });
    }
    for (const id of Object.keys(resp.rooms?.leave || {})) {
      this.joined.delete(id);
      this.invited.delete(id);
    }
    return updates;
  }

  // channelGone: the floor channel is not live any more; /sync's floor
  // states take over.
  channelGone() {
    for (const room of this.joined.values()) room.floors.channelGone();
  }
}
