import * as api from "../api.js";
import { h, clear, card, button, busy, stateBadge, progressBar, stat, fmt, uuidCell } from "../ui.js";
import { lineChart } from "../charts.js";
import { cancelOrDelete } from "./tasks.js";
import { metricStats } from "./cluster.js";

const ENDED = new Set(["finished", "aborted", "failed"]);
// Timestamps are "YYYY-MM-DD HH:MM:SS" (UTC) or "-".
const clock = (ts) => (ts && ts !== "-" ? ts.slice(11) : "–");
const day = (ts) => (ts && ts !== "-" ? `${ts.slice(0, 10)} UTC` : "");
// Live series survive navigating away and back (for this browser tab).
const histories = new Map();

function history(uuid) {
  if (!histories.has(uuid)) {
    histories.set(uuid, {
      t0: null,
      time: [], done: [], rate: [],
      learning: { done: [], accuracy: [], error: [] },
      growth: { samples: [], synapses: [], neurons: [], sections: [], blocks: [] },
    });
  }
  return histories.get(uuid);
}

export default async function render(page, [clusterUuid, taskUuid], { title }) {
  let task = await api.get("task", { uuid: taskUuid, cluster_uuid: clusterUuid });
  const cluster = await api.get("cluster", { uuid: clusterUuid });
  title.textContent = task.name;
  document.title = `${task.name} · Hanami`;
  const hist = history(taskUuid);
  const isTrain = task.type === "train";

  const stateHost = h("span#task-state");
  const progressHost = h("div#task-progress");
  const statsHost = h("div.stats");
  const actions = h("div.page-actions");
  const resultHost = h("div");
  const networkHost = h("div", metricStats(cluster));
  const charts = [];
  let stopped = false;
  let timer = null;

  const chartGrid = h("div.grid-2.charts");
  const chartCard = (titleText, id) => {
    const body = h(`div.chart-host#${id}`);
    chartGrid.append(card(titleText, body));
    return body;
  };
  let progressChart, rateChart, growthChart, learningChart;
  if (isTrain) {
    progressChart = lineChart(chartCard("Progress: samples done", "chart-progress"), {
      x: { label: "seconds" }, y: { label: "samples" },
      series: [{ label: "samples done", fill: true }],
    });
    rateChart = lineChart(chartCard("Throughput", "chart-rate"), {
      x: { label: "seconds" }, y: { label: "samples / s" },
      series: [{ label: "samples/s", color: "#2fb38a" }],
    });
    learningChart = lineChart(chartCard("Learning: rows scored before they were learned",
      "chart-learning"), {
      x: { label: "samples done" }, y: { label: "accuracy %" }, y2: { label: "squared error" },
      series: [
        { label: "accuracy %", color: "#2fb38a", fill: true },
        { label: "squared error", color: "#f0795b", scale: "y2" },
      ],
    });
    growthChart = lineChart(chartCard("Network growth over samples trained", "chart-growth"), {
      x: { label: "samples trained" }, y: { label: "synapses" }, y2: { label: "sections, neurons" },
      series: [
        { label: "synapses", color: "#4f7cff", fill: true },
        { label: "sections", color: "#f0795b", scale: "y2" },
        { label: "neurons in use", color: "#b07cf0", scale: "y2" },
      ],
    });
    charts.push(progressChart, rateChart, learningChart, growthChart);
    chartGrid.append(card("Network now", networkHost));
  }

  function draw() {
    clear(stateHost, stateBadge(task.state));
    clear(progressHost, progressBar(task.percentage,
      `${fmt.int(task.current_cycle)} / ${fmt.int(task.total_number_of_cycles)} · ${(100 * task.percentage).toFixed(1)} %`));
    clear(statsHost,
      stat("Samples / s", fmt.num(task.samples_per_second, 1)),
      isTrain && task.training_accuracy != null
        ? stat("Accuracy while learning", `${(100 * task.training_accuracy).toFixed(1)} %`,
          `squared error ${fmt.num(task.training_error, 4)}`) : null,
      stat(task.state === "active" ? "Time left" : "State", task.state === "active" ? fmt.duration(task.eta_seconds) : task.state),
      isTrain ? stat("Epoch", `${task.epoch} / ${task.epochs}`, task.shuffle ? "shuffled" : "in order") : null,
      stat("Time length", fmt.int(task.time_length)),
      stat("Started", clock(task.start_timestamp), day(task.start_timestamp)),
      stat("Ended", clock(task.end_timestamp), day(task.end_timestamp)));
    const running = !ENDED.has(task.state);
    clear(actions,
      h("a.btn.btn-ghost", { href: `#/tasks/${clusterUuid}` }, "← All tasks"),
      task.type === "request" && task.state === "finished"
        ? h("a.btn.btn-primary#open-results", { href: `#/results/${task.uuid}` }, "Show results") : null,
      button(running ? "Cancel task" : "Delete task", (e) => busy(e.target, async () => {
        stopped = true;
        clearTimeout(timer);
        if (await cancelOrDelete(clusterUuid, task)) {
          if (running) {
            stopped = false;
            tick();
          } else {
            location.hash = `#/tasks/${clusterUuid}`;
          }
        } else {
          stopped = false;
          tick();
        }
      }), "danger", { id: "task-cancel" }));
    if (task.error) clear(resultHost, h("div.alert.alert-error", h("strong", "Task failed: "), task.error));
    else if (task.type === "request" && task.state === "finished") {
      clear(resultHost, h("div.alert.alert-ok", "The results are written to the dataset ",
        h("a", { href: `#/results/${task.uuid}` }, task.name), "."));
    } else clear(resultHost);
  }

  function record(metrics) {
    const now = performance.now() / 1000;
    if (hist.t0 === null) hist.t0 = now;
    const t = +(now - hist.t0).toFixed(2);
    hist.time.push(t);
    hist.done.push(task.current_cycle);
    hist.rate.push(task.samples_per_second ?? 0);
    const l = hist.learning;
    if (task.training_accuracy != null && task.current_cycle > (l.done[l.done.length - 1] ?? -1)) {
      l.done.push(task.current_cycle);
      l.accuracy.push(100 * task.training_accuracy);
      l.error.push(task.training_error);
    }
    if (metrics) {
      const g = hist.growth;
      const x = metrics.samples_trained ?? 0;
      if (g.samples.length && x < g.samples[g.samples.length - 1]) {
        for (const k of Object.keys(g)) g[k].length = 0; // restored: start over
      }
      if (!g.samples.length || x > g.samples[g.samples.length - 1]) {
        g.samples.push(x);
        g.synapses.push(metrics.synapses ?? 0);
        g.neurons.push(metrics.neurons_in_use ?? 0);
        g.sections.push(metrics.sections ?? 0);
        g.blocks.push(metrics.neuron_blocks ?? 0);
      }
    }
  }

  function plot() {
    if (!isTrain) return;
    progressChart.update([hist.time, hist.done]);
    rateChart.update([hist.time, hist.rate]);
    const l = hist.learning;
    learningChart.update([l.done, l.accuracy, l.error]);
    const g = hist.growth;
    growthChart.update([g.samples, g.synapses, g.sections, g.neurons]);
  }

  let metricsAt = 0;
  async function tick() {
    if (stopped) return;
    try {
      task = await api.get("task", { uuid: taskUuid, cluster_uuid: clusterUuid });
      let metrics = null;
      const now = performance.now();
      if (isTrain && (now - metricsAt > 700 || ENDED.has(task.state))) {
        metricsAt = now;
        const latest = await api.get("cluster", { uuid: clusterUuid });
        metrics = latest.metrics;
        if (!stopped) clear(networkHost, metricStats(latest));
      }
      if (stopped) return;
      if (!ENDED.has(task.state) || !hist.finalized) record(metrics);
      if (ENDED.has(task.state)) hist.finalized = true;
      draw();
      plot();
    } catch {
      /* a later tick retries */
    }
    if (!stopped && !ENDED.has(task.state)) timer = setTimeout(tick, 400);
  }

  draw();
  clear(page,
    h("div.page-head",
      h("div",
        h("div.crumbs", h("a", { href: "#/tasks" }, "Tasks"), " / ",
          h("a", { href: `#/tasks/${clusterUuid}` }, cluster.name), " / ", task.name),
        h("div.meta", stateHost, " ", task.type, " task ", uuidCell(task.uuid),
          ` · queued ${task.queue_timestamp}`)),
      actions),
    card("Progress", progressHost, statsHost, resultHost),
    isTrain ? chartGrid : null,
    isTrain && !histories.get(taskUuid).time.length && ENDED.has(task.state)
      ? h("p.hint", "Live charts record while this page is open during training.") : null);
  await tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const c of charts) c.destroy();
  };
}
