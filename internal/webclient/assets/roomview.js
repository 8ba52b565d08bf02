// The open room: joins it if needed, runs this device's turns (talk.js),
// the listening (listen.js) and live mode's audio (live.js), and draws the floor, the permit and the
// voice messages.
import { $, clock, el, say, show } from './dom.js';
import { describeFloor } from './floorview.js';
import { Listen } from './listen.js';
import { Live } from './live.js';
import { renderPermit } from './permits.js';
import { Talk } from './talk.js';

export class RoomView {
  constructor({ client, rooms, player, mic, firstSync, floorPath = null }) {
    Object.assign(this, { client, rooms, player, mic, firstSync, floorPath });
    this.room = null;
    this.talk = null;
    this.listen = null;
    this.live = null;
    this.ticker = setInterval(() => this.room && this.render(), 1000);
    // The microphone stays open between turns; its meter moves only during one.
    mic.onLevel = (level) => ($('mic-level').value = ['asking', 'talking', 'ending'].includes(this.talk?.phase) ? level : 0);
  }

  async open(ref, via) {
    this.close();
    this.ref = ref;
    say($('room-name'), ref);
    this.notice('');
    await this.firstSync;
    if (this.ref !== ref) return;
    const known = this.rooms.joined.get(ref);
    if (known && known.membership(this.client.userId) === 'join') return this.attach(known);
    this.notice(`Joining ${ref}…`);
    try {
      const { room_id: id } = await this.client.join(ref, via);
      if (this.ref !== ref) return;
      this.ref = id;
      this.notice('Joined. Loading the room…');
      if (this.rooms.joined.get(id)?.membership(this.client.userId) === 'join') this.attach(this.rooms.joined.get(id));
      // otherwise the next sync brings the room (onSync attaches it)
    } catch (err) {
      if (this.ref === ref) this.notice(`Could not join ${ref}: ${err.message}`);
    }
  }

  attach(room) {
    if (this.room === room) return; // the first sync attached it while open() waited for it
    this.room = room;
    this.notice('');
    const onChange = () => this.render();
    this.talk = new Talk({ client: this.client, room, mic: this.mic, onChange, floorPath: this.floorPath });
    this.floorPath?.follow(room.id);
    this.listen = new Listen({ client: this.client, room, player: this.player, onChange });
    this.live = new Live({ client: this.client, room, player: this.player, mic: this.mic, isTalking: () => ['asking', 'talking'].includes(this.talk?.phase), onChange });
    for (const ev of room.timeline) this.listen.onTimeline(ev);
    this.floorSeen = room.floors.changes;
    this.listen.onFloor();
    this.listen.afterSync(false);
    this.render();
  }

  close() {
    if (this.room) this.floorPath?.unfollow(this.room.id);
    this.talk?.dispose();
    this.live?.close();
    this.room = this.talk = this.listen = this.live = this.ref = null;
  }

  press() {
    this.player.resume?.();
    this.live?.prepare();
    this.talk?.press();
  }

  release() {
    this.talk?.release();
  }

  // onSync passes the open room's new events on.
  onSync(update) {
    if (!this.room && update.room.id === this.ref && update.room.membership(this.client.userId) === 'join') {
      return this.attach(update.room);
    }
    if (update.room !== this.room) return;
    for (const ev of update.events) {
      this.talk.onTimeline(ev);
      this.listen.onTimeline(ev);
    }
    this.floorChanged();
    this.listen.afterSync(update.limited);
    this.render();
  }

  // onFloorPush: the floor channel changed a room's floor, ahead of /sync.
  onFloorPush(room) {
    if (room !== this.room) return;
    this.floorChanged();
    this.render();
  }

  // onLaterAnswer: the floor channel's later answer to a request of this
  // device in a room (it sends those instead of a talk_response).
  onLaterAnswer(room, response) {
    if (room !== this.room) return;
    this.talk.onLaterAnswer(response);
    this.render();
  }

  floorChanged() {
    if (this.room.floors.changes === this.floorSeen) return;
    this.floorSeen = this.room.floors.changes;
    this.talk.evaluate();
    this.listen.onFloor();
  }

  notice(text) {
    say($('room-notice'), text);
    show($('room-notice'), !!text);
  }

  render() {
    const { room, talk } = this;
    if (!room) return;
    say($('room-name'), room.name);
    const d = describeFloor(room, talk);
    const button = $('talk');
    button.dataset.floorState = d.state;
    button.dataset.floorPath = this.floorPath?.name || 'room'; // how a press would ask now
    button.dataset.requestPath = talk.requestPath; // how the last request went
    button.dataset.floorSource = room.floors.source; // where the floor shown came from
    button.disabled = !!d.disabled;
    say(button, d.label);
    say($('floor-status'), d.status);
    say($('floor-time'), d.left || '');
    say($('queue-position'), d.position ? String(d.position) : '');
    show($('queue-position'), !!d.position);
    say($('talk-message'), talk.notice?.text || '');
    say($('talk-trouble'), talk.trouble);
    const n = room.floor?.listeners;
    say($('listeners'), n === undefined ? '' : `${n} ${n === 1 ? 'device has' : 'devices have'} a permit to listen.`);
    if (room.encrypted) this.notice('This room is end-to-end encrypted. This client cannot talk there yet: use an unencrypted room.');
    renderPermit(room, this.client);
    this.renderMessages();
    this.live.update();
  }

  renderMessages() {
    const list = this.listen.messages;
    const key = list.map((b) => `${b.id}:${b.chunks.size}`).join();
    show($('messages-empty'), list.length === 0);
    if (key === this.messagesKey) return;
    this.messagesKey = key;
    $('messages').replaceChildren(
      ...list.map((b) => {
        const seconds = Math.round([...b.chunks.values()].reduce((s, c) => s + (c.durationMs || 1000), 0) / 1000);
        const who = this.room.displayName(b.sender);
        return el(
          'li',
          { dataset: { broadcastId: b.id } },
          el('span', {}, `${who} · ${seconds} s · ${clock(b.ts)} `),
          el('button', { type: 'button', 'aria-label': `Play ${who}'s message of ${seconds} seconds`, onclick: () => this.listen.replay(b.id) }, 'Play'),
        );
      }),
    );
  }
}
