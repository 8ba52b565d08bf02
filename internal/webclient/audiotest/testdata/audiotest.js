// Test harness for the audio modules: the Go tests call these functions
// with chromedp and check what comes back. Binary data crosses as base64.
import { Recorder } from '/audio/recorder.js';
import { Player } from '/audio/player.js';

const toBase64 = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};
const fromBase64 = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// record captures about `seconds` from the (fake) microphone and returns
// the chunks with what onChunk said about them, and the recorder's stats.
window.record = async (seconds, chunkSeconds = 1) => {
  const chunks = [];
  const levels = [];
  const rec = await Recorder.open({
    chunkSeconds,
    onChunk: (c) => chunks.push(c),
    onLevel: (l) => levels.push(l),
    onError: (e) => console.error('recorder:', e),
  });
  rec.start();
  const recording = rec.recording;
  await sleep(seconds * 1000);
  const last = await rec.stop();
  const stats = rec.stats();
  rec.close();
  const out = [];
  for (const c of chunks) {
    out.push({ sequence: c.sequence, durationMs: c.durationMs, sizeBytes: c.sizeBytes, type: c.blob.type,
      data: toBase64(new Uint8Array(await c.blob.arrayBuffer())) });
  }
  return { chunks: out, last, recording, stats, levels: levels.length, maxLevel: Math.max(0, ...levels) };
};

// play feeds base64 chunks to a Player as the plan says, in its order:
// [streamId, sequence, index into chunks] each; then ends every stream and
// waits until all chunks planned have played (or timeoutMs passes). It
// reports the streams heard, in the order Player.playing named them.
window.play = async (chunks, plan, timeoutMs) => {
  const player = new Player({});
  await player.resume();
  for (const [id, seq, i] of plan) player.enqueue(id, seq, fromBase64(chunks[i]).buffer);
  for (const id of new Set(plan.map(([id]) => id))) player.end(id);
  const heard = [];
  const began = Date.now();
  while (player.stats().chunksPlayed < plan.length && Date.now() < began + timeoutMs) {
    const now = player.playing;
    if (now !== null && now !== heard[heard.length - 1]) heard.push(now);
    await sleep(20);
  }
  await sleep(50);
  return { ...player.stats(), heard, playingAfter: player.playing, tookMs: Date.now() - began };
};

// decode decodes each chunk on its own at 48 kHz (as a listener does),
// joins them, and measures how well one sine of toneHz fits each window of
// ±half samples around a boundary between chunks (a lost or repeated
// sample there shifts the phase, and a click adds broadband error), and
// around the middle of each chunk for comparison.
window.decode = async (chunks, toneHz, half) => {
  const ac = new OfflineAudioContext(1, 48000, 48000);
  const parts = [];
  for (const c of chunks) parts.push((await ac.decodeAudioData(fromBase64(c).buffer)).getChannelData(0));
  const joined = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  const boundaries = [];
  const middles = [];
  let at = 0;
  for (const p of parts) {
    middles.push(at + (p.length >> 1));
    joined.set(p, at);
    at += p.length;
    boundaries.push(at);
  }
  const w = (2 * Math.PI * toneHz) / 48000;
  // fit returns the amplitude of the best sine of frequency w over
  // [from, to), and the RMS of what it leaves, relative to that amplitude.
  const fit = (from, to) => {
    let ss = 0, cc = 0, sc = 0, xs = 0, xc = 0, xx = 0;
    for (let n = from; n < to; n++) {
      const s = Math.sin(w * n), c = Math.cos(w * n), x = joined[n];
      ss += s * s; cc += c * c; sc += s * c; xs += x * s; xc += x * c; xx += x * x;
    }
    const det = ss * cc - sc * sc;
    const a = (xs * cc - xc * sc) / det, b = (xc * ss - xs * sc) / det;
    const left = Math.max(0, xx - a * xs - b * xc) / (to - from);
    const amp = Math.hypot(a, b);
    return { amp, resid: amp > 0 ? Math.sqrt(left) / amp : 0, phase: Math.atan2(b, a) };
  };
  const windowAt = (n) => {
    const all = fit(n - half, n + half);
    const l = fit(n - half, n);
    const r = fit(n, n + half);
    // slip: how many samples the right side is shifted against the left
    let d = r.phase - l.phase;
    d = Math.atan2(Math.sin(d), Math.cos(d));
    return { at: n, amp: all.amp, resid: all.resid, ampLeft: l.amp, ampRight: r.amp, slip: -d / w };
  };
  return {
    lengths: parts.map((p) => p.length),
    boundaries: boundaries.slice(0, -1).map(windowAt),
    middles: middles.filter((n) => n - half >= 0 && n + half <= joined.length).map(windowAt),
  };
};

// openMic opens a Recorder and closes it again; it says how that went.
window.openMic = async () => {
  try {
    (await Recorder.open({})).close();
    return { ok: true };
  } catch (e) {
    return { ok: false, name: e.name, kind: e.kind ?? null, message: e.message };
  }
};
