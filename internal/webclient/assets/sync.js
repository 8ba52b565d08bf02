// The /sync long-poll loop: one request at a time, backing off from 1 s to
// 30 s while the homeserver cannot be reached, and saying so (onStatus) so
// the page can show "connection lost, reconnecting".
import { MatrixError } from './matrix.js';

const POLL_MS = 30000;

// The filter keeps presence and account data out; timelines carry
// everything (chunks are m.room.message) and enough of it to catch up.
export const FILTER = {
  presence: { types: [] },
  account_data: { types: [] },
  room: {
    state: { lazy_load_members: false },
    timeline: { limit: 60 },
    ephemeral: { types: [] },
    account_data: { types: [] },
  },
};

export class Sync {
  constructor(client, { onResponse, onStatus, onLoggedOut }) {
    Object.assign(this, { client, onResponse, onStatus, onLoggedOut });
    this.since = undefined;
    this.running = false;
    this.wake = null;
    window.addEventListener('online', () => this.wake?.());
  }

  start() {
    this.running = true;
    this.loop();
  }

  stop() {
    this.running = false;
    this.abort?.abort();
    this.wake?.();
  }

  async loop() {
    let delay = 1000;
    let lost = false;
    while (this.running) {
      this.abort = new AbortController();
      const timer = setTimeout(() => this.abort.abort(), POLL_MS + 20000);
      try {
        // After a failure, ask for an answer at once: a long poll would hide
        // for up to POLL_MS that the homeserver is back.
        const timeout = lost ? 0 : POLL_MS;
        const resp = await this.client.sync({ since: this.since, filter: FILTER, timeout, signal: this.abort.signal });
        clearTimeout(timer);
        if (!this.running) return;
        const first = this.since === undefined;
        this.since = resp.next_batch;
        if (lost) this.onStatus({ state: 'ok' });
        lost = false;
        delay = 1000;
        this.onResponse(resp, first);
      } catch (err) {
        clearTimeout(timer);
        if (!this.running) return;
        if (err instanceof MatrixError && err.status === 401) {
          this.running = false;
          this.onLoggedOut(err);
          return;
        }
        if (err instanceof MatrixError && !err.transient) console.warn('sync:', err.message);
        lost = true;
        const wait = Math.max(delay, err.retryAfterMs || 0);
        this.onStatus({ state: 'lost', retryAt: Date.now() + wait, error: err.message || String(err) });
        await new Promise((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, wait);
        });
        this.wake = null;
        if (this.running) this.onStatus({ state: 'retrying' });
        delay = Math.min(delay * 2, 30000);
      }
    }
  }
}
