// The main screen: filters and a virtualised incident list. Rows have a fixed height; only the
// visible rows (plus a buffer) exist in the document, and summaries are fetched in pages of 200
// as the visible window moves, so the list stays smooth with 100 000 incidents.

import type { IncidentStatus } from "../bindings/IncidentStatus";
import type { IncidentSummary } from "../bindings/IncidentSummary";
import type { ListRequest } from "../bindings/ListRequest";
import type { AppError } from "../bindings/AppError";
import * as api from "../api";
import { handleLockedError, lockNow, navigate, onReset, route, setTotal, setUnsent, showScreen, state } from "../app";
import { type Child, debounce, h, setT, setText } from "../dom";
import { errorText, formatDateTime, formatNow, num, termLabel } from "../format";
import { type Key, onLanguageChange, t } from "../i18n";
import { parseDay, showDay } from "../parts/dates";
import { deliveryBadge, onSynced } from "../parts/sync";
import type { Delivery } from "../bindings/Delivery";

const ROW_HEIGHT = 60;
const PAGE = 200;
const BUFFER_ROWS = 12;
const MAX_CACHED_PAGES = 40;

interface Filters {
  query: string;
  status: string;
  violation: string;
  tag: string;
  from: string;
  to: string;
}

const emptyFilters = (): Filters => ({ query: "", status: "", violation: "", tag: "", from: "", to: "" });

/** Kept while unlocked so that coming back from an incident shows the list as it was left. */
let filters = emptyFilters();
let scrollTop = 0;
let selected = -1;

/** Per list instance. */
let view: ListView | null = null;

onReset(() => {
  filters = emptyFilters();
  scrollTop = 0;
  selected = -1;
  view = null;
});

onLanguageChange(() => view?.retranslate());

function hasFilters(f: Filters): boolean {
  return Object.values(f).some((v) => v !== "");
}

class ListView {
  readonly root: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly message: HTMLElement;
  private readonly count: HTMLElement;
  private readonly error: HTMLElement;
  private readonly violation: HTMLSelectElement;
  private readonly rows = new Map<number, HTMLElement>();
  private pages = new Map<number, IncidentSummary[]>();
  /** Where each listed incident is on its way to HQ (when the organisation has a server). */
  private delivery = new Map<string, Delivery>();
  private inflight = new Set<number>();
  private total: number | null = null;
  private generation = 0;
  private frame = 0;
  private alive = true;
  /** Where the list was left; applied once the spacer is tall enough to scroll there. */
  private restoreTop: number | null = null;
  private readonly fetchVisible = debounce(40, () => this.loadVisiblePages());

