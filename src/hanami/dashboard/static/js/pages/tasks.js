import * as api from "../api.js";
import { h, clear, card, button, busy, field, input, select, setOptions, toast, confirmDialog,
  table, stateBadge, progressBar, uuidCell, fmt } from "../ui.js";
import { nameProblem } from "./clusters.js";

const ENDED = new Set(["finished", "aborted", "failed"]);
const taskCache = new Map(); // uuid -> last GET task answer

export async function cancelOrDelete(clusterUuid, task) {
  const running = task.state === "active" || task.state === "queued";
  const verb = running ? "Cancel" : "Delete";
  const text = running
    ? `Cancel task '${task.name}'? A running task stops after its current chunk of rows.`
    : `Remove task '${task.name}' from the list?` +
      (task.type === "request" ? " Its result dataset stays." : "");
  if (!(await confirmDialog(text, `${verb} task`))) return false;
  await api.del("task", { uuid: task.uuid, cluster_uuid: clusterUuid });
  toast(running ? `Task '${task.name}' cancelled` : `Task '${task.name}' removed`);
  return true;
}

/** The form that creates train and request tasks for one cluster. */
function taskForm(cluster, datasets, onCreated) {
  let kind = "train";
  const inputs = Object.keys(cluster.inputs || {});
  const outputs = Object.keys(cluster.outputs || {});
  const name = input({ id: "task-name", value: `train_${Date.now().toString(36).slice(-4)}` });
  const epochs = input({ id: "task-epochs", type: "number", min: 1, max: 100000, value: 1 });
  const timeLength = input({ id: "task-time-length", type: "number", min: 1, max: 1000, value: 1 });
  const timeLengthReq = input({ id: "request-time-length", type: "number", min: 1, max: 1000, value: 1 });
  const shuffle = h("input#task-shuffle", { type: "checkbox" });
  const error = h("p.form-error", { role: "alert" });
  const submit = h("button.btn.btn-primary#task-submit", { type: "button" }, "Start training");
  const datasetOptions = [["", "— choose a dataset —"],
    ...datasets.map((d) => [d.uuid, `${d.name} (${fmt.short(d.uuid)})`])];

  /** One row binding a hexagon to a dataset column; prefer picks the default column. */
  function binding(hexagon, role, prefer) {
    const ds = select(datasetOptions, { "data-hexagon": hexagon, "data-role": role, class: "ds-select",
      "aria-label": `Dataset for ${hexagon}` });
    const col = select([["", "—"]], { "data-hexagon": hexagon, "data-role": role, class: "col-select",
      "aria-label": `Column for ${hexagon}`, disabled: true });
    ds.addEventListener("change", async () => {
      col.disabled = true;
      setOptions(col, [["", "…"]]);
      if (!ds.value) return;
      try {
        const info = await api.datasetInfo(ds.value);
        const groups = api.columnGroups(info);
        setOptions(col, groups.map((g) => [g.name, `${g.name} (${g.width} columns)`]));
        col.value = prefer(groups).name;
        col.disabled = false;
        if (role === "input") autoFill(ds.value);
      } catch (err) {
        toast(err.message, "error");
      }
    });
    return { hexagon, ds, col,
      row: h("div.binding", h("code.binding-hex", hexagon), h("span.arrow", "←"), ds, col) };
  }
  const notLabel = (groups) => groups.find((g) => g.name !== "label") || groups[0];
  const label = (groups) => groups.find((g) => g.name === "label") || groups[groups.length - 1];
  const inputRows = inputs.map((n) => binding(n, "input", notLabel));
  const outputRows = outputs.map((n) => binding(n, "output", label));
  const resultCols = outputs.map((n) => ({
    hexagon: n,
    col: input({ value: "label", "data-hexagon": n, class: "result-col", "aria-label": `Result column for ${n}` }),
  }));

  function autoFill(datasetUuid) {
    for (const b of [...inputRows, ...outputRows]) {
      if (!b.ds.value) {
        b.ds.value = datasetUuid;
        b.ds.dispatchEvent(new Event("change"));
      }
    }
  }

  const outputsHost = h("div.bindings");
  const trainOnly = h("div.form-grid",
    field("Epochs", epochs, "passes over the data"),
    field("Time length", timeLength, "rows per sample window"),
    h("label.check", shuffle, " Shuffle the rows in every epoch"));
  const requestOnly = h("div.form-grid", field("Time length", timeLengthReq, "rows per sample window"));
  const tabs = h("div.tabs", { role: "tablist" });

  function setKind(next) {
    kind = next;
    for (const t of tabs.children) t.setAttribute("aria-selected", String(t.dataset.kind === kind));
    name.value = `${kind}_${Date.now().toString(36).slice(-4)}`;
    submit.textContent = kind === "train" ? "Start training" : "Run request";
    clear(outputsHost, kind === "train"
      ? outputRows.map((b) => b.row)
      : resultCols.map((r) => h("div.binding", h("code.binding-hex", r.hexagon), h("span.arrow", "→"),
        h("span.muted", "result column"), r.col)));
    trainOnly.hidden = kind !== "train";
    requestOnly.hidden = kind === "train";
    error.textContent = "";
  }
  for (const [k, text] of [["train", "Train"], ["request", "Request"]]) {
    tabs.append(h("button.tab", { type: "button", role: "tab", "data-kind": k, id: `tab-${k}`,
      onclick: () => setKind(k) }, text));
  }

  submit.addEventListener("click", () => busy(submit, async () => {
    error.textContent = "";
    const problem = nameProblem(name.value);
    if (problem) throw new Error(`The task name needs ${problem}.`);
    const bound = (rows) => rows.map((b) => {
      if (!b.ds.value || !b.col.value) throw new Error(`Choose a dataset and column for '${b.hexagon}'.`);
      return { hexagon_name: b.hexagon, dataset_uuid: b.ds.value, dataset_column: b.col.value };
    });
    const body = { name: name.value, cluster_uuid: cluster.uuid, inputs: bound(inputRows) };
    let task;
    if (kind === "train") {
      Object.assign(body, { outputs: bound(outputRows), epochs: Number(epochs.value) || 1,
        time_length: Number(timeLength.value) || 1, shuffle: shuffle.checked });
      task = await api.post("task/train", body);
    } else {
      Object.assign(body, {
        results: resultCols.map((r) => ({ hexagon_name: r.hexagon, dataset_column: r.col.value.trim() })),
        time_length: Number(timeLengthReq.value) || 1,
      });
      task = await api.post("task/request", body);
      api.rememberRequest(task.uuid, { dataset: inputRows[0].ds.value, cluster: cluster.uuid,
        time_length: body.time_length });
    }
    toast(`${kind === "train" ? "Training" : "Request"} task '${task.name}' queued`);
    onCreated(task);
  }));

  setKind("train");
  if (!datasets.length) {
    return h("p.empty", "Upload a dataset first: ", h("a", { href: "#/datasets" }, "Datasets →"));
  }
  return h("div.task-form",
    tabs,
    h("div.form-grid", field("Task name", name)),
    h("h3.subhead", "Inputs"),
    h("div.bindings", inputRows.map((b) => b.row)),
    h("h3.subhead", "Outputs"),
    outputsHost,
    trainOnly,
    requestOnly,
    error,
    h("div.form-actions", submit));
}

