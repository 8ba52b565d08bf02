// This device's turns in one room. Pressing starts the recorder at once
// and asks for the floor one of two ways (docs/client.md, "What it sends"):
//
// - over the floor channel, when it is ready (floorpath.js): a `request`
//   answered on the socket in milliseconds; granted, the client shows "You
//   are talking" and sends `started` with the granted term;
// - as room events otherwise (the walkie-talkie fast path of
//   docs/protocol.md): `started` at once, the implicit request.
//
// Either way chunks are uploaded and sent only once the controller's floor
// state names that broadcast; a queued device that is granted later starts
// a new broadcast with the granted term; releasing sends `stopped` with the
// last chunk's sequence number.
//
// Phases: idle; opening (the microphone); asking (asked, the floor does
// not name our broadcast yet; b.granted once we know we hold the floor);
// queued; talking; ending (released: the last chunks and `stopped` go
// out); abandoning (released before the floor named our broadcast).
import { retrying } from './matrix.js';
import { REQUEST, TERM_KEY, chunkContent, referenced, sameDevice } from './protocol.js';
import { explain, micProblem, reasonOfRedaction } from './reasons.js';

const NOTICE_MS = 12000;
const ANSWER_MS = 20000; // how long a `started` may wait for the controller's answer

export class Talk {
  constructor({ client, room, mic, onChange, floorPath = null }) {
    Object.assign(this, { client, room, mic, onChange, floorPath });
    this.me = client.userId;
    this.device = client.deviceId;
    this.phase = 'idle';
    this.pressed = false;
    this.broadcast = null; // the current attempt: {startedId, term, granted, expiresTs, chunks, lastSeq, refused}
    this.notice = null; // {text, reason?}: the last denial or revoke, shown for NOTICE_MS or until the next press
    this.queuePosition = 0;
    this.trouble = ''; // a failing upload, while it is retried
    this.recent = []; // responses and redactions, replayed when our started's ID arrives late
    this.requestPath = ''; // how the last request went: "channel" or "room" (#talk[data-request-path])
  }

  // tell shows a denial, revoke or microphone problem for a while.
  tell(notice) {
    this.notice = notice;
    setTimeout(() => {
      if (this.notice !== notice) return;
      this.notice = null;
      this.onChange();
    }, NOTICE_MS);
  }

  set(phase) {
    this.phase = phase;
    this.onChange();
  }

  // --- the button ---

  async press() {
    if (this.pressed || this.phase !== 'idle') return;
    this.pressed = true;
    this.notice = null;
    if (this.room.encrypted) {
      this.pressed = false;
      this.tell({ text: 'This room is end-to-end encrypted: this client cannot talk there yet.' });
      this.onChange();
      return;
    }
    this.set('opening');
    try {
      await this.mic.open();
    } catch (err) {
      this.pressed = false;
      this.tell({ text: micProblem(err.kind), mic: true });
      this.set('idle');
      return;
    }
    if (!this.pressed) return this.set('idle');
    this.begin(undefined);
  }

  release() {
    if (!this.pressed) return;
    this.pressed = false;
    const b = this.broadcast;
    switch (this.phase) {
      case 'asking':
        if (!b) return; // between a grant from the queue and its `started`: granted() hands the floor back
        this.stopRecorder(b);
        this.set('abandoning');
        this.evaluate();
        break;
      case 'queued':
        this.cancel();
        break;
      case 'talking':
        this.set('ending');
        this.finish(b);
        break;
    }
  }

  // --- what Walkie says ---

