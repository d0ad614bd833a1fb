// The report editor: every field of the incident model, one file per section (report.ts,
// parties.ts, acts.ts, sources.ts, interventions.ts) over the bound controls of form.ts.
//
// There is no Save button: each change is saved ~400 ms after the last keystroke (and at once
// when the window loses focus or closes, or the vault is locked). The backend keeps an invalid
// incident as an encrypted draft and answers with the problems, which are shown beside their
// fields; a record just added shows none until something is typed in it or it is left.

import type { AppError } from "../../bindings/AppError";
import type { FieldProblem } from "../../bindings/FieldProblem";
import type { Delivery } from "../../bindings/Delivery";
import type { Incident } from "../../bindings/Incident";
import type { LogEntry } from "../../bindings/LogEntry";
import * as api from "../../api";
import { handleLockedError, lockNow, navigate, onBeforeLock, onReset, overlayOpen, route, showScreen } from "../../app";
import { byId, debounce, h, setT, setText } from "../../dom";
import { errorText } from "../../format";
import { type Key, hasKey, onLanguageChange, t } from "../../i18n";
import { AttachmentsPanel, pickAndAttach } from "../../parts/attachments";
import { deliveryBadge } from "../../parts/sync";
import { actsSection } from "./acts";
import { type EditorParts, Form, type ListKind } from "./form";
import { interventionsSection } from "./interventions";
import { partiesSection } from "./parties";
import { classificationSection, incidentSection, placeSection, timeSection } from "./report";
import { sourcesSection } from "./sources";

const SAVE_DELAY_MS = 400;

type SaveState = "saved" | "saving" | "invalid" | "error" | "pending" | "sealed";

const SAVE_STATE_KEYS: Record<Exclude<SaveState, "error">, Key> = {
  saved: "editor.saved",
  saving: "editor.saving",
  invalid: "editor.invalid",
  pending: "editor.pending_amendment",
  sealed: "editor.amendment_sealed",
};

const LISTS: readonly ListKind[] = ["parties", "acts", "sources", "interventions"];

let editor: Editor | null = null;

onReset(() => {
  editor?.forget();
  editor = null;
});
onBeforeLock(async () => {
  await editor?.flush();
});
onLanguageChange(() => editor?.render());
route("editor", (r) => openEditor(r.id));

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * A draft report whose times are still unknown takes them from its running log: it started
 * about when the first thing noted happened, and ended about when the last entry was written.
 * Whether anything changed.
 */
export function timesFromLog(m: Incident, log: LogEntry[]): boolean {
  if (m.status === "sealed" || log.length === 0) return false;
  const happened = log.map((e) => e.happened_at ?? e.at).sort((a, b) => Date.parse(a) - Date.parse(b));
  const written = log.map((e) => e.at).sort((a, b) => Date.parse(a) - Date.parse(b));
  let changed = false;
  if (m.start.precision === "unknown" && m.start.at === null) {
    m.start = { precision: "approximate", at: happened[0]! };
    changed = true;
  }
  if (log.length > 1 && m.end.precision === "unknown" && m.end.at === null) {
    m.end = { precision: "approximate", at: written[written.length - 1]! };
    changed = true;
  }
  return changed;
}

