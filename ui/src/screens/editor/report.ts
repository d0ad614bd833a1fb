// The report's own fields: title, summary and status; when; where; and its classification
// (violations from the thesaurus, confidentiality, tags).

import type { Confidentiality } from "../../bindings/Confidentiality";
import { state } from "../../app";
import { errorSlot, h } from "../../dom";
import { formatDateTime, termLabel } from "../../format";
import { type Key, t } from "../../i18n";
import type { EditorParts } from "./form";

const CONFIDENTIALITY: Confidentiality[] = ["public", "restricted", "confidential", "secret"];

export function incidentSection(e: EditorParts): HTMLElement {
  const { model: m, form: f } = e;
  const status = h("output", { class: "status-value" }, h("span", { class: `badge status-${m.status}`, t: `incident_status.${m.status}` as Key }));
  return h(
    "section",
    { class: "form-section" },
    h("h2", { t: "editor.section_incident" }),
    f.field("field.title", f.text(() => m.title, (v) => (m.title = v), { id: "field-title", spellcheck: true, maxLength: 500 }), "title", true),
    f.field("field.summary", f.area(() => m.summary, (v) => (m.summary = v), { id: "field-summary", rows: 6, spellcheck: true }), "summary", true),
    h(
      "div",
      { class: "field-row" },
      h("div", { class: "field" }, h("span", { class: "caption", t: "field.status" }), status, errorSlot("status")),
      h("p", { class: "muted small", t: "editor.created", tParams: { date: formatDateTime(m.created_at) } }),
      h("p", { class: "muted small", t: "editor.updated", tParams: { date: formatDateTime(m.updated_at) } }),
    ),
  );
}

export function timeSection(e: EditorParts): HTMLElement {
  const { model: m, form: f } = e;
  return h(
    "section",
    { class: "form-section" },
    h("h2", { t: "editor.section_time" }),
    f.timePoint("field.start", "start", () => m.start, (tp) => (m.start = tp)),
    f.timePoint("field.end", "end", () => m.end, (tp) => (m.end = tp)),
  );
}

export function placeSection(e: EditorParts): HTMLElement {
  const { model: m, form: f } = e;
  return h(
    "section",
    { class: "form-section" },
    h("h2", { t: "editor.section_place" }),
    h(
      "div",
      { class: "grid" },
      f.field("field.place", f.text(() => m.location.place, (v) => (m.location.place = v), { id: "field-place" }), "location.place"),
      f.field("field.admin_area", f.text(() => m.location.admin_area, (v) => (m.location.admin_area = v), { id: "field-admin-area" }), "location.admin_area"),
      f.field(
        "field.country",
        f.text(() => m.location.country ?? "", (v) => (m.location.country = v.trim() ? v.trim().toUpperCase() : null), { id: "field-country", maxLength: 2, class: "short" }),
        "location.country",
      ),
      f.field("field.latitude", f.numberInput("location.latitude", false, () => m.location.latitude ?? null, (v) => (m.location.latitude = v), { id: "field-latitude" }), "location.latitude"),
      f.field("field.longitude", f.numberInput("location.longitude", false, () => m.location.longitude ?? null, (v) => (m.location.longitude = v), { id: "field-longitude" }), "location.longitude"),
    ),
    errorSlot("location"),
  );
}

export function classificationSection(e: EditorParts): HTMLElement {
  const { model: m, form: f } = e;
  const violationsBox = h("div", { class: "checklist", data: { field: "violations" } });
  const violationTerms = state.terms.filter((term) => term.kind === "violation").sort((a, b) => termLabel(a).localeCompare(termLabel(b)));
  const unknownCodes = m.violations.filter((code) => !violationTerms.some((term) => term.code === code));
  for (const [code, label] of [...violationTerms.map((term) => [term.code, termLabel(term)] as const), ...unknownCodes.map((c) => [c, c] as const)]) {
    const box = h("input", { type: "checkbox", value: code, checked: m.violations.includes(code) });
    box.addEventListener("change", () => {
      m.violations = box.checked ? [...m.violations.filter((c) => c !== code), code] : m.violations.filter((c) => c !== code);
      f.changed();
    });
    violationsBox.append(h("label", { class: "check" }, box, h("span", { text: label })));
  }
  return h(
    "section",
    { class: "form-section" },
    h("h2", { t: "editor.section_classification" }),
    h("div", { class: "field wide" }, h("span", { class: "caption", t: "field.violations" }), violationsBox, errorSlot("violations")),
    f.field(
      "field.confidentiality",
      f.choice(CONFIDENTIALITY, (v) => t(`confidentiality.${v}` as Key), () => m.confidentiality, (v) => (m.confidentiality = v), { id: "field-confidentiality" }),
      "confidentiality",
    ),
    f.field(
      "field.tags",
      f.text(() => m.tags.join(", "), (v) => (m.tags = v.split(",").map((s) => s.trim()).filter((s) => s !== "")), { id: "field-tags", tPlaceholder: "editor.tags_hint" }),
      "tags",
      true,
    ),
  );
}
