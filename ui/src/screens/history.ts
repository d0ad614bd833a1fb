// A record's history: its sealed revisions, each signature checked again by the backend, and
// the custody events of every device that handled it (created, sealed, exported, imported).
// At HQ this is what shows that a report is the one the monitor sealed, and where it has been.

import type { CustodyRow } from "../bindings/CustodyRow";
import type { HistoryView } from "../bindings/HistoryView";
import type { RevisionRow } from "../bindings/RevisionRow";
import * as api from "../api";
import { openOverlay, route } from "../app";
import { h } from "../dom";
import { errorText, formatDateTime } from "../format";
import type { Key } from "../i18n";

function verdict(ok: boolean): HTMLElement {
  return h("span", { class: ok ? "verified" : "error", t: ok ? "history.verified" : "history.not_verified" });
}

function revisionItem(r: RevisionRow): HTMLElement {
  return h(
    "li",
    { class: "revision", data: { id: r.id } },
    h("div", {}, h("strong", { t: "history.revision", tParams: { seq: r.device_seq, at: formatDateTime(r.sealed_at) } }), " ", verdict(r.verified)),
    h("div", { class: "small" }, h("span", { class: "muted", t: "history.device" }), " ", h("span", { class: "mono", text: r.device })),
    h("div", { class: "small" }, h("span", { class: "muted", t: "history.device_key" }), " ", h("span", { class: "mono revision-key", text: r.device_key })),
    h("div", { class: "small" }, h("span", { class: "muted", t: "history.hash" }), " ", h("span", { class: "mono", text: r.hash })),
    r.amends ? h("div", { class: "small amends" }, h("span", { class: "muted", t: "history.amends" }), " ", h("span", { class: "mono", text: r.amends })) : null,
  );
}

const EVENT_KEYS: Record<string, Key> = {
  created: "history.event.created",
  sealed: "history.event.sealed",
  exported: "history.event.exported",
  imported: "history.event.imported",
};

function eventItem(e: CustodyRow): HTMLElement {
  const key = EVENT_KEYS[e.event] ?? "history.event.created";
  return h(
    "li",
    { class: "custody-event", data: { event: e.event } },
    h("span", { class: "when", text: formatDateTime(e.at) }),
    " ",
    h("span", { t: key, tParams: { subject: e.subject } }),
    " ",
    h("span", { class: "muted small", t: e.this_device ? "history.here" : "history.on_device", tParams: { device: e.device } }),
    " ",
    verdict(e.verified),
  );
}

function render(view: HistoryView): HTMLElement[] {
  const conflict =
    view.versions.length > 1
      ? h(
          "div",
          { id: "history-conflict", class: "warning" },
          h("p", { t: "history.conflict", tParams: { n: view.versions.length } }),
          h("ul", { class: "plain-list" }, ...view.versions.map((v) => h("li", { class: "mono small", text: v }))),
        )
      : null;
  return [
    ...(conflict ? [conflict] : []),
    h("h3", { t: "history.revisions" }),
    view.revisions.length === 0
      ? h("p", { class: "muted", t: "history.not_sealed" })
      : h("ol", { id: "history-revisions", class: "history-list" }, ...view.revisions.map(revisionItem)),
    h("h3", { t: "history.custody" }),
    h("p", { class: "muted small", t: "history.custody_explain" }),
    h("ol", { id: "history-events", class: "history-list" }, ...view.events.map(eventItem)),
  ];
}

route("history", (r) => showHistory(r.id));

async function showHistory(incidentId: string): Promise<void> {
  const body = h("div", { id: "history-body" }, h("p", { class: "muted", t: "common.loading" }));
  const close = h("button", { id: "history-close", type: "button", t: "common.close" });
  const panel = h(
    "section",
    { id: "history-dialog", class: "dialog wide", attrs: { role: "dialog", "aria-modal": "true", "aria-labelledby": "history-heading" } },
    h("h2", { id: "history-heading", t: "history.title" }),
    body,
    h("div", { class: "actions" }, close),
  );
  const closeOverlay = openOverlay(panel);
  close.addEventListener("click", closeOverlay);
  close.focus();
  try {
    body.replaceChildren(...render(await api.incidentHistory(incidentId)));
  } catch (err) {
    body.replaceChildren(h("p", { class: "error", text: errorText(err) }));
  }
}
