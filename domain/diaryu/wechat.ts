import { AppError, type ErrorStatus } from "../platform/errors.ts";
import { OPEN_ID } from "./users.ts";

/**
 * WeChat's `jscode2session`: trades the mini-program's `wx.login` code for
 * the user's openId. The `session_key` WeChat sends back is dropped here:
 * DiaryU decrypts nothing, so the key never leaves this function.
 *
 * Every failure is an AppError whose `code` is WeChat's errcode (or the
 * HTTP status for failures of our own) and whose status fits:
 *
 * | WeChat says / what happened     | status | retry after |
 * | ------------------------------- | ------ | ----------- |
 * | 40029 invalid code              | 400    |             |
 * | 40163 code been used            | 409    |             |
 * | 45011 minute quota reached      | 429    | 60 s        |
 * | -1 system busy                  | 503    | 2 s         |
 * | any other errcode               | 502    |             |
 * | no answer within the time limit | 504    |             |
 * | not JSON, not 2xx, unreachable  | 502    |             |
 * | appid/secret not configured     | 503    |             |
 */

/** Where WeChat is and who we are to it (from `Config`). */
export interface WechatConfig {
  wechatBaseUrl: string;
  wechatAppid?: string;
  wechatSecret?: string;
}

/** What a successful sign-in yields: the openId, nothing secret. */
export interface WechatIdentity {
  openId: string;
}

// WeChat answers within a few hundred milliseconds; a sign-in that waits
// longer than this is better told to try again than left hanging.
const DEFAULT_TIMEOUT_MS = 5_000;
// Its replies are a few hundred bytes; anything far larger is not WeChat.
const MAX_REPLY_BYTES = 16 * 1024;
// ErrorStatus (domain/platform/errors.ts) has no 502 yet; the gateway
// failures below need it.
const BAD_GATEWAY: ErrorStatus = 502;

/** WeChat's errcodes that mean something to the caller, with their status. */
const KNOWN_ERRORS: Record<
  number,
  { status: ErrorStatus; hint: string; retryAfter?: number }
> = {
  40029: {
    status: 400,
    hint: "the js_code is invalid or expired: call wx.login for a new one",
  },
  40163: {
    status: 409,
    hint: "this js_code was already used: call wx.login for a new one",
  },
  45011: {
    status: 429,
    hint: "WeChat's per-minute sign-in quota is used up: try again in 60 s",
    retryAfter: 60,
  },
  [-1]: {
    status: 503,
    hint: "WeChat is busy: try again in 2 s",
    retryAfter: 2,
  },
};

/** 503 unless the operator configured an app id and secret. */
export function assertWechatConfigured(config: WechatConfig): void {
  if (!config.wechatAppid || !config.wechatSecret) {
    throw new AppError(
      503,
      "WeChat sign-in is not configured on this server: the operator sets " +
        "--wechat-appid and --wechat-secret",
    );
  }
}

/**
 * Calls `GET {base}/sns/jscode2session` and returns the openId; throws an
 * AppError as tabled above. Never returns or stores the session_key.
 */
export async function jscode2session(
  config: WechatConfig,
  jsCode: string,
  { timeoutMs = DEFAULT_TIMEOUT_MS }: { timeoutMs?: number } = {},
): Promise<WechatIdentity> {
  assertWechatConfigured(config);
  const url = new URL(
    "sns/jscode2session",
    config.wechatBaseUrl.endsWith("/")
      ? config.wechatBaseUrl
      : config.wechatBaseUrl + "/",
  );
  url.search = new URLSearchParams({
    appid: config.wechatAppid!,
    secret: config.wechatSecret!,
    js_code: jsCode,
    grant_type: "authorization_code",
  }).toString();
  const text = await fetchText(url, timeoutMs);
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    throw gatewayError(
      `WeChat answered with something that is not JSON: ${
        JSON.stringify(text.slice(0, 60))
      }`,
    );
  }
  if (!reply || typeof reply !== "object" || Array.isArray(reply)) {
    throw gatewayError("WeChat answered with JSON that is not an object");
  }
  const { errcode, errmsg, openid } = reply as Record<string, unknown>;
  const code = Number(errcode ?? 0);
  if (code !== 0) throw wechatError(code, String(errmsg ?? ""));
  if (typeof openid !== "string" || !OPEN_ID.test(openid)) {
    throw gatewayError("WeChat's reply has no valid openid");
  }
  return { openId: openid };
}

/** The body of a 2xx reply within the time limit, at most MAX_REPLY_BYTES. */
async function fetchText(url: URL, timeoutMs: number): Promise<string> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, { signal, redirect: "error" });
    if (!res.ok) {
      await res.body?.cancel();
      throw gatewayError(`WeChat answered HTTP ${res.status}`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) {
        throw gatewayError(
          `WeChat's reply is larger than ${MAX_REPLY_BYTES} bytes`,
        );
      }
      chunks.push(chunk);
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return new TextDecoder().decode(bytes);
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (signal.aborted) {
      throw new AppError(
        504,
        `WeChat did not answer within ${timeoutMs} ms: try again`,
        { cause: err },
      );
    }
    throw gatewayError("could not reach WeChat: try again later", err);
  }
}

function gatewayError(message: string, cause?: unknown): AppError {
  return new AppError(BAD_GATEWAY, message, { cause });
}

function wechatError(code: number, errmsg: string): AppError {
  const known = KNOWN_ERRORS[code];
  const quoted = `WeChat errcode ${code} ${JSON.stringify(errmsg)}`;
  if (!known) {
    return new AppError(
      BAD_GATEWAY,
      `${quoted}: sign-in failed on WeChat's side`,
      { code },
    );
  }
  return new AppError(known.status, `${quoted}: ${known.hint}`, {
    code,
    ...(known.retryAfter ? { data: { retry_after: known.retryAfter } } : {}),
  });
}
