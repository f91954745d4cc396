// API reference rendered from this server's /openapi.json: tags, paths,
// methods, summaries, request and reply schemas, and the WebSocket
// endpoints the document lists in its `x-websockets` extension.

import {
  el,
  initPage,
  onLangChange,
  serverDoc,
  t,
  websocketsOf,
} from "./common.js";

initPage();

const $ = (id) => document.getElementById(id);
const METHODS = ["get", "post", "put", "patch", "delete", "head"];
let doc = null;

/** Follows a local `$ref` ("#/components/schemas/X"). */
function resolve(schema, depth = 0) {
  if (!schema || typeof schema !== "object" || depth > 8) return schema ?? {};
  if (typeof schema.$ref === "string" && schema.$ref.startsWith("#/")) {
    const target = schema.$ref.slice(2).split("/").reduce(
      (node, part) => node?.[part.replaceAll("~1", "/").replaceAll("~0", "~")],
      doc,
    );
    return resolve(target, depth + 1);
  }
  return schema;
}

/** A short type name: "string", "array of integer", "file", "a | b". */
function typeLabel(raw) {
  const schema = resolve(raw);
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return union.map(typeLabel).join(" | ");
  if (schema.allOf) return schema.allOf.map(typeLabel).join(" & ");
  if (schema.format === "binary" || schema.contentMediaType) {
    return t("docs.file");
  }
  const type = [schema.type ?? "any"].flat().join(" | ");
  if (type === "array") {
    return t("docs.arrayOf", { type: typeLabel(schema.items ?? {}) });
  }
  return type;
}

/** Constraints worth showing next to a field. */
function notes(raw) {
  const s = resolve(raw);
  const out = [];
  if (s.description) out.push(s.description);
  if (s.format && s.format !== "binary") out.push(s.format);
  if (s.pattern) out.push(t("docs.pattern", { p: s.pattern }));
  if (s.minLength !== undefined) {
    out.push(`≥ ${s.minLength} ${t("docs.chars")}`);
  }
  if (s.maxLength !== undefined) {
    out.push(`≤ ${s.maxLength} ${t("docs.chars")}`);
  }
  if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
  if (s.default !== undefined) {
    out.push(t("docs.default", { v: JSON.stringify(s.default) }));
  }
  return out.join(" · ");
}

/** A table of an object schema's fields (nested objects indented). */
function schemaView(raw, depth = 0) {
  const schema = resolve(raw);
  const props = schema.properties;
  if (!props || depth > 3) {
    return el("p", { className: "small" }, [
      el("code", {}, typeLabel(schema)),
      notes(schema) ? ` — ${notes(schema)}` : "",
    ]);
  }
  const required = new Set(schema.required ?? []);
  const rows = [];
  for (const [name, prop] of Object.entries(props)) {
    const p = resolve(prop);
    rows.push(el("tr", {}, [
      el("td", {}, [el("code", {}, name), required.has(name) ? " *" : ""]),
      el("td", {}, el("code", {}, typeLabel(p))),
      el("td", {}, notes(p)),
    ]));
    const inner = p.type === "array" ? resolve(p.items) : p;
    if (inner?.properties) {
      rows.push(
        el("tr", {}, [el("td", { colSpan: 3 }, schemaView(inner, depth + 1))]),
      );
    }
  }
  return el("table", { className: "schema" }, [
    el(
      "thead",
      {},
      el("tr", {}, [
        el("th", { scope: "col" }, t("docs.field")),
        el("th", { scope: "col" }, t("docs.type")),
        el("th", { scope: "col" }, t("docs.notes")),
      ]),
    ),
    el("tbody", {}, rows),
  ]);
}

function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(
    /^-|-$/g,
    "",
  );
}