  // evaluate reads the controller's floor state: is our broadcast the
  // floor's, were we granted from the queue, did we lose the floor?
  evaluate() {
    const f = this.room.floor || {};
    const mine = sameDevice(f.holder, this.me, this.device);
    const b = this.broadcast;
    switch (this.phase) {
      case 'asking':
      case 'abandoning':
        if (!b) return;
        if (b.granted && this.lost(f, b)) return this.endTurn({ text: 'The floor was taken from you.' });
        if (!b.startedId) return;
        if (mine && f.broadcast_event_id === b.startedId) {
          b.term ??= f.term; // (an implicit request learns its term here)
          if (this.phase === 'asking') {
            this.set('talking');
            this.pump(b);
          } else {
            this.set('ending');
            this.finish(b);
          }
        } else if (mine && !f.broadcast_event_id && b.refused) {
          this.granted(f.term, f.expires_ts); // queued and granted within one sync
        }
        return;
      case 'queued': {
        if (mine && !f.broadcast_event_id) return this.granted(f.term, f.expires_ts);
        const at = (f.queue || []).findIndex((d) => sameDevice(d, this.me, this.device));
        if (at >= 0 && at + 1 !== this.queuePosition) {
          this.queuePosition = at + 1;
          this.onChange();
        }
        return;
      }
      case 'talking':
        if (!mine || f.broadcast_event_id !== b.startedId) this.endTurn({ text: 'The floor was taken from you.' });
        return;
    }
  }

  // lost: a floor state at or past the term we were granted that does not
  // name us (revoked, or start_timeout ran out). One of an earlier term is
  // old news that the grant overtook.
  lost(f, b) {
    if (!b.term || f.term === undefined || f.term < b.term) return false;
    return f.term > b.term || !sameDevice(f.holder, this.me, this.device);
  }

  // onTimeline takes the room's new timeline events.
  onTimeline(ev) {
    if (ev.sender !== this.room.controller) return;
    if (ev.type === 'org.matrix.msc4002.talk_response' && sameDevice(ev.content?.device, this.me, this.device)) {
      this.remember(ev);
      this.onResponse(ev.content);
    } else if (ev.type === 'm.room.redaction') {
      this.remember(ev);
      this.onRedaction(ev.redacts || ev.content?.redacts, ev.content?.reason);
    }
  }

  remember(ev) {
    this.recent.push(ev);
    if (this.recent.length > 20) this.recent.shift();
  }

  // onLaterAnswer: Walkie's later answer, over the floor channel, to a
  // request this device sent there (docs/protocol.md "Later answers"). It
  // references no event: a denial while queued (the permit went, say)
  // ends the wait like a cancel; the rest is as in the room.
  onLaterAnswer(c) {
    if (c.status === 'denied' && this.phase === 'queued') return this.endTurn({ text: explain(c.reason), reason: c.reason });
    this.onResponse(c);
  }

  onResponse(c) {
    const b = this.broadcast;
    const aboutStart = b && b.startedId && referenced(c) === b.startedId;
    switch (c.status) {
      case 'queued':
        if (!aboutStart) return;
        b.refused = true;
        if (this.phase === 'abandoning') return this.cancel();
        if (this.phase !== 'asking') return;
        this.queuePosition = c.position || 1;
        this.stopRecorder(b);
        this.set('queued');
        this.evaluate();
        return;
      case 'denied':
        if (!aboutStart) return;
        b.refused = true;
        if (this.phase === 'asking' || this.phase === 'abandoning') this.endTurn({ text: explain(c.reason), reason: c.reason });
        return;
      case 'granted':
        if (this.phase === 'queued') this.granted(c.term, c.expires_ts);
        return;
      case 'revoked':
        this.tell({ text: explain(c.reason), reason: c.reason });
        if (['talking', 'ending', 'asking'].includes(this.phase)) this.endTurn(null);
        else this.onChange();
        return;
      case 'cancelled':
        if (this.phase === 'queued') this.endTurn({ text: c.reason ? explain(c.reason) : 'You left the queue.', reason: c.reason });
        return;
    }
  }

  onRedaction(redacted, why) {
    const b = this.broadcast;
    if (!b || !b.startedId || redacted !== b.startedId) return;
    b.refused = true;
    // A refusal comes with a talk_response too; a queued start waits for it.
    const reason = reasonOfRedaction(why);
    if (reason && reason !== 'floor_taken' && (this.phase === 'asking' || this.phase === 'abandoning')) {
      this.endTurn({ text: explain(reason), reason });
    }
  }

  // --- the turn ---

