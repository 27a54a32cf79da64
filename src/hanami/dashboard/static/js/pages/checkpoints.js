import * as api from "../api.js";
import { h, clear, card, button, busy, field, select, table, toast, confirmDialog, modal, uuidCell }
  from "../ui.js";

export default async function render(page) {
  const listHost = h("div");

  async function restore(ck) {
    const clusters = await api.getRows("cluster/all");
    if (!clusters.length) throw new Error("There is no cluster to restore into.");
    const pick = select(clusters.map((c) => [c.uuid, c.name]), { id: "restore-cluster" });
    const target = await modal(`Restore '${ck.name}'`, (close) => [
      h("p", "The cluster's current state is replaced by the checkpoint."),
      field("Into cluster", pick),
      h("div.form-actions", button("Cancel", () => close(null)),
        button("Restore", () => close(pick.value), "primary", { id: "restore-confirm" })),
    ]);
    if (!target) return;
    const task = await api.post("cluster/load", { cluster_uuid: target, checkpoint_uuid: ck.uuid });
    toast(task.state === "finished" ? `Checkpoint '${ck.name}' restored` : `Restore queued (${task.state})`);
  }

  async function refresh() {
    const list = (await api.getRows("checkpoint/all")).reverse();
    clear(listHost, table({
      columns: [
        { label: "Name", render: (c) => h("strong", c.name) },
        { label: "UUID", render: (c) => uuidCell(c.uuid) },
        { label: "Created", key: "created_at", class: "nowrap" },
        { label: "Owner", key: "owner_id" },
        { label: "Project", key: "project_id" },
        { label: "", class: "actions", render: (c) => h("div.row-actions",
          button("Restore…", (e) => busy(e.target, () => restore(c)), "small"),
          button("Download", (e) => busy(e.target,
            () => api.download("checkpoint/download", { uuid: c.uuid }, `${c.name}.hnmckpt`)), "small"),
          button("Delete", async (e) => {
            if (!(await confirmDialog(`Delete checkpoint '${c.name}' and its file?`))) return;
            await busy(e.target, async () => {
              await api.del("checkpoint", { uuid: c.uuid });
              toast(`Checkpoint '${c.name}' deleted`);
              await refresh();
            });
          }, "small-danger")) },
      ],
      rows: list,
      rowAttrs: (c) => ({ "data-checkpoint": c.name }),
      empty: "No checkpoints yet. Save one from a cluster's page.",
    }));
  }

  await refresh();
  clear(page, card("Checkpoints", listHost));
}
