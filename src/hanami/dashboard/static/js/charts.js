// Charts: thin wrappers around the vendored uPlot (window.uPlot) plus a confusion matrix.
import { h } from "./ui.js";

export const PALETTE = ["#4f7cff", "#f0795b", "#2fb38a", "#b07cf0", "#f2b33d", "#3cb4d8", "#e5659a"];

const AXIS = {
  stroke: "#6b7280",
  grid: { stroke: "rgba(120,130,150,0.15)", width: 1 },
  ticks: { stroke: "rgba(120,130,150,0.3)", width: 1 },
  font: "11px system-ui, sans-serif",
};

/**
 * lineChart(host, {series: [{label, color, scale, fill, points, paths}], x: {label, time},
 *                  y: {label}, y2: {label}, height})
 * Returns {update(data), destroy()}; data = [xs, ys1, ys2, ...].
 */
export function lineChart(host, opts) {
  const el = h("div.chart");
  host.append(el);
  const height = opts.height || 220;
  const scales = { x: { time: Boolean(opts.x && opts.x.time) } };
  if (opts.yRange) scales.y = { range: opts.yRange };
  const axes = [
    { ...AXIS, label: opts.x && opts.x.label, labelSize: opts.x && opts.x.label ? 20 : 0,
      values: opts.x && opts.x.values },
    { ...AXIS, label: opts.y && opts.y.label, labelSize: 20, size: 56,
      values: opts.y && opts.y.values },
  ];
  if (opts.y && opts.y.incrs) axes[1].incrs = opts.y.incrs;
  if (opts.y && opts.y.space) axes[1].space = opts.y.space;
  if (opts.y2) {
    scales.y2 = {};
    axes.push({ ...AXIS, scale: "y2", side: 1, grid: { show: false }, label: opts.y2.label,
      labelSize: 20, size: 56 });
  }
  const series = [{ label: opts.x && opts.x.label ? opts.x.label : "x" }];
  opts.series.forEach((s, i) => {
    const color = s.color || PALETTE[i % PALETTE.length];
    series.push({
      label: s.label,
      stroke: color,
      width: s.width || 2,
      scale: s.scale || "y",
      fill: s.fill ? `${color}22` : undefined,
      points: { show: s.points ?? false, size: 5, fill: color },
      paths: s.paths === "steps" ? window.uPlot.paths.stepped({ align: 1 })
        : s.paths === "points" ? () => null : undefined,
      value: s.value,
    });
  });
  const empty = [[], ...opts.series.map(() => [])];
  const width = Math.max(200, el.clientWidth || host.clientWidth || 600);
  const plot = new window.uPlot({
    width, height, scales, axes, series,
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  }, opts.data || empty, el);
  const observer = new ResizeObserver(() => {
    const w = Math.max(200, el.clientWidth);
    if (Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height });
  });
  observer.observe(el);
  return {
    el,
    plot,
    update(data) {
      plot.setData(data);
      el.dataset.points = String(data[0].length);
    },
    destroy() {
      observer.disconnect();
      plot.destroy();
      el.remove();
    },
  };
}

/** Confusion matrix as a heat-map table; matrix[actual][predicted]. */
export function confusionMatrix(matrix, labels) {
  const max = Math.max(1, ...matrix.flat());
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  return h("div.confusion",
    h("div.table-wrap",
      h("table.confusion-table",
        h("thead",
          h("tr", h("th"), h("th.axis", { colSpan: labels.length }, "predicted →")),
          h("tr", h("th.axis", "actual ↓"), labels.map((l) => h("th", String(l))))),
        h("tbody", matrix.map((row, i) =>
          h("tr", h("th", String(labels[i])), row.map((value, j) => {
            const alpha = value / max;
            const diag = i === j;
            const bg = diag ? `rgba(47,179,138,${0.12 + 0.8 * alpha})`
              : value ? `rgba(240,121,91,${0.12 + 0.8 * alpha})` : "transparent";
            return h("td", {
              style: { background: bg, color: alpha > 0.55 ? "#fff" : "" },
              title: `actual ${labels[i]}, predicted ${labels[j]}: ${value} ` +
                `(${total ? ((100 * value) / total).toFixed(1) : 0} % of all rows)`,
            }, value ? String(value) : "·");
          })))))));
}

/** A small canvas drawing a square grey-scale picture (e.g. an MNIST digit). */
export function pictureCanvas(values, side, scale = 2) {
  const canvas = h("canvas.picture", { width: side, height: side });
  canvas.style.width = `${side * scale}px`;
  canvas.style.height = `${side * scale}px`;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(side, side);
  const max = Math.max(1e-9, ...values);
  values.forEach((v, i) => {
    const g = 255 - Math.round((255 * Math.max(0, v)) / max);
    img.data.set([g, g, g, 255], i * 4);
  });
  ctx.putImageData(img, 0, 0);
  return canvas;
}
