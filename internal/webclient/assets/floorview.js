// What the floor looks like to this device, in words: the state the talk
// button shows (its data-floor-state, colour and label) and the status
// line screen readers announce.
import { inTime } from './dom.js';
import { sameDevice } from './protocol.js';

export function describeFloor(room, talk, now = Date.now()) {
  const { userId, deviceId } = talk.client;
  const f = room.floor;
  if (room.encrypted) {
    return off('This room is end-to-end encrypted. This client cannot talk or listen in encrypted rooms yet.');
  }
  if (!room.managed) return off('Walkie is not in this room, so there is no push-to-talk here. Invite Walkie first.');
  if (!f) return off('Waiting for Walkie to publish the floor…');
  // The time left goes in a line of its own: the status line is a live
  // region, and a countdown in it would be read out every second.
  const left = f.holder && f.expires_ts ? `${inTime(f.expires_ts, now)} left` : '';
  switch (talk.phase) {
    case 'opening':
      return { state: 'pending', label: 'Opening the microphone…', status: 'Opening the microphone…' };
    case 'asking':
      // Granted (over the floor channel, or from the queue): the person may
      // speak, the recorder runs; the chunks go out once the floor names
      // the broadcast.
      if (talk.broadcast?.granted) {
        const until = talk.broadcast.expiresTs;
        return { state: 'talking', label: 'Release to stop', status: 'You are talking.', left: until ? `${inTime(until, now)} left` : left };
      }
      return { state: 'pending', label: 'Asking…', status: 'Asking for the floor…' };
    case 'abandoning':
      if (talk.broadcast?.granted) return ending();
      return { state: 'pending', label: 'Asking…', status: 'Asking for the floor…' };
    case 'talking':
      return { state: 'talking', label: 'Release to stop', status: 'You are talking.', left };
    case 'ending':
      return ending();
    case 'queued':
      return {
        state: 'queued',
        label: 'Waiting – release to leave the queue',
        status: `Someone else is talking. You are number ${talk.queuePosition} in the queue.`,
        position: talk.queuePosition,
      };
  }
  let base;
  if (f.holder && sameDevice(f.holder, userId, deviceId)) {
    base = { state: 'busy', status: 'This device holds the floor (in another tab?).' };
  } else if (f.holder) {
    const who = `${room.displayName(f.holder.user_id)} (${f.holder.device_id})`;
    base = { state: 'busy', status: `${who} is talking.`, speaker: who, left };
  } else {
    base = { state: 'free', status: 'The floor is free. Hold the button, or the Space key, to talk.' };
  }
  base.label = 'Hold to talk';
  if (talk.notice) base.state = 'denied';
  return base;
}

function ending() {
  return { state: 'talking', label: 'Finishing…', status: 'Sending the end of your message…' };
}

function off(status) {
  return { state: 'off', label: 'Push-to-talk unavailable', status, disabled: true };
}
