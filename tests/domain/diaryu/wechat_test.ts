import assert from "node:assert/strict";
import { AppError } from "../../../domain/platform/errors.ts";
import { jscode2session } from "../../../domain/diaryu/wechat.ts";
import { fakeWechat, wechatScript } from "./_fixtures.ts";

/** jscode2session against a fake WeChat on 127.0.0.1. */

function configOf(baseUrl: string) {
  return {
    wechatBaseUrl: baseUrl,
    wechatAppid: "wxAPP",
    wechatSecret: "s3cr3t",
  };
}

async function failure(
  promise: Promise<unknown>,
): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err;
  }
  assert.fail("expected an AppError");
}

Deno.test("jscode2session sends the app's credentials and returns only the openId", async () => {
  await using wechat = fakeWechat(wechatScript);
  const identity = await jscode2session(configOf(wechat.baseUrl), "abc123");
  assert.deepEqual(identity, { openId: "oabc123" });
  const [sent] = wechat.requests;
  assert.equal(sent.pathname, "/sns/jscode2session");
  assert.equal(sent.searchParams.get("appid"), "wxAPP");
  assert.equal(sent.searchParams.get("secret"), "s3cr3t");
  assert.equal(sent.searchParams.get("js_code"), "abc123");
  assert.equal(sent.searchParams.get("grant_type"), "authorization_code");
});

Deno.test("jscode2session maps each WeChat error to a status and keeps its errcode", async () => {
  await using wechat = fakeWechat(wechatScript);
  const config = configOf(wechat.baseUrl);
  const cases: [string, number, number | undefined][] = [
    ["invalid", 400, 40029],
    ["used", 409, 40163],
    ["quota", 429, 45011],
    ["busy", 503, -1],
    ["risky", 502, 40226],
    ["html", 502, undefined],
  ];
  for (const [code, status, errcode] of cases) {
    const err = await failure(jscode2session(config, code));
    assert.equal(err.status, status, `${code}: ${err.message}`);
    assert.equal(err.code, errcode, code);
  }
  const quota = await failure(jscode2session(config, "quota"));
  assert.deepEqual(quota.data, { retry_after: 60 });
  assert.match(quota.message, /45011/);
});

Deno.test("jscode2session gives up on a WeChat that does not answer: 504", async () => {
  await using wechat = fakeWechat(wechatScript);
  const err = await failure(
    jscode2session(configOf(wechat.baseUrl), "hang", { timeoutMs: 200 }),
  );
  assert.equal(err.status, 504);
  assert.match(err.message, /did not answer/);
});

Deno.test("jscode2session: an unreachable WeChat is 502, no credentials is 503", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const unreachable = await failure(
    jscode2session(configOf(`http://127.0.0.1:${port}`), "abc"),
  );
  assert.equal(unreachable.status, 502);
  const unconfigured = await failure(
    jscode2session({ wechatBaseUrl: "http://127.0.0.1:9" }, "abc"),
  );
  assert.equal(unconfigured.status, 503);
  assert.match(unconfigured.message, /not configured/);
});

Deno.test("jscode2session refuses a reply without a usable openid", async () => {
  await using wechat = fakeWechat(() =>
    Response.json({ openid: "../../etc", session_key: "k" })
  );
  const err = await failure(jscode2session(configOf(wechat.baseUrl), "x"));
  assert.equal(err.status, 502);
});
