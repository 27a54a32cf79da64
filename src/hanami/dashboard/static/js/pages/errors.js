import * as api from "../api.js";
import { h, clear, card, button, table } from "../ui.js";

export default async function render(page) {
  let pageNo = 0;
  const listHost = h("div");
  const pager = h("div.pager");

  async function load() {
    const rows = await api.getRows("error_log", { page: pageNo });
    clear(listHost, table({
      columns: [
        { label: "Time (UTC)", key: "created_at", class: "nowrap" },
        { label: "User", key: "user_id" },
        { label: "Context", render: (r) => h("code", r.context) },
        { label: "Message", render: (r) => h("details", h("summary", String(r.message).split("\n")[0].slice(0, 120)),
          h("pre.code", String(r.message)),
          h("pre.code", JSON.stringify(r.input_values, null, 2))) },
      ],
      rows,
      empty: pageNo ? "No more entries." : "No errors recorded.",
    }));
    clear(pager,
      button("← Previous", () => { pageNo -= 1; load(); }, "small", { disabled: pageNo === 0 }),
      h("span.muted", `Page ${pageNo + 1}`),
      button("Next →", () => { pageNo += 1; load(); }, "small", { disabled: rows.length < 100 }));
  }
  await load();
  clear(page, card("Error log", h("p.hint", "Unhandled server errors with their correlation ids."),
    listHost, pager));
}
