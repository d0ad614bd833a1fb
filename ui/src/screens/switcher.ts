// The quick switcher (Ctrl+J in the running log): find an incident by its title or words and
// open its log.

import type { AppError } from "../bindings/AppError";
import type { IncidentSummary } from "../bindings/IncidentSummary";
import * as api from "../api";
import { handleLockedError, navigate, openOverlay, route } from "../app";
import { debounce, h, setText } from "../dom";
import { errorText, formatDateTime } from "../format";

route("switcher", () => showSwitcher());

function showSwitcher(): void {
  const input = h("input", { id: "switcher-input", type: "search", autocomplete: "off", spellcheck: false, tPlaceholder: "switcher.placeholder", tLabel: "switcher.title" });
  const list = h("ul", { class: "switcher-list", attrs: { role: "listbox" } });
  const empty = h("p", { class: "muted", t: "switcher.empty", hidden: true });
  let results: IncidentSummary[] = [];
  let chosen = 0;
  let request = 0;

  const render = () => {
    list.replaceChildren(
      ...results.map((s, i) =>
        h(
          "li",
          {
            class: i === chosen ? "switcher-item selected" : "switcher-item",
            data: { id: s.id },
            attrs: { role: "option", "aria-selected": String(i === chosen) },
            on: { mousedown: (e) => (e.preventDefault(), go(s.id)) },
          },
          h("span", { class: "title", text: s.title }),
          h("span", { class: "muted small", text: formatDateTime(s.updated_at) }),
        ),
      ),
    );
    empty.hidden = results.length > 0;
  };
  const search = async () => {
    const mine = ++request;
    try {
      const page = await api.listIncidents({ offset: 0, limit: 30, query: input.value.trim() || null, status: null, violation: null, tag: null, from: null, to: null });
      if (mine !== request) return;
      results = page.incidents;
      chosen = 0;
      render();
    } catch (err) {
      if (handleLockedError(err as AppError)) return;
      setText(empty, errorText(err));
      empty.hidden = false;
    }
  };
  const go = (id: string) => {
    close();
    void navigate({ to: "log", id });
  };
  input.addEventListener("input", debounce(120, () => void search()));
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      chosen = Math.max(0, Math.min(results.length - 1, chosen + (e.key === "ArrowDown" ? 1 : -1)));
      render();
    } else if (e.key === "Enter") {
      e.preventDefault();
      const target = results[chosen];
      if (target) go(target.id);
    }
  });
  const panel = h(
    "section",
    { id: "switcher", class: "dialog switcher", attrs: { role: "dialog", "aria-modal": "true" } },
    h("h2", { t: "switcher.title" }),
    input,
    list,
    empty,
  );
  const close = openOverlay(panel);
  input.focus();
  void search();
}
