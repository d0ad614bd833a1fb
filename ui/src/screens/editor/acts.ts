// Acts: who did what to whom, and when. Each names a victim and a perpetrator among the
// report's parties, and an act type from the thesaurus.

import type { Act } from "../../bindings/Act";
import { state } from "../../app";
import { errorSlot, h } from "../../dom";
import { NIL_UUID, termLabel, uuid } from "../../format";
import type { EditorParts } from "./form";

export function actsSection(e: EditorParts): HTMLElement {
  const m = e.model;
  return e.form.listSection(
    "acts",
    "editor.section_acts",
    "editor.add_act",
    "add-act",
    m.acts.map((act, i) => actNode(e, act, i)),
    () => {
      const act: Act = { id: uuid(), victim: NIL_UUID, perpetrator: NIL_UUID, act_type: "", time: { precision: "unknown", at: null }, description: "" };
      m.acts.push(act);
      e.fresh(act.id);
      e.form.changed();
      e.rerender('[data-section="acts"]', () => actsSection(e));
    },
    true,
  );
}

function actNode(e: EditorParts, act: Act, i: number): HTMLElement {
  const f = e.form;
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
    f.changed();
  });
  return h(
    "fieldset",
    { class: "act record", data: { index: String(i), id: act.id } },
    h("legend", { t: "editor.act_n", tParams: { n: i + 1 } }),
    h(
      "div",
      { class: "grid" },
      f.field("field.victim", f.partySelect(() => act.victim, (v) => (act.victim = v ?? NIL_UUID), false, { data: { field: "victim" } }), `${p}.victim`),
      f.field("field.act_type", type, `${p}.act_type`),
      f.field("field.perpetrator", f.partySelect(() => act.perpetrator, (v) => (act.perpetrator = v ?? NIL_UUID), false, { data: { field: "perpetrator" } }), `${p}.perpetrator`),
    ),
    f.timePoint("field.time", `${p}.time`, () => act.time, (tp) => (act.time = tp)),
    f.field("field.description", f.area(() => act.description, (v) => (act.description = v), { data: { field: "description" }, spellcheck: true }), `${p}.description`, true),
    errorSlot(p),
    f.removeButton(() => {
      e.model.acts.splice(i, 1);
      f.changed();
      e.rerender('[data-section="acts"]', () => actsSection(e));
    }),
  );
}
