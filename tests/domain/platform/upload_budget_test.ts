import assert from "node:assert/strict";
import { AppError } from "../../../domain/platform/errors.ts";
import { retryAfterOf } from "../../../domain/platform/rate_limit.ts";
import { UploadBudget } from "../../../domain/platform/upload_budget.ts";

/** Uploads are admitted while they fit the budget and released once. */

Deno.test("admits while it fits, refuses with 503 + retry, releases once", () => {
  const budget = new UploadBudget(100);
  const a = {}, b = {}, c = {};
  budget.admit(a, 60);
  budget.admit(b, 40);
  assert.equal(budget.inFlight, 100);
  let refused: unknown;
  try {
    budget.admit(c, 1);
  } catch (err) {
    refused = err;
  }
  assert.ok(refused instanceof AppError);
  assert.equal(refused.status, 503);
  assert.ok((retryAfterOf(refused) ?? 0) >= 1);
  budget.release(a);
  budget.release(a);
  assert.equal(budget.inFlight, 40);
  budget.admit(c, 60);
  budget.release(b);
  budget.release(c);
  assert.equal(budget.inFlight, 0);
});

Deno.test("one upload larger than the budget passes only when alone", () => {
  const budget = new UploadBudget(10);
  const big = {}, other = {};
  budget.admit(big, 50);
  assert.throws(() => budget.admit(other, 1), /too many uploads/);
  budget.release(big);
  budget.admit(other, 1);
  assert.equal(budget.inFlight, 1);
});
