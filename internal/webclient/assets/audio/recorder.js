// Recording: microphone → AudioWorklet (20 ms Float32 frames) → WebCodecs
// Opus encoder → Ogg Opus chunks of chunkSeconds, each a standalone file
// and gapless with the next.
//
// Each chunk is a complete Opus stream from an encoder of its own, so any
// player decodes it from a clean state (a decoder joining a running stream
// needs ~150 ms to converge: the level would dip at every chunk).
// Chunk n holds input samples [n·len, (n+1)·len) exactly: its encoder also
// gets PRIME samples before that (dropped by pre-skip, with the encoder's
// delay) and, after it, what still fits in the last packet (cut by the
// last page's granule position), so neither edge is coded next to
// artificial silence. Decoded one after the other, the chunks give back
// every recorded sample once.

import { oggOpus } from './ogg.js';
import { addNode, listen } from './meter.js';

const RATE = 48000;
const FRAME_SECONDS = 0.02;
const FRAME = RATE * FRAME_SECONDS; // samples per packet
const DEFAULT_DELAY = 312; // libopus's encoder delay at 48 kHz, if the encoder does not say
// 23.5 ms: a fresh encoder needs about that to reach the right level. With
// the usual delay, pre-skip is then 1.5 packets, and half a packet of real
// audio follows each chunk's end in its last packet.
const PRIME = 1128;
const FLUSH_WAIT_MS = 500; // for the worklet's partial frame, in case the context is stalled

export class MicError extends Error {
  // kind: 'denied' (the user or policy refused), 'unavailable' (no working
  // microphone), 'unsupported' (this browser lacks what recording needs)
  constructor(kind, message, cause) {
    super(message, { cause });
    this.name = 'MicError';
    this.kind = kind;
  }
}

export class Recorder {
  #stream;
  #ac;
  #node;
  #opts;
  #onsets = [];
  #chunksSent = 0;
  #b = null; // the broadcast being recorded
  #flushed = null; // resolves when the worklet hands over its partial frame

