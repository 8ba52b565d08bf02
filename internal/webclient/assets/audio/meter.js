// What the recorder and the player share: loading the worklet module and
// reading its level and tone-onset messages.

const WORKLET_URL = new URL('./capture-worklet.js', import.meta.url);

// addNode loads the worklet into ac (once per context) and makes one of
// its processors, mono in and out.
export async function addNode(ac, name, processorOptions) {
  await ac.audioWorklet.addModule(WORKLET_URL);
  return new AudioWorkletNode(ac, name, {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    channelCount: 1,
    channelCountMode: 'explicit', // downmix whatever comes in to mono
    processorOptions,
  });
}

// listen routes the node's messages: levels to onLevel, tone onsets (as
// Date.now() milliseconds) onto the onsets array, everything else to other.
// An onset arrives a little after its sample was rendered; the context's
// clock says how long ago that was.
export function listen(node, ac, { onLevel, onsets, other }) {
  node.port.onmessage = ({ data }) => {
    if ('level' in data) {
      onLevel?.(Math.min(1, data.level));
    } else if ('onset' in data) {
      const ago = Math.max(0, ac.currentTime - data.onset / ac.sampleRate);
      onsets.push(Math.round(Date.now() - ago * 1000));
    } else {
      other?.(data);
    }
  };
}