class Editor implements EditorParts {
  readonly root: HTMLElement;
  readonly form: Form;
  private readonly body: HTMLElement;
  private readonly saveState: HTMLElement;
  private readonly panel: AttachmentsPanel;
  private current: Incident;
  private edits = 0;
  private savedEdits = 0;
  private saving: Promise<void> | null = null;
  private problems: FieldProblem[] = [];
  /** Records just added, by id, whose problems wait until they are typed in or left. */
  private readonly freshRecords = new Set<string>();
  private readonly saveSoon = debounce(SAVE_DELAY_MS, () => void this.save());
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `newerAt`: set when this is an edit waiting to amend a sealed report, begun before a newer
   * revision of it arrived (its `updated_at`); the person keeps the edit on top or discards it.
   */
  constructor(incident: Incident, panel: AttachmentsPanel, newerAt: string | null = null, delivery: Delivery | null = null) {
    this.current = clone(incident);
    this.panel = panel;
    this.saveState = h("span", { id: "save-state", class: "save-state", data: { state: "saved" }, attrs: { role: "status" } });
    this.setState("saved");
    this.body = h("div", { class: "editor-body" });
    this.form = new Form(this.body, () => this.current.parties, () => this.changed());
    // Typing in a new record, or leaving it, ends its grace: its problems show from then on.
    const touched = (e: Event) => {
      const id = (e.target as HTMLElement | null)?.closest<HTMLElement>(".record[data-id]")?.dataset.id;
      if (!id || !this.freshRecords.delete(id)) return;
      const shown = this.showProblems();
      if (shown > 0 && this.saveState.dataset.state === "saved") this.setState("invalid");
    };
    this.body.addEventListener("input", touched);
    this.body.addEventListener("change", touched);
    this.body.addEventListener("focusout", (e) => {
      const record = (e.target as HTMLElement | null)?.closest<HTMLElement>(".record[data-id]");
      if (record && !record.contains(e.relatedTarget as Node | null)) touched(e);
    });
    this.root = h(
      "div",
      { id: "editor-screen", class: "editor-screen" },
      h(
        "header",
        { class: "toolbar" },
        h("button", { id: "back", type: "button", t: "editor.back", on: { click: () => void this.leaveTo(() => navigate({ to: "log", id: this.current.id })) } }),
        h("h1", { t: "editor.title" }),
        this.saveState,
        deliveryBadge(delivery, "editor-delivery"),
        incident.status === "sealed"
          ? h("button", { id: "seal-amendment", type: "button", t: "editor.seal_amendment", tTitle: "editor.seal_amendment_hint", on: { click: () => void this.sealAmendment() } })
          : null,
        h("button", { id: "lock", type: "button", t: "main.lock", on: { click: () => void lockNow() } }),
      ),
      newerAt ? this.outdatedBanner(newerAt) : null,
      h("div", { class: "editor-scroll" }, h("form", { class: "editor-form", noValidate: true, autocomplete: "off", on: { submit: (e) => e.preventDefault() } }, this.body), h("aside", { class: "editor-side" }, panel.root)),
    );
    this.render();
  }

  get model(): Incident {
    return this.current;
  }

  get id(): string {
    return this.current.id;
  }

  forget(): void {
    this.saveSoon.cancel();
    clearTimeout(this.retryTimer);
    this.panel.dispose();
    this.body.replaceChildren();
  }

  fresh(id: string): void {
    this.freshRecords.add(id);
  }

  private async leaveTo(next: () => void | Promise<void>): Promise<void> {
    await this.flush();
    await next();
  }

  // ---- Saving ------------------------------------------------------------------------------

  private setState(s: SaveState, err?: unknown): void {
    this.saveState.dataset.state = s;
    if (s === "error") setText(this.saveState, t("editor.error", { error: errorText(err) }));
    else setT(this.saveState, SAVE_STATE_KEYS[s]);
  }

  changed(): void {
    this.edits += 1;
    this.setState("saving");
    this.saveSoon();
  }

  private outdatedBanner(newerAt: string): HTMLElement {
    const banner = h(
      "div",
      { id: "draft-outdated", class: "error banner", attrs: { role: "alert" } },
      h("span", { t: "editor.outdated" }),
      " ",
      h("button", {
        id: "draft-keep",
        type: "button",
        t: "editor.outdated_keep",
        on: {
          click: () => {
            // The person chose: this edit now stands on top of the newer version.
            this.current.updated_at = newerAt;
            banner.remove();
            this.changed();
          },
        },
      }),
      " ",
      h("button", {
        id: "draft-discard",
        type: "button",
        t: "editor.outdated_discard",
        on: {
          click: async () => {
            this.saveSoon.cancel();
            try {
              await api.discardEdit(this.current.id);
              this.edits = this.savedEdits;
              await openEditor(this.current.id);
            } catch (err) {
              if (!handleLockedError(err as AppError)) this.setState("error", err);
            }
          },
        },
      }),
    );
    return banner;
  }

