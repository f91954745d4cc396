// Small line icons drawn as SVG (emoji fonts are not everywhere).

const NS = "http://www.w3.org/2000/svg";

/** Shapes of each icon on a 24×24 grid: [element, attributes]. */
const SHAPES = {
  toy: [
    ["circle", { cx: 6.5, cy: 6.5, r: 2.5 }],
    ["circle", { cx: 17.5, cy: 6.5, r: 2.5 }],
    ["circle", { cx: 12, cy: 13, r: 8 }],
    ["circle", { cx: 9, cy: 11.5, r: 0.6, fill: "currentColor" }],
    ["circle", { cx: 15, cy: 11.5, r: 0.6, fill: "currentColor" }],
    ["path", { d: "M9.5 15.5c1.4 1.4 3.6 1.4 5 0" }],
  ],
  app: [
    ["rect", { x: 6.5, y: 2.5, width: 11, height: 19, rx: 2.5 }],
    ["path", { d: "M10.5 18.5h3" }],
    ["path", {
      d: "M9.5 9.5c1.5-1.5 3.5-1.5 5 0M10.8 11.5c.7-.6 1.7-.6 2.4 0",
    }],
  ],
  qr: [
    ["rect", { x: 3, y: 3, width: 7, height: 7, rx: 1 }],
    ["rect", { x: 14, y: 3, width: 7, height: 7, rx: 1 }],
    ["rect", { x: 3, y: 14, width: 7, height: 7, rx: 1 }],
    ["path", { d: "M14 14h3v3M21 14v.01M14 21h.01M17.5 21H21v-3.5" }],
  ],
  lobby: [
    ["path", {
      d: "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.5 4v-4H6.5",
    }],
    ["path", { d: "M8.5 8.5h7M8.5 11.5h4.5" }],
  ],
  diary: [
    ["path", {
      d: "M5 4.5A1.5 1.5 0 0 1 6.5 3H19v15H6.5A1.5 1.5 0 0 0 5 19.5z",
    }],
    ["path", { d: "M5 19.5A1.5 1.5 0 0 0 6.5 21H19v-3" }],
    ["path", {
      d: "M12 7.8c-.9-1.3-3.2-.8-3 1 .2 1.5 3 3.2 3 3.2s2.8-1.7 3-3.2c.2-1.8-2.1-2.3-3-1z",
    }],
  ],
  admin: [
    ["path", { d: "M4 6h10M18 6h2M4 12h4M12 12h8M4 18h12M20 18h0" }],
    ["circle", { cx: 16, cy: 6, r: 2 }],
    ["circle", { cx: 10, cy: 12, r: 2 }],
    ["circle", { cx: 18, cy: 18, r: 2 }],
  ],
  docs: [
    ["path", {
      d: "M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z",
    }],
    ["path", { d: "M14 3v5h5M9 13h6M9 17h6M9 9h2" }],
  ],
};

/** Eyes and mouth of the eight DiaryU emotions (seed 001's table). */
const FACES = [
  { color: "#5b4b8a", eyes: "M8 10.5h2.5M13.5 10.5H16", mouth: "M9 15.5h6" },
  {
    color: "#1f9d55",
    eyes: "M8 9.5c.6-.8 1.9-.8 2.5 0M13.5 9.5c.6-.8 1.9-.8 2.5 0",
    mouth: "M7.5 13.5c1.8 3.5 7.2 3.5 9 0z",
  },
  { color: "#3aa76d", eyes: "dots", mouth: "M9 14.5c1.6 1.6 4.4 1.6 6 0" },
  {
    color: "#d64541",
    eyes: "M7.5 8.5l3 1.5M16.5 8.5l-3 1.5",
    mouth: "M9 16.5c1.6-1.6 4.4-1.6 6 0",
  },
  {
    color: "#3b6fd6",
    eyes: "dots",
    mouth: "M9 16.5c1.6-1.6 4.4-1.6 6 0M16.5 11.5v2",
  },
  {
    color: "#4f86c6",
    eyes: "dots",
    mouth: "M8.5 15.5c1-1 2-1 3.5 0s2.5 1 3.5 0",
  },
  {
    color: "#b8432f",
    eyes: "M8 10h2.5M13.5 10H16",
    mouth: "M8.5 15l1.75-1 1.75 1 1.75-1 1.75 1",
  },
  { color: "#e0623a", eyes: "dots", mouth: "circle" },
];

function svg(children, { size = 24, label = "" } = {}) {
  const root = document.createElementNS(NS, "svg");
  root.setAttribute("viewBox", "0 0 24 24");
  root.setAttribute("width", String(size));
  root.setAttribute("height", String(size));
  root.setAttribute("fill", "none");
  root.setAttribute("stroke", "currentColor");
  root.setAttribute("stroke-width", "1.6");
  root.setAttribute("stroke-linecap", "round");
  root.setAttribute("stroke-linejoin", "round");
  if (label) {
    root.setAttribute("role", "img");
    root.setAttribute("aria-label", label);
  } else root.setAttribute("aria-hidden", "true");
  for (const [tag, attrs] of children) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    root.append(node);
  }
  return root;
}

/** A line icon by name (see SHAPES). */
export function icon(name, options) {
  return svg(SHAPES[name] ?? [], options);
}

/** The face of emotion `n` (0-7), in its colour; `label` names it. */
export function emotionFace(n, { size = 40, label = "" } = {}) {
  const face = FACES[n] ?? FACES[0];
  const parts = [["circle", { cx: 12, cy: 12, r: 9.5 }]];
  if (face.eyes === "dots") {
    parts.push(["circle", { cx: 9, cy: 10, r: 0.8, fill: "currentColor" }]);
    parts.push(["circle", { cx: 15, cy: 10, r: 0.8, fill: "currentColor" }]);
  } else parts.push(["path", { d: face.eyes }]);
  if (face.mouth === "circle") {
    parts.push(["circle", { cx: 12, cy: 15.5, r: 1.8 }]);
  } else parts.push(["path", { d: face.mouth }]);
  const node = svg(parts, { size, label });
  node.setAttribute("color", face.color);
  return node;
}
