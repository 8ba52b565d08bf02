// This device's talk permit in a room (MSC4002): allow talking for good,
// for 1 h, 8 h or a chosen number of minutes; listen only; revoke (an
// empty content). Walkie reads the permit from room state.
import { $, clock, inTime, say } from './dom.js';
import { PERMIT, permitKey } from './protocol.js';

const HOUR = 3600 * 1000;

export function permitContent(deviceId, { send, forMs }) {
  const content = { device_id: deviceId, send, receive: true };
  if (forMs) content.expires_ts = Date.now() + forMs;
  return content;
}

// describePermit says what a permit lets this device do, in words.
export function describePermit(p, now = Date.now()) {
  if (!p || !p.device_id) return { kind: 'none', text: 'This device has no talk permit here: it can neither talk nor be counted as listening.' };
  const until = p.expires_ts ? ` until ${clock(p.expires_ts)} (${inTime(p.expires_ts, now)} left)` : ', with no end date';
  if (p.expires_ts && p.expires_ts <= now) return { kind: 'expired', text: `This device's talk permit expired at ${clock(p.expires_ts)}.` };
  if (p.receive !== true) return { kind: 'invalid', text: 'This device’s permit does not accept audio, so it cannot talk either.' };
  if (p.send !== true) return { kind: 'listen', text: `This device listens only${until}.` };
  return { kind: 'talk', text: `This device may talk here${until}.` };
}

// setUpPermits wires the buttons; current() gives {client, room} of the
// open room.
export function setUpPermits(current) {
  const publish = async (content, what) => {
    const { client, room } = current();
    if (!room) return;
    say($('permit-error'), '');
    $('permit-panel').setAttribute('aria-busy', 'true');
    try {
      await client.sendState(room.id, PERMIT, permitKey(client.userId, client.deviceId), content);
      say($('permit-done'), what);
    } catch (err) {
      const text = err.errcode === 'M_FORBIDDEN' ? 'You may not publish talk permits in this room (power level too low): ask an admin.' : `The permit was not saved: ${err.message}`;
      say($('permit-error'), text);
    } finally {
      $('permit-panel').removeAttribute('aria-busy');
    }
  };
  const dev = () => current().client.deviceId;
  $('permit-forever').addEventListener('click', () => publish(permitContent(dev(), { send: true }), 'Talking allowed.'));
  $('permit-1h').addEventListener('click', () => publish(permitContent(dev(), { send: true, forMs: HOUR }), 'Talking allowed for 1 hour.'));
  $('permit-8h').addEventListener('click', () => publish(permitContent(dev(), { send: true, forMs: 8 * HOUR }), 'Talking allowed for 8 hours.'));
  $('permit-custom').addEventListener('click', () => {
    const minutes = Number($('permit-minutes').value);
    if (!(minutes >= 1 && minutes <= 525600)) return say($('permit-error'), 'Type a number of minutes from 1 to 525600.');
    publish(permitContent(dev(), { send: true, forMs: minutes * 60000 }), `Talking allowed for ${minutes} minutes.`);
  });
  $('permit-listen').addEventListener('click', () => publish(permitContent(dev(), { send: false }), 'Listening only.'));
  $('permit-revoke').addEventListener('click', () => publish({}, 'Permit revoked.'));
}

export function renderPermit(room, client) {
  const d = describePermit(room.permit(client.userId, client.deviceId));
  say($('permit-status'), d.text);
  $('permit-status').dataset.permit = d.kind;
}
