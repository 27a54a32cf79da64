import * as api from "../api.js";
import { h, clear, card, button, busy, field, input, select, setOptions, toast, confirmDialog,
  badge, stat, fmt, table } from "../ui.js";
import { validateTemplate } from "../template.js";
import { hexagonSvg, hexLegend } from "../hexview.js";
import { nameProblem } from "./clusters.js";

export function metricStats(cluster) {
  const m = cluster.metrics || {};
  return h("div.stats#cluster-stats",
    stat("Neuron blocks", fmt.int(m.neuron_blocks ?? cluster.number_of_blocks)),
    stat("Sections", fmt.int(m.sections ?? cluster.number_of_sections)),
    stat("Synapses", fmt.int(m.synapses)),
    stat("Neurons in use", fmt.int(m.neurons_in_use)),
    stat("Samples trained", fmt.int(m.samples_trained)),
    stat("Memory", fmt.bytes(m.bytes)));
}

function interfaces(cluster) {
  const rows = [
    ...Object.entries(cluster.inputs || {}).map(([n, w]) => ({ kind: "input", name: n, width: w })),
    ...Object.entries(cluster.outputs || {}).map(([n, w]) => ({ kind: "output", name: n, width: w })),
  ];
  return table({
    columns: [
      { label: "Hexagon", render: (r) => h("code", r.name) },
      { label: "Role", render: (r) => badge(r.kind, r.kind === "input" ? "ok" : "warn") },
      { label: "Width", render: (r) => (r.width ? fmt.int(r.width) : h("span.muted", "set by the first data")) },
    ],
    rows,
  });
}

export default async function render(page, [uuid], { title }) {
  let cluster = await api.get("cluster", { uuid });
  title.textContent = cluster.name;
  document.title = `${cluster.name} · Hanami`;

  const statsHost = h("div", metricStats(cluster));
  const modeBadge = h("span");
  const interfacesHost = h("div", interfaces(cluster));
  const setMode = () => clear(modeBadge, badge(`${cluster.mode} mode`, cluster.mode === "TASK" ? "info" : "warn"));
  setMode();

  // --------------------------------------------------------------- layout
  const parsed = validateTemplate(cluster.template || "");
  const layout = parsed.ok
    ? h("div.hex-preview", hexagonSvg(parsed.template), hexLegend())
    : h("p.empty", "No template stored for this cluster.");

  // --------------------------------------------------------------- checkpoints
  const ckName = input({ id: "checkpoint-name", placeholder: "checkpoint name", maxlength: 254 });
  const ckSave = h("button.btn.btn-primary#checkpoint-save", { type: "button" }, "Save checkpoint");
  const ckSelect = select([], { id: "checkpoint-select", "aria-label": "Checkpoint" });
  const ckRestore = h("button.btn#checkpoint-restore", { type: "button" }, "Restore");
  const ckList = h("div");

  async function loadCheckpoints() {
    const list = (await api.getRows("checkpoint/all")).reverse();
    setOptions(ckSelect, list.map((c) => [c.uuid, `${c.name} · ${c.created_at}`]));
    ckRestore.disabled = !list.length;
    clear(ckList, list.length ? null : h("p.empty", "No checkpoints yet."));
  }

  ckSave.addEventListener("click", () => busy(ckSave, async () => {
    const problem = nameProblem(ckName.value);
    if (problem) throw new Error(`The checkpoint name needs ${problem}.`);
    const task = await api.post("cluster/save", { name: ckName.value, cluster_uuid: uuid });
    toast(task.state === "finished" ? `Checkpoint '${task.name}' saved`
      : `Checkpoint '${task.name}' queued (${task.state})`);
    ckName.value = "";
    await loadCheckpoints();
  }));
  ckRestore.addEventListener("click", () => busy(ckRestore, async () => {
    const label = ckSelect.selectedOptions[0] ? ckSelect.selectedOptions[0].textContent : "";
    if (!(await confirmDialog(`Replace the state of '${cluster.name}' with checkpoint ${label}?`,
      "Restore", "primary"))) return;
    const task = await api.post("cluster/load", { cluster_uuid: uuid, checkpoint_uuid: ckSelect.value });
    toast(task.state === "finished" ? `Checkpoint '${task.name}' restored`
      : `Restore queued (${task.state})`);
    await refresh();
  }));

  async function refresh() {
    cluster = await api.get("cluster", { uuid });
    clear(statsHost, metricStats(cluster));
    clear(interfacesHost, interfaces(cluster));
    setMode();
  }

  let timer = null;
  const remove = button("Delete cluster", async (e) => {
    if (!(await confirmDialog(`Delete cluster '${cluster.name}'? Its tasks are cancelled.`))) return;
    clearInterval(timer);
    await busy(e.target, async () => {
      await api.del("cluster", { uuid });
      toast(`Cluster '${cluster.name}' deleted`);
      location.hash = "#/clusters";
    });
  }, "danger");

  await loadCheckpoints();
  clear(page,
    h("div.page-head",
      h("div", h("div.crumbs", h("a", { href: "#/clusters" }, "Clusters"), " / ", cluster.name),
        h("div.meta", modeBadge, h("code.uuid", uuid), ` · created ${cluster.created_at} by ${cluster.owner_id}`,
          ` · project ${cluster.project_id}`)),
      h("div.page-actions", h("a.btn.btn-primary", { href: `#/tasks/${uuid}` }, "Tasks & training"),
        remove)),
    card(["Network", button("Refresh", (e) => busy(e.target, refresh), "ghost small")], statsHost),
    h("div.grid-2",
      card("Hexagon layout", layout,
        h("details.template-source", h("summary", "Template"), h("pre.code", cluster.template || ""))),
      h("div.stack",
        card("Inputs and outputs", interfacesHost),
        card("Checkpoints",
          h("div.inline-form", field("Save the current state as", ckName), ckSave),
          h("div.inline-form", field("Restore from", ckSelect), ckRestore),
          ckList,
          h("p.hint", h("a", { href: "#/checkpoints" }, "Manage all checkpoints →"))))));

  timer = setInterval(() => { refresh().catch(() => {}); }, 4000);
  return () => clearInterval(timer);
}
