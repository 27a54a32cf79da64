import * as api from "../api.js";
import { h, clear, card, button, busy, field, input, table, badge } from "../ui.js";

const METHOD_KIND = { POST: "ok", PUT: "info", DELETE: "error", WEBSOCKET: "warn" };

export default async function render(page, _params, { query }) {
  const session = api.getSession();
  let pageNo = Number(query.get("page")) || 0;
  const user = input({ id: "audit-user", placeholder: session.id, value: query.get("user") || "" });
  const listHost = h("div#audit-list");
  const pager = h("div.pager");

  async function load() {
    const params = { page: pageNo };
    if (session.is_admin && user.value.trim()) params.user_id = user.value.trim();
    const rows = await api.getRows("audit_log", params);
    clear(listHost, table({
      columns: [
        { label: "Time (UTC)", key: "created_at", class: "nowrap" },
        { label: "User", key: "user_id" },
        { label: "Request", render: (r) => badge(r.request_type, METHOD_KIND[r.request_type] || "muted") },
        { label: "Endpoint", render: (r) => h("code", r.endpoint) },
      ],
      rows,
      empty: pageNo ? "No more entries." : "No entries yet.",
    }));
    clear(pager,
      button("← Previous", () => { pageNo -= 1; load(); }, "small", { disabled: pageNo === 0 }),
      h("span.muted", `Page ${pageNo + 1}`),
      button("Next →", () => { pageNo += 1; load(); }, "small", { disabled: rows.length < 100 }));
  }

  const show = button("Show", (e) => busy(e.target, async () => { pageNo = 0; await load(); }), "primary");
  await load();
  clear(page, card("Audit log",
    h("p.hint", "Every request that changed something (POST, PUT, DELETE, websocket sessions), 100 per page, oldest first."),
    session.is_admin ? h("div.inline-form", field("User id (empty: you)", user), show) : null,
    listHost, pager));
}
