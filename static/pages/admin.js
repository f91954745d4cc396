// Admin page: reached through the setup link (`/admin#token=…`); the token
// moves from the address bar into this tab's sessionStorage at once.

import {
  ApiError,
  el,
  initPage,
  jsonRequest,
  notice,
  onLangChange,
  t,
  uploadForm,
} from "./common.js";

initPage();

const TOKEN_KEY = "babble.admin";
const $ = (id) => document.getElementById(id);

/** Takes a token from the fragment, then removes it from the address bar. */
function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** An admin API call; returns `data` of the smart-toy envelope. */
async function admin(path, options = {}) {
  const reply = await jsonRequest(path, { ...options, token: token() });
  if (reply.code !== undefined && reply.code !== 0) {
    throw new ApiError(reply.msg, { status: 200, code: reply.code });
  }
  return reply.data ?? reply;
}

function showConsole(on) {
  $("console").hidden = !on;
  $("signout").hidden = !on;
  $("signin").hidden = on;
}

async function verify() {
  if (!token()) {
    showConsole(false);
    return;
  }
  try {
    await admin("/admin/check");
    showConsole(true);
    loadDevices(true);
    loadHealth();
  } catch (err) {
    showConsole(false);
    if (err.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    notice(
      $("signin-notice"),
      err.status === 401
        ? t("admin.refused")
        : err.status === 403
        ? t("admin.off")
        : err.message,
      "bad",
    );
  }
}

$("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("admin-token").value.trim());
  $("admin-token").value = "";
  notice($("signin-notice"), "");
  verify();
});

$("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showConsole(false);
  notice($("signin-notice"), t("admin.signedOut"), "ok");
});

// Minting and the printable sheet.

function qrFigure(key) {
  return el("figure", {}, [
    el("img", {
      src: `/get_qr/${key}.png`,
      alt: t("admin.qrOf", { key }),
      width: 300,
      height: 300,
    }),
    el("figcaption", {}, key),
  ]);
}

$("mint-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const count = Number($("mint-count").value);
  const button = e.submitter;
  button.disabled = true;
  try {
    const { keys } = await admin("/admin/devices", {
      method: "POST",
      body: { count },
    });
    $("sheet").replaceChildren(...keys.map(qrFigure));
    $("sheet-card").hidden = false;
    notice($("mint-notice"), t("admin.minted", { n: keys.length }), "ok");
    loadDevices(true);
  } catch (err) {
    notice($("mint-notice"), err.message, "bad");
  } finally {
    button.disabled = false;
  }
});

$("print").addEventListener("click", () => print());

// Device listing.

let cursor = null;

function deviceRow(device) {
  const bound = Boolean(device.toy_id);
  return el("li", { className: "item" }, [
    el("div", { className: "grow" }, [
      el("div", { className: "mono" }, device.device_key),
      el("span", {
        className: `pill ${bound ? "ok" : ""}`,
      }, bound ? t("admin.bound") : t("admin.free")),
    ]),
    el("a", {
      className: "button secondary small",
      href: `/get_qr/${device.device_key}.png`,
      target: "_blank",
      rel: "noopener",
      "data-i18n": "admin.qr",
    }),
    el("a", {
      className: "button small",
      href: `/toy#key=${device.device_key}`,
      "data-i18n": "admin.simulate",
    }),
  ]);
}

async function loadDevices(fresh) {
  try {
    const params = new URLSearchParams({ limit: "50" });
    if (!fresh && cursor) params.set("cursor", cursor);
    const data = await admin(`/admin/devices?${params}`);
    const devices = data.devices ?? data;
    cursor = data.cursor ?? null;
    const rows = devices.map(deviceRow);
    if (fresh) $("devices").replaceChildren(...rows);
    else $("devices").append(...rows);
    $("devices-more").hidden = !cursor;
    notice(
      $("devices-notice"),
      $("devices").children.length ? "" : t("admin.noDevices"),
    );
  } catch (err) {
    notice($("devices-notice"), err.message, "bad");
  }
}

$("devices-refresh").addEventListener("click", () => loadDevices(true));
$("devices-more").addEventListener("click", () => loadDevices(false));

// Content upload.

$("content-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData();
  form.append("title", $("content-name").value.trim());
  form.append("audio", $("content-audio").files[0]);
  const cover = $("content-cover").files[0];
  if (cover) form.append("cover", cover);
  const aliases = $("content-aliases").value.trim();
  if (aliases) form.append("aliases", aliases);
  const progress = $("content-progress");
  progress.hidden = false;
  progress.value = 0;
  const button = e.submitter;
  button.disabled = true;
  try {
    const reply = await uploadForm("/admin/content", form, {
      token: token(),
      onProgress: (p) => (progress.value = p),
    });
    if (reply.code !== undefined && reply.code !== 0) {
      throw new ApiError(reply.msg);
    }
    notice($("content-notice"), t("admin.uploaded"), "ok");
    e.target.reset();
  } catch (err) {
    notice($("content-notice"), err.message, "bad");
  } finally {
    button.disabled = false;
    progress.hidden = true;
  }
});

// Health and a few live figures from /metrics.

let lastHealth = null;
let lastFigures = [];

/** Sums Prometheus samples by metric name. */
function sumMetrics(text) {
  const sums = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (!Number.isFinite(value)) continue;
    sums.set(match[1], (sums.get(match[1]) ?? 0) + value);
  }
  return sums;
}

const FIGURES = [
  // Every kind of socket (toys and apps, lobby, DiaryU rooms) together.
  ["babble_open_sockets", "admin.fig.sockets"],
  ["babble_http_responses_total", "admin.fig.requests"],
  ["babble_voice_messages_total", "admin.fig.voice"],
  ["babble_qr_logins_total", "admin.fig.qr"],
  ["babble_transcode_busy", "admin.fig.busy"],
  ["babble_transcode_queued", "admin.fig.queued"],
];

function renderHealth() {
  const pill = $("health-pill");
  const rows = [];
  if (lastHealth) {
    const ok = lastHealth.status === "ok";
    pill.className = `pill ${ok ? "ok" : "warn"}`;
    pill.textContent = ok ? t("landing.ok") : t("landing.degraded");
    if (lastHealth.version) {
      rows.push(
        el("dt", {}, t("landing.version")),
        el("dd", {}, lastHealth.version),
      );
    }
    rows.push(
      el("dt", {}, t("landing.uptime")),
      el("dd", {}, `${lastHealth.uptime_s ?? 0} s`),
    );
  }
  for (const [label, value] of lastFigures) {
    rows.push(el("dt", {}, t(label)), el("dd", {}, String(value)));
  }
  $("health-facts").replaceChildren(...rows);
}

async function loadHealth() {
  if ($("console").hidden) return;
  try {
    lastHealth = await jsonRequest("/healthz").catch((err) => err.body ?? null);
    const res = await fetch("/metrics");
    const sums = sumMetrics(await res.text());
    lastFigures = FIGURES.filter(([name]) => sums.has(name)).map((
      [name, label],
    ) => [label, sums.get(name)]);
  } catch {
    lastHealth = null;
  }
  renderHealth();
}

setInterval(loadHealth, 10_000);
onLangChange(() => {
  renderHealth();
  for (const img of $("sheet").querySelectorAll("img")) {
    img.alt = t("admin.qrOf", { key: img.nextSibling?.textContent ?? "" });
  }
});

tokenFromFragment();
verify();
