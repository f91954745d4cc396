// Landing page: what this server runs, and a way into every page.

import {
  ApiError,
  el,
  initPage,
  jsonRequest,
  onLangChange,
  t,
} from "./common.js";
import { icon } from "./icons.js";

initPage();

const TILES = [
  ["/toy", "toy", "tile.toy"],
  ["/app", "app", "tile.app"],
  ["/login", "qr", "tile.login"],
  ["/lobby", "lobby", "tile.lobby"],
  ["/diary", "diary", "tile.diary"],
  ["/admin", "admin", "tile.admin"],
  ["/docs", "docs", "tile.docs"],
];

let health = null;
let failure = "";

function renderTiles() {
  document.getElementById("tiles").replaceChildren(
    ...TILES.map(([href, name, key]) =>
      el("a", { className: "card tile", href }, [
        el("span", { className: "tile-icon" }, icon(name, { size: 28 })),
        el("h3", { "data-i18n": `${key}.name` }),
        el("span", { className: "muted small", "data-i18n": `${key}.about` }),
        el("span", { className: "go", "data-i18n": "landing.open" }),
      ])
    ),
  );
}

function uptime(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h) return t("landing.uptimeHours", { h, m });
  if (m) return t("landing.uptimeMinutes", { m });
  return t("landing.uptimeSeconds", { s });
}

/** Words for a value of unknown shape: a list, flags, counts or text. */
function describe(value) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.map(describe).join(", ") || "—";
  if (typeof value === "boolean") {
    return value ? t("common.yes") : t("common.no");
  }
  if (typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return "—";
    return entries.map(([k, v]) => {
      if (typeof v === "boolean") return `${k} ${v ? "✓" : "✗"}`;
      if (typeof v === "object" && v !== null) return `${k}: ${describe(v)}`;
      return `${k}: ${v}`;
    }).join(" · ");
  }
  return String(value);
}

function aiSteps(ai) {
  if (!ai || typeof ai !== "object") return describe(ai);
  const on = Object.entries(ai).filter(([, v]) => v === true).map(([k]) =>
    t(`landing.ai.${k}`)
  );
  return on.length ? on.join(", ") : t("landing.aiNone");
}

function renderStatus() {
  const pill = document.getElementById("status-pill");
  const facts = document.getElementById("facts");
  const error = document.getElementById("status-error");
  error.hidden = !failure;
  error.textContent = failure ? t("landing.unreachable", { why: failure }) : "";
  if (!health) {
    pill.className = "pill";
    pill.textContent = failure ? t("landing.down") : t("common.loading");
    facts.replaceChildren();
    return;
  }
  const ok = health.status === "ok";
  pill.className = `pill ${ok ? "ok" : "warn"}`;
  pill.replaceChildren(
    el("span", { className: "dot", "aria-hidden": "true" }),
    ok ? t("landing.ok") : t("landing.degraded"),
  );
  const rows = [];
  const add = (key, value) =>
    rows.push(el("dt", {}, t(key)), el("dd", {}, value));
  if (health.version) add("landing.version", String(health.version));
  add("landing.uptime", uptime(health.uptime_s));
  if (health.kv) {
    add(
      "landing.store",
      health.kv === "ok" ? t("landing.ok") : String(health.kv),
    );
  }
  if ("systems" in health) add("landing.systems", describe(health.systems));
  if ("ai" in health) add("landing.aiSteps", aiSteps(health.ai));
  if ("sockets" in health) add("landing.sockets", describe(health.sockets));
  facts.replaceChildren(...rows);
}

async function load() {
  try {
    health = await jsonRequest("/healthz");
    failure = "";
  } catch (err) {
    // 503 still carries the status body: show it.
    if (err instanceof ApiError && err.body?.status) {
      health = err.body;
      failure = "";
    } else {
      health = null;
      failure = err.message;
    }
  }
  renderStatus();
}

renderTiles();
renderStatus();
onLangChange(() => {
  renderTiles();
  renderStatus();
});
load();
setInterval(load, 15_000);
