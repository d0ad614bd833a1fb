// Controls bound to the report being edited: each reads its value from the model, writes it
// back on every change and tells the editor, which saves a moment later. Problems found before
// sending (a size that is not a whole number, an offset that is not one) are kept by path and
// shown beside their field with the backend's own.

import type { Incident } from "../../bindings/Incident";
import type { Party } from "../../bindings/Party";
import type { Precision } from "../../bindings/Precision";
import type { TimePoint } from "../../bindings/TimePoint";
import { type Child, errorSlot, h } from "../../dom";
import { NIL_UUID } from "../../format";
import { type Key, t } from "../../i18n";
import { parseDateTime, showDateTime } from "../../parts/dates";

export const PRECISIONS: Precision[] = ["exact", "approximate", "unknown"];

/** The section kinds that hold a list of records. */
export type ListKind = "parties" | "acts" | "sources" | "interventions";

function localOffset(date = new Date()): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

const AT_PATTERN = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
const OFFSET_PATTERN = /^[+-](?:[01]\d|2[0-3]):[0-5]\d$/;

/** Splits an RFC 3339 time into its local date and time (`YYYY-MM-DDTHH:MM[:SS]`) and offset. */
function splitAt(at: string | null): { local: string; offset: string } {
  const m = at ? AT_PATTERN.exec(at) : null;
  if (!m) return { local: "", offset: localOffset() };
  const seconds = m[2] && m[2] !== "00" ? `:${m[2]}` : "";
  return { local: m[1]! + seconds, offset: m[3]!.toUpperCase() === "Z" ? "+00:00" : m[3]! };
}

/** How a party is named in pickers: its name, or for a group its size and description. */
export function partyName(party: Party): string {
  const k = party.kind;
  let name = k.name.trim();
  if (!name && k.kind === "group") {
    const what = (k.description || k.unit).trim();
    name = k.size !== null && k.size !== undefined ? `${k.size} ${what}`.trim() : what;
  }
  return name || t("editor.unnamed");
}


export class Form {
  /** Problems found before sending, by field path. */
  readonly localProblems = new Map<string, Key>();

  constructor(
    /** The form's body, where party pickers are found to be relabelled. */
    private readonly body: HTMLElement,
    /** The report's parties as they are now. */
    private readonly parties: () => Party[],
    /** Called after every change to the model. */
    readonly changed: () => void,
  ) {}

  localProblem(path: string, key: Key | null): void {
    if (key) this.localProblems.set(path, key);
    else this.localProblems.delete(path);
  }

  text(get: () => string, set: (v: string) => void, props: Record<string, unknown> = {}): HTMLInputElement {
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

  area(get: () => string, set: (v: string) => void, props: Record<string, unknown> = {}): HTMLTextAreaElement {
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

  choice<T extends string>(values: readonly T[], label: (v: T) => Child, get: () => T, set: (v: T) => void, props: Record<string, unknown> = {}): HTMLSelectElement {
    const select = h("select", props, ...values.map((v) => h("option", { value: v }, label(v))));
    select.value = get();
    select.addEventListener("change", () => {
      set(select.value as T);
      this.changed();
    });
    return select;
  }

  field(caption: Key, control: HTMLElement, path: string, wide = false): HTMLElement {
    return h("label", { class: wide ? "field wide" : "field" }, h("span", { class: "caption", t: caption }), control, errorSlot(path));
  }

  /** Precision, date and time, and UTC offset of a `TimePoint`. */
  timePoint(caption: Key, path: string, get: () => TimePoint, set: (tp: TimePoint) => void): HTMLElement {
    const parts = splitAt(get().at);
    const precision = h("select", { data: { field: "precision" } }, ...PRECISIONS.map((p) => h("option", { value: p, t: `precision.${p}` as Key })));
    precision.value = get().precision;
    // The date and time as the language writes them (WebKit's own fields follow the system's
    // locale, mm/dd/yyyy on most machines).
    const local = h("input", { type: "text", class: "datetime", value: parts.local ? showDateTime(parts.local) : "", spellcheck: false, inputMode: "numeric", maxLength: 19, data: { field: "at" }, tPlaceholder: "date.datetime_hint" });
    const offset = h("input", { type: "text", value: parts.offset, class: "offset", maxLength: 6, spellcheck: false, data: { field: "offset" }, tLabel: "field.offset", tTitle: "field.offset" });
    const update = (source: HTMLElement) => {
      // Typing a date means it is known; choosing "unknown" clears it.
      if (source !== precision && local.value && precision.value === "unknown") precision.value = "exact";
      if (source === precision && precision.value === "unknown") local.value = "";
      const unknown = precision.value === "unknown";
      let at: string | null = null;
      let problem: Key | null = null;
      if (!unknown && local.value.trim()) {
        const off = offset.value.trim().toUpperCase() === "Z" ? "+00:00" : offset.value.trim();
        const when = parseDateTime(local.value);
        if (!when) problem = "editor.datetime_format";
        else if (OFFSET_PATTERN.test(off)) at = `${when}${when.length === 16 ? ":00" : ""}${off}`;
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
  numberInput(path: string, whole: boolean, get: () => number | null, set: (v: number | null) => void, props: Record<string, unknown> = {}): HTMLInputElement {
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

  partySelect(get: () => string | null, set: (v: string | null) => void, optional: boolean, props: Record<string, unknown> = {}): HTMLSelectElement {
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
    const parties = this.parties();
    const known = parties.some((p) => p.id === value);
    select.replaceChildren(
      h("option", { value: "", t: optional ? "editor.none" : "editor.choose" }),
      ...parties.map((p) => h("option", { value: p.id, text: partyName(p) })),
    );
    if (value && value !== NIL_UUID && !known) select.append(h("option", { value, text: value }));
    select.value = value && value !== NIL_UUID ? value : "";
  }

  /** Party names changed: relabel every party picker without touching what has focus. */
  refreshPartyOptions(): void {
    for (const select of this.body.querySelectorAll<HTMLSelectElement>("select[data-party-select]")) {
      this.fillPartyOptions(select, select.value || null);
    }
  }

  /** A section holding a list of records, with its Add button. */
  listSection(kind: ListKind, title: Key, addKey: Key, addId: string, items: HTMLElement[], add: () => void, needsParties: boolean): HTMLElement {
    return h(
      "section",
      { class: `form-section ${kind}`, data: { section: kind } },
      h("h2", { t: title }),
      errorSlot(kind),
      needsParties && this.parties().length === 0 ? h("p", { class: "muted small", t: "editor.needs_parties" }) : null,
      h("div", { class: "records" }, ...items),
      h("button", { id: addId, type: "button", class: "add", t: addKey, on: { click: add } }),
    );
  }

  removeButton(remove: () => void): HTMLButtonElement {
    return h("button", { type: "button", class: "link remove", t: "editor.remove", on: { click: remove } });
  }
}

/** What the editor's sections build with: the report, the form, and the editor's hooks. */
export interface EditorParts {
  readonly model: Incident;
  readonly form: Form;
  /** Replaces the element matching `selector` with a fresh build, and shows problems again. */
  rerender(selector: string, build: () => HTMLElement): void;
  /** Parties were added, removed or re-kinded: rebuild them (if asked) and relabel pickers. */
  partiesChanged(rebuild: boolean): void;
  /** A record was just added: its problems wait until something is typed in it or it is left. */
  fresh(id: string): void;
}
