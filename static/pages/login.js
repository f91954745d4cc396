// QR-code login (seed 004): the page gets a one-time key over a socket and
// shows it as a QR code; the signed-in app scans and confirms; the token
// arrives here and is handed to /app through sessionStorage.

import { initPage, onLangChange, t, wsUrl } from "./common.js";

initPage();

const $ = (id) => document.getElementById(id);

let socket = null;
let phase = "connecting";
let expiresAt = 0;
let tick;
let failure = "";

/** What the page says in each phase, and how it looks. */
const PHASES = {
  connecting: ["login.connecting", ""],
  waiting: ["login.waiting", ""],
  scanned: ["login.scanned", "ok"],
  done: ["login.done", "ok"],
  expired: ["login.expired", "warn"],
  cancelled: ["login.cancelled", "warn"],
  error: ["login.error", "bad"],
};

function render() {
  const [key, kind] = PHASES[phase];
  const box = $("state");
  box.className = `notice ${kind}`;
  box.textContent = phase === "error" && failure
    ? `${t(key)} ${failure}`
    : t(key);
  const ended = ["expired", "cancelled", "error"].includes(phase);
  $("renew").hidden = !ended;
  document.querySelector(".qr-box").classList.toggle("dim", ended);
  $("qr").alt = t("login.qrAlt");
  renderCountdown();
}

function renderCountdown() {
  const live = phase === "waiting" || phase === "scanned";
  const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
  $("countdown").textContent = live && expiresAt
    ? t("login.expiresIn", {
      time: `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`,
    })
    : "";
}

function setPhase(next, why = "") {
  phase = next;
  failure = why;
  if (!["waiting", "scanned"].includes(next)) clearInterval(tick);
  render();
}

function start() {
  socket?.close();
  clearInterval(tick);
  expiresAt = 0;
  $("key").textContent = "";
  setPhase("connecting");
  const ws = new WebSocket(wsUrl("/qr_login"));
  socket = ws;
  ws.onmessage = (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    onFrame(frame);
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    if (["connecting", "waiting", "scanned"].includes(phase)) {
      setPhase("error", t("login.lost"));
    }
  };
}

function onFrame(frame) {
  switch (frame.type) {
    case "key": {
      $("qr").src = frame.qr;
      $("qr").hidden = false;
      $("key").textContent = frame.key;
      expiresAt = Date.now() + Number(frame.expires_in ?? 120) * 1000;
      setPhase("waiting");
      tick = setInterval(renderCountdown, 1000);
      break;
    }
    case "scanned":
      setPhase("scanned");
      break;
    case "token": {
      sessionStorage.setItem(
        "babble.session",
        JSON.stringify({ token: frame.token, user_id: frame.user_id ?? null }),
      );
      setPhase("done");
      location.assign("/app");
      break;
    }
    case "expired":
      setPhase("expired");
      break;
    case "cancelled":
      setPhase("cancelled");
      break;
    case "error":
      setPhase("error", frame.msg ?? "");
      break;
  }
}

$("renew").addEventListener("click", start);
onLangChange(render);
start();
