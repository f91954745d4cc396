// DiaryU (seed 001) in a browser: a demo sign-in (servers started with
// --demo), a diary and its emotion with the words that decided it, the
// match, and the pair's chat room.

import {
  connectSocket,
  el,
  initPage,
  jsonRequest,
  notice,
  onLangChange,
  serverRoutes,
  t,
  toast,
} from "./common.js";
import { emotionFace } from "./icons.js";

initPage();

const $ = (id) => document.getElementById(id);
const SESSION = "babble.diary";

const state = {
  openId: "",
  token: "",
  pairId: "",
  lastSeq: 0,
  partner: null,
  lines: [],
  socket: null,
  mood: null,
  diaries: [],
};

/** A DiaryU call: `{status, data}`; throws with the server's message. */
async function diary(path, { method = "POST", body, query } = {}) {
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  const reply = await jsonRequest(url, { method, body, token: state.token });
  if (reply.status === "error") {
    throw new Error(
      reply.data?.errmsg ?? reply.data?.message ?? reply.message ?? "error",
    );
  }
  return reply.data ?? {};
}

function saveSession() {
  sessionStorage.setItem(
    SESSION,
    JSON.stringify({ openId: state.openId, token: state.token }),
  );
}

$("demo").addEventListener("click", async () => {
  try {
    const data = await diary("/matching/demo_login/");
    state.openId = data.openId;
    state.token = data.token;
    saveSession();
    showDiary();
  } catch (err) {
    notice(
      $("signin-notice"),
      err.status === 404 ? t("diary.noDemo") : err.message,
      "bad",
    );
  }
});

$("diary-out").addEventListener("click", () => {
  sessionStorage.removeItem(SESSION);
  state.socket?.close();
  location.reload();
});

function showDiary() {
  $("signin").hidden = true;
  $("diary").hidden = false;
  $("diary-out").hidden = false;
  refresh();
}

async function refresh() {
  try {
    const data = await diary("/matching/get_user_action/", {
      method: "GET",
      query: { openId: state.openId },
    });
    state.diaries = data.diaries ?? [];
    state.partner = data.match?.user ?? null;
    // Coming back: show the mood of the latest diary.
    const latest = state.diaries[0];
    if (!state.mood && latest) {
      state.mood = {
        emotion: latest.emotion,
        evidence: latest.evidence,
        content: latest.content ?? latest.title ?? "",
        match: data.match,
      };
      renderMood();
    }
  } catch (err) {
    if (err.status === 401) {
      sessionStorage.removeItem(SESSION);
      location.reload();
      return;
    }
    toast(err.message, "bad");
  }
  renderRecent();
  await loadPair();
}

// Writing a diary.

$("write-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const title = $("diary-title").value.trim();
  const content = $("diary-content").value.trim();
  const button = e.submitter;
  button.disabled = true;
  try {
    const data = await diary("/matching/emotion/", {
      body: { openId: state.openId, title, content },
    });
    state.mood = { ...data, content };
    renderMood();
    notice($("write-notice"), t("diary.saved"), "ok");
    $("write-form").reset();
    await refresh();
  } catch (err) {
    notice($("write-notice"), err.message, "bad");
  } finally {
    button.disabled = false;
  }
});

/** The words that decided, whatever shape the server gives them in. */
function evidenceWords(evidence) {
  return [evidence ?? []].flat().map((w) =>
    typeof w === "string" ? w : (w?.word ?? w?.text ?? w?.term ?? "")
  ).filter(Boolean);
}

/** `text` with every evidence word wrapped in <mark>. */
function highlighted(text, words) {
  if (!words.length) return [text];
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`(${escaped.join("|")})`, "giu");
  return text.split(pattern).map((part, i) =>
    i % 2 ? el("mark", {}, part) : part
  );
}

function renderMood() {
  const mood = state.mood;
  if (!mood) return;
  const n = Number(mood.emotion);
  const words = evidenceWords(mood.evidence);
  $("mood").replaceChildren(
    el("div", { className: "emotion" }, [
      emotionFace(n, { size: 48 }),
      el("strong", {}, t(`diary.emotion${n}`)),
    ]),
    words.length
      ? el("p", { className: "small" }, [
        t("diary.because"),
        " ",
        ...words.map((w, i) => [i ? ", " : "", el("mark", {}, w)]).flat(),
      ])
      : el("p", { className: "muted small" }, t("diary.noEvidence")),
    el("p", {}, highlighted(mood.content, words)),
    mood.match?.user
      ? el("p", { className: "notice ok" }, t("diary.matched"))
      : el("p", { className: "muted small" }, t("diary.waiting")),
  );
}

