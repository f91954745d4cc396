import assert from "node:assert/strict";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Page,
} from "playwright-core";

/**
 * Browser helpers for the page tests: Debian's Chromium driven by
 * playwright-core (never a downloaded browser), with fake microphone and
 * camera so MediaRecorder works headless; pages watched for console
 * errors, uncaught exceptions and failed requests; screenshots saved as
 * artefacts under tests/pages/screenshots/.
 */

/** Where Debian installs Chromium (`apt-get install chromium`). */
export const CHROMIUM = Deno.env.get("BABBLE_CHROMIUM") ?? "/usr/bin/chromium";

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
];

/** Test options for browser tests: playwright keeps pipes and timers of its own. */
export const BROWSER_TEST = { sanitizeOps: false, sanitizeResources: false };

/** Launches headless Chromium; `await using` closes it. */
export async function launchBrowser(): Promise<Browser & AsyncDisposable> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ARGS,
  });
  return Object.assign(browser, {
    [Symbol.asyncDispose]: () => browser.close(),
  });
}

/** A desktop-sized context in `locale`, microphone allowed. */
export function newContext(
  browser: Browser,
  { locale = "en-US" }: { locale?: string } = {},
): Promise<BrowserContext> {
  return browser.newContext({
    viewport: DESKTOP,
    locale,
    permissions: ["microphone"],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A page and everything that went wrong on it. */
export interface WatchedPage {
  page: Page;
  problems: string[];
}

/**
 * Opens a page that records console errors, uncaught exceptions, failed
 * requests and HTTP error replies (requests the page itself cancelled,
 * such as an audio source it replaced, are not failures).
 */
export async function watchedPage(
  context: BrowserContext,
  { allow = [] }: { allow?: RegExp[] } = {},
): Promise<WatchedPage> {
  const page = await context.newPage();
  const problems: string[] = [];
  const allowed = (text: string) => allow.some((re) => re.test(text));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = `console: ${msg.text()} (${msg.location().url})`;
    if (!allowed(text)) problems.push(text);
  });
  page.on("pageerror", (err) => problems.push(`exception: ${err.message}`));
  page.on("requestfailed", (req) => {
    const why = req.failure()?.errorText ?? "";
    if (why.includes("ERR_ABORTED")) return;
    const text = `request failed: ${req.method()} ${req.url()} ${why}`;
    if (!allowed(text)) problems.push(text);
  });
  page.on("response", (res) => {
    if (res.status() < 400) return;
    const text = `HTTP ${res.status()}: ${res.request().method()} ${res.url()}`;
    if (!allowed(text)) problems.push(text);
  });
  return { page, problems };
}

/**
 * The little of the browser's DOM the tests read inside `page.evaluate`
 * (Deno type-checks tests without lib.dom): cast `globalThis` to it.
 */
export interface Dom {
  document: {
    documentElement: { scrollWidth: number; clientWidth: number };
    querySelector(selector: string): DomAudio | null;
    querySelectorAll(selector: string): Iterable<{ naturalWidth: number }>;
  };
  sessionStorage: { getItem(key: string): string | null };
  scrollTo(x: number, y: number): void;
}

/** An <audio> element, as the tests read it. */
export interface DomAudio {
  src: string;
  paused: boolean;
  currentTime: number;
}

/** Fails when anything went wrong on the watched page. */
export function assertClean(watched: WatchedPage, what: string): void {
  assert.deepEqual(watched.problems, [], `${what}: problems on the page`);
}

const SHOTS = new URL("./screenshots/", import.meta.url);

/**
 * Saves full-page screenshots of `page` at desktop and phone sizes
 * (`<name>-desktop.png`, `<name>-phone.png`); the page is left at desktop
 * size. Phone-sized pages must not scroll sideways.
 */
export async function screenshots(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SHOTS, { recursive: true });
  await page.setViewportSize(DESKTOP);
  // From the top, so the sticky bar sits where a reader expects it.
  await page.evaluate(() => (globalThis as unknown as Dom).scrollTo(0, 0));
  await page.screenshot({
    path: new URL(`${name}-desktop.png`, SHOTS).pathname,
    fullPage: true,
  });
  await page.setViewportSize(PHONE);
  await page.evaluate(() => (globalThis as unknown as Dom).scrollTo(0, 0));
  const overflow = await page.evaluate(() => {
    const root = (globalThis as unknown as Dom).document.documentElement;
    return root.scrollWidth - root.clientWidth;
  });
  assert.ok(
    overflow <= 1,
    `${name}: scrolls sideways by ${overflow}px on a phone`,
  );
  await page.screenshot({
    path: new URL(`${name}-phone.png`, SHOTS).pathname,
    fullPage: true,
  });
  await page.setViewportSize(DESKTOP);
}
