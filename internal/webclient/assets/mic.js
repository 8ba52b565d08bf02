// The microphone, opened on the first press and kept open after it (the
// next press then records at once). Chunks and levels go to whoever is
// talking now (talk.js sets the sinks).
import { Recorder } from './audio/recorder.js';

export class Mic {
  constructor() {
    this.recorder = null;
    this.opening = null;
    this.onChunk = () => {};
    this.onLevel = () => {};
    this.onError = () => {};
  }

  // open resolves with the Recorder, or throws MicError.
  open() {
    if (this.recorder) return Promise.resolve(this.recorder);
    if (!this.opening) {
      this.opening = Recorder.open({
        chunkSeconds: 1,
        bitrate: 24000,
        onChunk: (c) => this.onChunk(c),
        onLevel: (l) => this.onLevel(l),
        onError: (e) => this.onError(e),
      }).then(
        (r) => {
          this.recorder = r;
          window.walkieDebug.recorder = r;
          return r;
        },
        (err) => {
          this.opening = null;
          throw err;
        },
      );
    }
    return this.opening;
  }

  close() {
    this.recorder?.close();
    this.recorder = null;
    this.opening = null;
  }
}
