// The report's parties: people, groups and organisations, each with its roles (victim,
// perpetrator, source, witness, intervening party). Acts, sources and interventions pick them.

import type { Party } from "../../bindings/Party";
import type { PartyKind } from "../../bindings/PartyKind";
import type { Role } from "../../bindings/Role";
import { errorSlot, h } from "../../dom";
import { uuid } from "../../format";
import { type Key, t } from "../../i18n";
import { type EditorParts, PRECISIONS } from "./form";

const ROLES: Role[] = ["victim", "perpetrator", "source", "witness", "intervening_party"];
const KINDS: PartyKind["kind"][] = ["person", "group", "organisation"];

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

export function partiesSection(e: EditorParts): HTMLElement {
  const m = e.model;
  return e.form.listSection(
    "parties",
    "editor.section_parties",
    "editor.add_party",
    "add-party",
    m.parties.map((party, i) => partyNode(e, party, i)),
    () => {
      const party: Party = { id: uuid(), kind: { kind: "person", name: "", gender: null, occupation: null }, roles: [], notes: "" };
      m.parties.push(party);
      e.fresh(party.id);
      e.form.changed();
      e.partiesChanged(true);
      document.querySelector<HTMLElement>(`.party[data-id="${party.id}"] [data-field="name"]`)?.focus();
    },
    false,
  );
}

function partyNode(e: EditorParts, party: Party, i: number): HTMLElement {
  const f = e.form;
  const p = `parties[${i}]`;
  const k = party.kind;
  const named = () => f.refreshPartyOptions();
  const kind = f.choice(KINDS, (v) => t(`kind.${v}` as Key), () => k.kind, (v) => {
    party.kind = withKind(v, party.kind);
    e.partiesChanged(true);
  }, { data: { field: "kind" } });
  const name = f.text(() => k.name, (v) => {
    k.name = v;
    named();
  }, { data: { field: "name" }, spellcheck: true });

  const details: HTMLElement[] = [f.field("field.kind", kind, `${p}.kind`), f.field("field.name", name, `${p}.name`)];
  if (k.kind === "person") {
    details.push(
      f.field("field.gender", f.text(() => k.gender ?? "", (v) => (k.gender = v.trim() ? v : null), { data: { field: "gender" } }), `${p}.gender`),
      f.field("field.occupation", f.text(() => k.occupation ?? "", (v) => (k.occupation = v.trim() ? v : null), { data: { field: "occupation" } }), `${p}.occupation`),
    );
  } else if (k.kind === "group") {
    const sizePrecision = f.choice(PRECISIONS, (v) => t(`precision.${v}` as Key), () => k.size_precision, (v) => (k.size_precision = v), { data: { field: "size_precision" } });
    const setSize = (v: number | null) => {
      k.size = v;
      // A count typed in is taken as exact until the person says otherwise.
      if (v !== null && k.size_precision === "unknown") sizePrecision.value = k.size_precision = "exact";
      named();
    };
    details.push(
      f.field("field.description", f.text(() => k.description, (v) => ((k.description = v), named()), { data: { field: "description" }, spellcheck: true }), `${p}.description`),
      f.field("field.unit", f.text(() => k.unit, (v) => ((k.unit = v), named()), { data: { field: "unit" } }), `${p}.unit`),
      f.field("field.size", f.numberInput(`${p}.size`, true, () => k.size ?? null, setSize, { data: { field: "size" }, class: "short" }), `${p}.size`),
      f.field("field.size_precision", sizePrecision, `${p}.size_precision`),
    );
  }

  const roles = h(
    "div",
    { class: "checklist inline" },
    ...ROLES.map((role) => {
      const box = h("input", { type: "checkbox", checked: party.roles.includes(role), data: { role } });
      box.addEventListener("change", () => {
        party.roles = box.checked ? ROLES.filter((r) => r === role || party.roles.includes(r)) : party.roles.filter((r) => r !== role);
        f.changed();
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
    f.field("field.notes", f.area(() => party.notes, (v) => (party.notes = v), { data: { field: "notes" }, rows: 2, spellcheck: true }), `${p}.notes`, true),
    errorSlot(p),
    f.removeButton(() => {
      e.model.parties.splice(i, 1);
      f.changed();
      e.partiesChanged(true);
    }),
  );
}
