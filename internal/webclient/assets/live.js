// Live mode (docs/protocol.md, "Live mode"): in a room whose floor state
// says "mode": "live", the audio runs in real time over a LiveKit SFU
// instead of voice broadcast chunks. This module joins the room's LiveKit
// room with a token from Walkie's token service (the floor state's
// livekit_service_url), plays everyone else as they speak, and publishes
// this device's microphone while it holds the floor and the button.
//
// Asking for the floor is talk.js's business, as in any room (in live
// mode it records nothing). Walkie holds the floor on the SFU itself: its
// tokens may not publish, and it lets the holder's device publish right
// before it announces the grant. So the client publishes when LiveKit says
// it may (and the button is held), not when the floor state says so.
//
// After a release the track is muted, not unpublished, until the floor
// state no longer names this device: the SFU reports an unpublished track
// to Walkie at once, which would end the turn as "inactive" before the
// `stopped` arrives.
//
// livekit-client (vendor/, Apache-2.0) is loaded only when a live room opens.

import { RemoteAudio } from './audio/remote.js';
import { $, inTime, say, show } from './dom.js';
import { sameDevice } from './protocol.js';

const SDK_URL = './vendor/livekit-client/livekit-client.esm.js';
const PERMISSION_WAIT_MS = 5000; // the floor ours, LiveKit's permission not yet: said after this
const FIRST_RETRY_MS = 1000; // reconnecting after a failure, doubling up to
const MAX_RETRY_MS = 30000;

let sdk = null;
const loadSdk = () => (sdk ??= import(SDK_URL).then(
  (m) => {
    m.setLogLevel('warn'); // its info lines are many, and one holds the join request
    return m;
  },
  (err) => {
    sdk = null;
    throw err;
  },
));

const remotes = new WeakMap(); // player → RemoteAudio: one per page

// jitterBuffer is what walkie-bench reads of the audio received now: the
// WebRTC jitter buffer's mean delay and mean target delay (seconds), over
// the current tracks' lives (each turn is a track of its own); null when
// none played yet.
async function jitterBuffer(lk) {
  let delay = 0, target = 0, emitted = 0;
  for (const p of lk.remoteParticipants.values()) {
    for (const pub of p.audioTrackPublications.values()) {
      (await pub.track?.getRTCStatsReport())?.forEach((s) => {
        if (s.type !== 'inbound-rtp' || !s.jitterBufferEmittedCount) return;
        delay += s.jitterBufferDelay;
        target += s.jitterBufferTargetDelay ?? 0;
        emitted += s.jitterBufferEmittedCount;
      });
    }
  }
  return emitted ? { delay: delay / emitted, target: target / emitted } : null;
}

export class Live {
  // isTalking says whether the button is held for a turn (talk.js's phase
  // asking or talking): the floor alone does not decide, another tab of
  // this device may hold it.
  constructor({ client, room, player, mic, isTalking, onChange }) {
    Object.assign(this, { client, room, player, mic, isTalking, onChange });
    // What tests and walkie-bench read: toneOnsets are live audio heard
    // (Date.now() ms), accumulated over the page's life.
    this.stats = window.walkieDebug.live ??= { toneOnsets: [], connected: false, publishing: false, state: 'off', remoteTracks: 0, joins: 0 };
    this.url = ''; // the token service this session uses ('' when not live)
    this.serviceURL = ''; // the room's token service, as a floor state last named it
    this.lk = null; // the connected LiveKit Room
    this.state = 'off'; // off | connecting | connected | failed
    this.problem = '';
    this.retryMs = FIRST_RETRY_MS;
    this.retryAt = 0;
    this.retryTimer = null;
    this.track = null; // a promise of the LocalAudioTrack, made at the first press
    this.gaveUp = null; // the term whose publish was refused for good
    this.waiting = null; // since when the floor is ours and LiveKit has not allowed the microphone
    this.busy = false;
    this.again = false;
    this.closed = false;
  }

  get remote() {
    if (!remotes.has(this.player)) remotes.set(this.player, new RemoteAudio(this.player, { onsets: this.stats.toneOnsets }));
    return remotes.get(this.player);
  }

