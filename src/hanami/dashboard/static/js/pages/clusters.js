import * as api from "../api.js";
import { h, clear, card, button, busy, field, input, table, toast, confirmDialog, uuidCell, fmt }
  from "../ui.js";
import { templateEditor } from "../editor.js";
import { EXAMPLE_TEMPLATE } from "../template.js";

const NAME_RE = /^[a-zA-Z][a-zA-Z_0-9\- ]*$/;

export function nameProblem(name) {
  if (name.length < 4) return "at least 4 characters";
  if (name.length > 254) return "at most 254 characters";
  if (!NAME_RE.test(name)) return "a letter first, then letters, digits, '_', '-' or spaces";
  return "";
}

export default async function render(page) {
  const listHost = h("div");

  async function refresh() {
    const clusters = await api.getRows("cluster/all");
    clear(listHost, table({
      columns: [
        { label: "Name", render: (c) => h("a.strong", { href: `#/clusters/${c.uuid}` }, c.name) },
        { label: "UUID", render: (c) => uuidCell(c.uuid) },
        { label: "Created", key: "created_at", class: "nowrap" },
        { label: "Owner", key: "owner_id" },
        { label: "Project", key: "project_id" },
        { label: "", class: "actions", render: (c) => h("div.row-actions",
          h("a.btn.btn-small", { href: `#/tasks/${c.uuid}` }, "Tasks"),
          button("Delete", async (e) => {
            if (!(await confirmDialog(`Delete cluster '${c.name}'? Its tasks are cancelled.`))) return;
            await busy(e.target, async () => {
              await api.del("cluster", { uuid: c.uuid });
              toast(`Cluster '${c.name}' deleted`);
              await refresh();
            });
          }, "small-danger")) },
      ],
      rows: clusters,
      rowAttrs: (c) => ({ "data-cluster": c.name }),
      empty: "No clusters yet. Create one from a template below.",
    }));
  }

  // ----------------------------------------------------------------- create form
  const name = input({ id: "cluster-name", placeholder: "e.g. mnist_cluster", maxlength: 254 });
  const nameHint = h("small.hint");
  const create = h("button.btn.btn-primary#cluster-create", { type: "button", disabled: true },
    "Create cluster");
  const editor = templateEditor({ value: EXAMPLE_TEMPLATE, onChange: update });

  function update() {
    const problem = name.value ? nameProblem(name.value) : "";
    nameHint.textContent = problem ? `Name needs ${problem}.` : "";
    nameHint.classList.toggle("is-error", Boolean(problem));
    create.disabled = !name.value || Boolean(problem) || !(editor.result && editor.result.ok);
  }
  name.addEventListener("input", update);

  create.addEventListener("click", () => busy(create, async () => {
    const cluster = await api.post("cluster", { name: name.value, template: api.b64(editor.value) });
    toast(`Cluster '${cluster.name}' created`);
    name.value = "";
    update();
    await refresh();
  }));

  const loadExample = button("Load example", () => { editor.value = EXAMPLE_TEMPLATE; update(); },
    "ghost");
  const fileInput = h("input", { type: "file", accept: ".txt,.hnm,.template,text/plain", hidden: true });
  fileInput.addEventListener("change", async () => {
    if (fileInput.files[0]) {
      editor.value = await fileInput.files[0].text();
      update();
    }
  });
  const openFile = button("Open file…", () => fileInput.click(), "ghost");

  await refresh();
  clear(page,
    card("Clusters", listHost),
    card(["New cluster", loadExample, openFile],
      h("div.form-grid", field("Name", name, nameHint)),
      fileInput,
      editor.el,
      h("div.form-actions", create)));
  update();
}
