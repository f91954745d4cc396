import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { testConfig } from "../../domain/platform/config.ts";
import { silentLogger } from "../../domain/platform/log.ts";
import { Metrics } from "../../domain/platform/metrics.ts";
import { RateLimiter } from "../../domain/platform/rate_limit.ts";
import type { AppDeps } from "../../domain/platform/services.ts";
import { createApp } from "../../routes/app.ts";
import { pagesFeature } from "../../routes/pages.ts";
import { qrLoginFeature } from "../../routes/qr_login.ts";
import { qrLoginEndpoint } from "../../realtime/qr_login/page_socket.ts";
import { startTestServer } from "../_server.ts";
import {
  assertClean,
  BROWSER_TEST,
  launchBrowser,
  newContext,
  screenshots,
  watchedPage,
} from "./_browser.ts";

/**
 * QR-code login (seed 004) in the browser: page A shows a code; the
 * parents' app in context B, signed in, scans it by key and confirms;
 * page A is signed into /app. An unused code expires and offers a new one.
 */

/** Registers through the parents' app in a fresh context; returns its page. */
async function signedInApp(browser: Browser, url: string, name: string) {
  const watched = await watchedPage(await newContext(browser));
  const page = watched.page;
  await page.goto(`${url}/app`);
  await page.fill("#reg-user", name.toLowerCase());
  await page.fill("#reg-pass", "secret-pass-1");
  await page.fill("#reg-nick", name);
  await page.getByRole("button", { name: "Register" }).click();
  await page.getByRole("heading", { name: `Hello, ${name}` }).waitFor();
  return watched;
}

Deno.test({
  name: "pages: QR login signs page A in when the phone scans and confirms",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    await using browser = await launchBrowser();
    const web = await watchedPage(await newContext(browser));
    const page = web.page;
    await page.goto(`${server.url}/login`);
    await page.getByRole("img", { name: /QR code/ }).waitFor();
    const key = (await page.locator("#key").textContent())?.trim() ?? "";
    assert.match(key, /^[0-9a-f]{32}$/);
    assert.match(
      await page.locator("#state").textContent() ?? "",
      /Scan this code/,
    );
    await screenshots(page, "login");

    const phone = await signedInApp(browser, server.url, "Dad");
    const app = phone.page;
    await app.getByRole("tab", { name: "Web login" }).click();
    await app.fill("#web-key", key);
    await app.getByRole("button", { name: "Scan" }).click();
    await page.locator("#state", { hasText: "Scanned!" }).waitFor();
    await app.getByRole("button", { name: "Sign that page in" }).click();
    await app.locator("#web-notice", { hasText: "The page is signed in." })
      .waitFor();

    await page.waitForURL(`${server.url}/app`);
    await page.getByRole("heading", { name: "Hello, Dad" }).waitFor();
    await page.locator("#conn", { hasText: "Connected" }).waitFor();
    assertClean(web, "QR login page");
    assertClean(phone, "the phone's app");
  },
});

Deno.test({
  name: "pages: an unused QR code expires and the page offers a new one",
  ...BROWSER_TEST,
  async fn() {
    // The whole server has the production TTL (120 s); this test serves the
    // pages with a QR login feature built as main.ts builds it, but short-lived.
    const kv = await Deno.openKv(":memory:");
    const deps: AppDeps = {
      kv,
      config: testConfig(),
      log: silentLogger,
      metrics: new Metrics(),
      limiter: new RateLimiter(),
      transcoder: null,
    };
    const features = [qrLoginFeature(deps), pagesFeature(deps)];
    const pages = qrLoginEndpoint(deps, { ttlMs: 1_500 });
    const app = createApp(deps, features);
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      (req, info) => pages.handle(req, info) ?? app.fetch(req, info),
    );
    try {
      await using browser = await launchBrowser();
      const web = await watchedPage(await newContext(browser));
      const page = web.page;
      await page.goto(`http://127.0.0.1:${server.addr.port}/login`);
      const first = await page.locator("#key").filter({ hasText: /\w/ })
        .textContent();
      await page.locator("#state", { hasText: "This code has expired." })
        .waitFor();
      const renew = page.getByRole("button", { name: "New code" });
      await screenshots(page, "login-expired");
      await renew.click();
      await page.locator("#state", { hasText: "Scan this code" }).waitFor();
      const second = await page.locator("#key").textContent();
      assert.match(second ?? "", /^[0-9a-f]{32}$/);
      assert.notEqual(second, first, "a new code, not the old one");
      assert.equal(await renew.isVisible(), false);
      assertClean(web, "QR login page");
    } finally {
      await pages.close();
      await server.shutdown();
      kv.close();
    }
  },
});
