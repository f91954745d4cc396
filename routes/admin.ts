import { z } from "zod";
import { AppError } from "../domain/platform/errors.ts";
import { mintDevices } from "../domain/smart_toy/devices.ts";
import { sha256Hex } from "../domain/platform/sessions.ts";
import { type AppDeps, type Feature, subApp } from "./app.ts";
import { api, input, tokenOf } from "./_http.ts";

const mint = api({
  method: "POST",
  path: "/admin/devices",
  tag: "admin",
  summary: "Mint device keys (admin token)",
  auth: "admin",
  body: z.strictObject({
    count: z.union([
      z.number(),
      z.string().trim().regex(/^\d+$/).transform(Number),
    ], { error: "must be a whole number from 1 to 1000" }).pipe(
      z.number().int("must be a whole number").min(1, "must be at least 1")
        .max(1000, "mint at most 1000 per request"),
    ),
  }),
});

/** Operator routes, behind the admin token (off when none is configured). */
export function adminFeature(deps: AppDeps): Feature {
  const app = subApp();
  const expected = deps.config.adminToken
    ? sha256Hex(deps.config.adminToken)
    : null;

  app.use("/admin/*", async function requireAdmin(c, next) {
    if (!expected) {
      throw new AppError(
        403,
        "the admin API is off: start the server with --admin-token",
      );
    }
    const token = tokenOf(c);
    if (!token) {
      throw new AppError(401, "send Authorization: Bearer <admin token>");
    }
    // Compare digests so the comparison time says nothing about the token.
    if ((sha256Hex(token)) !== (await expected)) {
      throw new AppError(401, "wrong admin token");
    }
    await next();
  });

  app.post(mint.path, async (c) => {
    const { count } = await input(c, mint);
    const keys = await mintDevices(deps.kv, count);
    return c.json({
      code: 0,
      msg: `minted ${keys.length} device keys`,
      data: { keys },
    });
  });

  return { app };
}
