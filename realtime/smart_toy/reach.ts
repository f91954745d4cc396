/**
 * Per-socket answers to "may this sender reach that recipient?", the check
 * on the relay's hot path.
 *
 * A positive answer is trusted for `ttlMs`; in its last `refreshMs` the
 * next frame starts one lookup in the background, and frames keep going
 * while it runs: a pair that keeps talking never waits on the store, and
 * the store sees one lookup per pair per `ttlMs`, not one per frame that
 * arrives while an answer is missing. Lookups of one recipient are shared,
 * so their frames are relayed in the order they came. A lookup that says
 * no (a friendship ended) ends the cached answer: a revoked pair is
 * refused at most `ttlMs` after the change, as before. Negative answers
 * are not cached (a pair just made friends can talk at once).
 *
 * Bounded: at most `maxEntries` answers are held, and at most `maxPending`
 * lookups run at once. A frame to yet another recipient while that many
 * are under way gets `null` (the caller refuses it), so a client that
 * sends to many unknown ids cannot queue store reads without end.
 */
export class ReachCache {
  readonly #lookup: (to: string) => Promise<boolean>;
  readonly #ttlMs: number;
  readonly #refreshMs: number;
  readonly #maxEntries: number;
  readonly #maxPending: number;
  readonly #clock: () => number;
  /** Until when a positive answer holds, per recipient. */
  readonly #until = new Map<string, number>();
  readonly #pending = new Map<string, Promise<boolean>>();

  constructor(
    lookup: (to: string) => Promise<boolean>,
    {
      ttlMs = 5_000,
      refreshMs = 1_000,
      maxEntries = 256,
      maxPending = 16,
      clock = Date.now,
    }: {
      ttlMs?: number;
      refreshMs?: number;
      maxEntries?: number;
      /** Lookups under way at once, at most. */
      maxPending?: number;
      /** Milliseconds now (tests pass their own). */
      clock?: () => number;
    } = {},
  ) {
    this.#lookup = lookup;
    this.#ttlMs = ttlMs;
    this.#refreshMs = Math.min(refreshMs, ttlMs);
    this.#maxEntries = maxEntries;
    this.#maxPending = maxPending;
    this.#clock = clock;
  }

  /**
   * True when a fresh answer says yes (no turn of the event loop), else
   * the answer of a lookup, shared with every frame that asks meanwhile;
   * null when `maxPending` lookups are already under way for others.
   */
  check(to: string): true | Promise<boolean> | null {
    const now = this.#clock();
    const until = this.#until.get(to);
    if (until !== undefined && until > now) {
      if (
        until - now < this.#refreshMs && !this.#pending.has(to) &&
        this.#pending.size < this.#maxPending
      ) {
        this.#ask(to).catch(() => {
          // The answer in hand stands until it expires; the next frame
          // asks again.
        });
      }
      return true;
    }
    const pending = this.#pending.get(to);
    if (pending) return pending;
    return this.#pending.size < this.#maxPending ? this.#ask(to) : null;
  }

  #ask(to: string): Promise<boolean> {
    let looked: Promise<boolean>;
    try {
      looked = this.#lookup(to);
    } catch (err) {
      // A lookup that refuses at once (a rate limit) fails like one that
      // rejects.
      looked = Promise.reject(err);
    }
    const asked = looked.then((ok) => {
      if (ok) {
        if (this.#until.size >= this.#maxEntries && !this.#until.has(to)) {
          this.#until.clear();
        }
        this.#until.set(to, this.#clock() + this.#ttlMs);
      } else {
        this.#until.delete(to);
      }
      return ok;
    }).finally(() => this.#pending.delete(to));
    this.#pending.set(to, asked);
    return asked;
  }
}