  // begin starts recording and asks for the floor; with a term (granted
  // from the queue) we hold it already, and only the `started` goes out.
  begin(term, expiresTs) {
    const b = { startedId: null, term, granted: !!term, expiresTs, chunks: [], lastSeq: null, refused: false };
    this.broadcast = b;
    this.mic.onChunk = (chunk) => {
      if (this.broadcast !== b) return;
      b.chunks.push(chunk);
      this.pump(b);
    };
    if (this.room.floor?.mode !== 'live') this.mic.recorder.start(); // live mode: the audio goes over LiveKit (live.js)
    this.set('asking');
    setTimeout(() => {
      if (this.broadcast === b && ['asking', 'abandoning'].includes(this.phase)) {
        this.endTurn({ text: 'Walkie did not answer. It may be down or not in this room; try again later.' });
      }
    }, ANSWER_MS);
    if (!term && this.floorPath?.ready) return this.askChannel(b);
    if (!term) this.requestPath = 'room';
    this.sendStarted(b);
  }

  // askChannel asks over the floor channel; when it cannot answer, the
  // implicit request (a `started` without a term) goes out instead.
  askChannel(b) {
    this.requestPath = 'channel';
    this.floorPath.request(this.room.id).then(
      (answer) => this.broadcast === b && this.onChannelAnswer(b, answer),
      (err) => {
        if (this.broadcast !== b) return;
        console.warn('floor channel request failed; asking with room events:', err.message);
        this.requestPath = 'room';
        this.sendStarted(b);
      },
    );
  }

  onChannelAnswer(b, answer) {
    switch (answer.status) {
      case 'granted':
        Object.assign(b, { granted: true, term: answer.term, expiresTs: answer.expires_ts });
        if (this.phase === 'abandoning') {
          // Let go before the grant came: hand the floor back.
          this.request('release', { term: answer.term });
          return this.endTurn(null);
        }
        this.onChange(); // "You are talking": the recorder has been running since the press
        this.sendStarted(b);
        this.evaluate();
        return;
      case 'queued':
        b.refused = true;
        if (this.phase === 'abandoning') return this.cancel();
        this.queuePosition = answer.position || 1;
        this.stopRecorder(b);
        this.set('queued');
        this.evaluate(); // a push may have granted us already
        return;
      case 'denied':
        b.refused = true;
        this.endTurn({ text: explain(answer.reason), reason: answer.reason });
        return;
      default:
        console.warn('floor channel: unexpected answer to a request:', answer.status);
        this.endTurn(null);
    }
  }

  // sendStarted sends the broadcast's `started`: the implicit request
  // without a term, the start of a granted turn with one.
  sendStarted(b) {
    const content = { state: 'started', device_id: this.device, chunk_length: 1 };
    if (b.granted && b.term) content[TERM_KEY] = b.term;
    retrying(() => this.client.sendState(this.room.id, this.room.dialect.info, this.me, content), {
      isCancelled: () => this.broadcast !== b,
    }).then(
      (resp) => {
        if (this.broadcast !== b) return;
        b.startedId = resp.event_id;
        for (const ev of this.recent) this.onTimeline(ev); // answers that beat the PUT's own reply
        this.evaluate();
      },
      (err) => {
        if (this.broadcast !== b) return;
        if (b.granted) this.request('release', { term: b.term }); // rather than hold the floor until start_timeout
        this.endTurn({ text: `Could not start talking: ${err.message}` });
      },
    );
  }

  // granted: our queued request got the floor; start a new broadcast with
  // the granted term (the first `started` was redacted), or hand it back.
  async granted(term, expiresTs) {
    const old = this.broadcast;
    this.broadcast = null;
    this.queuePosition = 0;
    if (!this.pressed) {
      this.request('release', { term });
      return this.set('idle');
    }
    this.set('asking');
    if (old) await old.stopping;
    if (this.mic.recorder?.recording) await this.mic.recorder.stop();
    if (this.phase !== 'asking' || this.broadcast) return; // something else ended or began a turn meanwhile
    if (this.pressed) return this.begin(term, expiresTs);
    this.request('release', { term });
    this.set('idle');
  }

