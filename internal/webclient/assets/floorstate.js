// Ordering floor states that come two ways: from /sync (the room's
// org.matrix.msc4002.floor state event, which carries no version) and
// from the floor channel (milliseconds earlier, with a version). A /sync
// that is behind must never undo a newer push: a speaker who was just
// granted would see the floor "taken" by the state before the grant.
//
// Room events carry no version, so states are ordered by what the protocol
// guarantees: the term never goes back (+1 on every grant), and within a
// term a turn only moves forward: granted (a holder, no broadcast yet),
// then broadcasting, then over (no holder, same term until the next grant).

// stage is how far the turn of a state's term has come.
export function stage(f) {
  if (!f.holder) return 2;
  return f.broadcast_event_id ? 1 : 0;
}

// compareFloors is < 0 when a is older than b, > 0 when newer, 0 when
// the two cannot be told apart this way (queue changes within a stage).
export function compareFloors(a, b) {
  return (a.term ?? 0) - (b.term ?? 0) || stage(a) - stage(b);
}

// FloorTracker keeps a room's latest floor state.
export class FloorTracker {
  constructor() {
    this.floor = null; // the latest content
    this.source = ''; // "sync" or "channel": where it came from
    this.eventId = null; // the state event's ID, for floors from /sync
    this.changes = 0; // +1 on every accepted state, for views that redraw
  }

  // offer takes a floor state and reports whether it is the room's floor
  // now. A tie goes to the channel while it is live (it always pushes the
  // latest; a /sync state of the same stage may be an older queue), and
  // to the later state otherwise.
  offer(content, source, eventId = null) {
    if (source === 'sync' && eventId && eventId === this.eventId) return false;
    if (this.floor) {
      const order = compareFloors(content, this.floor);
      if (order < 0) return false;
      if (order === 0 && source === 'sync' && this.source === 'channel') return false;
    }
    this.floor = content;
    this.source = source;
    this.eventId = eventId;
    this.changes++;
    return true;
  }

  // channelGone: the channel's last state stops winning ties, so /sync
  // takes over the room's floor from now on.
  channelGone() {
    if (this.source === 'channel') this.source = 'stale';
  }
}