function renderRecent() {
  const rows = state.diaries.map((d) => {
    const n = Number(d.emotion);
    return el("li", { className: "item" }, [
      emotionFace(n, { size: 36 }),
      el("div", { className: "grow" }, [
        el("div", { className: "title" }, d.title || d.content || ""),
        el(
          "div",
          { className: "muted small" },
          `${t(`diary.emotion${n}`)} · ${d.publish_date ?? ""}`,
        ),
      ]),
    ]);
  });
  if (!rows.length) {
    rows.push(el("li", { className: "muted" }, t("diary.noDiaries")));
  }
  $("recent").replaceChildren(...rows);
}

// The match and its chat room.

async function loadPair() {
  let pairId = "";
  // Only a matched user has a pair (asking otherwise is a 404).
  if (state.partner) {
    try {
      const data = await diary("/matching/get_pair_action/", {
        method: "GET",
        query: { openId: state.openId },
      });
      pairId = data.pair_id ? String(data.pair_id) : "";
    } catch {
      pairId = "";
    }
  }
  if (pairId !== state.pairId) {
    state.socket?.close();
    state.socket = null;
    state.pairId = pairId;
    state.lines = [];
    state.lastSeq = 0;
    if (pairId) {
      await loadHistory();
      // Resume after the last line read, so none is lost or shown twice.
      state.socket = connectSocket(
        () =>
          `/matching/chat/${encodeURIComponent(pairId)}/?token=${
            encodeURIComponent(state.token)
          }&after=${state.lastSeq}`,
        { onFrame },
      );
    }
  }
  renderPair();
}

async function loadHistory() {
  try {
    const data = await diary("/matching/get_history_action/", {
      method: "GET",
      query: { pair_id: state.pairId },
    });
    state.lines = (data.messages ?? []).map(lineOf);
  } catch (err) {
    toast(err.message, "bad");
  }
}

/** A history entry or a room frame's line (`data` of a "message" frame). */
function lineOf(m) {
  const line = m.data && typeof m.data === "object" ? m.data : m;
  const seq = Number(line.seq);
  if (Number.isSafeInteger(seq) && seq > state.lastSeq) state.lastSeq = seq;
  return {
    openId: line.openId ?? "",
    content: line.content ?? line.message ?? "",
    date: line.publish_date ?? "",
  };
}

function onFrame(frame) {
  if (frame.type === "ended") {
    refresh();
    return;
  }
  if (frame.type !== "message") return;
  const line = lineOf(frame);
  if (!line.content) return;
  state.lines.push(line);
  if (state.lines.length > 500) state.lines.shift();
  renderPair();
}

function renderPair() {
  const paired = Boolean(state.pairId);
  $("pair-state").textContent = paired
    ? t("diary.pairedWith", {
      name: state.partner?.nickName && state.partner.nickName !== "None"
        ? state.partner.nickName
        : t("diary.someone"),
    })
    : t("diary.noPair");
  $("depair").hidden = !paired;
  $("pair-form").hidden = !paired;
  const log = $("pair-log");
  log.replaceChildren(...state.lines.map((line) => {
    const mine = line.openId === state.openId;
    return el("div", { className: `bubble ${mine ? "mine" : ""}` }, [
      el(
        "div",
        { className: "meta" },
        `${mine ? t("app.you") : t("diary.partner")} ${line.date}`,
      ),
      el("div", {}, line.content),
    ]);
  }));
  log.scrollTop = log.scrollHeight;
}

$("pair-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const content = $("pair-say").value.trim();
  if (!content) return;
  const before = state.lines.length;
  try {
    await diary("/matching/send_message_via_http/", {
      body: { pair_id: state.pairId, openId: state.openId, content },
    });
    $("pair-say").value = "";
    // The room socket normally brings the line back; if not, re-read.
    setTimeout(async () => {
      if (state.lines.length === before) {
        await loadHistory();
        renderPair();
      }
    }, 1500);
  } catch (err) {
    toast(err.message, "bad");
  }
});

$("depair").addEventListener("click", async () => {
  try {
    await diary("/matching/depair_action/", { body: { openId: state.openId } });
    toast(t("diary.depaired"), "ok");
    await refresh();
  } catch (err) {
    toast(err.message, "bad");
  }
});

onLangChange(() => {
  renderMood();
  renderRecent();
  renderPair();
});

async function boot() {
  const routes = await serverRoutes();
  if (!routes.has("POST /matching/emotion/")) {
    $("unavailable").hidden = false;
    return;
  }
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION) ?? "null");
    if (saved?.token) {
      state.openId = saved.openId;
      state.token = saved.token;
      showDiary();
      return;
    }
  } catch {
    sessionStorage.removeItem(SESSION);
  }
  $("signin").hidden = false;
}

boot();
