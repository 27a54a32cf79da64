// Template editor: a textarea with line numbers that validates as you type (template.js),
// marks the offending line and draws the hexagon layout.
import { h, clear } from "./ui.js";
import { validateTemplate } from "./template.js";
import { hexagonSvg, hexLegend } from "./hexview.js";

export function templateEditor({ value = "", onChange } = {}) {
  const gutter = h("div.editor-gutter", { "aria-hidden": "true" });
  const area = h("textarea.editor-text#template-text", {
    spellcheck: "false", autocomplete: "off", autocapitalize: "off", wrap: "off",
    "aria-label": "Cluster template", rows: 18,
  });
  area.value = value;
  const status = h("div.editor-status#template-status", { role: "status", "aria-live": "polite" });
  const preview = h("div.hex-preview#template-preview");
  const summary = h("div.hex-summary");
  let result = null;
  let timer = null;

  function lineOffset(text, line, column) {
    let offset = 0;
    for (let i = 1; i < line; i++) {
      const nl = text.indexOf("\n", offset);
      if (nl < 0) break;
      offset = nl + 1;
    }
    return offset + column - 1;
  }

  function gotoError() {
    if (!result || result.ok) return;
    const pos = lineOffset(area.value, result.error.line, result.error.column);
    area.focus();
    area.setSelectionRange(pos, pos + 1);
    const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
    area.scrollTop = Math.max(0, (result.error.line - 4) * lineHeight);
  }

  function check() {
    const text = area.value;
    result = validateTemplate(text);
    const lines = text.split("\n").length;
    const errLine = result.ok ? 0 : result.error.line;
    clear(gutter, Array.from({ length: lines }, (_, i) =>
      h("div", { class: i + 1 === errLine ? "is-error" : "" }, String(i + 1))));
    gutter.scrollTop = area.scrollTop;
    area.classList.toggle("is-invalid", !result.ok);
    area.setAttribute("aria-invalid", result.ok ? "false" : "true");
    if (result.ok) {
      const t = result.template;
      clear(status, h("span.ok-mark", "✓"), " Valid template: ",
        `${t.hexagons.length} hexagon${t.hexagons.length === 1 ? "" : "s"}, `,
        `${t.axons.length} axon${t.axons.length === 1 ? "" : "s"}, `,
        `profile ${t.settings.profile}`);
      status.className = "editor-status is-ok";
      const svg = hexagonSvg(t);
      clear(preview, svg, hexLegend());
      clear(summary,
        h("div", h("strong", "Inputs: "), t.inputs.map((i) => `${i.name} (${i.kind})`).join(", ")),
        h("div", h("strong", "Outputs: "), t.outputs.map((o) => `${o.name} (${o.type})`).join(", ")));
    } else {
      const e = result.error;
      clear(status, h("span.err-mark", "✗"), " ",
        h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); gotoError(); } },
          `Line ${e.line}, column ${e.column}`),
        `: ${e.message}`);
      status.className = "editor-status is-error";
      if (!preview.firstChild || preview.classList.contains("is-empty")) {
        clear(preview, h("p.empty", "The layout appears when the template is valid."));
        preview.classList.add("is-empty");
      } else {
        preview.classList.add("is-stale");
      }
      clear(summary);
    }
    if (result.ok) preview.classList.remove("is-empty", "is-stale");
    if (onChange) onChange(result);
  }

  area.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 80);
  });
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
  area.addEventListener("keydown", (e) => {
    if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      const { selectionStart: a, selectionEnd: b } = area;
      area.setRangeText("    ", a, b, "end");
      area.dispatchEvent(new Event("input"));
    }
  });

  const el = h("div.template-editor",
    h("div.editor-pane", h("div.editor", gutter, area), status),
    h("div.preview-pane", preview, summary));
  check();
  return {
    el,
    area,
    get result() { return result; },
    get value() { return area.value; },
    set value(text) { area.value = text; check(); },
    validate: check,
  };
}
