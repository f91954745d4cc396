// What every Babble page shares: the top bar, Chinese/English strings,
// calls to the API in its contracts' shapes, sockets that reconnect, an
// audio queue and hold-to-talk recording. Plain ES module, no build step.

import { STRINGS } from "./i18n.js";

const LANG_KEY = "babble.lang";

/** The page language: the saved choice, else the browser's. */
function initialLang() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "zh" || saved === "en") return saved;
  const wanted = navigator.languages?.length
    ? navigator.languages
    : [navigator.language];
  return wanted.some((l) => String(l).toLowerCase().startsWith("zh"))
    ? "zh"
    : "en";
}

let lang = initialLang();
const langListeners = [];

/** The current language, "zh" or "en". */
export function currentLang() {
  return lang;
}

/** A string in the current language, with `{name}` placeholders filled. */
export function t(key, vars = {}) {
  const text = STRINGS[lang]?.[key] ?? STRINGS.en[key] ?? key;
  return text.replace(
    /\{(\w+)\}/g,
    (_, name) => String(vars[name] ?? ""),
  );
}

/** Fills every `data-i18n*` element under `root` in the current language. */
export function translate(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const attr of ["placeholder", "aria-label", "title"]) {
    for (const node of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      node.setAttribute(attr, t(node.getAttribute(`data-i18n-${attr}`)));
    }
  }
}

/** Switches the language, remembers it, and re-renders. */
export function setLang(next) {
  lang = next === "zh" ? "zh" : "en";
  localStorage.setItem(LANG_KEY, lang);
  applyLang();
  for (const listener of langListeners) listener(lang);
}

/** Calls `fn` after every language switch (to re-render dynamic parts). */
export function onLangChange(fn) {
  langListeners.push(fn);
}

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = `${t(title.dataset.i18n)} · Babble`;
  translate();
  const button = document.getElementById("lang-switch");
  if (button) {
    button.textContent = lang === "zh" ? "English" : "中文";
    button.setAttribute("aria-label", t("common.switchLang"));
  }
}

const NAV = [
  ["/", "nav.home"],
  ["/toy", "nav.toy"],
  ["/app", "nav.app"],
  ["/login", "nav.login"],
  ["/lobby", "nav.lobby"],
  ["/diary", "nav.diary"],
  ["/admin", "nav.admin"],
  ["/docs", "nav.docs"],
];

/** Builds the top bar, applies the language; call once per page. */
export function initPage() {
  const top = document.getElementById("top");
  if (top) {
    top.className = "topbar";
    top.replaceChildren(
      el("a", { className: "brand", href: "/" }, [
        el("img", { src: "/assets/icon.svg", alt: "", width: 28, height: 28 }),
        "Babble",
      ]),
      el(
        "nav",
        { className: "nav", "data-i18n-aria-label": "nav.label" },
        NAV.map(([href, key]) =>
          el("a", {
            href,
            "data-i18n": key,
            ...(href === location.pathname ? { "aria-current": "page" } : {}),
          })
        ),
      ),
      el("button", {
        id: "lang-switch",
        type: "button",
        className: "lang-switch",
        onclick: () => setLang(lang === "zh" ? "en" : "zh"),
      }),
    );
  }
  if (!document.querySelector(".toasts")) {
    document.body.append(
      el("div", { className: "toasts", role: "status", "aria-live": "polite" }),
    );
  }
  applyLang();
}

