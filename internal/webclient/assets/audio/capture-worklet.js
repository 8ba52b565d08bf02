// Audio-thread side of recording and playback (an AudioWorklet module).
//
// 'walkie-capture' takes the microphone: it posts 20 ms Float32 frames for
// the encoder. 'walkie-probe' sits on the playback path and passes audio
// through. Both post the level (RMS, about 20 times a second) and the
// onsets of the test tone, found with a Goertzel filter: that is how tests
// prove audio was heard and how walkie-bench times mouth to ear.
//
// Messages to the main thread:
//   { frame: Float32Array }              capture only, every 20 ms
//   { flushed: Float32Array }            capture only, the partial frame, after a 'flush' request
//   { level: rms }
//   { onset: frameIndex }                first sample frame (context time × rate) of a tone burst

const LEVEL_SECONDS = 0.05;
const TONE_BLOCK_SECONDS = 0.01; // onset resolution
const TONE_MIN_AMPLITUDE = 0.01; // -40 dBFS
const TONE_MIN_SHARE = 0.5; // of the block's energy at toneHz
const TONE_REARM_BLOCKS = 10; // 100 ms without the tone before a new onset counts
const SILENCE = new Float32Array(128); // a render quantum when nothing is connected

class Meter {
  constructor(port, toneHz) {
    this.port = port;
    this.levelLength = Math.round(sampleRate * LEVEL_SECONDS);
    this.levelSum = 0;
    this.levelCount = 0;
    this.block = Math.round(sampleRate * TONE_BLOCK_SECONDS);
    this.coeff = 2 * Math.cos((2 * Math.PI * toneHz) / sampleRate);
    this.s1 = this.s2 = this.energy = 0;
    this.count = 0;
    this.quiet = TONE_REARM_BLOCKS;
  }

  // feed takes samples whose first one is at sample frame `at`.
  feed(samples, at) {
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i];
      this.levelSum += x * x;
      if (++this.levelCount === this.levelLength) {
        this.port.postMessage({ level: Math.sqrt(this.levelSum / this.levelCount) });
        this.levelSum = this.levelCount = 0;
      }
      const s = x + this.coeff * this.s1 - this.s2;
      this.s2 = this.s1;
      this.s1 = s;
      this.energy += x * x;
      if (++this.count === this.block) this.endBlock(at + i + 1 - this.block);
    }
  }

  endBlock(start) {
    const n = this.block;
    const power = this.s1 * this.s1 + this.s2 * this.s2 - this.coeff * this.s1 * this.s2;
    const amplitude = (2 * Math.sqrt(Math.max(power, 0))) / n; // of a sine at toneHz
    // A sine of amplitude a has energy n·a²/2 over the block.
    const share = this.energy > 0 ? (n * amplitude * amplitude) / 2 / this.energy : 0;
    if (amplitude >= TONE_MIN_AMPLITUDE && share >= TONE_MIN_SHARE) {
      if (this.quiet >= TONE_REARM_BLOCKS) this.port.postMessage({ onset: start });
      this.quiet = 0;
    } else {
      this.quiet++;
    }
    this.s1 = this.s2 = this.energy = 0;
    this.count = 0;
  }
}

class Capture extends AudioWorkletProcessor {
  constructor({ processorOptions: { toneHz, frameSeconds } }) {
    super();
    this.meter = new Meter(this.port, toneHz);
    this.frame = new Float32Array(Math.round(sampleRate * frameSeconds));
    this.filled = 0;
    this.port.onmessage = () => {
      // 'flush': hand over what the current frame has so far.
      this.port.postMessage({ flushed: this.frame.slice(0, this.filled) });
      this.filled = 0;
    };
  }

  process([input]) {
    const samples = input[0] || SILENCE; // nothing connected yet
    this.meter.feed(samples, currentFrame);
    for (let i = 0; i < samples.length; ) {
      const n = Math.min(samples.length - i, this.frame.length - this.filled);
      this.frame.set(samples.subarray(i, i + n), this.filled);
      this.filled += n;
      i += n;
      if (this.filled === this.frame.length) {
        const frame = this.frame;
        this.frame = new Float32Array(frame.length); // before the transfer empties frame
        this.port.postMessage({ frame }, [frame.buffer]);
        this.filled = 0;
      }
    }
    return true;
  }
}

class Probe extends AudioWorkletProcessor {
  constructor({ processorOptions: { toneHz } }) {
    super();
    this.meter = new Meter(this.port, toneHz);
  }

  process([input], [output]) {
    const samples = input[0] || SILENCE;
    this.meter.feed(samples, currentFrame);
    output[0].set(samples);
    return true;
  }
}

registerProcessor('walkie-capture', Capture);
registerProcessor('walkie-probe', Probe);