function operationView(path, method, op) {
  const body = [];
  if (op.description) {
    body.push(el("p", { className: "small muted" }, op.description));
  }
  const auth = Array.isArray(op.security) && op.security.length === 0
    ? t("docs.noAuth")
    : op.security || doc.security
    ? t("docs.bearer")
    : "";
  if (auth) {
    body.push(
      el("p", { className: "small" }, [
        el("strong", {}, t("docs.auth")),
        " ",
        auth,
      ]),
    );
  }
  const params = op.parameters ?? [];
  if (params.length) {
    body.push(el("h4", {}, t("docs.parameters")));
    body.push(el("table", { className: "schema" }, [
      el(
        "tbody",
        {},
        params.map((raw) => {
          const p = resolve(raw);
          return el("tr", {}, [
            el("td", {}, [el("code", {}, p.name), p.required ? " *" : ""]),
            el("td", {}, `${p.in}`),
            el("td", {}, el("code", {}, typeLabel(p.schema ?? {}))),
            el("td", {}, p.description ?? ""),
          ]);
        }),
      ),
    ]));
  }
  const request = resolve(op.requestBody);
  if (request?.content) {
    const types = Object.keys(request.content);
    body.push(el("h4", {}, t("docs.request")));
    body.push(el("p", { className: "small muted" }, types.join(", ")));
    body.push(schemaView(request.content[types[0]]?.schema ?? {}));
  }
  const responses = Object.entries(op.responses ?? {});
  if (responses.length) {
    body.push(el("h4", {}, t("docs.responses")));
    for (const [status, raw] of responses) {
      const response = resolve(raw);
      const content = response.content
        ? Object.values(response.content)[0]
        : null;
      body.push(
        el("p", { className: "small" }, [
          el("strong", {}, status),
          " ",
          response.description ?? "",
        ]),
      );
      if (content?.schema) body.push(schemaView(content.schema));
    }
  }
  return el("details", {
    className: "op",
    id: `op-${method}-${slug(path)}`,
    "data-search": `${method} ${path} ${op.summary ?? ""}`.toLowerCase(),
  }, [
    el("summary", {}, [
      el("span", { className: `method ${method}` }, method.toUpperCase()),
      el("span", { className: "path" }, path),
      el("span", { className: "muted small" }, op.summary ?? ""),
    ]),
    el("div", { className: "body" }, body),
  ]);
}

function socketView(ws) {
  const rest = Object.entries(ws).filter(([k]) =>
    !["path", "summary", "description"].includes(k)
  );
  return el("details", {
    className: "op",
    id: `ws-${slug(ws.path)}`,
    "data-search": `ws ${ws.path} ${ws.summary ?? ""} ${ws.description ?? ""}`
      .toLowerCase(),
  }, [
    el("summary", {}, [
      el("span", { className: "method ws" }, "WS"),
      el("span", { className: "path" }, ws.path),
      el("span", { className: "muted small" }, ws.summary ?? ""),
    ]),
    el("div", { className: "body" }, [
      ws.description ? el("p", { className: "small" }, ws.description) : null,
      rest.length
        ? el("pre", {}, JSON.stringify(Object.fromEntries(rest), null, 2))
        : null,
    ]),
  ]);
}

function render() {
  if (!doc) return;
  const groups = new Map();
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = ops[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? "other";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push(operationView(path, method, op));
    }
  }
  const sockets = websocketsOf(doc);
  if (sockets.length) groups.set(t("docs.websockets"), sockets.map(socketView));
  const sections = [];
  const toc = [];
  for (const [tag, views] of groups) {
    const id = `tag-${slug(tag)}`;
    sections.push(
      el("section", { id, className: "stack-tight", "data-tag": tag }, [
        el("h2", {}, tag),
        ...views,
      ]),
    );
    toc.push(el("a", { href: `#${id}` }, `${tag} (${views.length})`));
  }
  if (!sections.length) {
    sections.push(el("p", { className: "muted" }, t("docs.empty")));
  }
  const info = doc.info ?? {};
  $("ops").replaceChildren(
    el(
      "p",
      { className: "muted small" },
      `${info.title ?? ""} ${info.version ?? ""}`.trim(),
    ),
    ...sections,
  );
  $("toc").replaceChildren(...toc);
  applyFilter();
}

function applyFilter() {
  const q = $("filter").value.trim().toLowerCase();
  for (const section of $("ops").querySelectorAll("section[data-tag]")) {
    let shown = 0;
    for (const op of section.querySelectorAll(".op")) {
      const hit = !q || op.dataset.search.includes(q);
      op.hidden = !hit;
      if (hit) shown++;
    }
    section.hidden = shown === 0;
  }
}

$("filter").addEventListener("input", applyFilter);
onLangChange(render);

serverDoc().then((d) => {
  doc = d;
  if (!d.paths) {
    $("ops").replaceChildren(
      el("p", { className: "notice bad" }, t("docs.failed")),
    );
    return;
  }
  render();
});
