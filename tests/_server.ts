import { type Config, testConfig } from "../domain/platform/config.ts";
import { type RunningServer, type StartOptions, startServer } from "../main.ts";

/**
 * Test helpers: a real server on an ephemeral 127.0.0.1 port with an
 * in-memory KV (or the KV path given), closed by the test.
 */

/** Starts a server for a test; `await using` closes it. */
export async function startTestServer(
  overrides: Partial<Config> = {},
  options: StartOptions = {},
): Promise<RunningServer & AsyncDisposable> {
  const server = await startServer(
    testConfig({ transcodeWorkers: 1, ...overrides }),
    { quiet: true, ...options },
  );
  return Object.assign(server, {
    [Symbol.asyncDispose]: () => server.close(),
  });
}

/** POSTs a JSON body; returns status and parsed JSON. */
export async function postJson(
  url: string,
  body: unknown,
  token?: string,
): Promise<
  { status: number; body: Record<string, unknown> & { data?: unknown } }
> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** POSTs a urlencoded form, as the seed's Flask clients do. */
export async function postForm(
  url: string,
  fields: Record<string, string>,
  token?: string,
): Promise<
  { status: number; body: Record<string, unknown> & { data?: unknown } }
> {
  const res = await fetch(url, {
    method: "POST",
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: new URLSearchParams(fields),
  });
  return { status: res.status, body: await res.json() };
}
