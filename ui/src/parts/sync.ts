// Sync in the window: the status bar's sync line and "Sync now" button (polled while unlocked),
// and the badge that says where an incident is on its way to HQ (the list and the editor).

import type { AppError } from "../bindings/AppError";
import type { Delivery } from "../bindings/Delivery";
import type { SyncView } from "../bindings/SyncView";
import * as api from "../api";
import { handleLockedError, onReset, state } from "../app";
import { byId, h, setT, setText } from "../dom";
import { errorText, formatClock, num } from "../format";
import { type Key, onLanguageChange, t } from "../i18n";

const POLL_MS = 2000;

let timer: ReturnType<typeof setInterval> | null = null;
let last: SyncView | null = null;
const listeners = new Set<() => void>();

/** Calls `f` after each completed sync pass (a screen showing delivery reloads); returns the
 * function that stops it. */
export function onSynced(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** Where an incident is on its way to HQ, as a badge; nothing before it is sealed. */
export function deliveryBadge(delivery: Delivery | null | undefined, id?: string): HTMLElement | null {
  if (!delivery || delivery === "not_sealed") return null;
  return h("span", { id, class: `badge delivery delivery-${delivery}`, data: { delivery }, t: `delivery.${delivery}` as Key });
}

/** Starts showing sync in the status bar (after an unlock). */
export function startSyncStatus(): void {
  stopSyncStatus();
  void refresh();
  timer = setInterval(() => void refresh(), POLL_MS);
}

function stopSyncStatus(): void {
  if (timer !== null) clearInterval(timer);
  timer = null;
  last = null;
  render();
}

onReset(stopSyncStatus);
onLanguageChange(() => render());

async function refresh(): Promise<void> {
  if (!state.unlocked) return;
  try {
    const polled = last !== null;
    const before = last?.last_success ?? null;
    last = await api.syncStatus();
    if (polled && last.last_success !== null && last.last_success !== before) {
      for (const f of listeners) f();
    }
  } catch (err) {
    if (handleLockedError(err as AppError)) return;
    last = null;
  }
  render();
}

async function syncNow(): Promise<void> {
  try {
    await api.syncNow();
  } catch (err) {
    if (handleLockedError(err as AppError)) return;
  }
  await refresh();
}

/** The sync line: what runs, when it last succeeded, the last error in plain words. */
function render(): void {
  const line = byId("sync-state");
  const button = byId("sync-now") as HTMLButtonElement;
  const v = last;
  if (!v || v.server === null || !state.unlocked) {
    setT(line, "status.sync_offline");
    delete line.dataset.state;
    button.hidden = true;
    return;
  }
  button.hidden = false;
  button.disabled = v.running;
  const parts: string[] = [];
  if (v.running) {
    const total = num(v.items_total);
    const bytes = num(v.bytes_total);
    if (total > 0) parts.push(t("sync.progress", { done: num(v.items_done), total }));
    else if (bytes > 0) parts.push(t("sync.uploading", { percent: Math.floor((100 * num(v.bytes_done)) / bytes) }));
    else parts.push(t("sync.running"));
  } else if (v.error_code) {
    const error = errorText({ code: v.error_code, message: v.error ?? "" });
    parts.push(v.next_try_s !== null ? t("sync.retry", { error, s: num(v.next_try_s) }) : error);
  } else if (v.last_success) {
    parts.push(t("sync.ok", { time: formatClock(new Date(v.last_success)) }));
  } else {
    parts.push(t("sync.never"));
  }
  const waiting = num(v.waiting);
  if (waiting > 0) parts.push(t("sync.waiting", { n: waiting }));
  setText(line, parts.join(" · "));
  line.dataset.state = v.running ? "running" : v.error_code ? "error" : "ok";
  if (v.error_code) line.dataset.error = v.error_code;
  else delete line.dataset.error;
}

/** The status bar's "Sync now" button (hidden until the profile names a server). */
export function syncNowButton(): HTMLElement {
  return h("button", { id: "sync-now", type: "button", class: "link small", hidden: true, t: "sync.now", on: { click: () => void syncNow() } });
}