  constructor() {
    const search = h("input", {
      id: "search",
      data: { typing: "" },
      type: "search",
      autocomplete: "off",
      spellcheck: false,
      value: filters.query,
      tPlaceholder: "main.search",
      tLabel: "main.search_label",
    });
    const status = h(
      "select",
      { id: "filter-status", tLabel: "filter.status" },
      h("option", { value: "", t: "filter.any_status" }),
      h("option", { value: "draft", t: "incident_status.draft" }),
      h("option", { value: "sealed", t: "incident_status.sealed" }),
    );
    status.value = filters.status;
    this.violation = h("select", { id: "filter-violation", tLabel: "filter.violation" });
    this.fillViolations();
    const tag = h("input", { id: "filter-tag", type: "text", value: filters.tag, tPlaceholder: "filter.tag", tLabel: "filter.tag", spellcheck: false });
    // Days as the language writes them (WebKit's date fields follow the system's locale).
    const day = (id: string, value: string, label: Key) =>
      h("input", { id, type: "text", class: "day", value: value ? showDay(value) : "", inputMode: "numeric", maxLength: 10, size: 10, spellcheck: false, tLabel: label, tTitle: label, tPlaceholder: "date.day_hint" });
    const from = day("filter-from", filters.from, "filter.from");
    const to = day("filter-to", filters.to, "filter.to");
    /** The day typed in `input`, "" if none; marks it when it is not a day. */
    const dayOf = (input: HTMLInputElement): string => {
      const parsed = input.value.trim() === "" ? "" : parseDay(input.value);
      input.classList.toggle("invalid", parsed === null);
      input.setAttribute("aria-invalid", String(parsed === null));
      return parsed ?? "";
    };
    const clear = h("button", { type: "button", class: "link", t: "filter.clear" });

    const apply = () => {
      filters = {
        query: search.value.trim(),
        status: status.value,
        violation: this.violation.value,
        tag: tag.value.trim(),
        from: dayOf(from),
        to: dayOf(to),
      };
      clear.hidden = !hasFilters(filters);
      selected = -1;
      this.reload(true);
    };
    const applySoon = debounce(150, apply);
    search.addEventListener("input", applySoon);
    search.addEventListener("change", applySoon);
    tag.addEventListener("input", applySoon);
    for (const control of [status, this.violation, from, to]) control.addEventListener("change", apply);
    search.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown") {
        e.preventDefault();
        this.moveSelection(1);
        this.scroller.focus();
      } else if (e.key === "Escape" && search.value) {
        search.value = "";
        apply();
      }
    });
    clear.hidden = !hasFilters(filters);
    clear.addEventListener("click", () => {
      search.value = tag.value = from.value = to.value = "";
      status.value = this.violation.value = "";
      apply();
      search.focus();
    });

    this.spacer = h("div", { class: "list-spacer" });
    this.scroller = h(
      "div",
      {
        id: "incident-list",
        class: "incident-list",
        tabIndex: 0,
        tLabel: "list.label",
        attrs: { role: "listbox" },
        on: {
          scroll: () => this.schedule(),
          click: (e) => {
            const row = (e.target as HTMLElement).closest<HTMLElement>(".incident-row[data-id]");
            if (row?.dataset.id) void navigate({ to: "log", id: row.dataset.id });
          },
          keydown: (e) => this.onKey(e),
        },
      },
      this.spacer,
    );
    this.message = h("p", { class: "list-message muted", hidden: true });
    this.count = h("span", { id: "list-count", class: "muted" });
    this.error = h("p", { class: "error banner", hidden: true, attrs: { role: "alert" } });

    const newLog = h("button", { id: "new-log", type: "button", class: "primary", t: "main.new_log", tTitle: "main.new_log", on: { click: () => void newRunningLog() } });
    const lock = h("button", { id: "lock", type: "button", t: "main.lock", on: { click: () => void lockNow() } });
    const exportButton = h("button", { id: "export", type: "button", t: "main.export", on: { click: () => void navigate({ to: "export" }) } });
    const importButton = h("button", { id: "import", type: "button", t: "main.import", on: { click: () => void navigate({ to: "import", onClose: () => this.reload(false) }) } });
    const orgButton = h("button", { id: "org", type: "button", t: "main.org", on: { click: () => void navigate({ to: "org" }) } });
    const settings = h("button", { id: "open-settings", type: "button", t: "main.settings", on: { click: () => void navigate({ to: "settings" }) } });

    const labelled = (key: Key, control: HTMLElement): Child => h("label", { class: "filter" }, h("span", { class: "caption", t: key }), control);
    this.root = h(
      "div",
      { id: "main-screen", class: "main-screen" },
      h("header", { class: "toolbar" }, h("span", { class: "brand", t: "app.name" }), search, newLog, exportButton, importButton, orgButton, settings, lock),
      h(
        "div",
        { class: "filters" },
        labelled("filter.status", status),
        labelled("filter.violation", this.violation),
        labelled("filter.tag", tag),
        labelled("filter.from", from),
        labelled("filter.to", to),
        clear,
        this.count,
      ),
      this.error,
      h("div", { class: "list-wrap" }, this.scroller, this.message),
      h("p", { id: "list-hint", class: "muted small hint list-hint", t: "list.hint" }),
    );
  }

  private unsubscribe: () => void = () => {};

  start(): void {
    // A sync pass may have changed where incidents are on their way to HQ.
    this.unsubscribe = onSynced(() => this.reload(false));
    this.restoreTop = scrollTop;
    this.reload(false);
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
    (document.getElementById("search") as HTMLInputElement | null)?.focus();
  }

  stop(): void {
    this.unsubscribe();
    this.alive = false;
    scrollTop = this.scroller.scrollTop;
    cancelAnimationFrame(this.frame);
    this.fetchVisible.cancel();
  }

  retranslate(): void {
    this.fillViolations();
    for (const [index, row] of this.rows) this.fillRow(row, index);
    this.updateMessage();
  }

  showError(message: string): void {
    setText(this.error, message);
    this.error.hidden = false;
  }

  refreshTerms(): void {
    this.fillViolations();
  }

  private fillViolations(): void {
    const current = this.violation.value || filters.violation;
    const terms = state.terms.filter((term) => term.kind === "violation");
    terms.sort((a, b) => termLabel(a).localeCompare(termLabel(b)));
    this.violation.replaceChildren(
      h("option", { value: "", t: "filter.any_violation" }),
      ...terms.map((term) => h("option", { value: term.code, text: termLabel(term) })),
    );
    this.violation.value = current;
  }

  private request(offset: number): ListRequest {
    return {
      offset,
      limit: PAGE,
      query: filters.query || null,
      status: (filters.status || null) as IncidentStatus | null,
      violation: filters.violation || null,
      tag: filters.tag || null,
      from: filters.from || null,
      to: filters.to || null,
    };
  }

  /** Drops cached pages and starts over; `toTop` when the filters changed. */
  reload(toTop: boolean): void {
    this.generation += 1;
    this.pages = new Map();
    this.inflight.clear();
    if (toTop) {
      this.restoreTop = null;
      this.scroller.scrollTop = 0;
    }
    const top = this.restoreTop ?? this.scroller.scrollTop;
    void this.loadPage(Math.floor(top / ROW_HEIGHT / PAGE), true);
  }

  private async loadPage(page: number, first = false): Promise<void> {
    if (this.pages.has(page) || this.inflight.has(page)) return;
    const generation = this.generation;
    this.inflight.add(page);
    try {
      const result = await api.listIncidents(this.request(page * PAGE));
      if (!this.alive || generation !== this.generation) return;
      this.error.hidden = true;
      this.pages.set(page, result.incidents);
      for (const [id, d] of Object.entries(result.delivery)) if (d) this.delivery.set(id, d);
      this.evictFarPages(page);
      const total = num(result.total);
      const totalChanged = this.total !== total;
      this.total = total;
      if (!hasFilters(filters)) setTotal(total);
      setUnsent(result.unsent);
      if (totalChanged || first) {
        this.spacer.style.height = `${total * ROW_HEIGHT}px`;
        this.updateMessage();
      }
      if (this.restoreTop !== null) {
        this.scroller.scrollTop = this.restoreTop;
        this.restoreTop = null;
      }
      this.render();
      this.fetchVisible();
    } catch (err) {
      if (generation !== this.generation || !this.alive) return;
      if (handleLockedError(err as AppError)) return;
      setText(this.error, errorText(err));
      this.error.hidden = false;
    } finally {
      if (generation === this.generation) this.inflight.delete(page);
    }
  }

  private evictFarPages(near: number): void {
    if (this.pages.size <= MAX_CACHED_PAGES) return;
    const far = [...this.pages.keys()].sort((a, b) => Math.abs(b - near) - Math.abs(a - near));
    for (const page of far.slice(0, this.pages.size - MAX_CACHED_PAGES)) this.pages.delete(page);
  }

  private updateMessage(): void {
    const total = this.total ?? 0;
    setT(this.count, "status.count", { n: total });
    this.count.hidden = !hasFilters(filters) || this.total === null;
    if (this.total !== null && total === 0) {
      setT(this.message, hasFilters(filters) ? "list.no_results" : "list.empty");
      this.message.hidden = false;
    } else {
      this.message.hidden = true;
    }
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
      this.fetchVisible();
    });
  }

  private visibleRange(): [number, number] {
    const total = this.total ?? 0;
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - BUFFER_ROWS);
    const last = Math.min(total - 1, Math.ceil((top + height) / ROW_HEIGHT) + BUFFER_ROWS);
    return [first, last];
  }

  private loadVisiblePages(): void {
    if (!this.alive || this.total === null) return;
    const [first, last] = this.visibleRange();
    if (last < first) return;
    for (let page = Math.floor(first / PAGE); page <= Math.floor(last / PAGE); page++) void this.loadPage(page);
  }

  private summary(index: number): IncidentSummary | undefined {
    return this.pages.get(Math.floor(index / PAGE))?.[index % PAGE];
  }

  private render(): void {
    if (!this.alive) return;
    const [first, last] = this.visibleRange();
    for (const [index, row] of this.rows) {
      if (index < first || index > last) {
        row.remove();
        this.rows.delete(index);
      }
    }
    for (let index = first; index <= last; index++) {
      let row = this.rows.get(index);
      if (!row) {
        row = h("div", { class: "incident-row", attrs: { role: "option" } });
        row.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
        this.rows.set(index, row);
        this.scroller.append(row);
        this.fillRow(row, index);
      } else if (row.dataset.id === undefined && this.summary(index)) {
        this.fillRow(row, index);
      } else if (row.dataset.id !== undefined && row.dataset.id !== this.summary(index)?.id) {
        this.fillRow(row, index);
      } else if (this.summary(index) && row.dataset.generation !== String(this.generation)) {
        // Reloaded (after a sync, say): the same incident, perhaps with a new badge.
        this.fillRow(row, index);
      }
      row.classList.toggle("selected", index === selected);
      row.setAttribute("aria-selected", String(index === selected));
    }
  }

  private fillRow(row: HTMLElement, index: number): void {
    const s = this.summary(index);
    row.dataset.index = String(index);
    if (!s) {
      delete row.dataset.id;
      row.classList.add("loading");
      row.replaceChildren(h("span", { class: "title muted", t: "common.loading" }));
      return;
    }
    row.classList.remove("loading");
    row.dataset.id = s.id;
    row.dataset.generation = String(this.generation);
    const entries = num(s.log_entries);
    const files = num(s.attachments);
    row.replaceChildren(
      h("span", { class: "title", text: s.title }),
      h(
        "span",
        { class: "meta" },
        h("time", { text: formatDateTime(s.created_at), dateTime: s.created_at }),
        h("span", { class: `badge status-${s.status}`, t: `incident_status.${s.status}` as Key }),
        deliveryBadge(this.delivery.get(s.id)),
        h("span", { t: "list.entries", tParams: { n: entries } }),
        files > 0 ? h("span", { t: "list.attachments", tParams: { n: files } }) : null,
        h("span", { class: "muted", t: "list.updated", tParams: { date: formatDateTime(s.updated_at) } }),
      ),
    );
  }

  private moveSelection(delta: number): void {
    const total = this.total ?? 0;
    if (total === 0) return;
    selected = Math.max(0, Math.min(total - 1, selected + delta));
    const top = selected * ROW_HEIGHT;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + ROW_HEIGHT > this.scroller.scrollTop + this.scroller.clientHeight)
      this.scroller.scrollTop = top + ROW_HEIGHT - this.scroller.clientHeight;
    this.render();
  }

  private onKey(e: KeyboardEvent): void {
    const pageRows = Math.max(1, Math.floor(this.scroller.clientHeight / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: pageRows, PageUp: -pageRows };
    if (e.key in moves) {
      e.preventDefault();
      this.moveSelection(moves[e.key]!);
    } else if (e.key === "Home" || e.key === "End") {
      e.preventDefault();
      selected = e.key === "Home" ? 0 : (this.total ?? 1) - 1;
      this.moveSelection(0);
    } else if (e.key === "Enter") {
      const id = this.summary(selected)?.id;
      if (id) void navigate({ to: "log", id });
    }
  }
}

route("list", () => showList());
route("new-log", () => newRunningLog());

function showList(): void {
  const list = new ListView();
  view = list;
  showScreen("main", list.root, () => {
    list.stop();
    if (view === list) view = null;
  });
  list.start();
}

/** Called when the thesaurus arrives after the list was first shown. */
export function refreshListTerms(): void {
  view?.refreshTerms();
}

/** Starts a new running log with a dated title and opens it: no questions asked. */
async function newRunningLog(): Promise<void> {
  try {
    const incident = await api.newIncident(t("log.default_title", { date: formatNow() }));
    setTotal(state.total + 1);
    await navigate({ to: "log", id: incident.id });
  } catch (err) {
    if (handleLockedError(err as AppError)) return;
    view?.showError(errorText(err));
  }
}
