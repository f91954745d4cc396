import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { startTestServer } from "../_server.ts";
import {
  assertClean,
  BROWSER_TEST,
  launchBrowser,
  newContext,
  screenshots,
  watchedPage,
} from "./_browser.ts";

/** The ChatServer lobby (seed 003) in two browser pages talking. */

async function join(page: Page, url: string, name: string): Promise<void> {
  await page.goto(`${url}/lobby`);
  await page.locator("#conn.ok").waitFor();
  await page.fill("#lobby-user", name);
  await page.fill("#lobby-pass", "pw-123");
  await page.locator("#auth-form button[value=register]").click();
  await page.locator("#me-name", { hasText: name }).waitFor();
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#say", text);
  await page.keyboard.press("Enter");
}

Deno.test({
  name: "pages: two people chat in the lobby",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    await using browser = await launchBrowser();
    const ann = await watchedPage(await newContext(browser));
    const bob = await watchedPage(
      await newContext(browser, { locale: "zh-CN" }),
    );
    await join(ann.page, server.url, "ann");
    await join(bob.page, server.url, "bob");

    await say(ann.page, "hello from ann");
    const heard = bob.page.locator("#log .line", { hasText: "hello from ann" });
    await heard.waitFor();
    assert.equal(await heard.locator(".who").textContent(), "ann");
    await say(bob.page, "你好，ann 👋");
    await ann.page.locator("#log .line", { hasText: "你好，ann" }).waitFor();
    await bob.page.locator("#log .line.mine", { hasText: "你好，ann" })
      .waitFor();

    // Bob's browser speaks Chinese: the page does too.
    assert.equal(
      await bob.page.getByRole("button", { name: "发送" }).isVisible(),
      true,
    );
    await screenshots(ann.page, "lobby");
    await screenshots(bob.page, "lobby-zh");
    assertClean(ann, "ann's lobby");
    assertClean(bob, "bob's lobby");
  },
});
