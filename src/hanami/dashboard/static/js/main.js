// Hanami dashboard: shell, navigation and hash router.
import * as api from "./api.js";
import { h, clear, toast, select, setOptions, logo } from "./ui.js";

const ROUTES = [
  // [pattern, module, title, nav key]
  [/^clusters$/, "clusters", "Clusters", "clusters"],
  [/^clusters\/([0-9a-f-]{36})$/, "cluster", "Cluster", "clusters"],
  [/^tasks$/, "tasks", "Tasks", "tasks"],
  [/^tasks\/([0-9a-f-]{36})$/, "tasks", "Tasks", "tasks"],
  [/^tasks\/([0-9a-f-]{36})\/([0-9a-f-]{36})$/, "task", "Task", "tasks"],
  [/^datasets$/, "datasets", "Datasets", "datasets"],
  [/^datasets\/([0-9a-f-]{36})$/, "dataset", "Dataset", "datasets"],
  [/^results\/([0-9a-f-]{36})$/, "results", "Results", "datasets"],
  [/^checkpoints$/, "checkpoints", "Checkpoints", "checkpoints"],
  [/^system$/, "system", "System", "system"],
  [/^tokens$/, "tokens", "API tokens", "tokens"],
  [/^audit$/, "audit", "Audit log", "audit"],
  [/^admin\/users$/, "users", "Users", "users", true],
  [/^admin\/projects$/, "projects", "Projects", "projects", true],
  [/^admin\/errors$/, "errors", "Error log", "errors", true],
];

const NAV = [
  ["Workspace", [
    ["clusters", "Clusters", "M4 6h16M4 12h16M4 18h10"],
    ["tasks", "Tasks", "M5 12l4 4L19 6"],
    ["datasets", "Datasets", "M4 6c0-2 16-2 16 0v12c0 2-16 2-16 0zM4 6c0 2 16 2 16 0M4 12c0 2 16 2 16 0"],
    ["checkpoints", "Checkpoints", "M6 3h12v18l-6-4-6 4z"],
  ]],
  ["Monitoring", [
    ["system", "System", "M3 17l5-6 4 4 8-9"],
    ["audit", "Audit log", "M7 4h10v16H7zM10 8h4M10 12h4M10 16h2"],
  ]],
  ["Account", [
    ["tokens", "API tokens", "M14 10a4 4 0 1 0-4 4l-6 6h4v-2h2v-2h2z"],
  ]],
  ["Admin", [
    ["admin/users", "Users", "M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM2 20c0-3 3-5 6-5s6 2 6 5M17 11a3 3 0 1 0 0-6M22 20c0-3-2-5-5-5"],
    ["admin/projects", "Projects", "M3 7h7l2 2h9v10H3z"],
    ["admin/errors", "Error log", "M12 3l10 18H2zM12 10v5M12 18v.5"],
  ], true],
];

const app = document.getElementById("app");
let cleanup = null;
let renderId = 0;

function icon(path) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "nav-icon");
  svg.setAttribute("aria-hidden", "true");
  const p = document.createElementNS("http://www.w3.org/2000/svg", "path");
  p.setAttribute("d", path);
  svg.append(p);
  return svg;
}

