import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
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
 * DiaryU in the browser on a server started with --demo: two try-out
 * users write happy diaries, see the mood and the words that decided it,
 * are matched, and chat in their pair's room.
 */

const HAPPY = "Today was wonderful! I am so happy, we laughed all day.";

async function writer(browser: Browser, url: string) {
  const watched = await watchedPage(await newContext(browser));
  const page = watched.page;
  await page.goto(`${url}/diary`);
  await page.getByRole("button", { name: "Start as a new demo user" }).click();
  await page.getByRole("heading", { name: "Today's diary" }).waitFor();
  await page.getByLabel("Title").fill("A good day");
  await page.getByLabel("What happened?").fill(HAPPY);
  await page.getByRole("button", { name: "Save and read my mood" }).click();
  await page.locator("#mood strong", { hasText: "Happy" }).waitFor();
  return watched;
}

Deno.test({
  name:
    "pages: DiaryU shows a diary's mood and its words, matches two writers, and they chat",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer({ demo: true });
    await using browser = await launchBrowser();
    const first = await writer(browser, server.url);
    const evidence = await first.page.locator("#mood mark").allTextContents();
    assert.ok(evidence.length > 0, "the words that decided are marked");
    assert.ok(
      evidence.some((w) => HAPPY.toLowerCase().includes(w.toLowerCase())),
      `evidence ${JSON.stringify(evidence)} comes from the diary`,
    );
    await first.page.locator("#pair-state", { hasText: "No match yet" })
      .waitFor();

    const second = await writer(browser, server.url);
    await second.page.locator("#mood .notice.ok").waitFor();
    await second.page.locator("#pair-form").waitFor();
    await second.page.getByLabel("Message").fill("Hi! Me too :)");
    await second.page.getByRole("button", { name: "Send", exact: true })
      .click();
    await second.page.locator("#pair-log .bubble.mine", {
      hasText: "Hi! Me too :)",
    }).waitFor();

    // The first writer finds the match on coming back and reads the line.
    await first.page.reload();
    await first.page.locator("#pair-log .bubble:not(.mine)", {
      hasText: "Hi! Me too :)",
    }).waitFor();
    await first.page.getByLabel("Message").fill("Hello partner");
    await first.page.keyboard.press("Enter");
    await second.page.locator("#pair-log .bubble:not(.mine)", {
      hasText: "Hello partner",
    }).waitFor();

    await screenshots(first.page, "diary");
    assertClean(first, "first writer");
    assertClean(second, "second writer");
  },
});