  // update follows the floor state and this device's turn; call it on
  // every change (it is cheap when nothing changed).
  update() {
    this.paint();
    this.converge();
  }

  // prepare opens the microphone at a press, so the grant publishes at once.
  prepare() {
    if (this.room.floor?.mode === 'live') this.microphone().catch(() => {});
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.disconnect();
    this.track?.then((track) => track.stop(), () => {});
    this.track = null;
    show($('live-status'), false);
  }

  // --- converging on what the floor says ---

  async converge() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.step();
      } while (this.again && !this.closed);
    } catch (err) {
      console.warn('live mode:', err);
    } finally {
      this.busy = false;
    }
  }

  async step() {
    const f = this.room.floor || {};
    // The floor channel's states say "live" without the service URL (only
    // the room's state event carries it): keep the one last seen.
    if (f.livekit_service_url) this.serviceURL = f.livekit_service_url;
    const url = f.mode === 'live' ? this.serviceURL || '' : '';
    if (url !== this.url) {
      this.disconnect();
      this.url = url;
      this.retryMs = FIRST_RETRY_MS;
      this.retryAt = 0;
    }
    if (!url || this.closed) return;
    if (!this.lk) {
      if (Date.now() < this.retryAt) return;
      await this.connect(url);
      if (!this.lk) return;
    }
    await this.publishAsFloorSays(f);
  }

  async connect(serviceURL) {
    this.set('connecting');
    try {
      const { DisconnectReason, Room, RoomEvent } = await loadSdk();
      const { url, jwt } = await this.askToken(serviceURL);
      if (this.closed || this.url !== serviceURL) return;
      const lk = new Room({ adaptiveStream: false, dynacast: false, stopLocalTrackOnUnpublish: false });
      const counted = () => (this.stats.remoteTracks = this.remote.size);
      lk.on(RoomEvent.TrackSubscribed, (track) => {
        if (track.kind === 'audio') this.remote.add(track.sid, track.mediaStreamTrack);
        counted();
      })
        .on(RoomEvent.TrackUnsubscribed, (track) => {
          this.remote.remove(track.sid);
          counted();
        })
        .on(RoomEvent.ParticipantPermissionsChanged, () => this.converge())
        .on(RoomEvent.LocalTrackUnpublished, () => this.converge())
        .on(RoomEvent.Reconnecting, () => this.set('connecting'))
        .on(RoomEvent.Reconnected, () => this.set('connected'))
        .on(RoomEvent.Disconnected, (reason) => {
          if (this.lk !== lk) return;
          this.lk = null;
          this.remote.clear();
          this.stats.remoteTracks = 0;
          // The SDK leaves by itself when the page goes away (a reload).
          if (reason === DisconnectReason.CLIENT_INITIATED) return this.set('off');
          this.fail(`disconnected (${DisconnectReason[reason] ?? 'for no reason given'})`);
        });
      await lk.connect(url, jwt, { autoSubscribe: true });
      if (this.closed || this.url !== serviceURL) {
        lk.disconnect();
        return;
      }
      this.lk = lk;
      this.stats.jitterBuffer = () => jitterBuffer(lk);
      this.stats.joins++;
      this.retryMs = FIRST_RETRY_MS;
      this.set('connected');
    } catch (err) {
      this.fail(err.message || String(err));
    }
  }

  // askToken: an OpenID token from the homeserver, traded at Walkie's token
  // service (the MatrixRTC /sfu/get request) for LiveKit's URL and a join
  // token that may listen but not publish.
  async askToken(serviceURL) {
    const enc = encodeURIComponent;
    const openid = await this.client.call('POST', `/_matrix/client/v3/user/${enc(this.client.userId)}/openid/request_token`, { body: {} });
    const resp = await fetch(`${serviceURL.replace(/\/+$/, '')}/sfu/get`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ room: this.room.id, openid_token: openid, device_id: this.client.deviceId }),
    });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(`the token service said ${body.errcode || resp.status}${body.error ? `: ${body.error}` : ''}`);
    if (!body.url || !body.jwt) throw new Error('the token service answered without url and jwt');
    return body;
  }

  disconnect() {
    const lk = this.lk;
    this.lk = null;
    if (lk) {
      lk.disconnect();
      this.remote.clear();
      this.stats.remoteTracks = 0;
    }
    this.set('off');
  }

  fail(problem) {
    console.warn('live mode:', problem);
    this.problem = problem;
    this.retryAt = Date.now() + this.retryMs;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.converge(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.set('failed');
  }

  // --- the microphone on the air ---

  // microphone is a LiveKit track of this page's microphone (mic.js, opened
  // at the press anyway): a clone of its track, so there is one capture,
  // whose meter and tone detector see what goes on the air, and muting the
  // clone leaves the meter alone.
  microphone() {
    if (!this.track) {
      const track = Promise.all([loadSdk(), this.mic.open()]).then(
        ([{ LocalAudioTrack }, recorder]) => new LocalAudioTrack(recorder.track.clone(), undefined, true),
      );
      track.catch(() => this.track === track && (this.track = null)); // tried again at the next press
      this.track = track;
    }
    return this.track;
  }

  publication() {
    const lp = this.lk?.localParticipant;
    return lp ? [...lp.audioTrackPublications.values()].find((p) => p.track) : undefined;
  }

  // publishAsFloorSays: on the air while the button is held (the turn is
  // asked for or on) and LiveKit says this device may publish. That is the
  // floor: Walkie allows only the holder, right before it announces the
  // grant, and LiveKit tells the client in milliseconds, ahead of the floor
  // state (whose trip through the homeserver is longer). After a release
  // the track is muted while the floor is still ours; else unpublished.
  async publishAsFloorSays(f) {
    const holds = sameDevice(f.holder, this.client.userId, this.client.deviceId);
    const allowed = !!this.lk.localParticipant.permissions?.canPublish;
    const pub = this.publication();
    const turn = this.isTalking();
    this.waiting = turn && holds && !allowed ? (this.waiting ?? Date.now()) : null;
    if (turn && allowed && this.gaveUp !== f.term) {
      const track = await this.microphone();
      if (!this.publication()) await this.publish(track, f.term);
      if (this.publication() && track.isMuted) await track.unmute();
    } else if (pub && (holds || allowed)) {
      if (!pub.track.isMuted) await pub.track.mute();
    } else if (pub) {
      await this.lk.localParticipant.unpublishTrack(pub.track, false);
    }
    const now = this.publication();
    this.stats.publishing = !!now && !now.track.isMuted;
    this.paint();
  }

  async publish(track, term) {
    const { Track } = await loadSdk();
    try {
      await this.lk.localParticipant.publishTrack(track, { source: Track.Source.Microphone, name: 'microphone' });
      this.problem = '';
    } catch (err) {
      if (!this.lk || !this.isTalking()) return;
      this.gaveUp = term; // until the next turn
      this.problem = `could not publish the microphone: ${err?.message || err}`;
      console.warn('live mode:', this.problem);
    }
  }

  // --- what the page shows ---

  set(state) {
    this.state = state;
    this.stats.state = state;
    this.stats.connected = state === 'connected';
    if (state === 'connecting' || state === 'off') this.problem = '';
    this.paint();
  }

  paint() {
    const node = $('live-status');
    const live = !this.closed && this.room.floor?.mode === 'live';
    show(node, live);
    if (!live) return;
    const state = this.stats.publishing ? 'publishing' : this.state;
    const was = node.dataset.liveState;
    node.dataset.liveState = state;
    let problem = this.problem;
    if (!problem && this.waiting && Date.now() - this.waiting > PERMISSION_WAIT_MS) {
      problem = 'LiveKit has not let this device publish its microphone yet';
    }
    say(node, {
      off: 'Live audio: starting…',
      connecting: 'Live audio: connecting…',
      connected: problem ? `Live audio: connected, but ${problem}.` : 'Live audio: connected. You hear whoever holds the floor as they speak.',
      publishing: 'Live audio: you are on the air.',
      failed: `Live audio unavailable: ${this.problem}. Trying again in ${inTime(this.retryAt)}.`,
    }[state]);
    if (was !== state) this.onChange();
  }
}
