// Every reason Walkie gives (docs/protocol.md "Denial reasons" and
// "Reasons a turn or a queue place ends"), in plain language.

const REASONS = {
  no_permit: 'This device has no talk permit in this room. Allow it to talk (below), then try again.',
  permit_expired: "This device's talk permit has expired. Allow it again (below).",
  listen_only: 'This device is set to listen only. Allow it to talk (below) to take the floor.',
  not_joined: 'You are not a member of this room.',
  insufficient_power: 'You are not allowed to talk in this room (your power level is too low).',
  floor_taken: 'Someone else is talking and this room has no queue. Try again when the floor is free.',
  queue_full: 'Someone else is talking and the queue is full (or another of your devices is waiting). Try again later.',
  busy_elsewhere: 'This device is talking in another room. Finish there first.',
  stale_term: 'The floor moved on before your turn started. Try again.',
  rate_limited: 'You asked for the floor too often. Wait a little, then try again.',
  bad_request: 'Walkie could not understand this client’s request (a bug in the client).',
  room_not_managed: 'Push-to-talk is not set up in this room: an admin must give Walkie the power levels it asks for.',
  preempted: 'Someone with a higher power level took the floor from you.',
  no_media: 'Your turn ended: no audio started in time.',
  inactive: 'Your turn ended: no audio arrived for too long (connection trouble?).',
  max_talk_time: 'Your turn ended: you reached the longest time one may talk.',
  pause_timeout: 'Your turn ended: you paused for too long.',
  chair_revoke: 'A moderator took the floor from you.',
  admin_release: 'An admin released the floor.',
  permit_revoked: "Your turn ended: this device's talk permit was withdrawn.",
  left_room: 'You left the room.',
  controller_left: 'Walkie left this room.',
  queue_timeout: 'You waited too long in the queue and were taken off it.',
  released: 'You released the floor.',
  stopped: 'You stopped talking.',
};

// explain gives the sentence for a reason; an unknown one is quoted.
export function explain(reason) {
  return REASONS[reason] || (reason ? `Walkie said: ${reason}.` : 'Walkie refused.');
}

// reasonOfRedaction reads the code out of Walkie's redaction reasons
// ("Walkie: listen_only — this device's talk permit is listen-only").
export function reasonOfRedaction(text) {
  const m = /^Walkie: ([a-z_]+)/.exec(text || '');
  return m ? m[1] : '';
}

// micProblem explains a MicError by its kind.
export function micProblem(kind) {
  switch (kind) {
    case 'denied':
      return 'The browser does not let Walkie use the microphone. Allow it in the site settings (the icon beside the address bar), then press again.';
    case 'unavailable':
      return 'No microphone could be opened: none is connected, or another program is using it.';
    default:
      return 'This browser cannot record for Walkie: it needs WebCodecs (a recent Chrome, Edge or Firefox) and a page served over HTTPS.';
  }
}
