import * as api from "../api.js";
import { h, clear, card, button, busy, field, input, select, setOptions, table, toast, confirmDialog,
  modal, badge } from "../ui.js";

const ID_RE = /^[a-zA-Z][a-zA-Z_0-9@]*$/;
const NAME_RE = /^[a-zA-Z][a-zA-Z_0-9\- ]*$/;
const ROLE_RE = /^[a-zA-Z][a-zA-Z_0-9]*$/;

function check(value, re, what, allowed) {
  if (value.length < 4 || value.length > 254) throw new Error(`The ${what} needs 4 to 254 characters.`);
  if (!re.test(value)) throw new Error(`The ${what} needs a letter first, then ${allowed}.`);
}

export default async function render(page) {
  const session = api.getSession();
  const listHost = h("div");
  let projects = [];

  async function assign(user) {
    if (!projects.length) throw new Error("Create a project first.");
    const pick = select(projects.map((p) => [p.id, `${p.name} (${p.id})`]), { id: "assign-project" });
    const role = input({ id: "assign-role", value: "member" });
    const padm = h("input#assign-project-admin", { type: "checkbox" });
    const answer = await modal(`Assign a project to '${user.id}'`, (close) => [
      h("div.form-grid", field("Project", pick), field("Role", role, "e.g. member (the policy decides what a role may do)")),
      h("label.check", padm, " Project admin (sees all resources of the project)"),
      h("div.form-actions", button("Cancel", () => close(null)),
        button("Assign", () => close({ project_id: pick.value, role: role.value.trim(),
          is_project_admin: padm.checked }), "primary", { id: "assign-confirm" })),
    ]);
    if (!answer) return;
    check(answer.role, ROLE_RE, "role", "letters, digits or '_'");
    await api.post("user/project", { id: user.id, ...answer });
    toast(`Project '${answer.project_id}' assigned to '${user.id}'`);
    await refresh();
  }

  async function unassign(user, projectId) {
    if (!(await confirmDialog(`Remove project '${projectId}' from '${user.id}'?`, "Remove"))) return;
    await api.del("user/project", { id: user.id, project_id: projectId });
    toast(`Project '${projectId}' removed from '${user.id}'`);
    await refresh();
  }

  async function refresh() {
    const [users, projectRows] = await Promise.all([api.getRows("user/all"), api.getRows("project/all")]);
    projects = projectRows;
    setOptions(initialProject, [["", "— none —"], ...projects.map((p) => [p.id, `${p.name} (${p.id})`])]);
    clear(listHost, table({
      columns: [
        { label: "User", render: (u) => h("div", h("strong", u.id), h("div.muted", u.name)) },
        { label: "Role", render: (u) => (u.is_admin ? badge("admin", "info") : badge("user", "muted")) },
        { label: "Projects", render: (u) => h("div.chips",
          (u.projects || []).length ? u.projects.map((p) => h("span.chip",
            `${p.project_id} · ${p.role}${p.is_project_admin ? " · project admin" : ""}`,
            h("button.chip-x", { type: "button", title: "Remove", "aria-label": `Remove ${p.project_id}`,
              onclick: (e) => busy(e.target, () => unassign(u, p.project_id)) }, "×")))
            : h("span.muted", u.is_admin ? "all (admin)" : "none")) },
        { label: "Created", key: "created_at", class: "nowrap" },
        { label: "", class: "actions", render: (u) => h("div.row-actions",
          button("Assign project", (e) => busy(e.target, () => assign(u)), "small"),
          u.id === session.id ? null : button("Delete", async (e) => {
            if (!(await confirmDialog(`Delete user '${u.id}'? Their API tokens are revoked.`))) return;
            await busy(e.target, async () => {
              await api.del("user", { id: u.id });
              toast(`User '${u.id}' deleted`);
              await refresh();
            });
          }, "small-danger")) },
      ],
      rows: users,
      rowAttrs: (u) => ({ "data-user": u.id }),
    }));
  }

  const id = input({ id: "user-id", placeholder: "e.g. alice" });
  const name = input({ id: "user-name", placeholder: "e.g. Alice Example" });
  const pass = input({ id: "user-passphrase", type: "password", autocomplete: "new-password" });
  const pass2 = input({ id: "user-passphrase2", type: "password", autocomplete: "new-password" });
  const isAdmin = h("input#user-is-admin", { type: "checkbox" });
  const initialProject = select([["", "— none —"]], { id: "user-project" });
  const initialRole = input({ id: "user-role", value: "member" });
  const create = h("button.btn.btn-primary#user-create", { type: "button" }, "Create user");
  create.addEventListener("click", () => busy(create, async () => {
    check(id.value, ID_RE, "user id", "letters, digits, '_' or '@'");
    check(name.value, NAME_RE, "name", "letters, digits, '_', '-' or spaces");
    if (pass.value.length < 8) throw new Error("The passphrase needs at least 8 characters.");
    if (pass.value !== pass2.value) throw new Error("The passphrases differ.");
    if (initialProject.value) check(initialRole.value, ROLE_RE, "role", "letters, digits or '_'");
    await api.post("user", { id: id.value, name: name.value, passphrase: api.b64(pass.value),
      is_admin: isAdmin.checked });
    if (initialProject.value) {
      await api.post("user/project", { id: id.value, project_id: initialProject.value,
        role: initialRole.value, is_project_admin: false });
    }
    toast(`User '${id.value}' created`);
    for (const el of [id, name, pass, pass2]) el.value = "";
    isAdmin.checked = false;
    await refresh();
  }));

  await refresh();
  clear(page,
    card("Users", listHost),
    card("New user",
      h("div.form-grid",
        field("User id", id, "4–254: letters, digits, '_', '@'"),
        field("Name", name),
        field("Passphrase", pass, "at least 8 characters"),
        field("Repeat passphrase", pass2),
        field("Project", initialProject, "optional: assign right away"),
        field("Role in the project", initialRole)),
      h("label.check", isAdmin, " Administrator (all projects, user management)"),
      h("div.form-actions", create)));
}
