import * as api from "../api.js";
import { h, clear, card, stat, fmt, table, badge } from "../ui.js";
import { lineChart } from "../charts.js";

const RANGES = [
  ["seconds", "Last minute", "s"],
  ["minutes", "Last hour", "min"],
  ["hours", "Last day", "h"],
  ["days", "Last year", "d"],
];
const LOAD_POINTS = 120;
// CPU load is sampled by this page (the server reports the latest value only).
const loadHistory = { time: [], avg: [], t0: null };

export default async function render(page) {
  let range = "seconds";
  let stopped = false;
  let timer = null;
  const charts = [];

  const statsHost = h("div.stats#system-stats");
  const coresHost = h("div");
  const perCpuHost = h("div.cpu-bars#cpu-bars");
  const threadsHost = h("div");
  const hostsHost = h("div");
  const sources = {};

  const chartBox = (titleText, id) => {
    const body = h(`div.chart-host#${id}`);
    const src = h("small.hint");
    sources[id] = src;
    return [card(titleText, body, src), body];
  };
  const [loadCard, loadBody] = chartBox("CPU load", "chart-load");
  const [speedCard, speedBody] = chartBox("CPU frequency", "chart-speed");
  const [powerCard, powerBody] = chartBox("Power", "chart-power");
  const [tempCard, tempBody] = chartBox("Temperature", "chart-temperature");

  const loadChart = lineChart(loadBody, { x: { label: "seconds" }, y: { label: "% busy" },
    yRange: [0, 100], series: [{ label: "average load", color: "#4f7cff", fill: true }] });
  const ago = (u, splits) => {
    const unit = RANGES.find(([k]) => k === range)[2];
    return splits.map((v) => (v === 0 ? "now" : `${-v} ${unit}`));
  };
  const mk = (body, label, unit, color) => lineChart(body, { x: { label: "time", values: ago },
    y: { label: unit }, series: [{ label, color, fill: true }] });
  const speedChart = mk(speedBody, "frequency", "MHz", "#2fb38a");
  const powerChart = mk(powerBody, "package power", "W", "#f2b33d");
  const tempChart = mk(tempBody, "package temperature", "°C", "#f0795b");
  charts.push(loadChart, speedChart, powerChart, tempChart);

  const tabs = h("div.tabs", { role: "tablist" }, RANGES.map(([key, label]) =>
    h("button.tab", { type: "button", role: "tab", "data-range": key,
      "aria-selected": String(key === range),
      onclick: () => {
        range = key;
        for (const t of tabs.children) t.setAttribute("aria-selected", String(t.dataset.range === range));
        refreshSeries().catch(() => {});
      } }, label)));

  // The measured tail of one level: the server pads its ring buffers with zeros and says in
  // `filled` how many values are real (all of them for a server that does not say).
  const measured = (body, ts, level) => {
    if (body.source === "unavailable") return [];
    const values = ts[level];
    const filled = body.filled ? body.filled[level] : values.length;
    return filled ? values.slice(values.length - filled) : [];
  };

  function series(body, ts, chart, srcEl) {
    const values = measured(body, ts, range);
    const xs = values.map((_, i) => i - values.length + 1);
    chart.update([xs, values]);
    if (body.source === "unavailable") {
      srcEl.textContent = `n/a: ${body.reason || "no sensor for this on this machine"}`;
    } else {
      srcEl.textContent = `Source: ${body.source}` + (values.length ? "" : " · nothing measured in this window yet");
    }
  }

  async function refreshSeries() {
    const [power, speed, temp] = await Promise.all([
      api.get("power_consumption"), api.get("speed"), api.get("temperature_production"),
    ]);
    if (stopped) return null;
    series(power, power.power, powerChart, sources["chart-power"]);
    series(speed, speed.current_speed, speedChart, sources["chart-speed"]);
    series(temp, temp.temperature, tempChart, sources["chart-temperature"]);
    // The newest reading, or the reason there is none.
    const last = (body, ts) => {
      const values = measured(body, ts, "seconds");
      return values.length ? { value: values[values.length - 1] }
        : { reason: body.reason || "not measured yet" };
    };
    return {
      power: last(power, power.power),
      speed: last(speed, speed.current_speed),
      temp: last(temp, temp.temperature),
    };
  }

  // A stat for one sensor: its value, or "n/a" with the reason beneath.
  const sensorStat = (label, reading, format) => (reading.reason
    ? h("div.stat", { "data-sensor": label },
      h("div.stat-label", label), h("div.stat-value", "n/a"),
      h("div.stat-sub", { title: reading.reason }, reading.reason))
    : stat(label, format(reading.value)));

  async function refreshInfo(latest) {
    const { info } = await api.get("system_info");
    if (stopped) return;
    const load = info.cpu_load || { average: 0, per_cpu: [], source: "unavailable" };
    const now = performance.now() / 1000;
    if (loadHistory.t0 === null) loadHistory.t0 = now;
    loadHistory.time.push(+(now - loadHistory.t0).toFixed(1));
    loadHistory.avg.push(load.average);
    if (loadHistory.time.length > LOAD_POINTS) {
      loadHistory.time.shift();
      loadHistory.avg.shift();
    }
    loadChart.update([loadHistory.time, loadHistory.avg]);
    sources["chart-load"].textContent = `Source: ${load.source} · sampled by this page every 2 s`;
    const cores = info.packages.flatMap((p) => p.cores.map((c) => ({ ...c, pkg: p.id })));
    const threads = cores.reduce((n, c) => n + c.threads.length, 0);
    clear(statsHost,
      stat("Host", info.hostname),
      stat("CPU", `${cores.length} core${cores.length === 1 ? "" : "s"}`,
        `${info.packages.length} package${info.packages.length === 1 ? "" : "s"} · ${threads} threads` +
        `${info.has_hyperthreading ? " (SMT)" : ""}`),
      stat("Load", fmt.pct(load.average, 0)),
      latest ? sensorStat("Frequency", latest.speed, (v) => `${fmt.int(v)} MHz`) : null,
      latest ? sensorStat("Power", latest.power, (v) => `${fmt.num(v, 1)} W`) : null,
      latest ? sensorStat("Temperature", latest.temp, (v) => `${fmt.num(v, 1)} °C`) : null);
    clear(perCpuHost, load.per_cpu.map((v, i) =>
      h("div.cpu-bar", { title: `CPU ${i}: ${v.toFixed(0)} %` },
        h("div.cpu-bar-fill", { style: { height: `${Math.max(2, v)}%` } }),
        h("span.cpu-bar-value", `${v.toFixed(0)} %`),
        h("span.cpu-bar-label", `CPU ${i}`))));
    clear(coresHost, table({
      columns: [
        { label: "Package", key: "pkg", class: "num" },
        { label: "Core", key: "id", class: "num" },
        { label: "Threads", render: (c) => c.threads.map((t) => t.id).join(", ") },
        { label: "Current", class: "num", render: (c) => `${fmt.int(c.current_speed / 1000)} MHz` },
        { label: "Range", class: "nowrap", render: (c) => (c.maximum_speed
          ? `${fmt.int(c.minimum_speed / 1000)} – ${fmt.int(c.maximum_speed / 1000)} MHz` : "–") },
      ],
      rows: cores,
    }));
  }

  async function tick() {
    try {
      const latest = await refreshSeries();
      await refreshInfo(latest);
    } catch {
      /* retried */
    }
    if (!stopped) timer = setTimeout(tick, 2000);
  }

  const [threading, hosts] = await Promise.all([api.get("threading"), api.getRows("host/all")]);
  clear(threadsHost, table({
    columns: [
      { label: "Thread", render: (r) => h("code", r.name) },
      { label: "CPUs", render: (r) => r.cpus.join(", ") },
    ],
    rows: Object.entries(threading.thread_map).map(([name, cpus]) => ({ name, cpus })),
  }));
  clear(hostsHost, table({
    columns: [
      { label: "Host", render: (r) => h("code", r.uuid) },
      { label: "Type", render: (r) => badge(r.type, "info") },
    ],
    rows: hosts,
  }));

  await tick();
  clear(page,
    card("Overview", statsHost),
    h("div.grid-2.charts", loadCard, card("Load per CPU", perCpuHost)),
    h("div.range-bar", h("span.muted", "History of the sensors:"), tabs),
    h("div.grid-3.charts", speedCard, powerCard, tempCard),
    h("div.grid-2",
      card("Cores", coresHost),
      h("div.stack", card("Hosts", hostsHost),
        card("Threads", h("details", h("summary", `${Object.keys(threading.thread_map).length} threads`),
          threadsHost)))));
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const c of charts) c.destroy();
  };
}
