// Sources: where the information came from, how reliable it is and when it was obtained,
// optionally one of the report's parties.

import type { Reliability } from "../../bindings/Reliability";
import type { Source } from "../../bindings/Source";
import { errorSlot, h } from "../../dom";
import { uuid } from "../../format";
import { type Key, t } from "../../i18n";
import type { EditorParts } from "./form";

const RELIABILITY: Reliability[] = ["high", "medium", "low", "unknown"];

export function sourcesSection(e: EditorParts): HTMLElement {
  const m = e.model;
  return e.form.listSection(
    "sources",
    "editor.section_sources",
    "editor.add_source",
    "add-source",
    m.sources.map((source, i) => sourceNode(e, source, i)),
    () => {
      const source: Source = { id: uuid(), party: null, description: "", reliability: "unknown", obtained: { precision: "unknown", at: null } };
      m.sources.push(source);
      e.fresh(source.id);
      e.form.changed();
      e.rerender('[data-section="sources"]', () => sourcesSection(e));
    },
    false,
  );
}

function sourceNode(e: EditorParts, source: Source, i: number): HTMLElement {
  const f = e.form;
  const p = `sources[${i}]`;
  return h(
    "fieldset",
    { class: "source record", data: { index: String(i), id: source.id } },
    h("legend", { t: "editor.source_n", tParams: { n: i + 1 } }),
    h(
      "div",
      { class: "grid" },
      f.field("field.party", f.partySelect(() => source.party ?? null, (v) => (source.party = v), true, { data: { field: "party" } }), `${p}.party`),
      f.field(
        "field.reliability",
        f.choice(RELIABILITY, (v) => t(`reliability.${v}` as Key), () => source.reliability, (v) => (source.reliability = v), { data: { field: "reliability" } }),
        `${p}.reliability`,
      ),
    ),
    f.field("field.description", f.area(() => source.description, (v) => (source.description = v), { data: { field: "description" }, spellcheck: true }), `${p}.description`, true),
    f.timePoint("field.obtained", `${p}.obtained`, () => source.obtained, (tp) => (source.obtained = tp)),
    errorSlot(p),
    f.removeButton(() => {
      e.model.sources.splice(i, 1);
      f.changed();
      e.rerender('[data-section="sources"]', () => sourcesSection(e));
    }),
  );
}
