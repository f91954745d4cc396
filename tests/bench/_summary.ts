/**
 * The Markdown summary of a bench report (tests/bench/report.md): the
 * headline of each goal and the "how cost grows" tables, from whichever
 * sections the run measured.
 */

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | null {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Obj : null;
}

function rows(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter((r) => obj(r)) as Obj[] : [];
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return v.toLocaleString("en-US");
  if (typeof v === "boolean") return v ? "yes" : "no";
  return String(v);
}

function table(head: string[], body: unknown[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...body.map((r) => `| ${r.map(fmt).join(" | ")} |`),
  ].join("\n");
}

/** The summary of `report` (sections that did not run are left out). */
export function summaryMarkdown(report: Obj): string {
  const out = [
    `# Bench summary`,
    ``,
    `${report.date} · Deno ${report.deno} · ${report.cores} cores. ` +
    `Figures from one run on a shared machine; report.json has every round.`,
  ];
  const http = obj(report.http);
  if (http && !http.error) {
    out.push(``, `## HTTP (wrk; server core 0, wrk core 1)`, ``);
    out.push(table(
      [
        "route",
        "Babble rps",
        "bare rps",
        "Hono rps",
        "ratio",
        "CPU µs/req Babble / bare / Hono",
        "CPU ratio",
        "goal met",
      ],
      ["friend_list", "add_req", "get_music"].map((name) => {
        const r = obj(http[name]) ?? {};
        return [
          name,
          r.babbleRps,
          r.bareRps,
          r.honoRps,
          r.ratio,
          `${fmt(r.babbleCpuUsPerRequest)} / ${fmt(r.bareCpuUsPerRequest)} / ${
            fmt(r.honoCpuUsPerRequest)
          }`,
          r.cpuRatio,
          r.pass,
        ];
      }),
    ));
    out.push(``, `friend_list by size:`, ``);
    out.push(table(
      [
        "friends",
        "Babble rps",
        "bare rps (same bytes)",
        "ratio",
        "CPU µs/req Babble / bare",
        "CPU ratio",
      ],
      rows(http.friendListBySize).map((r) => [
        r.friends,
        r.babbleRps,
        r.bareRps,
        r.ratio,
        `${fmt(r.babbleCpuUs)} / ${fmt(r.bareCpuUs)}`,
        r.cpuRatio,
      ]),
    ));
  } else if (http) out.push(``, `HTTP: ${http.error}`);
  const realtime = obj(report.realtime);
  const relay = obj(realtime?.relay);
  if (relay) {
    out.push(``, `## Relay (max held msg/s)`, ``);
    out.push(table(
      ["pairs", "Babble", "bare relay", "ratio"],
      rows(relay.bySize).map((
        r,
      ) => [r.pairs, r.babbleMaxHeld, r.bareMaxHeld, r.ratio]),
    ));
    out.push(``, `Goal ${relay.goal}: ${fmt(relay.pass)}.`);
  }
  const idle = obj(realtime?.idleSockets);
  if (idle) {
    out.push(``, `## Idle sockets (server RSS)`, ``);
    out.push(table(
      ["sockets", "RSS delta MiB", "KB per socket"],
      rows(idle.bySize).map((r) => [r.sockets, r.rssDeltaMiB, r.kbPerSocket]),
    ));
  }
  const durable = obj(report.durable);
  if (durable) {
    out.push(``, `## Durable writes (MessageWriter, local file)`, ``);
    out.push(table(
      ["recipients", "max held msg/s (p99 ≤ 50 ms, zero loss)"],
      rows(durable.bySize).map((r) => [r.recipients, r.maxHeldRate]),
    ));
    const floor = obj(durable.storageFloor);
    if (floor) {
      out.push(
        ``,
        `The storage alone (one row and one counter per message, random ` +
          `recipients of 1,000, 160 per commit, no writer):`,
        ``,
      );
      out.push(table(
        ["Deno KV expiry index", "msg/s", "commit p50 ms", "commit p99 ms"],
        [["as shipped", obj(floor.shippedIndex)], [
          "narrowed by openKv",
          obj(floor.narrowIndex),
        ]].map(([name, r]) => {
          const f = r as Obj | null;
          return [name, f?.messagesPerSecond, f?.commitP50Ms, f?.commitP99Ms];
        }),
      ));
    }
    out.push(``, `Goal ${durable.goal}: ${fmt(durable.pass)}.`);
  }
  const catchup = obj(report.catchup);
  if (catchup) {
    out.push(``, `## Catch-up (readInbox, 5 new messages)`, ``);
    out.push(table(
      ["correspondents", "p50 ms", "p99 ms"],
      rows(catchup.rows).map((r) => [r.correspondents, r.p50Ms, r.p99Ms]),
    ));
    out.push(``, `Goal ${catchup.goal}: ${fmt(catchup.pass)}.`);
  }
  const diaryu = obj(report.diaryu);
  if (diaryu && !diaryu.error) {
    out.push(
      ``,
      `## DiaryU pair chat end to end (HTTP line → room socket)`,
      ``,
    );
    out.push(table(
      ["offered lines/s", "delivered/s", "p50 ms", "p99 ms", "held"],
      rows(diaryu.steps).map((
        r,
      ) => [r.rate, r.deliveredPerSecond, r.p50Ms, r.p99Ms, r.held]),
    ));
  }
  return out.join("\n") + "\n";
}
