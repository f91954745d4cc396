/**
 * End-to-end text through a public route (issue 14): DiaryU pair chat.
 * Try-out users (`POST /matching/demo_login/` on a `--demo` server) write
 * diaries (`emotion/`) and are paired; one member of each pair holds the
 * room socket `ws /matching/chat/<pair_id>/`, the other sends lines with
 * `POST /matching/send_message_via_http/`. Offered rates step up; a line
 * counts as delivered when the receiver's socket has it; latency = send
 * until received; held = everything delivered, p99 ≤ 100 ms.
 *
 * The server runs in its own process with the per-user sign-in and line
 * budgets lifted (a person types a few lines a second; the bench sends
 * hundreds). The client (this process) sends over fetch, so the figure is
 * a floor, not the server's ceiling.
 *
 * Run alone: `deno task bench diaryu`.
 */

import { pairUp, signIn } from "../domain/diaryu/_fixtures.ts";
import { ServerProcess } from "./http_bench.ts";

const PAIRS = 20;
const RATES = [100, 200, 400, 600, 800, 1_000, 1_500, 2_000];
const STEP_MS = 3_000;
const P99_GOAL_MS = 100;
/** Sends in flight at most, so a slow server is measured, not buried. */
const MAX_IN_FLIGHT = 256;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const v = sorted[Math.max(0, Math.ceil(p / 100 * sorted.length) - 1)];
  return Math.round(v * 10) / 10;
}

interface Room {
  pairId: string;
  sender: { openId: string; token: string };
  socket: WebSocket;
}

/** Pair chat lines/s delivered and latency at each offered rate. */
export async function benchDiaryu(): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "babble_diaryu_bench_" });
  const server = new ServerProcess(["diaryu", `${dir}/diaryu.kv`], false);
  const rooms: Room[] = [];
  try {
    const { url } = await server.ready as { url: string };
    const target = { url };
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    for (let i = 0; i < PAIRS; i++) {
      const a = await signIn(target);
      const b = await signIn(target);
      const pairId = await pairUp(target, a, b);
      const socket = new WebSocket(
        `${
          url.replace("http", "ws")
        }/matching/chat/${pairId}/?token=${a.token}`,
      );
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = reject;
      });
      socket.onmessage = (e) => {
        const frame = JSON.parse(e.data);
        const content = frame?.data?.content;
        const t0 = typeof content === "string" ? sentAt.get(content) : null;
        if (t0 !== undefined && t0 !== null) {
          latencies.push(performance.now() - t0);
          sentAt.delete(content);
        }
      };
      rooms.push({ pairId, sender: b, socket });
    }
    let serial = 0;
    let inFlight = 0;
    let refused = 0;
    const send = async (room: Room) => {
      const content = `line ${++serial}`;
      inFlight++;
      sentAt.set(content, performance.now());
      try {
        const res = await fetch(`${url}/matching/send_message_via_http/`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${room.sender.token}`,
          },
          body: JSON.stringify({ pair_id: room.pairId, content }),
        });
        await res.body?.cancel();
        if (!res.ok) {
          refused++;
          sentAt.delete(content);
        }
      } catch {
        refused++;
        sentAt.delete(content);
      } finally {
        inFlight--;
      }
    };
    const steps = [];
    for (const rate of RATES) {
      latencies.length = 0;
      refused = 0;
      const before = serial;
      const started = performance.now();
      let sent = 0;
      let skipped = 0;
      while (performance.now() - started < STEP_MS) {
        const due = Math.floor((performance.now() - started) * rate / 1000);
        while (sent < due) {
          if (inFlight >= MAX_IN_FLIGHT) skipped++;
          else send(rooms[sent % rooms.length]);
          sent++;
        }
        await sleep(1);
      }
      const offeredFor = (performance.now() - started) / 1000;
      const drainUntil = performance.now() + 3_000;
      while (sentAt.size && performance.now() < drainUntil) await sleep(10);
      const attempted = serial - before;
      const delivered = latencies.length;
      const lost = attempted - refused - delivered;
      sentAt.clear();
      const sorted = latencies.toSorted((a, b) => a - b);
      const p99 = percentile(sorted, 99);
      const held = skipped === 0 && refused === 0 && lost === 0 &&
        p99 !== null && p99 <= P99_GOAL_MS;
      steps.push({
        rate,
        deliveredPerSecond: Math.round(delivered / offeredFor),
        attempted,
        refused,
        notDelivered: lost,
        skippedClientBusy: skipped,
        p50Ms: percentile(sorted, 50),
        p99Ms: p99,
        held,
      });
      if (!held) break;
    }
    const heldRates = steps.filter((s) => s.held).map((s) => s.rate);
    return {
      what: `${PAIRS} pairs; HTTP send_message_via_http/ → the partner's ` +
        `room socket; ${STEP_MS / 1000} s per offered rate; held = all ` +
        `delivered, p99 ≤ ${P99_GOAL_MS} ms (client: fetch in the bench ` +
        `process, unpinned)`,
      maxHeldLinesPerSecond: heldRates.length ? Math.max(...heldRates) : 0,
      steps,
    };
  } finally {
    for (const r of rooms) r.socket.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchDiaryu(), null, 2));
}