  /**
   * A sealed incident changes only by a new signed revision: its edits are kept (encrypted)
   * until this seals them, with the running-log entries and attachments added since.
   */
  private async sealAmendment(): Promise<void> {
    const button = this.root.querySelector<HTMLButtonElement>("#seal-amendment");
    if (button?.disabled) return;
    if (button) button.disabled = true;
    try {
      await this.flush();
      // Seal only what is stored: if the last edit could not be saved, its error stays shown.
      if (this.edits !== this.savedEdits) return;
      const edits = this.edits;
      const view = await api.sealIncident(this.current.id);
      if (this.edits === edits) {
        this.current = clone(view.incident);
        this.problems = [];
        this.render();
        this.setState("sealed");
      } else {
        // Typed while sealing: those edits are kept for the next amendment.
        this.setState("pending");
      }
    } catch (err) {
      if (handleLockedError(err as AppError)) return;
      this.setState("error", err);
    } finally {
      if (button) button.disabled = false;
    }
  }

  /** Saves once more to learn the problems of a draft that was kept invalid. */
  revalidate(): void {
    this.changed();
  }

  /** Saves now (if anything changed) and waits until every change so far is stored. */
  async flush(): Promise<void> {
    this.saveSoon.cancel();
    while (this.saving || this.edits !== this.savedEdits) {
      const before = this.savedEdits;
      await (this.saving ?? this.save());
      if (this.savedEdits === before && !this.saving) break; // Failed; the error is shown.
    }
  }

  private save(): Promise<void> {
    if (this.saving) return this.saving;
    if (this.edits === this.savedEdits) return Promise.resolve();
    clearTimeout(this.retryTimer);
    const edits = this.edits;
    const snapshot = clone(this.current);
    this.saving = (async () => {
      try {
        const outcome = await api.saveIncident(snapshot);
        this.savedEdits = edits;
        if (outcome.incident) this.current.updated_at = outcome.incident.updated_at;
        this.problems = outcome.errors;
        const shown = this.showProblems();
        const invalid = shown > 0;
        this.setState(this.edits !== edits ? "saving" : invalid ? "invalid" : outcome.pending_amendment ? "pending" : "saved");
      } catch (err) {
        if (handleLockedError(err as AppError)) return;
        this.setState("error", err);
        this.retryTimer = setTimeout(() => void this.save(), 5000);
      } finally {
        this.saving = null;
      }
      if (this.edits !== this.savedEdits && this.edits !== edits) this.saveSoon();
    })();
    return this.saving;
  }

  // ---- Problems ------------------------------------------------------------------------------

  /** Whether `path` lies in a record just added (its problems wait). */
  private inFreshRecord(path: string): boolean {
    const m = /^(parties|acts|sources|interventions)\[(\d+)\]/.exec(path);
    if (!m) return false;
    const record = this.current[m[1] as ListKind][Number(m[2])];
    return record !== undefined && this.freshRecords.has(record.id);
  }

  /** Shows every problem beside its field; how many are shown. */
  private showProblems(): number {
    const slots = new Map<string, HTMLElement>();
    for (const slot of this.body.querySelectorAll<HTMLElement>(".field-error")) {
      slot.textContent = "";
      slot.closest(".field, .party, .record")?.classList.remove("invalid");
      if (slot.dataset.for !== undefined) slots.set(slot.dataset.for, slot);
    }
    const other: string[] = [];
    let shown = 0;
    const put = (path: string, message: string) => {
      if (this.inFreshRecord(path)) return;
      shown += 1;
      let at: string | null = path;
      let slot: HTMLElement | undefined;
      while (at && !(slot = slots.get(at) ?? slots.get(at.replace(".kind.", ".")))) at = parentPath(at);
      if (!slot) {
        other.push(`${path}: ${message}`);
        return;
      }
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      slot.closest(".field, .party, .record")?.classList.add("invalid");
    };
    for (const p of this.problems) {
      const key = `problem.${p.code}`;
      put(p.field, hasKey(key) ? t(key, p.params) : p.message);
    }
    for (const [path, key] of this.form.localProblems) put(path, t(key));
    const box = this.body.querySelector<HTMLElement>(".other-problems");
    if (box) {
      box.hidden = other.length === 0;
      box.querySelector("ul")?.replaceChildren(...other.map((text) => h("li", { text })));
    }
    return shown;
  }

