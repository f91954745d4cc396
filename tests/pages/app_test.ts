import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Browser } from "playwright-core";
import { mintDevices } from "../../domain/smart_toy/devices.ts";
import { type Family, newFamily } from "../_family.ts";
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
 * The parents' app beyond chatting: binding from a photo of the toy's QR
 * code (decoded in the page by jsQR), friend requests between families'
 * toys (sent, accepted, refused), and unbinding.
 */

/** The app signed in as `family`'s parent (the session /login hands over). */
async function appOf(browser: Browser, url: string, family: Family) {
  const context = await newContext(browser);
  await context.addInitScript((session) => {
    (globalThis as unknown as {
      sessionStorage: { setItem(k: string, v: string): void };
    }).sessionStorage.setItem("babble.session", session);
  }, JSON.stringify({ token: family.token, user_id: family.userId }));
  const watched = await watchedPage(context);
  await watched.page.goto(`${url}/app`);
  await watched.page.locator("#conn", { hasText: "Connected" }).waitFor();
  return watched;
}

Deno.test({
  name:
    "pages: the app binds a toy from a photo of its QR code, handles friend requests and unbinds",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    const [a, b, c] = [
      await newFamily(server),
      await newFamily(server),
      await newFamily(server),
    ];
    await using browser = await launchBrowser();
    const parentA = await appOf(browser, server.url, a);
    const app = parentA.page;

    // A photo of a new device's QR code fills in its key.
    const [key] = await mintDevices(server.kv, 1);
    const png = await (await fetch(`${server.url}/get_qr/${key}.png`)).bytes();
    await app.locator("#panel-toys").getByLabel("…or a photo of the QR code", {
      exact: true,
    })
      .setInputFiles({
        name: "toy-qr.png",
        mimeType: "image/png",
        buffer: Buffer.from(png),
      });
    await app.locator("#bind-notice", { hasText: "Read the code" }).waitFor();
    assert.equal(await app.locator("#bind-key").inputValue(), key);
    await app.getByRole("button", { name: "Check" }).click();
    await app.getByLabel("Toy's name", { exact: true }).fill("Robo");
    await app.getByLabel("Child's name", { exact: true }).fill("Max");
    await app.getByLabel("What the child calls you", { exact: true }).fill(
      "Papa",
    );
    await app.getByRole("button", { name: "Bind", exact: true }).click();
    await app.locator("#toys li", { hasText: "Robo" }).waitFor();

    // A's first toy asks B's toy to be friends; C's toy asks too.
    await app.getByRole("tab", { name: "Requests" }).click();
    await app.getByLabel("Your toy", { exact: true }).selectOption(a.toyId);
    await app.getByLabel("Their toy's id", { exact: true }).fill(b.toyId);
    await app.getByLabel("A note for them", { exact: true }).fill(
      "Let's be friends!",
    );
    await app.getByRole("button", { name: "Send request" }).click();
    await app.locator("#req-notice", { hasText: "Request sent." }).waitFor();
    const fromC = await fetch(`${server.url}/add_req`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${c.token}`,
      },
      body: JSON.stringify({ req_user: c.toyId, add_user: b.toyId }),
    });
    assert.equal(fromC.status, 200);
    await fromC.body?.cancel();

    // B's parent accepts A's request and refuses C's.
    const parentB = await appOf(browser, server.url, b);
    const appB = parentB.page;
    await appB.getByRole("tab", { name: "Requests" }).click();
    const fromA = appB.locator("#inbox li", { hasText: "Let's be friends!" });
    await fromA.getByRole("button", { name: "Accept" }).click();
    await fromA.locator(".pill", { hasText: "accepted" }).waitFor();
    const other = appB.locator("#inbox li").filter({
      has: appB.getByRole("button", { name: "Refuse" }),
    });
    await other.getByRole("button", { name: "Refuse" }).click();
    await appB.locator("#inbox .pill", { hasText: "refused" }).waitFor();
    await screenshots(appB, "app-requests");

    // A's toy now has B's toy as a friend.
    const friends = await fetch(`${server.url}/friend_list`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${a.token}`,
      },
      body: JSON.stringify({ _id: a.toyId }),
    }).then((res) => res.json());
    assert.ok(
      friends.data.some((f: { friend_id: string }) => f.friend_id === b.toyId),
      "the toys are friends",
    );

    // Unbinding asks twice, then the toy is gone.
    await app.getByRole("tab", { name: "Toys" }).click();
    const robo = app.locator("#toys li", { hasText: "Robo" });
    await robo.getByRole("button", { name: "Unbind" }).click();
    await robo.getByRole("button", { name: "Really unbind?" }).click();
    await robo.waitFor({ state: "detached" });
    assert.equal(await app.locator("#toys li").count(), 1);
    await screenshots(app, "app-toys");
    assertClean(parentA, "A's app");
    assertClean(parentB, "B's app");
  },
});
