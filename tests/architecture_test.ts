import assert from "node:assert/strict";
import { postJson, startTestServer } from "./_server.ts";
import {
  appSocket,
  befriendToys,
  fixture,
  newFamily,
  ok,
  post,
  toySocket,
  until,
  upload,
} from "./_family.ts";

/**
 * The architecture's rules, held by tests rather than by a page:
 *
 * - imports point one way (routes/ and realtime/ use domain/; domain/ never
 *   sees Hono, routes/ or realtime/; realtime/ and routes/ never import each
 *   other; infrastructure in domain/store and domain/platform never imports
 *   a system context) and no module imports itself through a cycle;
 * - every KV key prefix a realistic run leaves behind is claimed by exactly
 *   one module's key table (the `| ["prefix", ...] | value |` rows in the
 *   doc comments of domain/**.ts).
 */

const ROOT = new URL("../", import.meta.url);

/** Infrastructure contexts, and the system contexts they must not use. */
const INFRASTRUCTURE = ["domain/store/", "domain/platform/"];
const SYSTEMS = ["smart_toy", "lobby", "qr_login", "diaryu", "ai"];

/** Every .ts module under `dir` (repository-relative paths). */
async function modulesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) out.push(...await modulesUnder(`${path}/`));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Source without comments, so an import quoted in a doc is not counted. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

const IMPORT_PATTERNS = [
  // import x from "m"; import { a, type B } from "m"; import * as m from "m"
  /\bimport\s+(?:type\s+)?[\w$*{}\s,]*?\s*from\s*["']([^"']+)["']/g,
  // export { a } from "m"; export * from "m"; export * as m from "m"
  /\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s*["']([^"']+)["']/g,
  // import "m";
  /\bimport\s*["']([^"']+)["']/g,
  // import("m")
  /\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g,
];

/** The specifiers a module imports, statically or dynamically. */
export function importsOf(source: string): string[] {
  const code = withoutComments(source);
  const out = new Set<string>();
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) out.add(m[1]);
  }
  return [...out];
}

/** A repository-relative path for a relative specifier; the name of a package otherwise. */
function resolve(from: string, specifier: string): string {
  if (!specifier.startsWith(".")) {
    return specifier.replace(/^npm:\/?/, "").replace(/@[^/]*$/, "");
  }
  const url = new URL(specifier, new URL(from, ROOT));
  return decodeURIComponent(url.pathname.slice(ROOT.pathname.length));
}

/** Why `from` may not import `to`, or null when it may. */
function wrongWay(from: string, to: string): string | null {
  const isHono = to === "hono" || to.startsWith("hono/");
  if (from.startsWith("domain/")) {
    if (isHono) return "domain/ never sees Hono";
    if (to.startsWith("routes/")) return "domain/ never imports routes/";
    if (to.startsWith("realtime/")) return "domain/ never imports realtime/";
    if (to === "main.ts") return "domain/ never imports main.ts";
  }
  if (from.startsWith("realtime/") && to.startsWith("routes/")) {
    return "realtime/ never imports routes/";
  }
  if (from.startsWith("routes/") && to.startsWith("realtime/")) {
    return "routes/ never imports realtime/ (main.ts mounts both)";
  }
  if (INFRASTRUCTURE.some((dir) => from.startsWith(dir))) {
    const system = SYSTEMS.find((s) => to.startsWith(`domain/${s}/`));
    if (system) return `infrastructure never depends on the ${system} model`;
  }
  return null;
}

/** The import graph of domain/, routes/, realtime/ and main.ts. */
async function importGraph(): Promise<Map<string, string[]>> {
  const files = [
    ...await modulesUnder("domain/"),
    ...await modulesUnder("routes/"),
    ...await modulesUnder("realtime/"),
    "main.ts",
  ];
  const graph = new Map<string, string[]>();
  for (const file of files.sort()) {
    const source = await Deno.readTextFile(new URL(file, ROOT));
    graph.set(file, importsOf(source).map((s) => resolve(file, s)));
  }
  return graph;
}

/** Every wrong-way import of `graph`, as "from -> to: why". */
export function wrongWayImports(graph: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const why = wrongWay(from, to);
      if (why) out.push(`${from} -> ${to}: ${why}`);
    }
  }
  return out;
}

/** A cycle as "a -> b -> ... -> a", starting from its first module by name. */
function canonical(cycle: string[]): string {
  const first = cycle.indexOf([...cycle].sort()[0]);
  const turned = [...cycle.slice(first), ...cycle.slice(0, first)];
  return [...turned, turned[0]].join(" -> ");
}

/** The import cycles of `graph`, each as "a -> b -> ... -> a". */
export function importCycles(graph: Map<string, string[]>): string[] {
  const cycles = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") {
        cycles.add(canonical(stack.slice(stack.indexOf(next))));
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return [...cycles];
}

