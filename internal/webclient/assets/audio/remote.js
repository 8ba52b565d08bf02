// Live audio (live mode): the remote tracks LiveKit delivers play through
// the Player's output, so the "Incoming" meter shows them, behind a probe
// of their own whose tone onsets say when live audio was heard (tests and
// walkie-bench read them apart from the broadcasts').

import { addNode, listen } from './meter.js';

export class RemoteAudio {
  #ac;
  #probe; // a promise of the node every track feeds
  #tracks = new Map(); // id → {element, source}

  // onsets receives each tone onset (Date.now() milliseconds).
  constructor(player, { onsets, toneHz = 1000 }) {
    this.#ac = player.context;
    this.#probe = addNode(this.#ac, 'walkie-probe', { toneHz }).then(
      (probe) => {
        listen(probe, this.#ac, { onsets });
        probe.connect(player.input);
        return probe;
      },
      () => player.input, // no worklet: the audio still plays, unmeasured
    );
  }

  // add plays a remote MediaStreamTrack until remove(id).
  async add(id, track) {
    this.remove(id);
    // Chromium hands a remote WebRTC track to Web Audio only while a media
    // element plays it; muted, since the context plays it.
    const element = new Audio();
    element.muted = true;
    element.srcObject = new MediaStream([track]);
    element.play().catch(() => {});
    const entry = { element, source: this.#ac.createMediaStreamSource(element.srcObject) };
    this.#tracks.set(id, entry);
    const probe = await this.#probe;
    if (this.#tracks.get(id) === entry) entry.source.connect(probe);
  }

  get size() {
    return this.#tracks.size;
  }

  remove(id) {
    const entry = this.#tracks.get(id);
    if (!entry) return;
    this.#tracks.delete(id);
    entry.source.disconnect();
    entry.element.srcObject = null;
  }

  clear() {
    for (const id of [...this.#tracks.keys()]) this.remove(id);
  }
}
