import assert from "node:assert/strict";
import { AppError } from "../../../domain/platform/errors.ts";
import {
  busy,
  RateLimiter,
  retryAfterOf,
} from "../../../domain/platform/rate_limit.ts";

/** The limiter refuses past its limit with a 429 that says when to retry. */

Deno.test("past the limit: a 429 carrying retry_after in whole seconds", () => {
  const limiter = new RateLimiter();
  limiter.take("a", 2, 60_000);
  limiter.take("a", 2, 60_000);
  let thrown: unknown;
  try {
    limiter.take("a", 2, 60_000, "registrations");
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof AppError);
  assert.equal(thrown.status, 429);
  assert.match(thrown.message, /too many registrations/);
  const seconds = retryAfterOf(thrown);
  assert.ok(seconds !== null && seconds >= 1 && seconds <= 60, String(seconds));
  limiter.take("b", 2, 60_000);
});

Deno.test("retryAfterOf: 503 busy errors carry it, others do not", () => {
  assert.equal(retryAfterOf(busy("full", 2.2)), 3);
  assert.equal(busy("full", 2).status, 503);
  assert.equal(retryAfterOf(new AppError(400, "bad")), null);
  assert.equal(retryAfterOf(new Error("x")), null);
});
