// Interventions: the follow-up actions (a letter to the prosecutor, a visit), by whom, towards
// whom, when, the response and where it stands.

import type { Intervention } from "../../bindings/Intervention";
import type { InterventionStatus } from "../../bindings/InterventionStatus";
import { errorSlot, h } from "../../dom";
import { NIL_UUID, uuid } from "../../format";
import { type Key, t } from "../../i18n";
import type { EditorParts } from "./form";

const INTERVENTION_STATUS: InterventionStatus[] = ["planned", "in_progress", "awaiting_response", "closed"];

export function interventionsSection(e: EditorParts): HTMLElement {
  const m = e.model;
  return e.form.listSection(
    "interventions",
    "editor.section_interventions",
    "editor.add_intervention",
    "add-intervention",
    m.interventions.map((item, i) => interventionNode(e, item, i)),
    () => {
      const item: Intervention = { id: uuid(), by: NIL_UUID, towards: null, at: { precision: "unknown", at: null }, action: "", response: "", status: "planned" };
      m.interventions.push(item);
      e.fresh(item.id);
      e.form.changed();
      e.rerender('[data-section="interventions"]', () => interventionsSection(e));
    },
    true,
  );
}

function interventionNode(e: EditorParts, item: Intervention, i: number): HTMLElement {
  const f = e.form;
  const p = `interventions[${i}]`;
  return h(
    "fieldset",
    { class: "intervention record", data: { index: String(i), id: item.id } },
    h("legend", { t: "editor.intervention_n", tParams: { n: i + 1 } }),
    h(
      "div",
      { class: "grid" },
      f.field("field.by", f.partySelect(() => item.by, (v) => (item.by = v ?? NIL_UUID), false, { data: { field: "by" } }), `${p}.by`),
      f.field("field.towards", f.partySelect(() => item.towards ?? null, (v) => (item.towards = v), true, { data: { field: "towards" } }), `${p}.towards`),
      f.field(
        "field.intervention_status",
        f.choice(INTERVENTION_STATUS, (v) => t(`intervention_status.${v}` as Key), () => item.status, (v) => (item.status = v), { data: { field: "status" } }),
        `${p}.status`,
      ),
    ),
    f.timePoint("field.at", `${p}.at`, () => item.at, (tp) => (item.at = tp)),
    f.field("field.action", f.area(() => item.action, (v) => (item.action = v), { data: { field: "action" }, spellcheck: true }), `${p}.action`, true),
    f.field("field.response", f.area(() => item.response, (v) => (item.response = v), { data: { field: "response" }, spellcheck: true }), `${p}.response`, true),
    errorSlot(p),
    f.removeButton(() => {
      e.model.interventions.splice(i, 1);
      f.changed();
      e.rerender('[data-section="interventions"]', () => interventionsSection(e));
    }),
  );
}
