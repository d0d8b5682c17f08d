'use strict';
// The client's one subscription to the results channel, and who waits for which task key.
//
// A wait registers its key, then re-reads the task hash, so no result is missed. A submit *keeps*
// its key from before the push until the first notification for it: a wait that finds its key still
// kept knows nothing was announced and skips the first read. Nothing stays registered once a
// result is delivered. After a reconnect every waiter re-reads (anything may have finished while the
// subscription was down).

const { DoshitError } = require('./errors');

class Results {
  #open;
  #channel;
  #subscriber = null;
  #ready = null;
  #waiters = new Map(); // task key -> Set of wake functions
  #kept = new Map(); // task key -> token of the submit that keeps it
  #closed = false;

  /** `open(onReady, onDown)` makes the subscriber connection and resolves once it is connected. */
  constructor(open, channel) {
    this.#open = open;
    this.#channel = channel;
  }

  get closed() {
    return this.#closed;
  }

  /** How many keys someone waits for or keeps (0 when nothing is outstanding). */
  get size() {
    return new Set([...this.#waiters.keys(), ...this.#kept.keys()]).size;
  }

  /** Subscribe, once; resolves when the subscription is live. */
  ensure() {
    if (this.#closed) return Promise.reject(new DoshitError('the doshit client is closed'));
    if (this.#ready === null) {
      this.#ready = this.#subscribe().catch((error) => {
        this.#ready = null;
        throw error;
      });
    }
    return this.#ready;
  }

  async #subscribe() {
    const subscriber = await this.#open({
      ready: () => this.#wakeAll(),
      down: () => this.#kept.clear(),
    });
    this.#subscriber = subscriber;
    await subscriber.subscribe(this.#channel, (message) => this.#heard(message));
    if (this.#closed) await subscriber.close();
  }

  #heard(key) {
    this.#kept.delete(key);
    for (const wake of this.#waiters.get(key) || []) wake(true);
  }

  #wakeAll() {
    this.#kept.clear();
    for (const wakes of this.#waiters.values()) for (const wake of wakes) wake(true);
  }

  /** Keep a key from before its push; returns the function that ends the keep. */
  keep(key) {
    const token = {};
    this.#kept.set(key, token);
    return () => {
      if (this.#kept.get(key) === token) this.#kept.delete(key);
    };
  }

  /** Start watching a key. `mustRead` is false when a kept key has heard nothing yet. */
  watch(key) {
    const mustRead = !this.#kept.has(key);
    let woken = false;
    let ended = false;
    let resolveNext = null;
    const wake = (value) => {
      if (resolveNext) {
        const resolve = resolveNext;
        resolveNext = null;
        resolve(value);
      } else {
        woken = true;
      }
    };
    if (!this.#waiters.has(key)) this.#waiters.set(key, new Set());
    this.#waiters.get(key).add(wake);
    const results = this;
    return {
      mustRead,
      /** Resolves true at the next notification (or reconnect), false when the watch ended. */
      next() {
        if (ended || results.#closed) return Promise.resolve(false);
        if (woken) {
          woken = false;
          return Promise.resolve(true);
        }
        return new Promise((resolve) => {
          resolveNext = resolve;
        });
      },
      /** Stop watching; a delivered result also ends the key's keep. */
      end(delivered) {
        ended = true;
        const wakes = results.#waiters.get(key);
        if (wakes) {
          wakes.delete(wake);
          if (!wakes.size) results.#waiters.delete(key);
        }
        if (delivered) results.#kept.delete(key);
        wake(false);
      },
    };
  }

  async close() {
    this.#closed = true;
    this.#kept.clear();
    for (const wakes of this.#waiters.values()) for (const wake of wakes) wake(false);
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    if (subscriber) await subscriber.close().catch(() => subscriber.destroy());
  }
}

module.exports = { Results };
