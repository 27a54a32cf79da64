import * as api from "../api.js";
import { h, clear, card, button, busy, field, input, select, table, stat, fmt, toast, confirmDialog }
  from "../ui.js";
import { pictureCanvas } from "../charts.js";

const MAX_SHOWN_VALUES = 12;

function square(width) {
  const side = Math.round(Math.sqrt(width));
  return side >= 4 && side * side === width ? side : 0;
}

const argmax = (row) => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);

function cell(values, group) {
  const side = square(group.width);
  if (side) return pictureCanvas(values, side, side > 20 ? 1.5 : 3);
  if (values.length === 1) return fmt.num(values[0], 4);
  const shown = values.slice(0, MAX_SHOWN_VALUES).map((v) => fmt.num(v, 3)).join(", ");
  const oneHot = values.every((v) => v === 0 || v === 1) && values.filter((v) => v === 1).length === 1;
  return h("span",
    oneHot ? h("strong", `class ${argmax(values)} `) : null,
    h("span.muted.values", `[${shown}${values.length > MAX_SHOWN_VALUES ? ", …" : ""}]`));
}

export default async function render(page, [uuid], { title }) {
  const info = await api.datasetInfo(uuid);
  title.textContent = info.name;
  document.title = `${info.name} · Hanami`;
  const groups = api.columnGroups(info);

  const offset = input({ id: "preview-offset", type: "number", min: 0, value: 0 });
  const count = input({ id: "preview-count", type: "number", min: 1, max: 200, value: 10 });
  const groupsPick = h("div.checks", groups.map((g) =>
    h("label.check", h("input", { type: "checkbox", value: g.name, checked: true }), ` ${g.name}`)));
  const previewHost = h("div#dataset-preview");
  const show = h("button.btn.btn-primary#preview-show", { type: "button" }, "Show rows");

  async function preview() {
    const start = Math.max(0, Math.min(Number(offset.value) || 0, info.number_of_rows - 1));
    const n = Math.max(1, Math.min(Number(count.value) || 10, 200, info.number_of_rows - start));
    offset.value = start;
    const chosen = groups.filter((g) =>
      groupsPick.querySelector(`input[value="${CSS.escape(g.name)}"]`).checked);
    const data = await Promise.all(chosen.map((g) => api.datasetRows(uuid, g.name, start, n)));
    const rows = Array.from({ length: n }, (_, i) => ({ row: start + i, values: data.map((d) => d[i]) }));
    clear(previewHost, table({
      columns: [
        { label: "Row", class: "num", render: (r) => String(r.row) },
        ...chosen.map((g, j) => ({ label: `${g.name} (${g.width})`, render: (r) => cell(r.values[j], g) })),
      ],
      rows,
    }));
  }
  show.addEventListener("click", () => busy(show, preview));

  const remove = button("Delete dataset", async (e) => {
    if (!(await confirmDialog(`Delete dataset '${info.name}' and its file?`))) return;
    await busy(e.target, async () => {
      await api.del("dataset", { uuid });
      toast(`Dataset '${info.name}' deleted`);
      location.hash = "#/datasets";
    });
  }, "danger");

  clear(page,
    h("div.page-head",
      h("div", h("div.crumbs", h("a", { href: "#/datasets" }, "Datasets"), " / ", info.name),
        h("div.meta", h("code.uuid", uuid), ` · created ${info.created_at} by ${info.owner_id} · format ${info.version}`)),
      h("div.page-actions", h("a.btn", { href: `#/results/${uuid}` }, "Analyze"), remove)),
    card("Overview",
      h("div.stats",
        stat("Rows", fmt.int(info.number_of_rows)),
        stat("Columns", fmt.int(info.number_of_columns)),
        stat("Column groups", fmt.int(groups.length)),
        stat("Project", info.project_id)),
      table({
        columns: [
          { label: "Column group", render: (g) => h("code", g.name) },
          { label: "Columns", render: (g) => `${g.start} – ${g.end - 1}` },
          { label: "Width", class: "num", render: (g) => fmt.int(g.width) },
        ],
        rows: groups,
      })),
    card("Preview",
      h("div.inline-form", field("First row", offset), field("Rows", count), show),
      groupsPick,
      previewHost));
  await preview();
}