export default async function render(page, [clusterUuid]) {
  const clusters = await api.getRows("cluster/all");
  if (!clusters.length) {
    clear(page, card("Tasks", h("p.empty", "Tasks run on a cluster. ",
      h("a", { href: "#/clusters" }, "Create a cluster first →"))));
    return undefined;
  }
  if (!clusterUuid || !clusters.some((c) => c.uuid === clusterUuid)) {
    location.replace(`#/tasks/${clusters[clusters.length - 1].uuid}`);
    return undefined;
  }
  const [cluster, datasets] = await Promise.all([
    api.get("cluster", { uuid: clusterUuid }), api.getRows("dataset/all"),
  ]);
  const picker = select(clusters.map((c) => [c.uuid, c.name]), { id: "task-cluster", "aria-label": "Cluster" });
  picker.value = clusterUuid;
  picker.addEventListener("change", () => { location.hash = `#/tasks/${picker.value}`; });

  const listHost = h("div#task-list");
  let timer = null;
  let stopped = false;

  async function loadTasks() {
    const list = await api.getRows("task/all", { cluster_uuid: clusterUuid });
    const shown = list.slice(-50).reverse();
    await Promise.all(shown.map(async (row) => {
      const cached = taskCache.get(row.uuid);
      if (!cached || !ENDED.has(cached.state) || cached.state !== row.state) {
        taskCache.set(row.uuid, await api.get("task", { uuid: row.uuid, cluster_uuid: clusterUuid }));
      }
    }));
    if (stopped) return false;
    const tasks = shown.map((r) => taskCache.get(r.uuid));
    clear(listHost, table({
      columns: [
        { label: "Name", render: (t) => h("a.strong", { href: `#/tasks/${clusterUuid}/${t.uuid}` }, t.name) },
        { label: "Type", render: (t) => t.type.replace("checkpoint_", "checkpoint ") },
        { label: "State", render: (t) => stateBadge(t.state) },
        { label: "Progress", class: "w-progress", render: (t) => progressBar(t.percentage) },
        { label: "Samples/s", class: "num", render: (t) => fmt.num(t.samples_per_second, 1) },
        { label: "ETA", class: "nowrap", render: (t) => (t.state === "active" ? fmt.duration(t.eta_seconds) : "–") },
        { label: "Queued", key: "queue_timestamp", class: "nowrap" },
        { label: "", class: "actions", render: (t) => h("div.row-actions",
          t.type === "request" && t.state === "finished"
            ? h("a.btn.btn-small.btn-primary", { href: `#/results/${t.uuid}` }, "Results") : null,
          h("a.btn.btn-small", { href: `#/tasks/${clusterUuid}/${t.uuid}` }, "Monitor"),
          button(ENDED.has(t.state) ? "Delete" : "Cancel", async (e) => {
            await busy(e.target, async () => {
              if (await cancelOrDelete(clusterUuid, t)) {
                taskCache.delete(t.uuid);
                await loadTasks();
              }
            });
          }, "small-danger")) },
      ],
      rows: tasks,
      rowAttrs: (t) => ({ "data-task": t.name, "data-state": t.state }),
      empty: "No tasks on this cluster yet.",
    }));
    return tasks.some((t) => !ENDED.has(t.state));
  }

  async function poll() {
    let running = false;
    try {
      running = await loadTasks();
    } catch {
      /* shown on the next successful poll */
    }
    if (!stopped) timer = setTimeout(poll, running ? 1000 : 5000);
  }

  const form = taskForm(cluster, datasets, (task) => {
    location.hash = `#/tasks/${clusterUuid}/${task.uuid}`;
  });

  await loadTasks();
  clear(page,
    h("div.page-head",
      h("div.inline-form", field("Cluster", picker),
        h("a.btn.btn-ghost", { href: `#/clusters/${clusterUuid}` }, "Cluster details")),
      h("div.page-actions")),
    card("Tasks", listHost),
    card("New task", form));
  timer = setTimeout(poll, 1000);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
