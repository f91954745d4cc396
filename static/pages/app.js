// The parents' app in a browser: sign in (or arrive from /login), bind
// toys (by key or a photo of the QR code, decoded here with jsQR), chat
// with voice messages, push songs to a toy, answer friend requests, set
// the toy's AI profile, and sign web pages in by QR.

import {
  ApiError,
  confirmButton,
  connectionPill,
  connectSocket,
  el,
  HoldToTalk,
  initial,
  initPage,
  notice,
  onLangChange,
  recordingName,
  serverRoutes,
  t,
  tabs,
  timeOf,
  toast,
  toyApi,
  toyCall,
  uploadForm,
} from "./common.js";

initPage();

const $ = (id) => document.getElementById(id);
const SESSION = "babble.session";

const state = {
  token: "",
  me: null,
  toys: [],
  friends: [],
  /** Unread voice messages by friend id. */
  unread: new Map(),
  chatWith: null,
  messages: [],
  socket: null,
  conn: "",
  library: [],
  inbox: [],
  aiToy: null,
  aiAvailable: false,
  webKey: "",
};

// Signing in and out.

function saveSession(token, userId) {
  sessionStorage.setItem(SESSION, JSON.stringify({ token, user_id: userId }));
}

function savedSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION) ?? "null");
  } catch {
    return null;
  }
}

function showAuth(message = "", kind = "bad") {
  $("home").hidden = true;
  $("auth").hidden = false;
  notice($("login-notice"), message, kind);
}

async function resume({ token, user_id: userId }) {
  try {
    const me = await toyApi(
      "/auto_login",
      userId ? { _id: userId } : {},
      token,
    );
    saveSession(token, me._id);
    await start(token, me);
  } catch (err) {
    sessionStorage.removeItem(SESSION);
    showAuth(err.status === 401 ? t("app.expired") : err.message);
  }
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  await signIn(
    $("login-user").value.trim(),
    $("login-pass").value,
    $("login-notice"),
  );
});

async function signIn(username, password, box) {
  try {
    const data = await toyApi("/login", { username, password });
    saveSession(data.token, data._id);
    await resume({ token: data.token, user_id: data._id });
  } catch (err) {
    notice(box, err.status === 401 ? t("app.badLogin") : err.message, "bad");
  }
}

$("reg-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const username = $("reg-user").value.trim();
  const password = $("reg-pass").value;
  const nickname = $("reg-nick").value.trim() || username;
  try {
    await toyApi("/reg", { username, password, nickname });
    await signIn(username, password, $("reg-notice"));
  } catch (err) {
    notice(
      $("reg-notice"),
      err.status === 409 ? t("app.taken") : err.message,
      "bad",
    );
  }
});

$("logout").addEventListener("click", async () => {
  try {
    await toyApi("/logout", {}, state.token);
  } catch {
    // Signed out here either way.
  }
  state.socket?.close();
  state.socket = null;
  sessionStorage.removeItem(SESSION);
  showAuth(t("app.loggedOut"), "ok");
});

async function start(token, me) {
  state.token = token;
  state.me = me;
  state.unread = new Map(
    Object.entries(me.chat ?? {}).filter(([k, n]) => k !== "count" && n > 0),
  );
  $("auth").hidden = true;
  $("home").hidden = false;
  renderHello();
  const routes = await serverRoutes();
  state.aiAvailable = routes.has("POST /ai_profile");
  connect();
  await Promise.all([loadToys(), loadFriends(), loadLibrary(), loadInbox()]);
}

function renderHello() {
  if (!state.me) return;
  $("hello").textContent = t("app.hello", {
    name: state.me.nickname || state.me.username || "",
  });
}

const selectTab = tabs(document.querySelector(".tabs"), (id) => {
  if (id === "panel-friends") loadInbox();
});
selectTab("panel-toys");

// The app socket: new voice messages arrive here; songs go out here.

