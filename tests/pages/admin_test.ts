import assert from "node:assert/strict";
import {
  adminSetupLink,
  ensureAdminToken,
} from "../../domain/platform/admin_token.ts";
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
 * The admin page through the first-run setup link: the token leaves the
 * address bar, minted keys show as QR codes, content uploads; a wrong
 * token is refused.
 */

/** The setup link `serve` prints, pointed at the test server's address. */
function setupLink(server: { url: string; port: number }, token: string) {
  const link = new URL(adminSetupLink(server.port, token));
  return `${server.url}${link.pathname}${link.hash}`;
}

Deno.test({
  name:
    "pages: the admin setup link mints keys shown as QR codes and uploads content",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    const token = await ensureAdminToken(server.kv);
    assert.ok(token);
    await using browser = await launchBrowser();
    const admin = await watchedPage(await newContext(browser));
    const page = admin.page;
    await page.goto(setupLink(server, token));
    await page.getByRole("heading", { name: "Mint device keys" }).waitFor();
    assert.equal(
      new URL(page.url()).hash,
      "",
      "the token left the address bar",
    );

    await page.getByLabel("How many").fill("3");
    await page.getByRole("button", { name: "Mint", exact: true }).click();
    const codes = page.locator("#sheet figure img");
    await page.locator("#mint-notice", { hasText: "3 new keys" }).waitFor();
    assert.equal(await codes.count(), 3);
    await page.waitForFunction(() => {
      const dom = globalThis as unknown as Dom;
      const images = [...dom.document.querySelectorAll("#sheet img")];
      return images.length === 3 && images.every((i) => i.naturalWidth > 0);
    });
    const key = await page.locator("#sheet figcaption").first().textContent();
    assert.match(key ?? "", /^[0-9a-f]{32}$/);
    await page.locator("#devices li", { hasText: key ?? "" }).waitFor();

    // Content: audio + cover + title, then it is in the library.
    const title = "Admin Test Song";
    await page.getByLabel("Title").fill(title);
    await page.getByLabel("Audio").setInputFiles(
      new URL("../../static/content/twinkle_star.mp3", import.meta.url)
        .pathname,
    );
    await page.getByLabel("Cover picture (PNG or JPEG)").setInputFiles(
      new URL("../../static/content/twinkle_star.jpg", import.meta.url)
        .pathname,
    );
    await page.getByRole("button", { name: "Upload" }).click();
    await page.locator("#content-notice", { hasText: "Added to the library." })
      .waitFor({ timeout: 30_000 });
    const library = await fetch(`${server.url}/content_list`, {
      method: "POST",
    }).then((res) => res.json());
    assert.ok(
      library.data.some((item: { title: string }) => item.title === title),
      "the upload is in the library",
    );

    await page.locator("#health-pill.ok").waitFor();
    assert.equal(
      await page.evaluate(() =>
        (globalThis as unknown as Dom).sessionStorage.getItem("babble.admin")
      ),
      token,
    );
    await screenshots(page, "admin");
    assertClean(admin, "admin page");
  },
});

Deno.test({
  name: "pages: the admin page refuses a wrong token",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    await ensureAdminToken(server.kv);
    await using browser = await launchBrowser();
    const admin = await watchedPage(await newContext(browser), {
      allow: [/HTTP 401: GET .*\/admin\/check/, /status of 401/],
    });
    const page = admin.page;
    await page.goto(setupLink(server, "not-the-admin-token-0123456789"));
    await page.getByText("That admin token was refused.").waitFor();
    assert.equal(await page.locator("#console").isVisible(), false);
    assert.equal(
      await page.getByRole("heading", { name: "Sign in as the operator" })
        .isVisible(),
      true,
    );
    await screenshots(page, "admin-refused");
    assertClean(admin, "admin page");
  },
});
