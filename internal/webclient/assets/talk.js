// This device's turns in one room: the walkie-talkie fast path of
// docs/protocol.md. Pressing starts the recorder and sends `started` at
// once (the implicit request); chunks are uploaded and sent only once the
// controller's floor state names that broadcast; a queued device that is
// granted later starts a new broadcast with the granted term; releasing
// sends `stopped` with the last chunk's sequence number.
//
// Phases: idle; opening (the microphone); asking (`started` sent, no
// answer yet); queued; talking; ending (released: the last chunks and
// `stopped` go out); abandoning (released before any answer came).
import { retrying } from './matrix.js';
import { REQUEST, TERM_KEY, chunkContent, referenced, sameDevice } from './protocol.js';
import { explain, micProblem, reasonOfRedaction } from './reasons.js';

const NOTICE_MS = 12000;
const ANSWER_MS = 20000; // how long a `started` may wait for the controller's answer

export class Talk {
  constructor({ client, room, mic, onChange }) {
    Object.assign(this, { client, room, mic, onChange });
    this.me = client.userId;
    this.device = client.deviceId;
    this.phase = 'idle';
    this.pressed = false;
    this.broadcast = null; // the current attempt: {startedId, term, chunks, lastSeq, refused}
    this.notice = null; // {text, reason?}: the last denial or revoke, shown for NOTICE_MS or until the next press
    this.queuePosition = 0;
    this.trouble = ''; // a failing upload, while it is retried
    this.recent = []; // responses and redactions, replayed when our started's ID arrives late
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
        if (!b || !b.startedId) return;
        if (mine && f.broadcast_event_id === b.startedId) {
          if (this.phase === 'asking') {
            this.set('talking');
            this.pump(b);
          } else {
            this.set('ending');
            this.finish(b);
          }
        } else if (mine && !f.broadcast_event_id && b.refused) {
          this.granted(f.term); // queued and granted within one sync
        }
        return;
      case 'queued': {
        if (mine && !f.broadcast_event_id) return this.granted(f.term);
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
        if (this.phase === 'queued') this.granted(c.term);
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

  begin(term) {
    const b = { startedId: null, term, chunks: [], lastSeq: null, refused: false };
    this.broadcast = b;
    this.mic.onChunk = (chunk) => {
      if (this.broadcast !== b) return;
      b.chunks.push(chunk);
      this.pump(b);
    };
    this.mic.recorder.start();
    this.set('asking');
    const content = { state: 'started', device_id: this.device, chunk_length: 1 };
    if (term) content[TERM_KEY] = term;
    setTimeout(() => {
      if (this.broadcast === b && ['asking', 'abandoning'].includes(this.phase)) {
        this.endTurn({ text: 'Walkie did not answer. It may be down or not in this room; try again later.' });
      }
    }, ANSWER_MS);
    retrying(() => this.client.sendState(this.room.id, this.room.dialect.info, this.me, content), {
      isCancelled: () => this.broadcast !== b,
    }).then(
      (resp) => {
        if (this.broadcast !== b) return;
        b.startedId = resp.event_id;
        for (const ev of this.recent) this.onTimeline(ev); // answers that beat the PUT's own reply
        this.evaluate();
      },
      (err) => this.broadcast === b && this.endTurn({ text: `Could not start talking: ${err.message}` }),
    );
  }

  // granted: our queued request got the floor; start a new broadcast with
  // the granted term (the first `started` was redacted), or hand it back.
  async granted(term) {
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
    if (this.pressed) return this.begin(term);
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
    } catch (err) {
      console.warn('stopped not sent:', err.message);
    }
    if (this.broadcast === b) this.endTurn(null);
  }

  cancel() {
    this.request('cancel');
    this.endTurn(null);
  }

  request(action, extra = {}) {
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
