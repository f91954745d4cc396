import assert from "node:assert/strict";
import { newFamily } from "../_family.ts";
import { startFakeOpenAi } from "../_fake_openai.ts";
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
 * The AI path from the pages, with a fake OpenAI-compatible provider on
 * 127.0.0.1: the parent sets the toy's AI profile in the app; the child
 * holds the toy's button and asks the AI, and the spoken answer plays.
 */

Deno.test({
  name: "pages: a parent sets the toy's AI profile and the toy asks the AI",
  ...BROWSER_TEST,
  async fn() {
    await using fake = await startFakeOpenAi({
      transcripts: ["what do cats like to eat"],
      answers: ["Cats like fish and a warm place to sleep."],
    });
    await using server = await startTestServer({
      sttUrl: fake.url,
      chatUrl: fake.url,
      ttsUrl: fake.url,
    });
    const family = await newFamily(server);
    await using browser = await launchBrowser();

    // The app picks up a session handed over in sessionStorage, as /login does.
    const parentContext = await newContext(browser);
    await parentContext.addInitScript((session) => {
      (globalThis as unknown as {
        sessionStorage: { setItem(k: string, v: string): void };
      }).sessionStorage.setItem("babble.session", session);
    }, JSON.stringify({ token: family.token, user_id: family.userId }));
    const parent = await watchedPage(parentContext);
    const app = parent.page;
    await app.goto(`${server.url}/app`);
    const toyRow = app.locator(`#toys li[data-toy="${family.toyId}"]`);
    await toyRow.getByRole("button", { name: "AI profile" }).click();
    await app.locator("#ai-providers", {
      hasText: "speech to text, chat, text to speech",
    }).waitFor();
    await app.getByLabel("The toy's name for itself").fill("Bear");
    await app.getByLabel("Child's age").fill("5");
    await app.getByLabel("Language", { exact: true }).selectOption("en");
    await app.getByLabel(/Topics to avoid/).fill("scary stories, news");
    await app.getByRole("button", { name: "Save" }).click();
    await app.locator("#ai-notice", { hasText: "Saved." }).waitFor();
    await app.reload();
    await toyRow.getByRole("button", { name: "AI profile" }).click();
    await app.locator("#ai-providers", { hasText: "speech to text" }).waitFor();
    assert.equal(
      await app.getByLabel("The toy's name for itself").inputValue(),
      "Bear",
    );
    assert.equal(await app.getByLabel("Child's age").inputValue(), "5");
    assert.equal(
      await app.getByLabel(/Topics to avoid/).inputValue(),
      "scary stories, news",
    );
    await screenshots(app, "app-ai-profile");

    // The child asks the AI; the spoken answer plays on the toy.
    const toy = await watchedPage(await newContext(browser));
    const sim = toy.page;
    await sim.goto(`${server.url}/toy`);
    await sim.fill("#device-key", family.deviceKey);
    await sim.getByRole("button", { name: "Switch on" }).click();
    await sim.locator("#conn", { hasText: "Connected" }).waitFor();
    await sim.locator("#friends button", { hasText: "Ask the AI" }).click();
    assert.equal(await sim.locator("#target").textContent(), "Ask the AI");
    await sim.locator("#talk").focus();
    await sim.keyboard.down("Space");
    await sim.waitForTimeout(1200);
    await sim.keyboard.up("Space");
    await sim.waitForFunction(
      () => {
        const audio = (globalThis as unknown as Dom).document.querySelector(
          "#player",
        );
        return Boolean(
          audio?.src.includes("/get_chat/") && !audio.paused &&
            audio.currentTime > 0,
        );
      },
      undefined,
      { timeout: 30_000 },
    );
    assert.equal(fake.requests.stt.length, 1, "the recording was transcribed");
    assertClean(parent, "parents' app");
    assertClean(toy, "toy simulator");
  },
});
