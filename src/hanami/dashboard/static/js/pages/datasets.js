import * as api from "../api.js";
import { h, clear, card, button, busy, field, input, table, toast, confirmDialog, uuidCell, fmt,
  progressBar } from "../ui.js";
import { nameProblem } from "./clusters.js";

export default async function render(page) {
  const listHost = h("div");

  async function refresh() {
    const list = (await api.getRows("dataset/all")).reverse();
    clear(listHost, table({
      columns: [
        { label: "Name", render: (d) => h("a.strong", { href: `#/datasets/${d.uuid}` }, d.name) },
        { label: "UUID", render: (d) => uuidCell(d.uuid) },
        { label: "Created", key: "created_at", class: "nowrap" },
        { label: "Owner", key: "owner_id" },
        { label: "Project", key: "project_id" },
        { label: "", class: "actions", render: (d) => h("div.row-actions",
          h("a.btn.btn-small", { href: `#/datasets/${d.uuid}` }, "Preview"),
          h("a.btn.btn-small", { href: `#/results/${d.uuid}` }, "Analyze"),
          button("Delete", async (e) => {
            if (!(await confirmDialog(`Delete dataset '${d.name}' and its file?`))) return;
            await busy(e.target, async () => {
              await api.del("dataset", { uuid: d.uuid });
              toast(`Dataset '${d.name}' deleted`);
              await refresh();
            });
          }, "small-danger")) },
      ],
      rows: list,
      rowAttrs: (d) => ({ "data-dataset": d.name }),
      empty: "No datasets yet. Upload a CSV file or an MNIST image/label pair below.",
    }));
  }

  // ------------------------------------------------------------------ upload
  let type = "csv";
  const name = input({ id: "dataset-name", placeholder: "e.g. mnist_train", maxlength: 254 });
  const fileA = h("input#dataset-file", { type: "file" });
  const fileB = h("input#dataset-labels", { type: "file" });
  const fileALabel = h("span.field-label", "CSV file");
  const labelsField = h("label.field", h("span.field-label", "Label file (IDX, may be .gz)"), fileB);
  const progressHost = h("div.upload-progress#upload-progress");
  const submit = h("button.btn.btn-primary#dataset-upload", { type: "button" }, "Upload");
  const hint = h("p.hint");
  const tabs = h("div.tabs", { role: "tablist" });

  function setType(next) {
    type = next;
    for (const t of tabs.children) t.setAttribute("aria-selected", String(t.dataset.type === type));
    fileALabel.textContent = type === "csv" ? "CSV file (header row, numbers)" : "Image file (IDX, may be .gz)";
    labelsField.hidden = type !== "mnist";
    fileA.accept = type === "csv" ? ".csv,text/csv,text/plain" : "";
    hint.textContent = type === "csv"
      ? "Every header becomes a column group of width 1; cells must be numbers."
      : "MNIST becomes two column groups: 'picture' (rows × cols pixels, 0–1) and 'label' (one-hot, 10).";
  }
  for (const [k, text] of [["csv", "CSV"], ["mnist", "MNIST (IDX)"]]) {
    tabs.append(h("button.tab", { type: "button", role: "tab", "data-type": k, id: `upload-${k}`,
      onclick: () => setType(k) }, text));
  }

  submit.addEventListener("click", () => busy(submit, async () => {
    const problem = nameProblem(name.value);
    if (problem) throw new Error(`The dataset name needs ${problem}.`);
    if (!fileA.files[0]) throw new Error("Choose a file to upload.");
    if (type === "mnist" && !fileB.files[0]) throw new Error("Choose the label file too.");
    const form = new FormData();
    form.append("name", name.value);
    form.append("type", type);
    form.append("input_file", fileA.files[0]);
    if (type === "mnist") form.append("label_file", fileB.files[0]);
    const total = fileA.files[0].size + (type === "mnist" ? fileB.files[0].size : 0);
    clear(progressHost, progressBar(0, `0 of ${fmt.bytes(total)}`));
    try {
      const info = await api.upload("dataset/upload", form, (sent, size) => {
        if (sent < 0) {
          clear(progressHost, progressBar(1, "Uploaded · converting…"));
          progressHost.firstChild.classList.add("is-indeterminate");
        } else {
          clear(progressHost, progressBar(size ? sent / size : 0, `${fmt.bytes(sent)} of ${fmt.bytes(size || total)}`));
        }
      });
      clear(progressHost, progressBar(1, `Done: ${fmt.int(info.number_of_rows)} rows, ${fmt.int(info.number_of_columns)} columns`));
      toast(`Dataset '${info.name}' uploaded`);
      name.value = "";
      fileA.value = "";
      fileB.value = "";
      await refresh();
    } catch (err) {
      clear(progressHost);
      throw err;
    }
  }));

  setType("csv");
  await refresh();
  clear(page,
    card("Datasets", listHost),
    card("Upload a dataset",
      tabs,
      h("div.form-grid",
        field("Name", name),
        h("label.field", fileALabel, fileA),
        labelsField),
      hint,
      progressHost,
      h("div.form-actions", submit)));
}