  // ---- Rendering -----------------------------------------------------------------------------

  render(): void {
    const focusedId = (document.activeElement as HTMLElement | null)?.id;
    this.body.replaceChildren(
      h("section", { class: "other-problems", hidden: true, attrs: { role: "alert" } }, h("h3", { t: "editor.other_problems" }), h("ul")),
      incidentSection(this),
      timeSection(this),
      placeSection(this),
      classificationSection(this),
      ...LISTS.map((kind) => this.sectionFor(kind)),
    );
    this.showProblems();
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  rerender(selector: string, build: () => HTMLElement): void {
    const old = this.body.querySelector(selector);
    if (old) old.replaceWith(build());
    this.showProblems();
  }

  /** After parties were added, removed or re-kinded: rebuild their list and relabel pickers. */
  partiesChanged(rebuildParties: boolean): void {
    if (rebuildParties) this.rerender('[data-section="parties"]', () => partiesSection(this));
    for (const section of ["acts", "sources", "interventions"] as const) {
      const hasNote = this.body.querySelector(`[data-section="${section}"] > p.muted`) !== null;
      if (hasNote !== (this.current.parties.length === 0)) this.rerender(`[data-section="${section}"]`, () => this.sectionFor(section));
    }
    this.form.refreshPartyOptions();
  }

  private sectionFor(section: ListKind): HTMLElement {
    switch (section) {
      case "parties":
        return partiesSection(this);
      case "acts":
        return actsSection(this);
      case "sources":
        return sourcesSection(this);
      case "interventions":
        return interventionsSection(this);
    }
  }
}

/** `parties[2].size` → `parties[2]` → `parties`; `violations[1]` → `violations`. */
function parentPath(path: string): string | null {
  const bracket = /\[\d+\]$/.exec(path);
  if (bracket) return path.slice(0, bracket.index);
  const dot = path.lastIndexOf(".");
  return dot > 0 ? path.slice(0, dot) : null;
}

function saveOnBlur(): void {
  void editor?.flush();
}

async function openEditor(id: string): Promise<void> {
  let view;
  try {
    view = await api.getIncident(id);
  } catch (err) {
    if (handleLockedError(err as AppError)) return;
    return;
  }
  // The draft holds the newest edits when the last save was invalid.
  const incident = clone(view.draft ?? view.incident);
  const outdated =
    view.draft && view.incident.status === "sealed" && view.draft.updated_at !== view.incident.updated_at
      ? view.incident.updated_at
      : null;
  const timed = timesFromLog(incident, view.log);
  const panel = new AttachmentsPanel(id, view.attachments, view.incomplete);
  const current = new Editor(incident, panel, outdated, view.delivery);
  editor = current;
  window.addEventListener("blur", saveOnBlur);
  window.addEventListener("beforeunload", saveOnBlur);
  // Ctrl+O attaches a file here as in the running log.
  const onKey = (e: KeyboardEvent) => {
    if (e.ctrlKey && !e.altKey && !e.metaKey && !overlayOpen() && e.key.toLowerCase() === "o") {
      e.preventDefault();
      void pickAndAttach();
    }
  };
  document.addEventListener("keydown", onKey);
  showScreen("editor", current.root, () => {
    document.removeEventListener("keydown", onKey);
    window.removeEventListener("blur", saveOnBlur);
    window.removeEventListener("beforeunload", saveOnBlur);
    void current.flush().finally(() => current.forget());
    if (editor === current) editor = null;
  });
  if (view.draft || timed) current.revalidate();
  byId("field-title").focus();
}