function connect() {
  state.socket?.close();
  state.socket = connectSocket(
    () => `/app/${state.me._id}?token=${encodeURIComponent(state.token)}`,
    {
      onFrame,
      onState(s) {
        state.conn = s;
        renderConn();
      },
    },
  );
}

function renderConn() {
  connectionPill($("conn"), state.conn);
}

function onFrame(frame) {
  if (frame.type === "chat" && frame.chat) {
    const from = frame.from_user;
    if (from === state.me._id) return;
    const open = state.chatWith?.friend_id === from;
    if (open) {
      loadChat(state.chatWith);
    } else {
      state.unread.set(from, (state.unread.get(from) ?? 0) + 1);
      renderFriends();
      toast(t("app.newMessage", { name: friendName(from) }));
    }
    return;
  }
  if (frame.type === "error" && frame.msg) toast(frame.msg, "bad");
}

// Toys: list, bind, unbind, AI profile.

async function loadToys() {
  try {
    state.toys = await toyApi("/toy_list", { _id: state.me._id }, state.token);
  } catch (err) {
    toast(err.message, "bad");
  }
  renderToys();
  renderLibrary();
}

function toyName(toy) {
  return toy.toy_name || toy.baby_name || toy._id;
}

function renderToys() {
  const rows = state.toys.map((toy) => {
    const unbind = el("button", {
      type: "button",
      className: "danger small",
      "data-i18n": "app.unbind",
    });
    confirmButton(unbind, "app.unbindSure", () => unbindToy(toy));
    return el("li", { className: "item", "data-toy": toy._id }, [
      el(
        "span",
        { className: "avatar toy", "aria-hidden": "true" },
        initial(toyName(toy)),
      ),
      el("div", { className: "grow" }, [
        el("div", { className: "title" }, toyName(toy)),
        el(
          "div",
          { className: "muted small" },
          t("app.toyFor", { name: toy.baby_name ?? "" }),
        ),
        el(
          "div",
          { className: "mono muted", title: t("app.toyIdHint") },
          `id ${toy._id}`,
        ),
      ]),
      state.aiAvailable
        ? el("button", {
          type: "button",
          className: "secondary small",
          onclick: () => openAiProfile(toy),
        }, t("app.aiButton"))
        : null,
      unbind,
    ]);
  });
  if (!rows.length) {
    rows.push(el("li", { className: "muted" }, t("app.noToys")));
  }
  $("toys").replaceChildren(...rows);
  const options = state.toys.map((toy) =>
    el("option", { value: toy._id }, toyName(toy))
  );
  for (const id of ["push-toy", "req-from"]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(...options.map((o) => o.cloneNode(true)));
    if (keep && state.toys.some((toy) => toy._id === keep)) select.value = keep;
  }
  $("push-toy").setAttribute("aria-label", t("app.playOn"));
}

async function unbindToy(toy) {
  try {
    await toyApi("/unbind_toy", { toy_id: toy._id }, state.token);
    toast(t("app.unbound", { name: toyName(toy) }), "ok");
    if (state.chatWith?.friend_id === toy._id) closeChat();
    await Promise.all([loadToys(), loadFriends()]);
  } catch (err) {
    toast(err.message, "bad");
  }
}

let scannedKey = "";

$("scan-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = $("bind-key").value.trim().toLowerCase();
  try {
    const reply = await toyCall("/scan_qr", { device_key: key }, state.token);
    if (reply.code === 0) {
      scannedKey = key;
      $("scan-form").hidden = true;
      $("bind-form").hidden = false;
      notice($("bind-notice"), t("app.keyFree"), "ok");
      $("bind-toy-name").focus();
    } else if (reply.code === 1) {
      notice($("bind-notice"), t("app.keyUnknown"), "bad");
    } else if (reply.code === 2) {
      notice($("bind-notice"), t("app.keyBound"), "warn");
    } else throw new ApiError(reply.msg);
  } catch (err) {
    notice($("bind-notice"), err.message, "bad");
  }
});

