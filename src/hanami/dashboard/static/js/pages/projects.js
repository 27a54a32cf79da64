import * as api from "../api.js";
import { h, clear, card, button, busy, field, input, table, toast, confirmDialog } from "../ui.js";

const ID_RE = /^[a-zA-Z][a-zA-Z_0-9]*$/;
const NAME_RE = /^[a-zA-Z][a-zA-Z_0-9\- ]*$/;

export default async function render(page) {
  const listHost = h("div");

  async function refresh() {
    const list = await api.getRows("project/all");
    clear(listHost, table({
      columns: [
        { label: "Id", render: (p) => h("strong", p.id) },
        { label: "Name", key: "name" },
        { label: "Created", key: "created_at", class: "nowrap" },
        { label: "Creator", key: "creator_id" },
        { label: "", class: "actions", render: (p) => button("Delete", async (e) => {
          if (!(await confirmDialog(`Delete project '${p.id}'? Users lose the assignment; its resources stay.`))) return;
          await busy(e.target, async () => {
            await api.del("project", { id: p.id });
            toast(`Project '${p.id}' deleted`);
            await refresh();
          });
        }, "small-danger") },
      ],
      rows: list,
      rowAttrs: (p) => ({ "data-project": p.id }),
      empty: "No projects yet.",
    }));
  }

  const id = input({ id: "project-id", placeholder: "e.g. vision_lab" });
  const name = input({ id: "project-name", placeholder: "e.g. Vision Lab" });
  const create = h("button.btn.btn-primary#project-create", { type: "button" }, "Create project");
  create.addEventListener("click", () => busy(create, async () => {
    if (id.value.length < 4 || !ID_RE.test(id.value)) {
      throw new Error("The id needs 4–254 characters: a letter, then letters, digits or '_'.");
    }
    if (name.value.length < 4 || !NAME_RE.test(name.value)) {
      throw new Error("The name needs 4–254 characters: a letter, then letters, digits, '_', '-' or spaces.");
    }
    await api.post("project", { id: id.value, name: name.value });
    toast(`Project '${id.value}' created`);
    id.value = "";
    name.value = "";
    await refresh();
  }));

  await refresh();
  clear(page,
    card("Projects", listHost),
    card("New project",
      h("div.inline-form", field("Id", id), field("Name", name), create)));
}