  // open asks for the microphone once and starts the level meter. Call it
  // from a user gesture if possible (the audio context may need one).
  static async open({ chunkSeconds = 1, bitrate = 24000, toneHz = 1000, onChunk, onLevel, onError } = {}) {
    if (!navigator.mediaDevices?.getUserMedia || !window.AudioEncoder || !window.AudioWorkletNode) {
      throw new MicError('unsupported', 'This browser cannot record Opus (needs WebCodecs and AudioWorklet).');
    }
    const config = { codec: 'opus', sampleRate: RATE, numberOfChannels: 1, bitrate, opus: { frameDuration: FRAME_SECONDS * 1e6 } };
    if (!(await AudioEncoder.isConfigSupported(config)).supported) {
      throw new MicError('unsupported', 'This browser has no Opus encoder.');
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        // Processing off: it would eat the test tone, and push-to-talk has no echo to cancel.
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (e) {
      const denied = e.name === 'NotAllowedError' || e.name === 'SecurityError';
      throw new MicError(denied ? 'denied' : 'unavailable',
        denied ? 'Microphone access was denied.' : `No usable microphone (${e.name}).`, e);
    }
    const r = new Recorder();
    r.#stream = stream;
    r.#opts = { config, chunkSamples: Math.max(960, Math.round(chunkSeconds * RATE)), onChunk, onError };
    try {
      r.#ac = new AudioContext({ sampleRate: RATE, latencyHint: 'interactive' });
      r.#node = await addNode(r.#ac, 'walkie-capture', { toneHz, frameSeconds: FRAME_SECONDS });
    } catch (e) {
      r.close();
      throw new MicError('unsupported', 'Cannot start audio processing.', e);
    }
    listen(r.#node, r.#ac, { onLevel, onsets: r.#onsets, other: (m) => r.#fromWorklet(m) });
    r.#ac.createMediaStreamSource(stream).connect(r.#node);
    r.#node.connect(r.#ac.destination); // keeps the node pulled; it outputs silence
    r.#ac.resume(); // not awaited: without a gesture it waits for one
    return r;
  }

  // track is the microphone's MediaStreamTrack: live mode publishes a
  // clone of it, the same capture the level meter and tone detector see.
  get track() {
    return this.#stream.getAudioTracks()[0];
  }

  get recording() {
    return this.#b !== null && !this.#b.stopping;
  }

  stats() {
    return { chunksSent: this.#chunksSent, toneOnsets: [...this.#onsets] };
  }

  // start begins a broadcast: from the next 20 ms frame on, audio is
  // encoded; chunks come through onChunk, sequence from 1.
  start() {
    if (this.recording) throw new Error('already recording');
    this.#ac.resume();
    this.#b = {
      sequence: 0,
      fed: 0, // input samples received
      next: 0, // where the next chunk starts
      segments: [], // chunks being encoded (two at a time around a boundary)
      sent: Promise.resolve(), // chunks go out in order
      serial: crypto.getRandomValues(new Uint32Array(1))[0],
      stopping: false,
    };
  }

  // stop encodes what the microphone gave up to now, sends the last
  // (shorter) chunk, and resolves with the last sequence number (0: none).
  async stop() {
    const b = this.#b;
    if (!b || b.stopping) return b ? b.done : 0;
    b.stopping = true;
    b.done = (async () => {
      const partial = await new Promise((resolve) => {
        this.#flushed = resolve;
        this.#node.port.postMessage('flush');
        setTimeout(() => resolve(new Float32Array(0)), FLUSH_WAIT_MS);
      });
      if (partial.length) this.#input(b, partial);
      for (const seg of b.segments) {
        if (seg.start >= b.fed) {
          seg.encoder.close(); // only priming: nothing of its own was recorded
        } else {
          seg.end = Math.min(seg.end, b.fed);
          this.#finish(b, seg);
        }
      }
      b.segments = [];
      await b.sent;
      if (this.#b === b) this.#b = null; // a new broadcast may have started meanwhile
      return b.sequence;
    })();
    return b.done;
  }

  close() {
    this.#b?.segments.forEach((seg) => seg.encoder.close());
    this.#b = null;
    this.#stream?.getTracks().forEach((t) => t.stop());
    this.#ac?.close();
  }

  #fromWorklet(m) {
    if (m.flushed) {
      this.#flushed?.(m.flushed);
      this.#flushed = null;
    } else if (m.frame && this.#b && !this.#b.stopping) {
      this.#input(this.#b, m.frame);
    }
  }

  // input hands a frame (broadcast samples [b.fed, b.fed + length)) to every
  // chunk's encoder that wants part of it, opening and finishing chunks as
  // their ranges begin and end.
  #input(b, frame) {
    const from = b.fed;
    const to = from + frame.length;
    while (Math.max(0, b.next - PRIME) < to) {
      b.segments.push(this.#segment(b, b.next));
      b.next += this.#opts.chunkSamples;
    }
    for (const seg of b.segments) {
      const lo = Math.max(from, seg.fed);
      const hi = Math.min(to, inputEnd(seg));
      if (lo < hi) this.#encode(seg, frame.subarray(lo - from, hi - from));
    }
    b.fed = to;
    for (const seg of b.segments.filter((s) => s.fed >= inputEnd(s))) this.#finish(b, seg);
    b.segments = b.segments.filter((s) => s.fed < inputEnd(s));
  }

  // segment starts the encoder of the chunk holding [start, start + len).
  #segment(b, start) {
    const from = Math.max(0, start - PRIME);
    const seg = { start, end: start + this.#opts.chunkSamples, from, fed: from, packets: [], delay: DEFAULT_DELAY };
    seg.encoder = new AudioEncoder({
      output: (chunk, meta) => {
        const desc = meta?.decoderConfig?.description;
        if (desc?.byteLength >= 12) {
          // The encoder's own OpusHead tells its delay.
          const bytes = ArrayBuffer.isView(desc) ? desc : new Uint8Array(desc);
          seg.delay = new DataView(bytes.buffer, bytes.byteOffset).getUint16(10, true);
        }
        const data = new Uint8Array(chunk.byteLength);
        chunk.copyTo(data);
        seg.packets.push({ data, samples: Math.round(((chunk.duration ?? FRAME_SECONDS * 1e6) * RATE) / 1e6) });
      },
      error: (e) => this.#opts.onError?.(e),
    });
    seg.encoder.configure(this.#opts.config);
    return seg;
  }

  #encode(seg, samples) {
    const data = new AudioData({
      format: 'f32-planar', sampleRate: RATE, numberOfChannels: 1, numberOfFrames: samples.length,
      timestamp: Math.round(((seg.fed - seg.from) * 1e6) / RATE), data: samples,
    });
    seg.encoder.encode(data);
    data.close();
    seg.fed += samples.length;
  }

  // finish flushes a chunk's encoder and, in sequence order, sends the
  // chunk: pre-skip drops the encoder delay and the priming, the end
  // granule position cuts what follows seg.end.
  #finish(b, seg) {
    const flushed = seg.encoder.flush().finally(() => seg.encoder.close());
    flushed.catch(() => {}); // handled below, in turn
    b.sent = b.sent.then(async () => {
      try {
        await flushed;
        const preSkip = seg.delay + (seg.start - seg.from);
        const samples = seg.end - seg.start;
        const pages = oggOpus({ packets: seg.packets, preSkip, serial: b.serial, endGranule: preSkip + samples });
        const blob = new Blob(pages, { type: 'audio/ogg; codecs=opus' });
        b.sequence++;
        this.#chunksSent++;
        this.#opts.onChunk?.({ blob, sequence: b.sequence, durationMs: (samples * 1000) / RATE, sizeBytes: blob.size });
      } catch (e) {
        this.#opts.onError?.(e); // later chunks still go out
      }
    });
  }
}

// inputEnd is where a chunk's encoder stops taking input: past the chunk's
// end by what fills its last packet, so the end granule position trims
// less than one packet (as RFC 7845 players expect).
function inputEnd(seg) {
  const used = (seg.end - seg.from + seg.delay) % FRAME;
  return seg.end + (used ? FRAME - used : 0);
}