$("bind-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await toyApi("/bind_toy", {
      toy_name: $("bind-toy-name").value.trim(),
      baby_name: $("bind-baby").value.trim(),
      remark: $("bind-remark").value.trim(),
      user_id: state.me._id,
      device_key: scannedKey,
    }, state.token);
    notice($("bind-notice"), t("app.bound"), "ok");
    resetBind();
    await Promise.all([loadToys(), loadFriends()]);
  } catch (err) {
    notice($("bind-notice"), err.message, "bad");
  }
});

function resetBind() {
  scannedKey = "";
  $("scan-form").reset();
  $("bind-form").reset();
  $("scan-form").hidden = false;
  $("bind-form").hidden = true;
}

$("bind-cancel").addEventListener("click", () => {
  resetBind();
  notice($("bind-notice"), "");
});

/** Loads jsQR (served by Babble, pinned) the first time a photo is read. */
function loadJsQr() {
  if (globalThis.jsQR) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = el("script", { src: "/assets/vendor/jsqr-1.4.0.js" });
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(t("app.qrLibFailed")));
    document.head.append(script);
  });
}

/** The text of the QR code in a photo, or null. */
async function readQrPhoto(file) {
  await loadJsQr();
  const bitmap = await createImageBitmap(file);
  // Phone photos are large; 1200 px keeps decoding quick and still sharp.
  const scale = Math.min(1, 1200 / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = el("canvas", { width, height });
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const pixels = context.getImageData(0, 0, width, height);
  const code = globalThis.jsQR(pixels.data, width, height, {
    inversionAttempts: "attemptBoth",
  });
  return code?.data?.trim() || null;
}

function photoInto(input, target, box) {
  input.addEventListener("change", async () => {
    const file = input.files?.[0];
    if (!file) return;
    try {
      const text = await readQrPhoto(file);
      if (!text) {
        notice(box, t("app.qrNotFound"), "warn");
        return;
      }
      $(target).value = text;
      notice(box, t("app.qrRead"), "ok");
    } catch (err) {
      notice(box, err.message, "bad");
    } finally {
      input.value = "";
    }
  });
}

photoInto($("bind-photo"), "bind-key", $("bind-notice"));
photoInto($("web-photo"), "web-key", $("web-notice"));

async function openAiProfile(toy) {
  state.aiToy = toy;
  $("ai-card").hidden = false;
  $("ai-title").textContent = t("app.aiTitle", { name: toyName(toy) });
  notice($("ai-notice"), "");
  $("ai-form").reset();
  $("ai-heard").replaceChildren();
  try {
    const p = await toyApi("/ai_profile", { toy_id: toy._id }, state.token);
    $("ai-persona").value = p.persona_name ?? "";
    $("ai-age").value = p.child_age ?? "";
    $("ai-language").value = ["zh", "en"].includes(p.language)
      ? p.language
      : "auto";
    $("ai-avoid").value = [p.avoid_topics ?? []].flat().join(", ");
    renderProviders(p.providers);
    if (p.keep_transcripts) await loadHeard(toy);
  } catch (err) {
    notice($("ai-notice"), err.message, "bad");
  }
  $("ai-card").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

/** Which AI steps the server has a provider for. */
function renderProviders(providers = {}) {
  const steps = ["stt", "chat", "tts"].filter((step) => providers[step]);
  $("ai-providers").textContent = steps.length
    ? t("app.aiSteps", {
      steps: steps.map((s) => t(`landing.ai.${s}`)).join(", "),
    })
    : t("app.aiNoSteps");
}

/** What the child said to the AI (kept only when the operator allows it). */
async function loadHeard(toy) {
  const list = await toyApi(
    "/ai_transcripts",
    { toy_id: toy._id, limit: 20 },
    state.token,
  );
  $("ai-heard").replaceChildren(
    ...list.map((entry) =>
      el("li", {}, [
        el("div", {}, `“${entry.heard}”`),
        el(
          "div",
          { className: "muted small" },
          `${timeOf(entry.create_time)} · ${entry.reply}`,
        ),
      ])
    ),
  );
}

$("ai-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const age = $("ai-age").value;
  try {
    await toyApi("/ai_profile/set", {
      toy_id: state.aiToy._id,
      persona_name: $("ai-persona").value.trim() || undefined,
      ...(age ? { child_age: Number(age) } : {}),
      language: $("ai-language").value,
      avoid_topics: $("ai-avoid").value.split(/[,，、;；]/).map((s) => s.trim())
        .filter(Boolean),
    }, state.token);
    notice($("ai-notice"), t("app.aiSaved"), "ok");
  } catch (err) {
    notice($("ai-notice"), err.message, "bad");
  }
});

$("ai-forget").addEventListener("click", async () => {
  try {
    await toyApi("/ai_memory/clear", { toy_id: state.aiToy._id }, state.token);
    notice($("ai-notice"), t("app.aiForgot"), "ok");
  } catch (err) {
    notice($("ai-notice"), err.message, "bad");
  }
});

$("ai-close").addEventListener("click", () => {
  $("ai-card").hidden = true;
  state.aiToy = null;
});

// Friends and chats.

async function loadFriends() {
  try {
    state.friends = await toyApi(
      "/friend_list",
      { _id: state.me._id },
      state.token,
    );
  } catch (err) {
    toast(err.message, "bad");
  }
  renderFriends();
}

function friendName(id) {
  const f = state.friends.find((x) => x.friend_id === id);
  return f ? (f.friend_remark || f.friend_nick || id) : id;
}

function renderFriends() {
  let total = 0;
  const buttons = state.friends.map((f) => {
    const count = state.unread.get(f.friend_id) ?? 0;
    total += count;
    const name = f.friend_remark || f.friend_nick || f.friend_id;
    return el("button", {
      type: "button",
      className: "friend",
      "data-friend": f.friend_id,
      "aria-current": String(state.chatWith?.friend_id === f.friend_id),
      onclick: () => openChat(f),
    }, [
      el("span", {
        className: `avatar ${f.friend_type === "toy" ? "toy" : ""}`,
        "aria-hidden": "true",
      }, initial(name)),
      el("span", { className: "grow" }, [
        el("span", { className: "title" }, name),
        el("br"),
        el(
          "span",
          { className: "muted small" },
          f.friend_nick && f.friend_nick !== name ? f.friend_nick : "",
        ),
      ]),
      count
        ? el("span", {
          className: "badge",
          "aria-label": t("common.unread", { n: count }),
        }, String(count))
        : null,
    ]);
  });
  if (!buttons.length) {
    buttons.push(el("p", { className: "muted" }, t("app.noFriends")));
  }
  $("friends").replaceChildren(...buttons);
  const badge = $("chats-badge");
  badge.hidden = total === 0;
  badge.textContent = String(total);
  badge.setAttribute("aria-label", t("common.unread", { n: total }));
}

function openChat(friend) {
  state.chatWith = friend;
  $("chat-actions").hidden = false;
  notice($("chat-notice"), "");
  loadChat(friend);
}

function closeChat() {
  state.chatWith = null;
  state.messages = [];
  $("chat-actions").hidden = true;
  renderChat();
}

/** Counts chat loads: an answer that a later load overtook is dropped. */
let chatLoads = 0;

async function loadChat(friend) {
  const load = ++chatLoads;
  try {
    const messages = await toyApi(
      "/chat_list",
      { chat_id: friend.friend_chat, limit: 100 },
      state.token,
    );
    if (load !== chatLoads) return;
    state.messages = messages;
    // Reading the chat cleared its unread count on the server.
    state.unread.delete(friend.friend_id);
  } catch (err) {
    if (load !== chatLoads) return;
    notice($("chat-notice"), err.message, "bad");
  }
  if (state.chatWith?.friend_id !== friend.friend_id) return;
  renderFriends();
  renderChat();
}

function renderChat() {
  const friend = state.chatWith;
  $("chat-title").textContent = friend
    ? t("app.chatWith", { name: friendName(friend.friend_id) })
    : t("app.pickFriend");
  const log = $("chat-log");
  const bubbles = state.messages.map((m) => {
    const mine = m.from_user === state.me._id;
    return el("div", {
      className: `bubble ${mine ? "mine" : ""}`,
      "data-message": m._id ?? m.chat,
    }, [
      el(
        "div",
        { className: "meta" },
        `${mine ? t("app.you") : friendName(m.from_user)} · ${
          timeOf(m.create_time)
        }`,
      ),
      el("audio", {
        controls: true,
        preload: "none",
        src: `/get_chat/${encodeURIComponent(m.chat)}`,
        "aria-label": t("app.voiceFrom", {
          name: mine ? t("app.you") : friendName(m.from_user),
        }),
      }),
    ]);
  });
  if (friend && !bubbles.length) {
    bubbles.push(el("p", { className: "muted" }, t("app.noMessages")));
  }
  log.replaceChildren(...bubbles);
  log.scrollTop = log.scrollHeight;
}

new HoldToTalk($("talk"), {
  onRecorded: (blob) => sendVoice(blob),
  onState: (s) => {
    $("talk").textContent = t(s === "recording" ? "app.recording" : "app.hold");
  },
});

async function sendVoice(blob) {
  const friend = state.chatWith;
  if (!friend) return;
  notice($("chat-notice"), t("common.sending"));
  const form = new FormData();
  form.append("to_user", friend.friend_id);
  form.append("user_id", state.me._id);
  form.append("reco_file", blob, recordingName(blob));
  try {
    const reply = await uploadForm("/app_uploader", form, {
      token: state.token,
    });
    if (reply.code !== 0) throw new ApiError(reply.msg);
    // The log shows the new message by the time "Sent." does.
    if (state.chatWith?.friend_id === friend.friend_id) await loadChat(friend);
    notice($("chat-notice"), t("app.sent"), "ok");
  } catch (err) {
    notice($("chat-notice"), err.message, "bad");
  }
}

// The content library, pushed to a toy over the socket.

async function loadLibrary() {
  try {
    state.library = await toyApi("/content_list", {});
  } catch (err) {
    notice($("library-notice"), err.message, "bad");
  }
  renderLibrary();
}

function renderLibrary() {
  $("library").replaceChildren(
    ...state.library.map((item) =>
      el("article", {
        className: "card content-card",
        "data-music": item.music,
      }, [
        item.cover
          ? el("img", {
            src: `/get_cover/${encodeURIComponent(item.cover)}`,
            alt: "",
            loading: "lazy",
            width: 180,
            height: 180,
          })
          : null,
        el("h3", {}, item.title),
        el("button", {
          type: "button",
          className: "small",
          onclick: () => pushSong(item),
        }, t("app.playOnToy")),
      ])
    ),
  );
  notice(
    $("library-notice"),
    state.toys.length || !state.library.length ? "" : t("app.bindFirst"),
    "warn",
  );
}

function pushSong(item) {
  const toyId = $("push-toy").value;
  if (!toyId) {
    toast(t("app.bindFirst"), "bad");
    return;
  }
  const sent = state.socket?.send({
    to_user: toyId,
    music: item.music,
    title: item.title,
    cover: item.cover,
  });
  const toy = state.toys.find((x) => x._id === toyId);
  toast(
    sent
      ? t("app.pushed", { title: item.title, name: toy ? toyName(toy) : "" })
      : t("app.offline"),
    sent ? "ok" : "bad",
  );
}

// Friend requests.

$("req-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await toyApi("/add_req", {
      req_user: $("req-from").value,
      add_user: $("req-to").value.trim().toLowerCase(),
      type: "toy",
      req_info: $("req-info").value.trim(),
      remark: $("req-remark").value.trim(),
    }, state.token);
    notice($("req-notice"), t("app.reqSent"), "ok");
    $("req-to").value = "";
  } catch (err) {
    notice($("req-notice"), err.message, "bad");
  }
});

