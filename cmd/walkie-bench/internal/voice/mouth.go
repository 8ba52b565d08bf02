package voice

// The mouth: where the speaker's page times a burst's onset.
//
// The web client's own tone detector (the recorder's meter) runs in its
// capture graph, which Chromium feeds from the microphone track through a
// FIFO of up to ten 10 ms buffers (WebAudioMediaStreamAudioSink) between
// two clocks; it drains only on an underrun. Checked against the track's
// own frames, the meter's onsets came 16 ms late at first and about 100 ms
// late once that FIFO had filled, while live mode sends the track itself:
// mouth to ear timed from the meter came out 100 ms short, below zero at
// times. So the bench times the mouth on the microphone track's frames
// (MediaStreamTrackProcessor), by the capture time each frame carries,
// with the meter's detector (a Goertzel filter on 10 ms frames, the same
// thresholds; audio/capture-worklet.js). The listener's side stays the
// client's probe: it hears what the page plays.

// mouthJS installs the detector on the page's microphone track (opened at
// the first press) once; it is true once installed.
const mouthJS = `(() => {
  if (window.walkieBenchMouth) return true;
  const track = window.walkieDebug.recorder?.track;
  if (!track) return false;
  const onsets = window.walkieBenchMouth = [];
  const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
  // A frame's timestamp is its capture time on the monotonic clock
  // performance.now() counts from an unknown origin: the smallest gap
  // between the two seen so far (the quickest delivery) maps one onto the
  // other.
  let offset = Infinity, quiet = 10, buf = new Float32Array(0);
  (async () => {
    for (;;) {
      const { value: frame, done } = await reader.read();
      if (done) return;
      offset = Math.min(offset, performance.now() - frame.timestamp / 1000);
      const n = frame.numberOfFrames;
      if (buf.length !== n) buf = new Float32Array(n);
      frame.copyTo(buf, { planeIndex: 0, format: 'f32-planar' });
      const k = 2 * Math.cos((2 * Math.PI * 1000) / frame.sampleRate);
      let s1 = 0, s2 = 0, energy = 0;
      for (const x of buf) {
        const s = x + k * s1 - s2;
        s2 = s1;
        s1 = s;
        energy += x * x;
      }
      const amplitude = (2 * Math.sqrt(Math.max(s1 * s1 + s2 * s2 - k * s1 * s2, 0))) / n;
      const share = energy > 0 ? (n * amplitude * amplitude) / 2 / energy : 0;
      if (amplitude >= 0.01 && share >= 0.5) {
        if (quiet >= 10) onsets.push(Math.round(performance.timeOrigin + frame.timestamp / 1000 + offset));
        quiet = 0;
      } else {
        quiet++;
      }
      frame.close();
    }
  })();
  return true;
})()`

// spokenJS: the bursts' onsets at the speaker's microphone.
const spokenJS = `window.walkieBenchMouth ?? []`