  stopRecorder(b) {
    if (!b.stopping) {
      b.stopping = this.mic.recorder.stop().then(
        (last) => (b.lastSeq = last),
        () => (b.lastSeq = b.chunks.at(-1)?.sequence ?? 0),
      );
    }
    return b.stopping;
  }

  // pump uploads and sends chunks in order, one at a time, retrying
  // failures with backoff; only while the floor names our broadcast.
  pump(b) {
    if (this.broadcast !== b || !['talking', 'ending'].includes(this.phase)) return Promise.resolve();
    if (b.pumping) return b.pumping;
    if (!b.chunks.length) return Promise.resolve(); // (the loop below must reach an await)
    const live = () => this.broadcast === b;
    const onRetry = (err) => {
      console.warn('sending audio failed, retrying:', err.message);
      this.trouble = 'Sending audio failed; retrying…';
      this.onChange();
    };
    b.pumping = (async () => {
      while (live() && b.chunks.length) {
        const c = b.chunks[0];
        try {
          const url = await retrying(() => this.client.upload(c.blob, 'Voice message.ogg'), { isCancelled: () => !live(), onRetry });
          const content = chunkContent(this.room.dialect, { url, sizeBytes: c.sizeBytes, durationMs: c.durationMs, sequence: c.sequence, started: b.startedId });
          await retrying(() => this.client.sendEvent(this.room.id, this.room.dialect.chunk, content), { isCancelled: () => !live(), onRetry });
        } catch (err) {
          if (!live()) break;
          console.warn(`chunk ${c.sequence} dropped:`, err.message);
        }
        b.chunks.shift();
        if (this.trouble) {
          this.trouble = '';
          this.onChange();
        }
      }
      b.pumping = null;
    })();
    return b.pumping;
  }

  // finish: after a release, the last chunks, then `stopped`.
  async finish(b) {
    await this.stopRecorder(b);
    await this.pump(b);
    if (this.broadcast !== b) return;
    const content = {
      state: 'stopped',
      device_id: this.device,
      last_chunk_sequence: b.lastSeq,
      'm.relates_to': { rel_type: 'm.reference', event_id: b.startedId },
    };
    try {
      await retrying(() => this.client.sendState(this.room.id, this.room.dialect.info, this.me, content));
      // With the channel, Walkie hears the release now rather than when the
      // homeserver passes `stopped` on: the next speaker gets the floor
      // sooner. Everything is in the room by now (Walkie ignores the
      // `stopped` of a turn that has ended).
      if (this.floorPath?.ready && b.term) this.viaChannel('release', { term: b.term }, false);
    } catch (err) {
      console.warn('stopped not sent:', err.message);
    }
    if (this.broadcast === b) this.endTurn(null);
  }

  cancel() {
    this.request('cancel');
    this.endTurn(null);
  }

  // request sends a release or cancel: over the channel when it is
  // ready, else (or when the channel cannot answer) as a talk_request.
  request(action, extra = {}) {
    if (this.floorPath?.ready) return this.viaChannel(action, extra, true);
    this.requestEvent(action, extra);
  }

  viaChannel(action, extra, orRoomEvent) {
    this.requestPath = 'channel';
    this.floorPath[action](this.room.id, extra).then(
      (answer) => answer.status === 'denied' && orRoomEvent && console.warn(`${action} over the floor channel:`, answer.reason),
      (err) => {
        console.warn(`${action} over the floor channel failed:`, err.message);
        if (orRoomEvent) this.requestEvent(action, extra);
      },
    );
  }

  requestEvent(action, extra) {
    this.requestPath = 'room';
    const content = { action, device_id: this.device, ...extra };
    retrying(() => this.client.sendEvent(this.room.id, REQUEST, content)).catch((err) => console.warn(`${action}:`, err.message));
  }

  endTurn(notice) {
    const b = this.broadcast;
    this.broadcast = null;
    if (b && this.mic.recorder?.recording) this.stopRecorder(b).catch(() => {});
    if (notice) this.tell(notice);
    this.queuePosition = 0;
    this.trouble = '';
    this.set('idle');
  }

  dispose() {
    this.release();
  }
}