/**
 * Creates an element: `props` are properties (`className`, `onclick`, ...)
 * or, when they contain a dash, attributes; `children` strings or nodes.
 */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.includes("-") || key === "role" || key === "for") {
      node.setAttribute(key, value === true ? "" : String(value));
    } else node[key] = value;
  }
  if (props["data-i18n"]) node.textContent = t(props["data-i18n"]);
  for (const attr of ["placeholder", "aria-label", "title"]) {
    const key = props[`data-i18n-${attr}`];
    if (key) node.setAttribute(attr, t(key));
  }
  for (const child of [children].flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Shows a short message at the bottom of the page. */
export function toast(text, kind = "") {
  const box = document.querySelector(".toasts");
  if (!box) return;
  const node = el("div", { className: `toast ${kind}` }, text);
  box.append(node);
  setTimeout(() => node.remove(), kind === "bad" ? 6000 : 3500);
}

/** Shows `text` in a notice element (or hides it when empty). */
export function notice(node, text, kind = "") {
  node.hidden = !text;
  node.textContent = text ?? "";
  node.className = `notice ${kind}`;
}

/** An error reply from the server, with the contract's message. */
export class ApiError extends Error {
  constructor(message, { status = 0, code, body } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

function authHeaders(token) {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function replyOf(res) {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(t("common.badReply", { status: res.status }), {
      status: res.status,
    });
  }
}

function messageOf(body, res) {
  if (body && typeof body === "object") {
    const m = body.msg ?? body.message ?? body.data?.errmsg ?? body.data?.msg;
    if (typeof m === "string" && m) return m;
  }
  return `${res.status} ${res.statusText}`;
}

/**
 * POSTs a JSON body to a smart-toy route and returns the whole envelope
 * `{code, msg, data}` (or a bare reply): business codes 1 and 2 are
 * answers, not errors. HTTP errors throw ApiError with the server's message.
 */
export async function toyCall(path, body = {}, token) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeaders(token) },
    body: JSON.stringify(body),
  });
  const reply = await replyOf(res);
  if (!res.ok) {
    throw new ApiError(messageOf(reply, res), {
      status: res.status,
      code: reply?.code,
      body: reply,
    });
  }
  return reply;
}

/** Like `toyCall`, but only code 0 is success; returns `data`. */
export async function toyApi(path, body = {}, token) {
  const reply = await toyCall(path, body, token);
  if (Array.isArray(reply) || !("code" in reply)) return reply;
  if (reply.code !== 0) {
    throw new ApiError(reply.msg || `code ${reply.code}`, {
      status: 200,
      code: reply.code,
      body: reply,
    });
  }
  return reply.data;
}

/** A JSON request with any body and method; throws ApiError on HTTP errors. */
export async function jsonRequest(
  path,
  { method = "GET", body, token, form = false } = {},
) {
  const headers = authHeaders(token);
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined && form) {
    payload = new URLSearchParams(body);
  } else if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload });
  const reply = await replyOf(res);
  if (!res.ok) {
    throw new ApiError(messageOf(reply, res), {
      status: res.status,
      body: reply,
    });
  }
  return reply;
}

/**
 * POSTs a multipart form with upload progress (`onProgress(0..1)`);
 * resolves the parsed JSON reply, throws ApiError on HTTP errors.
 */
export function uploadForm(path, form, { token, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    if (token) xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress?.(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new ApiError(t("common.offline")));
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch { /* not JSON: reported below */ }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        onProgress?.(1);
        resolve(body);
        return;
      }
      const msg = body?.msg ?? body?.message ??
        t("common.badReply", { status: xhr.status });
      reject(new ApiError(msg, { status: xhr.status, body }));
    };
    xhr.send(form);
  });
}

let apiDoc;
let apiPaths;

/** This server's /openapi.json (fetched once; `{}` when unavailable). */
export function serverDoc() {
  apiDoc ??= jsonRequest("/openapi.json").catch(() => ({}));
  return apiDoc;
}

/**
 * The set of "METHOD path" this server documents in /openapi.json, so a
 * page offers only what exists (the AI path and DiaryU may be absent).
 */
export function serverRoutes() {
  apiPaths ??= serverDoc().then((doc) => {
    const found = new Set();
    for (const [path, ops] of Object.entries(doc.paths ?? {})) {
      for (const method of Object.keys(ops)) {
        found.add(`${method.toUpperCase()} ${path}`);
      }
    }
    for (const ws of websocketsOf(doc)) found.add(`WS ${ws.path}`);
    return found;
  });
  return apiPaths;
}

/**
 * The WebSocket endpoints an OpenAPI document lists in `x-websockets`
 * (a list of objects with `path`, or an object keyed by path).
 */
export function websocketsOf(doc) {
  const listed = doc?.["x-websockets"];
  if (Array.isArray(listed)) {
    return listed.filter((ws) => typeof ws?.path === "string");
  }
  if (listed && typeof listed === "object") {
    return Object.entries(listed).map(([path, info]) => ({
      ...(typeof info === "object" ? info : { description: String(info) }),
      path,
    }));
  }
  return [];
}