async function loadInbox() {
  if (!state.me) return;
  try {
    state.inbox = await toyApi("/req_list", { _id: state.me._id }, state.token);
  } catch (err) {
    toast(err.message, "bad");
  }
  renderInbox();
}

$("inbox-refresh").addEventListener("click", loadInbox);

function renderInbox() {
  const toyById = new Map(state.toys.map((toy) => [toy._id, toy]));
  const rows = state.inbox.map((r) => {
    const to = toyById.get(r.add_user);
    // `nickname` names the requester (a toy's child, or a parent).
    const who = r.nickname || r.req_user;
    const status = Number(r.status ?? 0);
    return el("li", { className: "item", "data-request": r._id }, [
      el(
        "span",
        { className: "avatar toy", "aria-hidden": "true" },
        initial(who),
      ),
      el("div", { className: "grow" }, [
        el(
          "div",
          { className: "title" },
          t(r.type === "toy" ? "app.reqLineToy" : "app.reqLine", {
            who,
            toy: to ? toyName(to) : r.toy_name || r.add_user,
          }),
        ),
        r.req_info
          ? el("div", { className: "muted small" }, `“${r.req_info}”`)
          : null,
      ]),
      status === 0
        ? el("div", { className: "row" }, [
          el("button", {
            type: "button",
            className: "small",
            onclick: () => answer(r, "/acc_req"),
          }, t("app.accept")),
          el("button", {
            type: "button",
            className: "secondary small",
            onclick: () => answer(r, "/ref_req"),
          }, t("app.refuse")),
        ])
        : el(
          "span",
          { className: `pill ${status === 1 ? "ok" : ""}` },
          t(status === 1 ? "app.accepted" : "app.refused"),
        ),
    ]);
  });
  if (!rows.length) {
    rows.push(el("li", { className: "muted" }, t("app.noRequests")));
  }
  $("inbox").replaceChildren(...rows);
}

