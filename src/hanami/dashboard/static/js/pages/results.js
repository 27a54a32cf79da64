import * as api from "../api.js";
import { h, clear, card, busy, field, select, setOptions, stat, fmt, toast } from "../ui.js";
import { lineChart, confusionMatrix } from "../charts.js";

const MAX_ROWS = 10000; // rows read for the charts and the confusion matrix
const CHART_ROWS = 400;

const argmax = (row) => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);

export default async function render(page, [uuid], { title }) {
  const info = await api.datasetInfo(uuid);
  title.textContent = `Results: ${info.name}`;
  document.title = `${info.name} · Results · Hanami`;
  const groups = api.columnGroups(info);
  const remembered = api.requestInfo(uuid) || {};
  const datasets = (await api.getRows("dataset/all")).filter((d) => d.uuid !== uuid);

  const resultCol = select(groups.map((g) => [g.name, `${g.name} (${g.width})`]), { id: "result-column" });
  const refSelect = select([["", "— none —"], ...datasets.map((d) => [d.uuid, `${d.name} (${fmt.short(d.uuid)})`])],
    { id: "reference-dataset" });
  const refCol = select([["", "—"]], { id: "reference-column", disabled: true });
  const evaluate = h("button.btn.btn-primary#evaluate", { type: "button" }, "Evaluate");
  const summary = h("div#result-summary");
  const chartHost = h("div.chart-host#result-chart");
  const confidenceHost = h("div.chart-host#result-confidence");
  const extraHost = h("div#result-extra");
  const charts = [];

  async function loadRefColumns() {
    refCol.disabled = true;
    setOptions(refCol, [["", "—"]]);
    if (!refSelect.value) return;
    const refInfo = await api.datasetInfo(refSelect.value);
    const refGroups = api.columnGroups(refInfo);
    setOptions(refCol, refGroups.map((g) => [g.name, `${g.name} (${g.width})`]));
    const width = groups.find((g) => g.name === resultCol.value)?.width;
    const best = refGroups.find((g) => g.name === "label" && g.width === width)
      || refGroups.find((g) => g.width === width) || refGroups[0];
    refCol.value = best.name;
    refCol.disabled = false;
  }
  refSelect.addEventListener("change", () => loadRefColumns().catch((e) => toast(e.message, "error")));

  async function run() {
    const group = groups.find((g) => g.name === resultCol.value);
    const rows = Math.min(info.number_of_rows, MAX_ROWS);
    const offset = Math.max(0, (remembered.time_length || 1) - 1);
    const values = await api.datasetRows(uuid, group.name, 0, rows);
    let reference = null;
    let check = null;
    if (refSelect.value && refCol.value) {
      const refInfo = await api.datasetInfo(refSelect.value);
      const n = Math.min(rows, refInfo.number_of_rows - offset);
      [reference, check] = await Promise.all([
        api.datasetRows(refSelect.value, refCol.value, offset, Math.max(0, n)),
        api.get("dataset/check", { uuid, reference_uuid: refSelect.value, result_column: group.name,
          reference_column: refCol.value, reference_offset: offset }),
      ]);
    }
    const classification = group.width > 1 && (!check || check.mode === "classification");
    const n = reference ? Math.min(values.length, reference.length) : values.length;

    // ---- summary
    clear(summary, h("div.stats",
      check && check.accuracy !== null
        ? stat("Accuracy", h("span#accuracy", fmt.pct(check.accuracy, 2)), `${fmt.int(check.rows)} rows compared`)
        : null,
      check ? stat("Mode", check.mode) : null,
      check ? stat("Mean squared error", fmt.num(check.mse, 4)) : null,
      check ? stat("Mean absolute error", fmt.num(check.mae, 4)) : null,
      stat("Result rows", fmt.int(info.number_of_rows)),
      stat("Outputs per row", fmt.int(group.width))));

    // ---- charts
    for (const c of charts.splice(0)) c.destroy();
    const shown = Math.min(n, CHART_ROWS);
    const xs = Array.from({ length: shown }, (_, i) => i);
    if (classification) {
      const predicted = xs.map((i) => argmax(values[i]));
      if (reference) {
        const actual = xs.map((i) => argmax(reference[i]));
        charts.push(lineChart(chartHost, {
          x: { label: "row" }, y: { label: "class", incrs: [1, 2, 5, 10], space: 12 }, yRange: [-0.5, group.width - 0.5], height: 240,
          series: [
            { label: "correct", color: "#2fb38a", paths: "points", points: true },
            { label: "wrong: predicted", color: "#e5484d", paths: "points", points: true },
            { label: "wrong: actual", color: "#9aa1b5", paths: "points", points: true },
          ],
          data: [xs,
            xs.map((i) => (predicted[i] === actual[i] ? predicted[i] : null)),
            xs.map((i) => (predicted[i] !== actual[i] ? predicted[i] : null)),
            xs.map((i) => (predicted[i] !== actual[i] ? actual[i] : null))],
        }));
        const window = 50;
        let hits = 0;
        const rolling = xs.map((i) => {
          hits += predicted[i] === actual[i] ? 1 : 0;
          if (i >= window) hits -= predicted[i - window] === actual[i - window] ? 1 : 0;
          return (100 * hits) / Math.min(i + 1, window);
        });
        charts.push(lineChart(confidenceHost, {
          x: { label: "row" }, y: { label: "%" }, y2: { label: "output" }, yRange: [0, 100], height: 200,
          series: [
            { label: `accuracy over the last ${window} rows`, color: "#4f6bff", fill: true },
            { label: "confidence (largest output)", color: "#f2b33dbb", scale: "y2", width: 1 },
          ],
          data: [xs, rolling, xs.map((i) => Math.max(...values[i]))],
        }));
      } else {
        charts.push(lineChart(chartHost, {
          x: { label: "row" }, y: { label: "class", incrs: [1, 2, 5, 10], space: 12 }, yRange: [-0.5, group.width - 0.5], height: 240,
          series: [{ label: "predicted class", color: "#4f6bff", paths: "points", points: true }],
          data: [xs, predicted],
        }));
        charts.push(lineChart(confidenceHost, {
          x: { label: "row" }, y: { label: "output" }, height: 200,
          series: [{ label: "confidence (largest output)", color: "#f2b33d", fill: true }],
          data: [xs, xs.map((i) => Math.max(...values[i]))],
        }));
      }
    } else {
      const series = [{ label: "predicted", color: "#4f6bff" }];
      const data = [xs, xs.map((i) => values[i][0])];
      if (reference) {
        series.push({ label: "expected", color: "#f0795b" });
        data.push(xs.map((i) => reference[i][0]));
        charts.push(lineChart(confidenceHost, {
          x: { label: "row" }, y: { label: "error" }, height: 200,
          series: [{ label: "predicted − expected", color: "#e5484d", fill: true }],
          data: [xs, xs.map((i) => values[i][0] - reference[i][0])],
        }));
      }
      charts.push(lineChart(chartHost, { x: { label: "row" }, y: { label: "value" }, series, data, height: 240 }));
    }

    // ---- confusion matrix and per-class recall
    clear(extraHost);
    if (classification && reference) {
      const k = group.width;
      const matrix = Array.from({ length: k }, () => new Array(k).fill(0));
      for (let i = 0; i < n; i++) matrix[argmax(reference[i])][argmax(values[i])] += 1;
      const labels = Array.from({ length: k }, (_, i) => i);
      const recall = matrix.map((row, i) => {
        const total = row.reduce((a, b) => a + b, 0);
        return total ? row[i] / total : null;
      });
      extraHost.append(h("div.grid-2",
        card(`Confusion matrix (${fmt.int(n)} rows)`, confusionMatrix(matrix, labels)),
        card("Per-class recall", h("div.bars", recall.map((r, i) =>
          h("div.bar-row", h("span.bar-label", String(i)),
            h("div.bar", h("div.bar-fill", { style: { width: `${r === null ? 0 : r * 100}%` } })),
            h("span.bar-value", r === null ? "no rows" : fmt.pct(r * 100, 0))))))));
    }
  }
  evaluate.addEventListener("click", () => busy(evaluate, run));

  clear(page,
    h("div.page-head",
      h("div", h("div.crumbs", h("a", { href: "#/datasets" }, "Datasets"), " / ",
        h("a", { href: `#/datasets/${uuid}` }, info.name), " / results"),
      h("div.meta", `${fmt.int(info.number_of_rows)} rows · created ${info.created_at}`))),
    card("Compare with a reference",
      h("div.inline-form", field("Result column", resultCol), field("Reference dataset", refSelect),
        field("Reference column", refCol), evaluate),
      summary),
    card("Predictions per row", chartHost,
      h("p.hint", `The first ${CHART_ROWS} rows; a row's class is the index of its largest output.`)),
    card("Accuracy and confidence along the rows", confidenceHost),
    extraHost);

  if (remembered.dataset && datasets.some((d) => d.uuid === remembered.dataset)) {
    refSelect.value = remembered.dataset;
    await loadRefColumns();
  }
  await run();
  return () => { for (const c of charts) c.destroy(); };
}
