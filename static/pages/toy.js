// Toy simulator: a device key → /open_toy (its prompt plays) → the toy's
// socket. Pushed songs and voice messages play in order; the child holds
// the big button to talk to a friend (/toy_uploader) or the AI
// (/ai_uploader).

import {
  ApiError,
  AudioQueue,
  connectionPill,
  connectSocket,
  el,
  HoldToTalk,
  initial,
  initPage,
  jsonRequest,
  notice,
  onLangChange,
  recordingName,
  serverRoutes,
  t,
  toast,
  toyApi,
  toyCall,
  uploadForm,
} from "./common.js";

initPage();

const $ = (id) => document.getElementById(id);
const KEY_STORE = "babble.toy.key";
const AI = "ai";

const state = {
  toyId: "",
  token: "",
  name: "",
  friends: [],
  /** Unplayed voice messages by friend id, in arrival order. */
  unread: new Map(),
  seen: new Set(),
  lastSeq: 0,
  target: "",
  aiAvailable: false,
  socket: null,
  conn: "",
};

const queue = new AudioQueue($("player"), renderQueue);

function renderQueue() {
  $("now").textContent = queue.current
    ? t("toy.playing", { what: queue.current.label })
    : "";
  $("queue").textContent = queue.waiting.length
    ? t("toy.next", { list: queue.waiting.map((i) => i.label).join(", ") })
    : "";
  $("resume").hidden = !queue.blocked;
  $("skip").hidden = !queue.current;
}

$("skip").addEventListener("click", () => queue.next());

$("resume").addEventListener("click", () => {
  queue.audio.play().then(() => renderQueue(), () => {});
  queue.blocked = false;
});

// Choosing a device key.

function prefill() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromLink) history.replaceState(null, "", location.pathname);
  $("device-key").value = fromLink ?? localStorage.getItem(KEY_STORE) ?? "";
}

/** On the admin's machine (admin token in this tab), offer minted keys. */
async function offerMintedKeys() {
  const admin = sessionStorage.getItem("babble.admin");
  if (!admin) return;
  try {
    const reply = await jsonRequest("/admin/devices?limit=100", {
      token: admin,
    });
    const devices = reply.data?.devices ?? [];
    if (!devices.length) return;
    $("device-pick").replaceChildren(
      el("option", { value: "" }, "—"),
      ...devices.map((d) =>
        el(
          "option",
          { value: d.device_key },
          `${d.device_key.slice(0, 12)}… ${
            d.toy_id ? t("admin.bound") : t("admin.free")
          }`,
        )
      ),
    );
    $("pick-field").hidden = false;
  } catch {
    // Not an admin here: the field stays hidden.
  }
}

$("device-pick").addEventListener("change", (e) => {
  if (e.target.value) $("device-key").value = e.target.value;
});

$("power-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = $("device-key").value.trim().toLowerCase();
  const button = e.submitter;
  button.disabled = true;
  try {
    await switchOn(key);
  } catch (err) {
    notice($("power-notice"), err.message, "bad");
  } finally {
    button.disabled = false;
  }
});

async function switchOn(key) {
  const reply = await toyCall("/open_toy", { device_key: key });
  const data = reply.data ?? {};
  const music = data.music ?? reply.music;
  if (music) {
    queue.add(`/get_music/${encodeURIComponent(music)}`, t("toy.prompt"));
  }
  if (reply.code === 1) {
    notice($("power-notice"), t("toy.unknownKey"), "bad");
    return;
  }
  if (reply.code === 2) {
    notice($("power-notice"), t("toy.unbound"), "warn");
    return;
  }
  localStorage.setItem(KEY_STORE, key);
  notice($("power-notice"), "");
  state.toyId = data.toy_id;
  state.token = data.token;
  state.name = data.name ?? "";
  state.aiAvailable = (await serverRoutes()).has("POST /ai_uploader");
  $("power").hidden = true;
  $("toy").hidden = false;
  $("toy-name").textContent = state.name;
  await loadFriends();
  connect();
}

$("switch-off").addEventListener("click", () => {
  state.socket?.close();
  state.socket = null;
  state.toyId = "";
  state.unread.clear();
  $("toy").hidden = true;
  $("power").hidden = false;
});

// The socket.

function connect() {
  state.socket = connectSocket(
    () => `/toy/${state.toyId}?token=${encodeURIComponent(state.token)}`,
    {
      onFrame,
      onState(s) {
        state.conn = s;
        renderConn();
        if (s === "refused") toast(t("toy.refused"), "bad");
      },
    },
  );
}

function renderConn() {
  connectionPill($("conn"), state.conn);
}

function friendName(id) {
  const f = state.friends.find((x) => x.friend_id === id);
  return f ? (f.friend_remark || f.friend_nick || id) : id;
}

function onFrame(frame) {
  if (frame.type === "music" && frame.music) {
    queue.add(
      `/get_music/${encodeURIComponent(frame.music)}`,
      frame.title || t("toy.song"),
    );
    return;
  }
  if (frame.type === "chat" && frame.chat) {
    if (frame.id && state.seen.has(frame.id)) return;
    if (frame.id) state.seen.add(frame.id);
    if (Number(frame.seq) > state.lastSeq) state.lastSeq = Number(frame.seq);
    const list = state.unread.get(frame.from_user) ?? [];
    list.push(frame.chat);
    state.unread.set(frame.from_user, list);
    if (!state.friends.some((f) => f.friend_id === frame.from_user)) {
      loadFriends();
    }
    toast(t("toy.newMessage", { name: friendName(frame.from_user) }));
    renderFriends();
    return;
  }
  if (frame.type === "error" && frame.msg) toast(frame.msg, "bad");
}

