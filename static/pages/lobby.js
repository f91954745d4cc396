// The ChatServer lobby (seed 003) in a browser, over its socket API:
// register, login, chat and heartbeat frames on ws /api/socket.

import {
  connectSocket,
  el,
  initPage,
  notice,
  onLangChange,
  t,
} from "./common.js";

initPage();

const $ = (id) => document.getElementById(id);
/** Heartbeats keep the connection from the 5-minute idle cut. */
const HEARTBEAT_MS = 60_000;

const state = {
  conn: "",
  token: "",
  username: "",
  pending: null,
  heartbeat: undefined,
};

const socket = connectSocket("/api/socket", {
  onFrame,
  onState(s) {
    state.conn = s;
    if (s !== "open" && state.token) signedOut(t("lobby.lost"));
    renderConn();
  },
});

function renderConn() {
  const on = state.conn === "open";
  const pill = $("conn");
  pill.className = `pill ${on ? "ok" : "warn"}`;
  pill.replaceChildren(
    el("span", { className: "dot", "aria-hidden": "true" }),
    t(on ? "common.online" : "common.connecting"),
  );
}

$("auth-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const username = $("lobby-user").value.trim();
  const password = $("lobby-pass").value;
  const action = e.submitter?.value === "register" ? "register" : "login";
  state.pending = action === "register" ? { username, password } : null;
  if (!socket.send({ type: action, username, password })) {
    notice($("auth-notice"), t("common.offline"), "bad");
  }
});

$("say-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const message = $("say").value.trim();
  if (!message || !state.token) return;
  if (socket.send({ type: "chat", token: state.token, message })) {
    $("say").value = "";
  } else notice($("auth-notice"), t("common.offline"), "bad");
});

$("leave").addEventListener("click", () => {
  // The lobby has no logout frame: a new connection is a fresh start.
  location.reload();
});

function signedIn(frame) {
  state.token = frame.token;
  state.username = frame.username ?? $("lobby-user").value.trim();
  $("auth-form").hidden = true;
  $("me").hidden = false;
  $("me-name").textContent = state.username;
  if (frame.avatar) $("me-avatar").src = frame.avatar;
  $("say").disabled = false;
  $("say-send").disabled = false;
  $("lobby-pass").value = "";
  notice($("auth-notice"), "");
  $("say").focus();
  clearInterval(state.heartbeat);
  state.heartbeat = setInterval(
    () => socket.send({ type: "heartbeat", token: state.token }),
    HEARTBEAT_MS,
  );
}

function signedOut(why) {
  state.token = "";
  clearInterval(state.heartbeat);
  $("auth-form").hidden = false;
  $("me").hidden = true;
  $("say").disabled = true;
  $("say-send").disabled = true;
  notice($("auth-notice"), why, "warn");
}

function onFrame(frame) {
  const type = String(frame.type ?? "");
  if (type.startsWith("register")) {
    if (type === "register_1" && state.pending) {
      const { username, password } = state.pending;
      state.pending = null;
      notice($("auth-notice"), t("lobby.registered"), "ok");
      socket.send({ type: "login", username, password });
    } else if (type !== "register_1") {
      notice($("auth-notice"), frame.message ?? type, "bad");
    }
    return;
  }
  if (type.startsWith("login")) {
    if (frame.status === "success" && frame.token) signedIn(frame);
    else notice($("auth-notice"), frame.message ?? t("lobby.refused"), "bad");
    return;
  }
  if (type === "chat") {
    if (frame.user) addLine(frame);
    else if (frame.status && frame.status !== "success") {
      notice($("auth-notice"), frame.message ?? frame.status, "bad");
      if (frame.status === "error_It") signedOut(t("lobby.expired"));
    }
    return;
  }
  if (type === "heartbeat" && frame.status && frame.status !== "success") {
    signedOut(t("lobby.expired"));
    return;
  }
  if (type === "error" && frame.message) {
    notice($("auth-notice"), frame.message, "bad");
  }
}

function addLine(frame) {
  const log = $("log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(
    el("div", {
      className: `line ${frame.user === state.username ? "mine" : ""}`,
    }, [
      el("img", {
        src: frame.avatar || "/assets/icon.svg",
        alt: "",
        width: 32,
        height: 32,
      }),
      el("div", {}, [
        el("div", { className: "who" }, frame.user),
        el("div", { className: "text" }, frame.message ?? ""),
      ]),
    ]),
  );
  // Bound what a long-open page keeps.
  while (log.children.length > 500) log.firstChild.remove();
  if (atBottom || frame.user === state.username) {
    log.scrollTop = log.scrollHeight;
  }
}

onLangChange(renderConn);
renderConn();
