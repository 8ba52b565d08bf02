// Playback of broadcasts as their Ogg Opus chunks arrive: each chunk is
// decoded on its own (decodeAudioData) and scheduled right after the
// previous one on the audio clock, so consecutive chunks join without a gap.
// One broadcast plays at a time; others wait their turn in arrival order.

import { addNode, listen } from './meter.js';

const LEAD_SECONDS = 0.02; // never schedule closer to now than this
const GAP_SECONDS = 1.5; // how long a missing chunk is awaited before skipping it
const TICK_MS = 100;
const FORGET_AFTER = 200; // finished streams remembered, to drop their stragglers

export class Player {
  #ac;
  #out;
  #jitter;
  #onsets = [];
  #played = 0;
  #streams = new Map(); // streamId → stream, in order of first arrival
  #finished = new Set();
  #timer = null;

  // jitterSeconds: how long a chunk that starts (or restarts) playback
  // waits after its arrival, so the next one can be late by that much
  // without a gap. toneHz: the test tone whose onsets stats() reports.
  constructor({ onLevel, toneHz = 1000, jitterSeconds = 0.3 } = {}) {
    this.#ac = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
    this.#jitter = jitterSeconds;
    this.#out = new GainNode(this.#ac);
    // The probe measures what is played; without it, playback still works.
    addNode(this.#ac, 'walkie-probe', { toneHz }).then(
      (probe) => {
        listen(probe, this.#ac, { onLevel, onsets: this.#onsets });
        this.#out.connect(probe).connect(this.#ac.destination);
      },
      () => this.#out.connect(this.#ac.destination),
    );
  }

  // resume starts the audio clock; call it from a user gesture (a click or
  // key press), which browsers require before playing sound.
  async resume() {
    await this.#ac.resume();
  }

  // enqueue hands over a chunk (its ArrayBuffer is consumed). Chunks may
  // come in any order; a chunk older than what already played is dropped.
  enqueue(streamId, sequence, arrayBuffer) {
    if (this.#finished.has(streamId)) return;
    const s = this.#stream(streamId);
    if (sequence < s.next || s.chunks.has(sequence)) return;
    s.decoding++;
    s.arrived = performance.now();
    this.#ac.decodeAudioData(arrayBuffer).then(
      (buffer) => s.chunks.set(sequence, { buffer, arrived: performance.now() }),
      () => s.chunks.set(sequence, null), // undecodable: skip it at once
    ).finally(() => {
      s.decoding--;
      this.#pump();
    });
  }

  // end says no more chunks will be sent for the stream; ones already on
  // their way still play if they arrive within GAP_SECONDS.
  end(streamId) {
    if (this.#finished.has(streamId)) return;
    this.#stream(streamId).ended = true;
    this.#pump();
  }

  // context and input let live audio (live mode, audio/remote.js) play
  // through the same output: the probe meters it and hears its tone.
  get context() {
    return this.#ac;
  }

  get input() {
    return this.#out;
  }

  // playing is the stream audible now, or null.
  get playing() {
    const s = this.#streams.values().next().value;
    const now = this.#ac.currentTime;
    return s && s.from <= now && now < s.until ? s.id : null;
  }

  stats() {
    return { chunksPlayed: this.#played, toneOnsets: [...this.#onsets] };
  }

  #stream(id) {
    let s = this.#streams.get(id);
    if (!s) {
      s = { id, chunks: new Map(), next: 1, decoding: 0, ended: false, from: Infinity, until: 0, gapSince: 0, arrived: performance.now() };
      this.#streams.set(id, s);
    }
    this.#timer ??= setInterval(() => this.#pump(), TICK_MS);
    return s;
  }

  // pump schedules what the first stream (the one playing) can play, skips
  // what it waited too long for, and retires it once done.
  #pump() {
    const s = this.#streams.values().next().value;
    if (!s) {
      clearInterval(this.#timer);
      this.#timer = null;
      return;
    }
    const now = this.#ac.currentTime;
    for (let c; (c = s.chunks.get(s.next)) !== undefined; s.next++) {
      s.chunks.delete(s.next);
      if (c) this.#schedule(s, c, now);
      s.gapSince = 0; // progress: any wait starts over
    }
    const later = [...s.chunks.keys()];
    const waited = (performance.now() - s.arrived) / 1000;
    // Someone else waiting, and this one silent for a while: its end was lost.
    const abandoned = this.#streams.size > 1 && now >= s.until && waited >= GAP_SECONDS;
    if (later.length || s.ended || abandoned) {
      // A hole in the sequence, or the end: wait a little for stragglers.
      s.gapSince ||= performance.now();
      if (performance.now() - s.gapSince >= GAP_SECONDS * 1000 || abandoned) {
        if (later.length && s.decoding === 0) {
          s.next = Math.min(...later);
          s.gapSince = 0;
          this.#pump();
          return;
        }
        if (s.decoding === 0 && now >= s.until) this.#retire(s);
      }
    }
  }

  #schedule(s, { buffer, arrived }, now) {
    let at = s.until;
    if (at < now + LEAD_SECONDS) {
      // Starting, or the previous chunk ran out: buffer against jitter.
      at = now + Math.max(LEAD_SECONDS, this.#jitter - (performance.now() - arrived) / 1000);
      if (s.from === Infinity || s.until < now) s.from = at;
    }
    const src = new AudioBufferSourceNode(this.#ac, { buffer });
    src.connect(this.#out);
    src.onended = () => {
      this.#played++;
      src.disconnect();
      this.#pump();
    };
    src.start(at);
    s.until = at + buffer.duration;
  }

  #retire(s) {
    this.#streams.delete(s.id);
    this.#finished.add(s.id);
    if (this.#finished.size > FORGET_AFTER) this.#finished.delete(this.#finished.values().next().value);
    this.#pump(); // the next stream's turn
  }
}
