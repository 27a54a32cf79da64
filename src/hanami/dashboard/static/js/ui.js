// DOM helpers. Text is always inserted as text nodes, never as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

/** h("div.card#x", {attrs, onclick}, ...children) */
export function h(spec, attrs, ...children) {
  if (attrs === null || typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const [, tag = "div", rest = ""] = spec.match(/^([a-z0-9-]*)(.*)$/i);
  const el = document.createElement(tag || "div");
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.classList.add(...String(value).split(/\s+/).filter(Boolean));
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// --------------------------------------------------------------------- formatting

export const fmt = {
  int: (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en-US")),
  num(v, digits = 2) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits });
  },
  pct: (v, digits = 1) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(digits)} %`),
  bytes(v) {
    if (!v) return "0 B";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    const i = Math.min(units.length - 1, Math.floor(Math.log(v) / Math.log(1024)));
    return `${(v / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
  },
  duration(s) {
    if (s === null || s === undefined) return "–";
    s = Math.max(0, Math.round(s));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  },
  time: (t) => (!t || t === "-" ? "–" : t),
  short: (uuid) => (uuid ? String(uuid).slice(0, 8) : ""),
};

// --------------------------------------------------------------------- components

export function badge(text, kind = "") {
  return h("span.badge", { class: kind ? `badge-${kind}` : "" }, text);
}

const STATE_KIND = {
  queued: "muted", active: "info", finished: "ok", aborted: "warn", failed: "error",
};
export const stateBadge = (state) => badge(state, STATE_KIND[state] || "muted");

export function uuidCell(uuid) {
  return h("code.uuid", { title: uuid }, fmt.short(uuid));
}

export function card(title, ...children) {
  const actions = [];
  if (Array.isArray(title)) {
    actions.push(...title.slice(1));
    title = title[0];
  }
  return h("section.card",
    title ? h("header.card-head", h("h2", title), actions.length ? h("div.card-actions", actions) : null) : null,
    h("div.card-body", children));
}

export function button(label, onclick, kind = "", attrs = {}) {
  return h("button", { type: "button", class: `btn ${kind ? "btn-" + kind : ""}`, onclick, ...attrs },
    label);
}

/** Disable the button while fn runs; errors become a toast. */
export async function busy(btn, fn) {
  btn.disabled = true;
  btn.classList.add("is-busy");
  try {
    return await fn();
  } catch (err) {
    toast(err.message || String(err), "error");
    return undefined;
  } finally {
    btn.disabled = false;
    btn.classList.remove("is-busy");
  }
}

export function field(label, control, hint) {
  const note = hint instanceof Node ? hint : hint ? h("small.hint", hint) : null;
  return h("label.field", h("span.field-label", label), control, note);
}

export function input(attrs = {}) {
  return h("input", { type: "text", autocomplete: "off", spellcheck: "false", ...attrs });
}

export function select(options, attrs = {}) {
  const el = h("select", attrs);
  setOptions(el, options);
  return el;
}

/** options: [value] or [[value, label]] */
export function setOptions(el, options, selected) {
  const keep = selected !== undefined ? selected : el.value;
  el.replaceChildren(
    ...options.map((o) => {
      const [value, label] = Array.isArray(o) ? o : [o, o];
      return h("option", { value }, label);
    }));
  if ([...el.options].some((o) => o.value === keep)) el.value = keep;
}

/**
 * table({columns: [{label, key | render, class}], rows, empty, onRow})
 * Cells render as text unless render() returns a Node.
 */
export function table({ columns, rows, empty = "Nothing here yet.", rowAttrs, caption }) {
  if (!rows.length) return h("p.empty", empty);
  return h("div.table-wrap",
    h("table.table",
      caption ? h("caption", caption) : null,
      h("thead", h("tr", columns.map((c) => h("th", { class: c.class }, c.label)))),
      h("tbody", rows.map((row) =>
        h("tr", rowAttrs ? rowAttrs(row) : {},
          columns.map((c) => h("td", { class: c.class, "data-label": c.label },
            c.render ? c.render(row) : row[c.key])))))));
}

export function progressBar(fraction, label) {
  const pct = Math.max(0, Math.min(1, fraction || 0)) * 100;
  return h("div.progress", { role: "progressbar", "aria-valuenow": pct.toFixed(0),
    "aria-valuemin": "0", "aria-valuemax": "100" },
  h("div.progress-bar", { style: { width: `${pct}%` } }),
  h("span.progress-label", label !== undefined ? label : `${pct.toFixed(1)} %`));
}

/** A labelled number; long text values get a smaller font instead of being cut. */
export function stat(label, value, sub) {
  const text = value instanceof Node ? value.textContent : String(value);
  const long = !(value instanceof Node) && text.length > 10 && !/^[\d,.\s%]+/.test(text);
  return h("div.stat", h("div.stat-label", label),
    h("div.stat-value", { class: long ? "is-text" : "", title: text }, value),
    sub ? h("div.stat-sub", sub) : null);
}

// --------------------------------------------------------------------- toasts, dialogs

export function toast(message, kind = "ok", timeout = 4500) {
  let host = document.getElementById("toasts");
  if (!host) {
    host = h("div#toasts", { role: "status", "aria-live": "polite" });
    document.body.append(host);
  }
  const el = h("div.toast", { class: `toast-${kind}` }, message);
  host.append(el);
  setTimeout(() => el.classList.add("is-leaving"), timeout);
  setTimeout(() => el.remove(), timeout + 400);
}

/** A modal dialog; resolves with the value passed to close(). */
export function modal(title, build) {
  return new Promise((resolve) => {
    const dialog = h("dialog.modal");
    const close = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      close(undefined);
    });
    dialog.append(h("header.modal-head", h("h2", title),
      h("button.icon-btn", { type: "button", "aria-label": "Close", onclick: () => close(undefined) }, "×")),
    h("div.modal-body", build(close)));
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function confirmDialog(message, action = "Delete", kind = "danger") {
  return modal("Please confirm", (close) => [
    h("p", message),
    h("div.form-actions",
      button("Cancel", () => close(false)),
      button(action, () => close(true), kind, { "data-confirm": "yes" })),
  ]);
}

export function copyButton(text) {
  const btn = button("Copy", async () => {
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = "Copied";
    } catch {
      btn.textContent = "Select and copy";
    }
  }, "small");
  return btn;
}

// --------------------------------------------------------------------- brand

export function logo(size = 28) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 32 32");
  svg.setAttribute("width", size);
  svg.setAttribute("height", size);
  svg.setAttribute("class", "logo");
  svg.setAttribute("aria-hidden", "true");
  const petals = [0, 72, 144, 216, 288].map((a) => {
    const e = document.createElementNS(SVG_NS, "ellipse");
    e.setAttribute("cx", "16");
    e.setAttribute("cy", "9");
    e.setAttribute("rx", "5");
    e.setAttribute("ry", "7.5");
    e.setAttribute("transform", `rotate(${a} 16 16)`);
    return e;
  });
  const c = document.createElementNS(SVG_NS, "circle");
  c.setAttribute("cx", "16");
  c.setAttribute("cy", "16");
  c.setAttribute("r", "3.2");
  c.setAttribute("class", "logo-core");
  svg.append(...petals, c);
  return svg;
}
