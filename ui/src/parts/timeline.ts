// The live log's timeline: one item per stored entry, in order. Entries are append-only, so a
// correction is an entry of its own that names the one it corrects: the corrected entry stays,
// struck through, with its latest correction beside it, and the correction says what it
// corrects. An entry noted late shows when it happened beside when it was written. Entries
// sealed so far are set apart from those written since, by a divider after the last of them.

import type { LogEntry } from "../bindings/LogEntry";
import { h } from "../dom";
import { formatClock, formatDateTime, formatMinute } from "../format";

export interface TimelineModel {
  entries: LogEntry[];
  /** Ids of the entries the last seal carries. */
  sealed: Set<string>;
  /** Starts a correction of an entry in the input. */
  onCorrect: (entry: LogEntry) => void;
}

/** The timeline's items for `model`: entries, and the sealed divider where it belongs. */
export function timelineItems(model: TimelineModel): HTMLElement[] {
  const byId = new Map(model.entries.map((e) => [e.id, e]));
  const latestCorrection = new Map<string, LogEntry>();
  for (const e of model.entries) if (e.corrects && byId.has(e.corrects)) latestCorrection.set(e.corrects, e);
  const items: HTMLElement[] = [];
  let lastSealed = -1;
  model.entries.forEach((e, i) => {
    if (model.sealed.has(e.id)) lastSealed = i;
  });
  model.entries.forEach((entry, i) => {
    items.push(entryNode(entry, model, byId, latestCorrection.get(entry.id)));
    if (i === lastSealed && i < model.entries.length - 1) items.push(sealedDivider());
  });
  return items;
}

/** The divider after the last sealed entry, when entries were written since. */
function sealedDivider(): HTMLElement {
  return h("li", { id: "sealed-divider", class: "sealed-divider small", attrs: { role: "separator" }, t: "log.sealed_divider" });
}

/** One stored entry. */
export function entryNode(
  entry: LogEntry,
  model: TimelineModel,
  byId: Map<string, LogEntry> = new Map(),
  correctedBy?: LogEntry,
): HTMLElement {
  const classes = ["log-entry"];
  if (entry.flagged) classes.push("flagged");
  if (model.sealed.has(entry.id)) classes.push("sealed");
  if (correctedBy) classes.push("corrected");
  if (entry.corrects) classes.push("correction");
  const target = entry.corrects ? byId.get(entry.corrects) : undefined;
  return h(
    "li",
    { class: classes.join(" "), data: { seq: String(entry.seq), id: entry.id } },
    h("time", { dateTime: entry.at, text: formatClock(entry.at), title: formatDateTime(entry.at) }),
    entry.flagged ? h("span", { class: "flag-mark", tTitle: "log.flagged", tLabel: "log.flagged", text: "★" }) : h("span", { class: "flag-mark" }),
    h(
      "span",
      { class: "entry-body" },
      entry.happened_at
        ? h("span", {
            class: "happened small",
            title: formatDateTime(entry.happened_at),
            t: "log.happened",
            tParams: { time: formatMinute(entry.happened_at) },
          })
        : null,
      target ? h("span", { class: "corrects-note small", t: "log.corrects", tParams: { time: formatClock(target.at) } }) : null,
      correctedBy ? h("s", { class: "text", text: entry.text }) : h("span", { class: "text", text: entry.text }),
      correctedBy
        ? h(
            "span",
            { class: "correction-beside" },
            h("span", { class: "small muted", t: "log.corrected_by", tParams: { time: formatClock(correctedBy.at) } }),
            h("span", { class: "text", text: correctedBy.text }),
          )
        : null,
    ),
    h("button", {
      type: "button",
      class: "link entry-correct small",
      t: "log.correct",
      tTitle: "log.correct_title",
      on: { click: () => model.onCorrect(entry) },
    }),
  );
}
