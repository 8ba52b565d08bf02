// Which way this device's floor requests go: over Walkie's floor channel
// (floorchannel.js, docs/protocol.md "Floor channel") while it is ready,
// as room events (talk.js) otherwise. The channel also pushes the open
// room's floor state, milliseconds ahead of /sync; the room keeps whichever
// state is newer (floorstate.js). Both paths end in the same decision in
// Walkie: one queue, one term.
import { connect } from './floorchannel.js';

// A subscribe Walkie refuses is tried again after these delays.
const RESUBSCRIBE_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];

export class FloorPath {
  // onFloor(room) follows a pushed state that changed the room's floor;
  // onLater(room, response) a later answer to a request of this device
  // (granted from the queue, dropped from it, a turn revoked), which the
  // channel sends instead of a talk_response in the room;
  // onStatus(status) every change of the channel's status.
  constructor({ client, config, rooms, onFloor, onLater = () => {}, onStatus }) {
    this.following = new Map(); // room ID → refused subscribes in a row
    this.rooms = rooms;
    this.channel = null;
    if (!config.floor_channel) return;
    const url = new URL(config.floor_channel, document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.channel = connect({
      url: url.href,
      getOpenIdToken: () => client.openIdToken(),
      deviceId: client.deviceId,
      userId: client.userId,
      onFloor: (roomId, floor) => {
        if (this.following.has(roomId)) this.following.set(roomId, 0);
        const room = rooms.joined.get(roomId);
        if (room?.floors.offer(floor, 'channel')) onFloor(room);
      },
      onStatus: (status) => {
        if (status !== 'ready') rooms.channelGone();
        onStatus(status);
      },
      onError: (e) => this.refused(e),
      onLater: (roomId, response) => {
        const room = rooms.joined.get(roomId);
        if (room) onLater(room, response);
      },
    });
  }

  // ready: requests go over the channel now.
  get ready() {
    return this.channel?.status === 'ready';
  }

  // name is the path a request would take now, as the page shows it
  // (#talk[data-floor-path]).
  get name() {
    return this.ready ? 'channel' : 'room';
  }

  follow(roomId) {
    if (!this.channel) return;
    this.following.set(roomId, 0);
    this.channel.subscribe(roomId);
  }

  unfollow(roomId) {
    if (!this.channel || !this.following.delete(roomId)) return;
    this.channel.unsubscribe(roomId);
    this.pushesStopped(roomId);
  }

  // pushesStopped: no more pushes for the room until it is followed
  // again, so its floor must not wait for them (floorstate.js).
  pushesStopped(roomId) {
    this.rooms.joined.get(roomId)?.floors.channelGone();
  }

  // refused: a subscribe can reach Walkie before Walkie has seen the user
  // join the room (the join reaches the user's /sync and Walkie's
  // appservice stream separately), so it is tried again, backing off.
  // (Walkie also says M_FORBIDDEN when it stops pushing a room the user
  // has left.)
  refused(e) {
    const roomId = e.room_id;
    if (e.errcode !== 'M_FORBIDDEN' || !roomId || !this.following.has(roomId)) return;
    this.pushesStopped(roomId);
    const n = this.following.get(roomId);
    if (n >= RESUBSCRIBE_MS.length) return;
    this.following.set(roomId, n + 1);
    setTimeout(() => {
      if (this.following.get(roomId) === n + 1) this.channel.subscribe(roomId);
    }, RESUBSCRIBE_MS[n]);
  }

  // request, release and cancel resolve with Walkie's answer (a
  // talk_response's content) or reject when the channel cannot answer:
  // the caller then sends the same as a room event.
  request(roomId) {
    return this.channel.request(roomId);
  }

  release(roomId, { term } = {}) {
    return this.channel.release(roomId, { term });
  }

  cancel(roomId) {
    return this.channel.cancel(roomId);
  }

  close() {
    this.channel?.close();
  }
}
