// Draws the hexagon layout of a parsed template as SVG: one panel per z layer, rows with an
// odd y shifted right by half a hexagon (core: rows with even y are shifted left), axons as
// arrows, inputs and outputs coloured and labelled.

const NS = "http://www.w3.org/2000/svg";
const R = 26; // hexagon radius
const W = Math.sqrt(3) * R;
const ROW = 1.5 * R;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function hexPoints(cx, cy, r) {
  const pts = [];
  for (let i = 0; i < 6; i++) {
    const a = (Math.PI / 180) * (60 * i - 90);
    pts.push(`${(cx + r * Math.cos(a)).toFixed(1)},${(cy + r * Math.sin(a)).toFixed(1)}`);
  }
  return pts.join(" ");
}

/** svg element for template {hexagons, axons, inputs, outputs}; null for an empty one. */
export function hexagonSvg(template, { maxHexagons = 2000 } = {}) {
  const hexagons = template.hexagons.slice(0, maxHexagons);
  if (!hexagons.length) return null;
  const role = new Map();
  for (const i of template.inputs) role.set(i.hexagon, { kind: "input", name: i.name, sub: i.kind });
  for (const o of template.outputs) role.set(o.hexagon, { kind: "output", name: o.name, sub: o.type });

  const layers = [...new Set(hexagons.map((p) => p[2]))].sort((a, b) => a - b);
  const minX = Math.min(...hexagons.map((p) => p[0]));
  const maxX = Math.max(...hexagons.map((p) => p[0]));
  const minY = Math.min(...hexagons.map((p) => p[1]));
  const maxY = Math.max(...hexagons.map((p) => p[1]));
  const pad = 34;
  const panelW = (maxX - minX + 1.5) * W + pad;
  const panelH = (maxY - minY) * ROW + 2 * R + pad + 16;
  const multi = layers.length > 1;
  const top = multi ? 22 : 0;

  const centre = (p) => {
    const layer = layers.indexOf(p[2]);
    const shift = p[1] % 2 === 1 ? W / 2 : 0;
    return [
      layer * panelW + pad / 2 + W / 2 + (p[0] - minX) * W + shift,
      top + pad / 2 + R + (p[1] - minY) * ROW,
    ];
  };

  const width = layers.length * panelW;
  const height = panelH + top;
  const svg = s("svg", {
    class: "hexview", viewBox: `0 0 ${width.toFixed(0)} ${height.toFixed(0)}`,
    role: "img", "aria-label": `Hexagon layout: ${hexagons.length} hexagons`,
    preserveAspectRatio: "xMidYMid meet",
  });
  svg.style.maxHeight = `${Math.min(420, Math.max(160, height))}px`;
  svg.append(s("defs", {},
    s("marker", { id: "hx-arrow", viewBox: "0 0 10 10", refX: "8", refY: "5", markerWidth: "7",
      markerHeight: "7", orient: "auto-start-reverse" },
    s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "hx-arrowhead" }))));

  if (multi) {
    layers.forEach((z, i) => {
      svg.append(s("text", { x: i * panelW + 8, y: 15, class: "hx-layer" }, `z = ${z}`));
      if (i) svg.append(s("line", { x1: i * panelW, x2: i * panelW, y1: 4, y2: height - 4, class: "hx-sep" }));
    });
  }

  hexagons.forEach((p, id) => {
    const [cx, cy] = centre(p);
    const r = role.get(id);
    const g = s("g", { class: `hx hx-${r ? r.kind : "hidden"}` });
    g.append(s("title", {}, `hexagon ${id}: ${p.join(",")}${r ? ` — ${r.kind} '${r.name}' (${r.sub})` : ""}`));
    g.append(s("polygon", { points: hexPoints(cx, cy, R - 1.5) }));
    g.append(s("text", { x: cx, y: cy + 4, class: "hx-coord" }, p.join(",")));
    if (r) {
      const label = r.name.length > 14 ? `${r.name.slice(0, 13)}…` : r.name;
      g.append(s("text", { x: cx, y: cy + R + 12, class: "hx-name" }, label));
    }
    svg.append(g);
  });

  for (const [a, b] of template.axons) {
    if (a >= hexagons.length || b >= hexagons.length) continue;
    const [x1, y1] = centre(hexagons[a]);
    const [x2, y2] = centre(hexagons[b]);
    const dx = x2 - x1, dy = y2 - y1;
    const len = Math.hypot(dx, dy) || 1;
    const sx = x1 + (dx / len) * R * 0.55, sy = y1 + (dy / len) * R * 0.55;
    const ex = x2 - (dx / len) * R * 0.7, ey = y2 - (dy / len) * R * 0.7;
    const bend = Math.min(40, len * 0.25);
    const mx = (sx + ex) / 2 - (dy / len) * bend, my = (sy + ey) / 2 + (dx / len) * bend;
    svg.append(s("path", {
      d: `M ${sx.toFixed(1)} ${sy.toFixed(1)} Q ${mx.toFixed(1)} ${my.toFixed(1)} ${ex.toFixed(1)} ${ey.toFixed(1)}`,
      class: "hx-axon", "marker-end": "url(#hx-arrow)",
    }));
  }
  return svg;
}

export function hexLegend() {
  const item = (cls, text) => {
    const el = document.createElement("span");
    el.className = `hx-legend-item ${cls}`;
    el.textContent = text;
    return el;
  };
  const legend = document.createElement("div");
  legend.className = "hx-legend";
  legend.append(item("is-input", "input"), item("is-output", "output"),
    item("is-hidden", "hidden"), item("is-axon", "axon"));
  return legend;
}