function currentPath() {
  return location.hash.replace(/^#\/?/, "").split("?")[0];
}

export function query() {
  return new URLSearchParams(location.hash.split("?")[1] || "");
}

export function navigate(path) {
  location.hash = `#/${path}`;
}

// ------------------------------------------------------------------------------- shell

let shell = null;

function buildShell(session) {
  const sidebar = h("aside.sidebar#sidebar", { "aria-label": "Main navigation" },
    h("a.brand", { href: "#/clusters" }, logo(30), h("span", "Hanami")),
    h("nav.nav",
      NAV.filter(([, , adminOnly]) => !adminOnly || session.is_admin).map(([group, items]) =>
        h("div.nav-group",
          h("div.nav-title", group),
          items.map(([key, label, path]) =>
            h("a.nav-link", { href: `#/${key}`, "data-nav": key }, icon(path), h("span", label)))))),
    h("div.sidebar-foot",
      h("a", { href: "/docs", target: "_blank", rel: "noopener" }, "API docs"),
      h("span", "·"),
      h("a", { href: "/redoc", target: "_blank", rel: "noopener" }, "ReDoc")));

  const projectSelect = select([[session.project, session.project]],
    { id: "project-switch", "aria-label": "Project", title: "Switch project" });
  projectSelect.addEventListener("change", async () => {
    try {
      await api.switchProject(projectSelect.value);
      toast(`Switched to project '${projectSelect.value}'`);
      rebuild();
    } catch (err) {
      toast(err.message, "error");
      projectSelect.value = api.getSession().project;
    }
  });
  api.get("user/project").then(({ projects }) => {
    setOptions(projectSelect, projects.map((p) => [p.project_id, `${p.project_id} · ${p.role}`]),
      session.project);
  }).catch(() => {});

  const menuButton = h("button.icon-btn.menu-btn", {
    type: "button", "aria-label": "Menu", "aria-controls": "sidebar",
    onclick: () => document.body.classList.toggle("nav-open"),
  }, "☰");
  const topbar = h("header.topbar",
    menuButton,
    h("h1#page-title", ""),
    h("div.topbar-right",
      h("label.project", h("span.project-label", "Project"), projectSelect),
      h("div.user", { title: session.id },
        h("span.avatar", (session.name || session.id).slice(0, 1).toUpperCase()),
        h("span.user-name", session.name || session.id),
        session.is_admin ? h("span.badge.badge-info", "admin") : null),
      h("button.btn.btn-ghost#logout", { type: "button", onclick: () => api.logout() }, "Log out")));

  const view = h("main.view#view", { tabindex: "-1" });
  const scrim = h("div.scrim", { onclick: () => document.body.classList.remove("nav-open") });
  clear(app, h("div.shell", sidebar, scrim, h("div.main", topbar, view)));
  return { view, title: topbar.querySelector("#page-title") };
}

function rebuild() {
  shell = null;
  route();
}

// ------------------------------------------------------------------------------- router

async function route() {
  const id = ++renderId;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* ignore */
    }
    cleanup = null;
  }
  document.body.classList.remove("nav-open");
  const session = api.getSession();
  if (session && session.expires && session.expires < Date.now()) {
    api.setSession(null); // the session listener routes to the login page
    return;
  }
  if (!session) {
    shell = null;
    const { default: render } = await import("./pages/login.js");
    document.title = "Log in · Hanami";
    cleanup = (await render(app)) || null;
    return;
  }
  const path = currentPath();
  if (!path || path === "login") {
    navigate("clusters");
    return;
  }
  let match = ROUTES.map((r) => [r, path.match(r[0])]).find(([, m]) => m);
  if (match && match[0][4] && !session.is_admin) match = undefined;
  if (!shell) shell = buildShell(session);
  const navKey = match ? match[0][3] : null;
  for (const link of document.querySelectorAll(".nav-link")) {
    // An explicit boolean: toggle(name, undefined) flips every link.
    link.classList.toggle("is-active", link.dataset.nav === navKey);
  }
  const { view, title } = shell;
  if (!match) {
    title.textContent = "Not found";
    document.title = "Not found · Hanami";
    clear(view, h("div.empty-state", h("h2", "Page not found"),
      h("p", h("a", { href: "#/clusters" }, "Back to the clusters"))));
    return;
  }
  const [[, module, name], m] = match;
  title.textContent = name;
  document.title = `${name} · Hanami`;
  clear(view, h("div.loading", "Loading…"));
  try {
    const { default: render } = await import(`./pages/${module}.js`);
    if (id !== renderId) return;
    const page = h("div.page");
    const result = await render(page, m.slice(1), { title, query: query() });
    if (id !== renderId) {
      if (typeof result === "function") result();
      return;
    }
    clear(view, page);
    view.focus({ preventScroll: true });
    cleanup = typeof result === "function" ? result : null;
  } catch (err) {
    if (id !== renderId) return;
    if (!api.getSession()) return; // logged out by a 401
    console.warn(err);
    clear(view, h("div.empty-state.error-state", h("h2", "Could not load this page"),
      h("p", err.message || String(err)),
      h("p", h("a", { href: "#/clusters" }, "Back to the clusters"))));
  }
}

window.addEventListener("hashchange", route);
api.onSessionChange((session) => {
  if (!session) {
    shell = null;
    if (location.hash && !location.hash.startsWith("#/login")) {
      history.replaceState(null, "", "#/login");
    }
    route();
  }
});
route();
