import { busy } from "./rate_limit.ts";

/**
 * A global budget of upload bytes in flight, so concurrent uploads cannot
 * take the process's memory: each upload is admitted by its declared size
 * (Content-Length; without one, the route's largest upload) before a byte
 * of it is read, and past the budget it is refused with a 503 and
 * `Retry-After` — the body is never read. What an upload holds is released
 * when its request finishes, also when it fails.
 *
 * One budget per server instance (per config object), so two servers in
 * one test process do not share it.
 */

/** Seconds a refused upload is told to wait: uploads finish in seconds. */
const UPLOAD_RETRY_AFTER_SECONDS = 2;

/** The metric gauge of the bytes admitted and not yet released. */
const UPLOAD_BYTES_GAUGE = "babble_upload_bytes_in_flight";

/** Bytes in flight against one budget. */
export class UploadBudget {
  readonly limit: number;
  #inFlight = 0;
  #held = new WeakMap<object, number>();

  constructor(limitBytes: number) {
    this.limit = limitBytes;
  }

  /** Bytes admitted and not yet released. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Admits `bytes` for `owner` (a request), or throws a 503 `busy` error
   * with a retry hint when they do not fit. A single upload larger than the
   * whole budget is admitted only while nothing else is in flight, so a
   * budget below the upload limit slows uploads instead of refusing them
   * all. Idempotent per owner: a second admit adds to the same hold.
   */
  admit(owner: object, bytes: number): void {
    const wanted = Math.max(0, bytes);
    if (this.#inFlight > 0 && this.#inFlight + wanted > this.limit) {
      throw busy(
        `the server is receiving too many uploads right now: retry in ${UPLOAD_RETRY_AFTER_SECONDS} s`,
        UPLOAD_RETRY_AFTER_SECONDS,
      );
    }
    this.#inFlight += wanted;
    this.#held.set(owner, (this.#held.get(owner) ?? 0) + wanted);
  }

  /** Releases everything `owner` holds; safe to call more than once. */
  release(owner: object): void {
    const held = this.#held.get(owner);
    if (held === undefined) return;
    this.#held.delete(owner);
    this.#inFlight -= held;
  }
}

const budgets = new WeakMap<object, UploadBudget>();

/**
 * The upload budget of a server instance, made on first use from
 * `config.uploadBudgetBytes`; its bytes in flight are exported as the
 * `babble_upload_bytes_in_flight` gauge.
 */
export function uploadBudgetOf(deps: {
  config: { uploadBudgetBytes: number };
  metrics: {
    gauge(name: string, read: () => number): void;
    describe(name: string, help: string): void;
  };
}): UploadBudget {
  let budget = budgets.get(deps.config);
  if (!budget) {
    const made = new UploadBudget(deps.config.uploadBudgetBytes);
    budget = made;
    budgets.set(deps.config, made);
    deps.metrics.describe(
      UPLOAD_BYTES_GAUGE,
      "Upload bytes admitted against --upload-budget-bytes and not yet released",
    );
    deps.metrics.gauge(UPLOAD_BYTES_GAUGE, () => made.inFlight);
  }
  return budget;
}