async function answer(request, path) {
  try {
    await toyApi(path, { req_id: request._id }, state.token);
    toast(
      t(path === "/acc_req" ? "app.acceptedToast" : "app.refusedToast"),
      "ok",
    );
    await Promise.all([loadInbox(), loadFriends()]);
  } catch (err) {
    toast(err.message, "bad");
  }
}

// Signing a web page in (seed 004, the phone's side).

$("web-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = $("web-key").value.trim().toLowerCase();
  try {
    await toyApi("/qr_login/scan", { key }, state.token);
    state.webKey = key;
    $("web-form").hidden = true;
    $("web-confirm").hidden = false;
    notice($("web-notice"), t("app.webScanned"), "ok");
  } catch (err) {
    notice(
      $("web-notice"),
      err.status === 404 ? t("app.webGone") : err.message,
      "bad",
    );
  }
});

async function finishWeb(path, doneKey) {
  try {
    await toyApi(path, { key: state.webKey }, state.token);
    notice($("web-notice"), t(doneKey), "ok");
  } catch (err) {
    notice(
      $("web-notice"),
      err.status === 404 ? t("app.webGone") : err.message,
      "bad",
    );
  }
  state.webKey = "";
  $("web-form").reset();
  $("web-form").hidden = false;
  $("web-confirm").hidden = true;
}

$("web-yes").addEventListener(
  "click",
  () => finishWeb("/qr_login/confirm", "app.webDone"),
);
$("web-no").addEventListener(
  "click",
  () => finishWeb("/qr_login/cancel", "app.webCancelled"),
);

onLangChange(() => {
  renderHello();
  renderConn();
  renderToys();
  renderFriends();
  renderChat();
  renderLibrary();
  renderInbox();
  if (state.aiToy) {
    $("ai-title").textContent = t("app.aiTitle", {
      name: toyName(state.aiToy),
    });
  }
});

const saved = savedSession();
if (saved?.token) resume(saved);
else showAuth();
