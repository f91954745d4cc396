import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { mintDevices } from "../../domain/smart_toy/devices.ts";
import { startTestServer } from "../_server.ts";
import {
  assertClean,
  BROWSER_TEST,
  type Dom,
  launchBrowser,
  newContext,
  screenshots,
  watchedPage,
} from "./_browser.ts";

/**
 * The parents' app and the toy simulator in two browser contexts, as a
 * family would use them: register, bind, push a song, voice messages both
 * ways (recorded by MediaRecorder from Chromium's fake microphone).
 */

/** Holds the page's talk button with the keyboard for `ms`, then lets go. */
async function holdToTalk(page: Page, ms = 1500): Promise<void> {
  await page.locator("#talk").focus();
  await page.keyboard.down("Space");
  await page.waitForTimeout(ms);
  await page.keyboard.up("Space");
}

/** Waits until the toy's <audio> plays a file whose URL contains `part`. */
async function waitPlaying(page: Page, part: string): Promise<void> {
  await page.waitForFunction(
    (part) => {
      const dom = globalThis as unknown as Dom;
      const audio = dom.document.querySelector("#player");
      return Boolean(
        audio?.src.includes(part) && !audio.paused && audio.currentTime > 0,
      );
    },
    part,
    { timeout: 30_000 },
  );
}

Deno.test({
  name:
    "pages: a parent binds a toy, pushes a song and trades voice messages with it",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    const [deviceKey] = await mintDevices(server.kv, 1);
    await using browser = await launchBrowser();
    const parent = await watchedPage(await newContext(browser));
    const toy = await watchedPage(await newContext(browser));
    const app = parent.page;
    const sim = toy.page;

    // Register: the app signs in at once.
    await app.goto(`${server.url}/app`);
    await app.fill("#reg-user", "mum");
    await app.fill("#reg-pass", "secret-pass-1");
    await app.fill("#reg-nick", "Mum");
    await app.getByRole("button", { name: "Register" }).click();
    await app.getByRole("heading", { name: "Hello, Mum" }).waitFor();

    // Bind the toy by its device key.
    await app.fill("#bind-key", deviceKey);
    await app.getByRole("button", { name: "Check" }).click();
    await app.fill("#bind-toy-name", "Bobo");
    await app.fill("#bind-baby", "Lily");
    await app.fill("#bind-remark", "Mum");
    await app.getByRole("button", { name: "Bind", exact: true }).click();
    await app.locator("#toys li", { hasText: "Bobo" }).waitFor();
    await app.locator("#conn", { hasText: "Connected" }).waitFor();

    // Switch the toy on: its start-up prompt plays, its socket connects.
    await sim.goto(`${server.url}/toy`);
    await sim.fill("#device-key", deviceKey);
    await sim.getByRole("button", { name: "Switch on" }).click();
    await waitPlaying(sim, "Success.mp3");
    await sim.locator("#conn", { hasText: "Connected" }).waitFor();
    assert.equal(await sim.locator("#toy-name").textContent(), "Bobo");
    const mumRow = sim.locator("#friends li", { hasText: "Mum" });
    await mumRow.waitFor();

    // Push a song from the library: the toy plays it.
    await app.getByRole("tab", { name: "Library" }).click();
    const song = app.locator("#library article").first();
    const music = await song.getAttribute("data-music");
    assert.ok(music, "the library lists content");
    await song.getByRole("button", { name: "Play on the toy" }).click();
    await waitPlaying(sim, music);

    // A voice message from the parent arrives with an unread badge.
    await app.getByRole("tab", { name: "Chats" }).click();
    await app.locator("#friends button", { hasText: "Bobo" }).click();
    await app.getByRole("heading", { name: "Chat with Bobo" }).waitFor();
    await holdToTalk(app);
    await app.locator("#chat-notice", { hasText: "Sent." }).waitFor({
      timeout: 30_000,
    });
    assert.equal(await app.locator("#chat-log .bubble.mine").count(), 1);
    await mumRow.locator(".badge", { hasText: "1" }).waitFor();

    // The toy plays it after the song (skipped here), then answers.
    await mumRow.getByRole("button", { name: "Play" }).click();
    await sim.locator("#queue", { hasText: "Next: message from Mum" })
      .waitFor();
    await sim.getByRole("button", { name: "Skip" }).click();
    await waitPlaying(sim, "/get_chat/");
    assert.equal(await mumRow.locator(".badge").count(), 0);
    assert.equal(await sim.locator("#target").textContent(), "Mum");
    await holdToTalk(sim);
    await sim.locator("#send-notice", { hasText: "Sent to Mum." }).waitFor({
      timeout: 30_000,
    });

    // The parent, with the chat open, sees the toy's answer arrive.
    const answer = app.locator("#chat-log .bubble:not(.mine)");
    await answer.waitFor({ timeout: 15_000 });
    assert.match(await answer.locator(".meta").textContent() ?? "", /^Bobo/);
    assert.match(
      await answer.locator("audio").getAttribute("src") ?? "",
      /^\/get_chat\/[0-9a-f]+\.mp3$/,
    );

    await screenshots(app, "app-chat");
    await screenshots(sim, "toy-playing");
    assertClean(parent, "parents' app");
    assertClean(toy, "toy simulator");
  },
});