/** The ws:// or wss:// URL of a path on this host. */
export function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/** Close codes after which reconnecting cannot help (signed out, refused). */
const FINAL_CLOSE = new Set([1008, 4001, 4003, 4008, 4401, 4403]);

/**
 * A WebSocket that reconnects with backoff until closed or refused.
 * `path()` is called before each attempt (to resume from a position).
 */
export function connectSocket(path, { onFrame, onState } = {}) {
  let ws;
  let stopped = false;
  let delay = 500;
  let timer;
  function open() {
    ws = new WebSocket(wsUrl(typeof path === "function" ? path() : path));
    onState?.("connecting");
    ws.onopen = () => {
      delay = 500;
      onState?.("open");
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      onFrame?.(frame);
    };
    ws.onclose = (event) => {
      if (stopped) return;
      if (FINAL_CLOSE.has(event.code)) {
        onState?.("refused", event);
        return;
      }
      onState?.("closed", event);
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  }
  open();
  return {
    send(frame) {
      if (ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(frame));
      return true;
    },
    get open() {
      return ws.readyState === WebSocket.OPEN;
    },
    close() {
      stopped = true;
      clearTimeout(timer);
      ws.close();
    },
  };
}

/**
 * Plays audio URLs one after another on one <audio> element, in the order
 * they were added. `onChange` hears what plays and what waits.
 */
export class AudioQueue {
  constructor(audio, onChange = () => {}) {
    this.audio = audio;
    this.waiting = [];
    this.current = null;
    this.blocked = false;
    this.onChange = onChange;
    audio.addEventListener("ended", () => this.next());
    audio.addEventListener("error", () => {
      // Only a failure of what is playing now moves the queue on.
      if (
        !this.current ||
        audio.src !== new URL(this.current.url, location.href).href
      ) return;
      toast(t("common.audioFailed"), "bad");
      this.next();
    });
  }

  /** Queues `url`; starts it now when nothing is playing. */
  add(url, label = "") {
    this.waiting.push({ url, label });
    if (!this.current) this.next();
    else this.onChange(this);
  }

  /** Skips to the next item. */
  next() {
    this.current = this.waiting.shift() ?? null;
    this.blocked = false;
    if (this.current) {
      this.audio.src = this.current.url;
      this.audio.play().catch(() => {
        // Autoplay refused until the user touches the page.
        this.blocked = true;
        this.onChange(this);
      });
    } else this.audio.pause();
    this.onChange(this);
  }
}

/** The first recording format this browser supports (WebM/Opus in Chrome). */
function recordingType() {
  const types = [
    "audio/webm;codecs=opus",
    "audio/webm",
    "audio/ogg;codecs=opus",
    "audio/mp4",
  ];
  return types.find((type) => MediaRecorder.isTypeSupported?.(type)) ?? "";
}

/** Longest recording; the server refuses big uploads anyway. */
const MAX_RECORDING_MS = 60_000;
/** Shorter presses are taken as a slip, not a message. */
const MIN_RECORDING_MS = 400;

/**
 * Hold-to-talk on a button: press (mouse, touch, Space or Enter) records
 * with MediaRecorder, release stops; `onRecorded(blob)` gets the audio.
 */
export class HoldToTalk {
  constructor(button, { onRecorded, onState = () => {} }) {
    this.button = button;
    this.onRecorded = onRecorded;
    this.onState = onState;
    this.recorder = null;
    this.startedAt = 0;
    this.releasedEarly = false;
    this.timer = undefined;
    button.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      button.setPointerCapture?.(e.pointerId);
      this.start();
    });
    for (const type of ["pointerup", "pointercancel"]) {
      button.addEventListener(type, () => this.stop());
    }
    button.addEventListener("keydown", (e) => {
      if ((e.key === " " || e.key === "Enter") && !e.repeat) {
        e.preventDefault();
        this.start();
      }
    });
    button.addEventListener("keyup", (e) => {
      if (e.key === " " || e.key === "Enter") {
        e.preventDefault();
        this.stop();
      }
    });
    button.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  get recording() {
    return this.recorder !== null;
  }

  async start() {
    if (this.recorder || this.button.disabled) return;
    if (!navigator.mediaDevices?.getUserMedia || !globalThis.MediaRecorder) {
      toast(t("common.noRecorder"), "bad");
      return;
    }
    this.releasedEarly = false;
    const type = recordingType();
    let stream;
    try {
      this.recorder = "starting";
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      this.recorder = null;
      toast(t("common.micDenied"), "bad");
      return;
    }
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    const chunks = [];
    recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
    recorder.onstop = () => {
      for (const track of stream.getTracks()) track.stop();
      const ms = Date.now() - this.startedAt;
      this.recorder = null;
      this.button.classList.remove("recording");
      this.onState("idle");
      if (ms < MIN_RECORDING_MS) {
        toast(t("common.holdLonger"));
        return;
      }
      const blob = new Blob(chunks, { type: recorder.mimeType || type });
      this.onRecorded(blob);
    };
    this.recorder = recorder;
    this.startedAt = Date.now();
    recorder.start();
    this.button.classList.add("recording");
    this.onState("recording");
    this.timer = setTimeout(() => this.stop(), MAX_RECORDING_MS);
    if (this.releasedEarly) this.stop();
  }

  stop() {
    clearTimeout(this.timer);
    if (this.recorder === "starting") {
      this.releasedEarly = true;
      return;
    }
    if (this.recorder?.state === "recording") this.recorder.stop();
  }
}

