// The report editor: every field of the incident model. There is no Save button: each change
// is saved ~400 ms after the last keystroke (and at once when the window loses focus or
// closes, or the vault is locked). The backend keeps an invalid incident as an encrypted
// draft and answers with the problems, which are shown beside their fields.

import type { Act } from "../bindings/Act";
import type { AppError } from "../bindings/AppError";
import type { Confidentiality } from "../bindings/Confidentiality";
import type { FieldProblem } from "../bindings/FieldProblem";
import type { Incident } from "../bindings/Incident";
import type { Intervention } from "../bindings/Intervention";
import type { InterventionStatus } from "../bindings/InterventionStatus";
import type { Party } from "../bindings/Party";
import type { PartyKind } from "../bindings/PartyKind";
import type { Precision } from "../bindings/Precision";
import type { Reliability } from "../bindings/Reliability";
import type { Role } from "../bindings/Role";
import type { Source } from "../bindings/Source";
import type { TimePoint } from "../bindings/TimePoint";
import * as api from "../api";
import { handleLockedError, lockNow, onBeforeLock, onReset, overlayOpen, showScreen, state } from "../app";
import { type Child, byId, debounce, errorSlot, h, setT, setText } from "../dom";
import { NIL_UUID, errorText, formatDateTime, termLabel, uuid } from "../format";
import { type Key, hasKey, onLanguageChange, t } from "../i18n";
import { AttachmentsPanel, pickAndAttach } from "./attachments";
import { openLiveLog } from "./livelog";

const SAVE_DELAY_MS = 400;
const PRECISIONS: Precision[] = ["exact", "approximate", "unknown"];
const ROLES: Role[] = ["victim", "perpetrator", "source", "witness", "intervening_party"];
const KINDS: PartyKind["kind"][] = ["person", "group", "organisation"];
const CONFIDENTIALITY: Confidentiality[] = ["public", "restricted", "confidential", "secret"];
const RELIABILITY: Reliability[] = ["high", "medium", "low", "unknown"];
const INTERVENTION_STATUS: InterventionStatus[] = ["planned", "in_progress", "awaiting_response", "closed"];

type SaveState = "saved" | "saving" | "invalid" | "error" | "pending" | "sealed";

const SAVE_STATE_KEYS: Record<Exclude<SaveState, "error">, Key> = {
  saved: "editor.saved",
  saving: "editor.saving",
  invalid: "editor.invalid",
  pending: "editor.pending_amendment",
  sealed: "editor.amendment_sealed",
};

let editor: Editor | null = null;

onReset(() => {
  editor?.forget();
  editor = null;
});
onBeforeLock(async () => {
  await editor?.flush();
});
onLanguageChange(() => editor?.render());

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function localOffset(date = new Date()): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

const AT_PATTERN = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
const OFFSET_PATTERN = /^[+-](?:[01]\d|2[0-3]):[0-5]\d$/;

/** Splits an RFC 3339 time into the value of a datetime-local input and its UTC offset. */
function splitAt(at: string | null): { local: string; offset: string } {
  const m = at ? AT_PATTERN.exec(at) : null;
  if (!m) return { local: "", offset: localOffset() };
  const seconds = m[2] && m[2] !== "00" ? `:${m[2]}` : "";
  return { local: m[1]! + seconds, offset: m[3]!.toUpperCase() === "Z" ? "+00:00" : m[3]! };
}

function partyName(party: Party): string {
  const k = party.kind;
  let name = k.name.trim();
  if (!name && k.kind === "group") {
    const what = (k.description || k.unit).trim();
    name = k.size !== null && k.size !== undefined ? `${k.size} ${what}`.trim() : what;
  }
  return name || t("editor.unnamed");
}

function withKind(kind: PartyKind["kind"], previous: PartyKind): PartyKind {
  const name = previous.name;
  switch (kind) {
    case "person":
      return { kind, name, gender: null, occupation: null };
    case "group":
      return { kind, name, description: "", unit: "", size: null, size_precision: "unknown" };
    case "organisation":
      return { kind, name };
  }
}