/** Tells the server what this toy has, once nothing is left unplayed. */
function ackIfAllPlayed() {
  if (state.unread.size === 0 && state.lastSeq > 0) {
    state.socket?.send({ type: "ack", seq: state.lastSeq });
  }
}

// Friends, unread counts, playing messages.

async function loadFriends() {
  try {
    state.friends = await toyApi(
      "/friend_list",
      { _id: state.toyId },
      state.token,
    );
  } catch (err) {
    toast(err.message, "bad");
  }
  if (
    !state.target ||
    (state.target !== AI &&
      !state.friends.some((f) => f.friend_id === state.target))
  ) {
    state.target = state.friends.find((f) =>
      f.friend_type === "app"
    )?.friend_id ??
      state.friends[0]?.friend_id ?? (state.aiAvailable ? AI : "");
  }
  renderFriends();
}

async function playMessages(friendId) {
  const local = state.unread.get(friendId) ?? [];
  state.unread.delete(friendId);
  renderFriends();
  let stored = [];
  try {
    stored = await toyCall(
      "/recv_msg",
      { from_user: friendId, to_user: state.toyId },
      state.token,
    );
  } catch (err) {
    toast(err.message, "bad");
  }
  const files = [
    ...(Array.isArray(stored) ? stored.map((m) => m.chat) : []),
  ];
  for (const file of local) if (!files.includes(file)) files.push(file);
  const label = t("toy.messageFrom", { name: friendName(friendId) });
  for (const file of files) {
    queue.add(`/get_chat/${encodeURIComponent(file)}`, label);
  }
  ackIfAllPlayed();
}

function friendRow(f) {
  const count = state.unread.get(f.friend_id)?.length ?? 0;
  const name = f.friend_remark || f.friend_nick || f.friend_id;
  return el("li", { className: "item", "data-friend": f.friend_id }, [
    el("button", {
      type: "button",
      className: "friend",
      "aria-pressed": String(state.target === f.friend_id),
      onclick: () => selectTarget(f.friend_id),
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
          t(f.friend_type === "toy" ? "toy.kindToy" : "toy.kindParent"),
        ),
      ]),
      count
        ? el("span", {
          className: "badge",
          "aria-label": t("common.unread", { n: count }),
        }, String(count))
        : null,
    ]),
    count
      ? el("button", {
        type: "button",
        className: "small play",
        onclick: () => playMessages(f.friend_id),
      }, t("toy.play"))
      : null,
  ]);
}

function renderFriends() {
  const rows = state.friends.map(friendRow);
  if (state.aiAvailable) {
    rows.push(el("li", { className: "item", "data-friend": AI }, [
      el("button", {
        type: "button",
        className: "friend",
        "aria-pressed": String(state.target === AI),
        onclick: () => selectTarget(AI),
      }, [
        el("span", { className: "avatar toy", "aria-hidden": "true" }, "AI"),
        el("span", { className: "grow" }, [
          el("span", { className: "title" }, t("toy.ai")),
          el("br"),
          el("span", { className: "muted small" }, t("toy.aiHelp")),
        ]),
      ]),
    ]));
  }
  if (!rows.length) {
    rows.push(el("li", { className: "muted" }, t("toy.noFriends")));
  }
  $("friends").replaceChildren(...rows);
  $("target").textContent = state.target === AI
    ? t("toy.ai")
    : state.target
    ? friendName(state.target)
    : "—";
  $("talk").disabled = !state.target;
}

function selectTarget(id) {
  state.target = id;
  renderFriends();
}

// Talking.

new HoldToTalk($("talk"), {
  onRecorded: (blob) => send(blob),
  onState: (s) => {
    $("talk").textContent = t(s === "recording" ? "toy.recording" : "toy.hold");
  },
});

async function send(blob) {
  const target = state.target;
  const box = $("send-notice");
  notice(box, t("common.sending"));
  try {
    const form = new FormData();
    if (target === AI) {
      form.append("toy_id", state.toyId);
      form.append("reco", blob, recordingName(blob));
      const reply = await uploadForm("/ai_uploader", form, {
        token: state.token,
      });
      notice(box, "");
      answerFromAi(reply);
      return;
    }
    const friend = state.friends.find((f) => f.friend_id === target);
    form.append("to_user", target);
    form.append("user_id", state.toyId);
    form.append("friend_type", friend?.friend_type ?? "app");
    form.append("reco", blob, recordingName(blob));
    const reply = await uploadForm("/toy_uploader", form, {
      token: state.token,
    });
    if (reply.code !== 0) throw new ApiError(reply.msg);
    notice(box, t("toy.sent", { name: friendName(target) }), "ok");
  } catch (err) {
    notice(box, err.message, "bad");
  }
}

/** Plays what the AI answered; "message a friend" makes them the target. */
function answerFromAi(reply) {
  if (reply.code !== undefined && reply.code !== 0) {
    throw new ApiError(reply.msg);
  }
  if (reply.from_user === AI || reply.from_user === "ai") {
    if (reply.music) {
      queue.add(`/get_music/${encodeURIComponent(reply.music)}`, t("toy.song"));
    } else if (reply.chat) {
      queue.add(`/get_chat/${encodeURIComponent(reply.chat)}`, t("toy.ai"));
    }
    return;
  }
  if (reply.chat) {
    queue.add(`/get_chat/${encodeURIComponent(reply.chat)}`, t("toy.ai"));
  }
  if (reply.from_user) {
    selectTarget(reply.from_user);
    notice(
      $("send-notice"),
      t("toy.nowFor", { name: friendName(reply.from_user) }),
      "ok",
    );
  }
}

onLangChange(() => {
  renderConn();
  renderFriends();
  renderQueue();
});

prefill();
offerMintedKeys();