/** The file extension the server expects for a recording's type. */
export function recordingName(blob) {
  const type = blob.type || "";
  if (type.includes("ogg")) return "voice.ogg";
  if (type.includes("mp4")) return "voice.m4a";
  return "voice.webm";
}

/** A clock time for a Unix time in seconds. */
export function timeOf(seconds) {
  const d = new Date(seconds * 1000);
  return d.toLocaleString(currentLang() === "zh" ? "zh-CN" : "en", {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** First character of a name, for a round avatar. */
export function initial(name) {
  return (String(name || "?").trim()[0] ?? "?").toUpperCase();
}

/** Wires a tab bar: buttons with `aria-controls`; returns `select(id)`. */
export function tabs(bar, onSelect = () => {}) {
  const buttons = [...bar.querySelectorAll("[role=tab]")];
  function select(id) {
    for (const b of buttons) {
      const on = b.getAttribute("aria-controls") === id;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      document.getElementById(b.getAttribute("aria-controls")).hidden = !on;
    }
    onSelect(id);
  }
  bar.addEventListener("click", (e) => {
    const b = e.target.closest("[role=tab]");
    if (b) select(b.getAttribute("aria-controls"));
  });
  bar.addEventListener("keydown", (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0 || (e.key !== "ArrowRight" && e.key !== "ArrowLeft")) return;
    const next = buttons[
      (i + (e.key === "ArrowRight" ? 1 : -1) + buttons.length) % buttons.length
    ];
    next.focus();
    select(next.getAttribute("aria-controls"));
  });
  return select;
}

/**
 * A button that asks again before a destructive action: the first press
 * arms it, a second within 4 s runs `action`.
 */
export function confirmButton(button, armedKey, action) {
  let armedUntil = 0;
  const restKey = button.dataset.i18n;
  button.addEventListener("click", async () => {
    if (Date.now() > armedUntil) {
      armedUntil = Date.now() + 4000;
      button.classList.add("armed");
      button.textContent = t(armedKey);
      setTimeout(() => {
        if (Date.now() >= armedUntil) {
          button.classList.remove("armed");
          if (restKey) button.textContent = t(restKey);
        }
      }, 4100);
      return;
    }
    armedUntil = 0;
    button.classList.remove("armed");
    await action();
  });
}

/** Shows a socket's state ("open", "refused", else connecting) in a pill. */
export function connectionPill(pill, conn) {
  const on = conn === "open";
  pill.className = `pill ${on ? "ok" : conn === "refused" ? "bad" : "warn"}`;
  pill.replaceChildren(
    el("span", { className: "dot", "aria-hidden": "true" }),
    t(
      on
        ? "common.online"
        : conn === "refused"
        ? "common.refused"
        : "common.connecting",
    ),
  );
}