class Editor {
  readonly root: HTMLElement;
  private readonly body: HTMLElement;
  private readonly saveState: HTMLElement;
  private readonly panel: AttachmentsPanel;
  private model: Incident;
  private edits = 0;
  private savedEdits = 0;
  private saving: Promise<void> | null = null;
  private problems: FieldProblem[] = [];
  /** Problems found before sending (a size that is not a whole number...), by field path. */
  private readonly localProblems = new Map<string, Key>();
  private readonly saveSoon = debounce(SAVE_DELAY_MS, () => void this.save());
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `newerAt`: set when this is an edit waiting to amend a sealed report, begun before a newer
   * revision of it arrived (its `updated_at`); the person keeps the edit on top or discards it.
   */
  constructor(incident: Incident, panel: AttachmentsPanel, newerAt: string | null = null) {
    this.model = clone(incident);
    this.panel = panel;
    this.saveState = h("span", { id: "save-state", class: "save-state", data: { state: "saved" }, attrs: { role: "status" } });
    this.setState("saved");
    this.body = h("div", { class: "editor-body" });
    this.root = h(
      "div",
      { id: "editor-screen", class: "editor-screen" },
      h(
        "header",
        { class: "toolbar" },
        h("button", { id: "back", type: "button", t: "editor.back", on: { click: () => void this.leaveTo(() => openLiveLog(this.model.id)) } }),
        h("h1", { t: "editor.title" }),
        this.saveState,
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

  get id(): string {
    return this.model.id;
  }

  forget(): void {
    this.saveSoon.cancel();
    clearTimeout(this.retryTimer);
    this.panel.dispose();
    this.body.replaceChildren();
  }

  private async leaveTo(next: () => Promise<void>): Promise<void> {
    await this.flush();
    await next();
  }

  // ---- Saving ------------------------------------------------------------------------------

  private setState(s: SaveState, err?: unknown): void {
    this.saveState.dataset.state = s;
    if (s === "error") setText(this.saveState, t("editor.error", { error: errorText(err) }));
    else setT(this.saveState, SAVE_STATE_KEYS[s]);
  }

  private changed(): void {
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
            this.model.updated_at = newerAt;
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
              await api.discardEdit(this.model.id);
              this.edits = this.savedEdits;
              await openEditor(this.model.id);
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
      const view = await api.sealIncident(this.model.id);
      if (this.edits === edits) {
        this.model = clone(view.incident);
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
    const snapshot = clone(this.model);
    this.saving = (async () => {
      try {
        const outcome = await api.saveIncident(snapshot);
        this.savedEdits = edits;
        if (outcome.incident) this.model.updated_at = outcome.incident.updated_at;
        this.problems = outcome.errors;
        this.showProblems();
        const invalid = (!outcome.saved && !outcome.pending_amendment) || outcome.errors.length > 0 || this.localProblems.size > 0;
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

  private showProblems(): void {
    const slots = new Map<string, HTMLElement>();
    for (const slot of this.body.querySelectorAll<HTMLElement>(".field-error")) {
      slot.textContent = "";
      slot.closest(".field, .party, .record")?.classList.remove("invalid");
      if (slot.dataset.for !== undefined) slots.set(slot.dataset.for, slot);
    }
    const other: string[] = [];
    const put = (path: string, message: string) => {
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
    for (const [path, key] of this.localProblems) put(path, t(key));
    const box = this.body.querySelector<HTMLElement>(".other-problems");
    if (box) {
      box.hidden = other.length === 0;
      box.querySelector("ul")?.replaceChildren(...other.map((text) => h("li", { text })));
    }
  }

  private localProblem(path: string, key: Key | null): void {
    if (key) this.localProblems.set(path, key);
    else this.localProblems.delete(path);
  }

  // ---- Controls bound to the model -----------------------------------------------------------

  private text(get: () => string, set: (v: string) => void, props: Record<string, unknown> = {}): HTMLInputElement {
    const input = h("input", { type: "text", value: get(), spellcheck: false, ...props });
    const update = () => {
      if (input.value === get()) return;
      set(input.value);
      this.changed();
    };
    input.addEventListener("input", update);
    input.addEventListener("change", update);
    return input;
  }

  private area(get: () => string, set: (v: string) => void, props: Record<string, unknown> = {}): HTMLTextAreaElement {
    const area = h("textarea", { value: get(), rows: 3, ...props });
    const update = () => {
      if (area.value === get()) return;
      set(area.value);
      this.changed();
    };
    area.addEventListener("input", update);
    area.addEventListener("change", update);
    return area;
  }

  private choice<T extends string>(
    values: readonly T[],
    label: (v: T) => Child,
    get: () => T,
    set: (v: T) => void,
    props: Record<string, unknown> = {},
  ): HTMLSelectElement {
    const select = h("select", props, ...values.map((v) => h("option", { value: v }, label(v))));
    select.value = get();
    select.addEventListener("change", () => {
      set(select.value as T);
      this.changed();
    });
    return select;
  }

  private field(caption: Key, control: HTMLElement, path: string, wide = false): HTMLElement {
    return h(
      "label",
      { class: wide ? "field wide" : "field" },
      h("span", { class: "caption", t: caption }),
      control,
      errorSlot(path),
    );
  }

  /** Precision, date and time, and UTC offset of a `TimePoint`. */
  private timePoint(caption: Key, path: string, get: () => TimePoint, set: (tp: TimePoint) => void): HTMLElement {
    const parts = splitAt(get().at);
    const precision = h("select", { data: { field: "precision" } }, ...PRECISIONS.map((p) => h("option", { value: p, t: `precision.${p}` as Key })));
    precision.value = get().precision;
    const local = h("input", { type: "datetime-local", value: parts.local, step: "1", data: { field: "at" } });
    const offset = h("input", { type: "text", value: parts.offset, class: "offset", maxLength: 6, spellcheck: false, data: { field: "offset" }, tLabel: "field.offset", tTitle: "field.offset" });
    const update = (source: HTMLElement) => {
      // Typing a date means it is known; choosing "unknown" clears it.
      if (source !== precision && local.value && precision.value === "unknown") precision.value = "exact";
      if (source === precision && precision.value === "unknown") local.value = "";
      const unknown = precision.value === "unknown";
      let at: string | null = null;
      let problem: Key | null = null;
      if (!unknown && local.value) {
        const off = offset.value.trim().toUpperCase() === "Z" ? "+00:00" : offset.value.trim();
        if (OFFSET_PATTERN.test(off)) at = `${local.value}${local.value.length === 16 ? ":00" : ""}${off}`;
        else problem = "editor.offset_format";
      }
      this.localProblem(`${path}.at`, problem);
      set({ ...get(), precision: precision.value as Precision, at });
    };
    for (const control of [precision, local, offset]) {
      for (const type of control === precision ? ["change"] : ["input", "change"]) {
        control.addEventListener(type, () => {
          update(control);
          this.changed();
        });
      }
    }
    return h(
      "fieldset",
      { class: "time-point field wide", data: { path } },
      h("legend", { t: caption }),
      h(
        "div",
        { class: "row" },
        h("label", { class: "sub" }, h("span", { class: "caption small", t: "field.precision" }), precision),
        h("label", { class: "sub" }, h("span", { class: "caption small", t: "field.datetime" }), local),
        h("label", { class: "sub" }, h("span", { class: "caption small", t: "field.offset" }), offset),
      ),
      errorSlot(path),
      errorSlot(`${path}.precision`),
      errorSlot(`${path}.at`),
    );
  }

  /** A number input that sends `null` (and shows a local problem) when the text is not a number. */
  private numberInput(path: string, whole: boolean, get: () => number | null, set: (v: number | null) => void, props: Record<string, unknown> = {}): HTMLInputElement {
    const value = get();
    const input = h("input", { type: "text", inputMode: whole ? "numeric" : "decimal", value: value === null || value === undefined ? "" : String(value), spellcheck: false, ...props });
    let last = input.value;
    const update = () => {
      if (input.value === last) return;
      last = input.value;
      const raw = input.value.trim().replace(",", ".");
      let parsed: number | null = null;
      let problem: Key | null = null;
      if (raw !== "") {
        const n = Number(raw);
        if (whole ? /^\d+$/.test(raw) && n <= 4294967295 : Number.isFinite(n)) parsed = n;
        else problem = whole ? "editor.whole_number" : "editor.number";
      }
      this.localProblem(path, problem);
      set(parsed);
      this.changed();
    };
    input.addEventListener("input", update);
    input.addEventListener("change", update);
    return input;
  }

  private partySelect(get: () => string | null, set: (v: string | null) => void, optional: boolean, props: Record<string, unknown> = {}): HTMLSelectElement {
    const data = { ...((props.data as Record<string, string> | undefined) ?? {}), partySelect: optional ? "optional" : "required" };
    const select = h("select", { ...props, data });
    this.fillPartyOptions(select, get());
    select.addEventListener("change", () => {
      set(select.value === "" ? null : select.value);
      this.changed();
    });
    return select;
  }

  private fillPartyOptions(select: HTMLSelectElement, value: string | null): void {
    const optional = select.dataset.partySelect === "optional";
    const known = this.model.parties.some((p) => p.id === value);
    select.replaceChildren(
      h("option", { value: "", t: optional ? "editor.none" : "editor.choose" }),
      ...this.model.parties.map((p) => h("option", { value: p.id, text: partyName(p) })),
    );
    if (value && value !== NIL_UUID && !known) select.append(h("option", { value, text: value }));
    select.value = value && value !== NIL_UUID ? value : "";
  }

  /** Party names changed: relabel every party picker without touching what has focus. */
  private refreshPartyOptions(): void {
    for (const select of this.body.querySelectorAll<HTMLSelectElement>("select[data-party-select]")) {
      this.fillPartyOptions(select, select.value || null);
    }
  }

  // ---- Rendering -----------------------------------------------------------------------------

  render(): void {
    const m = this.model;
    const focusedId = (document.activeElement as HTMLElement | null)?.id;
    const status = h("output", { class: "status-value" }, h("span", { class: `badge status-${m.status}`, t: `incident_status.${m.status}` as Key }));

    const violationsBox = h("div", { class: "checklist", data: { field: "violations" } });
    const violationTerms = state.terms.filter((term) => term.kind === "violation").sort((a, b) => termLabel(a).localeCompare(termLabel(b)));
    const unknownCodes = m.violations.filter((code) => !violationTerms.some((term) => term.code === code));
    for (const [code, label] of [...violationTerms.map((term) => [term.code, termLabel(term)] as const), ...unknownCodes.map((c) => [c, c] as const)]) {
      const box = h("input", { type: "checkbox", value: code, checked: m.violations.includes(code) });
      box.addEventListener("change", () => {
        m.violations = box.checked ? [...m.violations.filter((c) => c !== code), code] : m.violations.filter((c) => c !== code);
        this.changed();
      });
      violationsBox.append(h("label", { class: "check" }, box, h("span", { text: label })));
    }

    this.body.replaceChildren(
      h(
        "section",
        { class: "other-problems", hidden: true, attrs: { role: "alert" } },
        h("h3", { t: "editor.other_problems" }),
        h("ul"),
      ),
      h(
        "section",
        { class: "form-section" },
        h("h2", { t: "editor.section_incident" }),
        this.field("field.title", this.text(() => m.title, (v) => (m.title = v), { id: "field-title", spellcheck: true, maxLength: 500 }), "title", true),
        this.field("field.summary", this.area(() => m.summary, (v) => (m.summary = v), { id: "field-summary", rows: 6, spellcheck: true }), "summary", true),
        h(
          "div",
          { class: "field-row" },
          h("div", { class: "field" }, h("span", { class: "caption", t: "field.status" }), status, errorSlot("status")),
          h("p", { class: "muted small", t: "editor.created", tParams: { date: formatDateTime(m.created_at) } }),
          h("p", { class: "muted small", t: "editor.updated", tParams: { date: formatDateTime(m.updated_at) } }),
        ),
      ),
      h(
        "section",
        { class: "form-section" },
        h("h2", { t: "editor.section_time" }),
        this.timePoint("field.start", "start", () => m.start, (tp) => (m.start = tp)),
        this.timePoint("field.end", "end", () => m.end, (tp) => (m.end = tp)),
      ),
      h(
        "section",
        { class: "form-section" },
        h("h2", { t: "editor.section_place" }),
        h(
          "div",
          { class: "grid" },
          this.field("field.place", this.text(() => m.location.place, (v) => (m.location.place = v), { id: "field-place" }), "location.place"),
          this.field("field.admin_area", this.text(() => m.location.admin_area, (v) => (m.location.admin_area = v), { id: "field-admin-area" }), "location.admin_area"),
          this.field(
            "field.country",
            this.text(() => m.location.country ?? "", (v) => (m.location.country = v.trim() ? v.trim().toUpperCase() : null), { id: "field-country", maxLength: 2, class: "short" }),
            "location.country",
          ),
          this.field("field.latitude", this.numberInput("location.latitude", false, () => m.location.latitude ?? null, (v) => (m.location.latitude = v), { id: "field-latitude" }), "location.latitude"),
          this.field("field.longitude", this.numberInput("location.longitude", false, () => m.location.longitude ?? null, (v) => (m.location.longitude = v), { id: "field-longitude" }), "location.longitude"),
        ),
        errorSlot("location"),
      ),
      h(
        "section",
        { class: "form-section" },
        h("h2", { t: "editor.section_classification" }),
        h("div", { class: "field wide" }, h("span", { class: "caption", t: "field.violations" }), violationsBox, errorSlot("violations")),
        this.field(
          "field.confidentiality",
          this.choice(CONFIDENTIALITY, (v) => t(`confidentiality.${v}` as Key), () => m.confidentiality, (v) => (m.confidentiality = v), { id: "field-confidentiality" }),
          "confidentiality",
        ),
        this.field(
          "field.tags",
          this.text(() => m.tags.join(", "), (v) => (m.tags = v.split(",").map((s) => s.trim()).filter((s) => s !== "")), { id: "field-tags", tPlaceholder: "editor.tags_hint" }),
          "tags",
          true,
        ),
      ),
      this.partiesSection(),
      this.actsSection(),
      this.sourcesSection(),
      this.interventionsSection(),
    );
    this.showProblems();
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  private rerender(selector: string, build: () => HTMLElement): void {
    const old = this.body.querySelector(selector);
    if (old) old.replaceWith(build());
    this.showProblems();
  }

  private listSection(kind: "parties" | "acts" | "sources" | "interventions", title: Key, addKey: Key, addId: string, items: HTMLElement[], add: () => void, needsParties: boolean): HTMLElement {
    return h(
      "section",
      { class: `form-section ${kind}`, data: { section: kind } },
      h("h2", { t: title }),
      errorSlot(kind),
      needsParties && this.model.parties.length === 0 ? h("p", { class: "muted small", t: "editor.needs_parties" }) : null,
      h("div", { class: "records" }, ...items),
      h("button", { id: addId, type: "button", class: "add", t: addKey, on: { click: add } }),
    );
  }

  private removeButton(remove: () => void): HTMLButtonElement {
    return h("button", { type: "button", class: "link remove", t: "editor.remove", on: { click: remove } });
  }

  private partiesSection(): HTMLElement {
    const m = this.model;
    return this.listSection(
      "parties",
      "editor.section_parties",
      "editor.add_party",
      "add-party",
      m.parties.map((party, i) => this.partyNode(party, i)),
      () => {
        m.parties.push({ id: uuid(), kind: { kind: "person", name: "", gender: null, occupation: null }, roles: [], notes: "" });
        this.changed();
        this.partiesChanged(true);
        const rows = this.body.querySelectorAll<HTMLElement>(".party");
        rows[rows.length - 1]?.querySelector<HTMLElement>('[data-field="name"]')?.focus();
      },
      false,
    );
  }

  /** After parties were added, removed or re-kinded: rebuild their list and relabel pickers. */
  private partiesChanged(rebuildParties: boolean): void {
    if (rebuildParties) this.rerender('[data-section="parties"]', () => this.partiesSection());
    for (const section of ["acts", "sources", "interventions"] as const) {
      const hasNote = this.body.querySelector(`[data-section="${section}"] > p.muted`) !== null;
      if (hasNote !== (this.model.parties.length === 0)) this.rerender(`[data-section="${section}"]`, () => this.sectionFor(section));
    }
    this.refreshPartyOptions();
  }

  private sectionFor(section: "acts" | "sources" | "interventions"): HTMLElement {
    if (section === "acts") return this.actsSection();
    if (section === "sources") return this.sourcesSection();
    return this.interventionsSection();
  }

  private partyNode(party: Party, i: number): HTMLElement {
    const p = `parties[${i}]`;
    const k = party.kind;
    const named = () => this.refreshPartyOptions();
    const kind = this.choice(KINDS, (v) => t(`kind.${v}` as Key), () => k.kind, (v) => {
      party.kind = withKind(v, party.kind);
      this.partiesChanged(true);
    }, { data: { field: "kind" } });
    const name = this.text(() => k.name, (v) => {
      k.name = v;
      named();
    }, { data: { field: "name" }, spellcheck: true });

    const details: HTMLElement[] = [this.field("field.kind", kind, `${p}.kind`), this.field("field.name", name, `${p}.name`)];
    if (k.kind === "person") {
      details.push(
        this.field("field.gender", this.text(() => k.gender ?? "", (v) => (k.gender = v.trim() ? v : null), { data: { field: "gender" } }), `${p}.gender`),
        this.field("field.occupation", this.text(() => k.occupation ?? "", (v) => (k.occupation = v.trim() ? v : null), { data: { field: "occupation" } }), `${p}.occupation`),
      );
    } else if (k.kind === "group") {
      const sizePrecision = this.choice(PRECISIONS, (v) => t(`precision.${v}` as Key), () => k.size_precision, (v) => (k.size_precision = v), { data: { field: "size_precision" } });
      const setSize = (v: number | null) => {
        k.size = v;
        // A count typed in is taken as exact until the person says otherwise.
        if (v !== null && k.size_precision === "unknown") sizePrecision.value = k.size_precision = "exact";
        named();
      };
      details.push(
        this.field("field.description", this.text(() => k.description, (v) => ((k.description = v), named()), { data: { field: "description" }, spellcheck: true }), `${p}.description`),
        this.field("field.unit", this.text(() => k.unit, (v) => ((k.unit = v), named()), { data: { field: "unit" } }), `${p}.unit`),
        this.field("field.size", this.numberInput(`${p}.size`, true, () => k.size ?? null, setSize, { data: { field: "size" }, class: "short" }), `${p}.size`),
        this.field("field.size_precision", sizePrecision, `${p}.size_precision`),
      );
    }

    const roles = h(
      "div",
      { class: "checklist inline" },
      ...ROLES.map((role) => {
        const box = h("input", { type: "checkbox", checked: party.roles.includes(role), data: { role } });
        box.addEventListener("change", () => {
          party.roles = box.checked ? ROLES.filter((r) => r === role || party.roles.includes(r)) : party.roles.filter((r) => r !== role);
          this.changed();
        });
        return h("label", { class: "check" }, box, h("span", { t: `role.${role}` as Key }));
      }),
    );

    return h(
      "fieldset",
      { class: "party record", data: { index: String(i), id: party.id } },
      h("legend", { t: "editor.party_n", tParams: { n: i + 1 } }),
      h("div", { class: "grid" }, ...details),
      h("div", { class: "field wide" }, h("span", { class: "caption", t: "field.roles" }), roles, errorSlot(`${p}.roles`)),
      this.field("field.notes", this.area(() => party.notes, (v) => (party.notes = v), { data: { field: "notes" }, rows: 2, spellcheck: true }), `${p}.notes`, true),
      errorSlot(p),
      this.removeButton(() => {
        this.model.parties.splice(i, 1);
        this.changed();
        this.partiesChanged(true);
      }),
    );
  }

  private actsSection(): HTMLElement {
    const m = this.model;
    return this.listSection(
      "acts",
      "editor.section_acts",
      "editor.add_act",
      "add-act",
      m.acts.map((act, i) => this.actNode(act, i)),
      () => {
        m.acts.push({ id: uuid(), victim: NIL_UUID, perpetrator: NIL_UUID, act_type: "", time: { precision: "unknown", at: null }, description: "" });
        this.changed();
        this.rerender('[data-section="acts"]', () => this.actsSection());
      },
      true,
    );
  }

  private actNode(act: Act, i: number): HTMLElement {
    const p = `acts[${i}]`;
    const actTerms = state.terms.filter((term) => term.kind === "act").sort((a, b) => termLabel(a).localeCompare(termLabel(b)));
    const type = h(
      "select",
      { data: { field: "act_type" } },
      h("option", { value: "", t: "editor.choose" }),
      ...actTerms.map((term) => h("option", { value: term.code, text: termLabel(term) })),
    );
    if (act.act_type && !actTerms.some((term) => term.code === act.act_type)) type.append(h("option", { value: act.act_type, text: act.act_type }));
    type.value = act.act_type;
    type.addEventListener("change", () => {
      act.act_type = type.value;
      this.changed();
    });
    return h(
      "fieldset",
      { class: "act record", data: { index: String(i) } },
      h("legend", { t: "editor.act_n", tParams: { n: i + 1 } }),
      h(
        "div",
        { class: "grid" },
        this.field("field.victim", this.partySelect(() => act.victim, (v) => (act.victim = v ?? NIL_UUID), false, { data: { field: "victim" } }), `${p}.victim`),
        this.field("field.act_type", type, `${p}.act_type`),
        this.field("field.perpetrator", this.partySelect(() => act.perpetrator, (v) => (act.perpetrator = v ?? NIL_UUID), false, { data: { field: "perpetrator" } }), `${p}.perpetrator`),
      ),
      this.timePoint("field.time", `${p}.time`, () => act.time, (tp) => (act.time = tp)),
      this.field("field.description", this.area(() => act.description, (v) => (act.description = v), { data: { field: "description" }, spellcheck: true }), `${p}.description`, true),
      errorSlot(p),
      this.removeButton(() => {
        this.model.acts.splice(i, 1);
        this.changed();
        this.rerender('[data-section="acts"]', () => this.actsSection());
      }),
    );
  }

  private sourcesSection(): HTMLElement {
    const m = this.model;
    return this.listSection(
      "sources",
      "editor.section_sources",
      "editor.add_source",
      "add-source",
      m.sources.map((source, i) => this.sourceNode(source, i)),
      () => {
        m.sources.push({ id: uuid(), party: null, description: "", reliability: "unknown", obtained: { precision: "unknown", at: null } });
        this.changed();
        this.rerender('[data-section="sources"]', () => this.sourcesSection());
      },
      false,
    );
  }

  private sourceNode(source: Source, i: number): HTMLElement {
    const p = `sources[${i}]`;
    return h(
      "fieldset",
      { class: "source record", data: { index: String(i) } },
      h("legend", { t: "editor.source_n", tParams: { n: i + 1 } }),
      h(
        "div",
        { class: "grid" },
        this.field("field.party", this.partySelect(() => source.party ?? null, (v) => (source.party = v), true, { data: { field: "party" } }), `${p}.party`),
        this.field(
          "field.reliability",
          this.choice(RELIABILITY, (v) => t(`reliability.${v}` as Key), () => source.reliability, (v) => (source.reliability = v), { data: { field: "reliability" } }),
          `${p}.reliability`,
        ),
      ),
      this.field("field.description", this.area(() => source.description, (v) => (source.description = v), { data: { field: "description" }, spellcheck: true }), `${p}.description`, true),
      this.timePoint("field.obtained", `${p}.obtained`, () => source.obtained, (tp) => (source.obtained = tp)),
      errorSlot(p),
      this.removeButton(() => {
        this.model.sources.splice(i, 1);
        this.changed();
        this.rerender('[data-section="sources"]', () => this.sourcesSection());
      }),
    );
  }

  private interventionsSection(): HTMLElement {
    const m = this.model;
    return this.listSection(
      "interventions",
      "editor.section_interventions",
      "editor.add_intervention",
      "add-intervention",
      m.interventions.map((item, i) => this.interventionNode(item, i)),
      () => {
        m.interventions.push({ id: uuid(), by: NIL_UUID, towards: null, at: { precision: "unknown", at: null }, action: "", response: "", status: "planned" });
        this.changed();
        this.rerender('[data-section="interventions"]', () => this.interventionsSection());
      },
      true,
    );
  }

  private interventionNode(item: Intervention, i: number): HTMLElement {
    const p = `interventions[${i}]`;
    return h(
      "fieldset",
      { class: "intervention record", data: { index: String(i) } },
      h("legend", { t: "editor.intervention_n", tParams: { n: i + 1 } }),
      h(
        "div",
        { class: "grid" },
        this.field("field.by", this.partySelect(() => item.by, (v) => (item.by = v ?? NIL_UUID), false, { data: { field: "by" } }), `${p}.by`),
        this.field("field.towards", this.partySelect(() => item.towards ?? null, (v) => (item.towards = v), true, { data: { field: "towards" } }), `${p}.towards`),
        this.field(
          "field.intervention_status",
          this.choice(INTERVENTION_STATUS, (v) => t(`intervention_status.${v}` as Key), () => item.status, (v) => (item.status = v), { data: { field: "status" } }),
          `${p}.status`,
        ),
      ),
      this.timePoint("field.at", `${p}.at`, () => item.at, (tp) => (item.at = tp)),
      this.field("field.action", this.area(() => item.action, (v) => (item.action = v), { data: { field: "action" }, spellcheck: true }), `${p}.action`, true),
      this.field("field.response", this.area(() => item.response, (v) => (item.response = v), { data: { field: "response" }, spellcheck: true }), `${p}.response`, true),
      errorSlot(p),
      this.removeButton(() => {
        this.model.interventions.splice(i, 1);
        this.changed();
        this.rerender('[data-section="interventions"]', () => this.interventionsSection());
      }),
    );
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

export async function openEditor(id: string): Promise<void> {
  let view;
  try {
    view = await api.getIncident(id);
  } catch (err) {
    if (handleLockedError(err as AppError)) return;
    return;
  }
  // The draft holds the newest edits when the last save was invalid.
  const incident = view.draft ?? view.incident;
  const outdated =
    view.draft && view.incident.status === "sealed" && view.draft.updated_at !== view.incident.updated_at
      ? view.incident.updated_at
      : null;
  const panel = new AttachmentsPanel(id, view.attachments);
  const current = new Editor(incident, panel, outdated);
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
  if (view.draft) current.revalidate();
  byId("field-title").focus();
}