Deno.test("the import reader sees static, re-exported, side-effect and dynamic imports, not comments", () => {
  const source = `
    import { a, type B } from "./a.ts";
    import type {
      C,
    } from "../b/c.ts";
    import * as d from "hono";
    export { e } from "./e.ts";
    export * from "./f.ts";
    import "./g.ts";
    const h = await import("./h.ts");
    /** import { x } from "./not_me.ts"; */
    // import { y } from "./nor_me.ts";
  `;
  assert.deepEqual(importsOf(source).sort(), [
    "../b/c.ts",
    "./a.ts",
    "./e.ts",
    "./f.ts",
    "./g.ts",
    "./h.ts",
    "hono",
  ]);
  assert.deepEqual(
    importCycles(
      new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]),
    ),
    ["a -> b -> c -> a"],
  );
});

Deno.test("imports point one way and never form a cycle", async () => {
  const graph = await importGraph();
  assert.ok(graph.size > 20, `read ${graph.size} modules`);
  const found = {
    wrongWay: wrongWayImports(graph),
    cycles: importCycles(graph),
  };
  assert.deepEqual(found, { wrongWay: [], cycles: [] });
});

/** The key prefixes claimed by each domain module's key table. */
async function keyTables(): Promise<Map<string, string[]>> {
  const claims = new Map<string, string[]>();
  for (const file of await modulesUnder("domain/")) {
    const source = await Deno.readTextFile(new URL(file, ROOT));
    const prefixes = new Set<string>();
    for (const doc of source.match(/\/\*\*[\s\S]*?\*\//g) ?? []) {
      for (const row of doc.matchAll(/^\s*\*\s*\|\s*\[\s*"([^"]+)"/gm)) {
        prefixes.add(row[1]);
      }
    }
    for (const prefix of prefixes) {
      claims.set(prefix, [...claims.get(prefix) ?? [], file]);
    }
  }
  return claims;
}

/** Every first key part in the store. */
async function prefixesIn(kv: Deno.Kv): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const e of kv.list({ prefix: [] })) out.add(String(e.key[0]));
  return out;
}

/** The prefixes no table claims, and those more than one module claims. */
export function ownershipProblems(
  prefixes: Iterable<string>,
  claims: Map<string, string[]>,
): string[] {
  const out: string[] = [];
  for (const prefix of prefixes) {
    const owners = claims.get(prefix) ?? [];
    if (owners.length === 0) out.push(`"${prefix}": no key table claims it`);
    if (owners.length > 1) {
      out.push(`"${prefix}": claimed by ${owners.join(" and ")}`);
    }
  }
  return out.sort();
}

Deno.test("each key table prefix belongs to one module", async () => {
  const claims = await keyTables();
  assert.ok(claims.has("toys") && claims.has("inbox"), "tables are read");
  assert.deepEqual(ownershipProblems(claims.keys(), claims), []);
});

Deno.test("after a realistic run every key prefix in the store has exactly one owner", async () => {
  await using server = await startTestServer();
  // Smart toy: two families (register, login, bind, open), their toys
  // befriended through a request, a voice message, a relayed signal.
  const a = await newFamily(server);
  const b = await newFamily(server);
  await befriendToys(server, a, b);
  ok(
    await post(server, "/add_req", {
      req_user: a.userId,
      add_user: b.toyId,
      type: "app",
      req_info: "hi",
      remark: "pending",
    }, a.token),
  );
  ok(
    await upload(
      server,
      "/app_uploader",
      {
        to_user: a.toyId,
        user_id: a.userId,
      },
      { field: "reco_file", bytes: await fixture("speech.mp3") },
      a.token,
    ),
  );
  {
    // The toy has no socket here: the signal goes through the KV log.
    await using parent = await appSocket(server, a);
    parent.send({ to_user: a.toyId, type: "music", music: "x.mp3" });
    await using toy = await toySocket(server, b);
    toy.send({ type: "ping" });
    await toy.next((f) => f.type === "pong");
  }
  ok(await post(server, "/content_list", {}));

  // Lobby: register, log in, chat.
  assert.equal(
    (await postJson(`${server.url}/api/register`, {
      username: "ann",
      password: "pw1",
    })).status,
    200,
  );
  const login = await postJson(`${server.url}/api/login`, {
    username: "ann",
    password: "pw1",
  });
  const chat = await fetch(`${server.url}/api/chat`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${login.body.token}`,
    },
    body: JSON.stringify({ message: "hello" }),
  });
  assert.equal(chat.status, 200, await chat.text());

  // QR login: a page asks for a key, the phone scans and confirms.
  const page = new WebSocket(`${server.url.replace(/^http/, "ws")}/qr_login`);
  const frames: { type: string; key?: string }[] = [];
  const closed = new Promise((r) => (page.onclose = r));
  page.onmessage = (e) => frames.push(JSON.parse(e.data));
  await until(() => frames.length > 0, "the QR key");
  const key = frames[0].key;
  ok(await post(server, "/qr_login/scan", { key }, a.token));
  ok(await post(server, "/qr_login/confirm", { key }, a.token));
  await until(() => frames.some((f) => f.type === "token"), "the web token");
  page.close();
  await closed;

  const prefixes = await prefixesIn(server.kv);
  for (const expected of ["toys", "inbox", "signal_log", "sessions"]) {
    assert.ok(prefixes.has(expected), `the run left ${expected} keys`);
  }
  assert.deepEqual(ownershipProblems(prefixes, await keyTables()), []);
});
