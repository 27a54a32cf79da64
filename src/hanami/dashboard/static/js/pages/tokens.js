import * as api from "../api.js";
import { h, clear, card, button, busy, field, input, select, setOptions, table, toast, confirmDialog,
  copyButton, uuidCell, fmt } from "../ui.js";
import { nameProblem } from "./clusters.js";

const LIFETIMES = [["", "never"], ["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"],
  ["2592000", "30 days"], ["31536000", "1 year"]];

export default async function render(page) {
  const session = api.getSession();
  const listHost = h("div");
  const secretHost = h("div");

  async function refresh() {
    const list = (await api.getRows("api_token/all")).reverse();
    clear(listHost, table({
      columns: [
        { label: "Name", render: (t) => h("strong", t.name) },
        { label: "Id", render: (t) => uuidCell(t.id) },
        session.is_admin ? { label: "User", key: "user_id" } : null,
        { label: "Project", key: "project_id" },
        { label: "Created", key: "created_at", class: "nowrap" },
        { label: "Expires", class: "nowrap", render: (t) => fmt.time(t.expires_at) },
        { label: "Last used", class: "nowrap", render: (t) => fmt.time(t.last_used_at) },
        { label: "", class: "actions", render: (t) => button("Revoke", async (e) => {
          if (!(await confirmDialog(`Revoke API token '${t.name}'? Programs using it stop working.`,
            "Revoke"))) return;
          await busy(e.target, async () => {
            await api.del("api_token", { id: t.id });
            toast(`Token '${t.name}' revoked`);
            await refresh();
          });
        }, "small-danger") },
      ].filter(Boolean),
      rows: list,
      rowAttrs: (t) => ({ "data-token": t.name }),
      empty: "No API tokens.",
    }));
  }

  const name = input({ id: "token-name", placeholder: "e.g. ci_pipeline" });
  const project = select([[session.project, session.project]], { id: "token-project" });
  const lifetime = select(LIFETIMES, { id: "token-lifetime" });
  lifetime.value = "2592000";
  const create = h("button.btn.btn-primary#token-create", { type: "button" }, "Create token");
  create.addEventListener("click", () => busy(create, async () => {
    const problem = nameProblem(name.value);
    if (problem) throw new Error(`The token name needs ${problem}.`);
    const body = { name: name.value, project_id: project.value };
    if (lifetime.value) body.expires_in = Number(lifetime.value);
    const token = await api.post("api_token", body);
    clear(secretHost, h("div.alert.alert-ok.secret",
      h("p", h("strong", `Token '${token.name}' created. `), "Copy it now: it is not shown again."),
      h("div.secret-row", h("code#token-secret", token.token), copyButton(token.token)),
      h("p.hint", "Send it as the X-Auth-Token header, or as Authorization: Bearer …")));
    name.value = "";
    await refresh();
  }));

  const { projects } = await api.get("user/project");
  setOptions(project, projects.map((p) => [p.project_id, p.project_id]), session.project);
  await refresh();
  clear(page,
    card("New API token",
      h("p.hint", "API tokens act as you in one project, for scripts and the SDK. Only a hash is stored."),
      h("div.inline-form", field("Name", name), field("Project", project), field("Expires after", lifetime), create),
      secretHost),
    card(session.is_admin ? "All API tokens" : "Your API tokens", listHost));
}
