// The running log's way to the disk: entries go into a queue and are sent one at a time, in
// order, each shown pending until `append_log` resolves (then it is durable). A failed entry
// stays at the head of the queue with its error and is retried (by the button, or after a
// pause); nothing typed is dropped while the vault is open. Drafts of the input go through the
// same pump, after the entries, so no older draft can undo an entry's own.

import type { AppError } from "../../bindings/AppError";
import type { EntryInput } from "../../bindings/EntryInput";
import type { LogEntry } from "../../bindings/LogEntry";
import * as api from "../../api";
import { handleLockedError } from "../../app";

/** What the screen showing a log does with the queue's news. */
export interface QueueView {
  showPending(item: Pending): void;
  stored(item: Pending, entry: LogEntry): void;
  draftSaved(incident: string, text: string): void;
  updateQueueNote(): void;
}

/** The screen showing a log, if any. */
let view: QueueView | null = null;

export function setQueueView(v: QueueView | null): void {
  view = v;
}

/** The entries not stored yet, oldest first. */
export function queued(): readonly Pending[] {
  return queue;
}

/** Forgets everything queued (the vault locked: what was sent is stored, the rest is dropped). */
export function resetQueue(): void {
  queue = [];
  drafts.clear();
  clearTimeout(retryTimer);
  view = null;
  for (const done of drained) done();
  drained.clear();
}

/** Resolves once nothing is left to send, or the queue stopped at an entry that failed. */
export function whenIdle(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (idle()) return resolve();
    drained.add(resolve);
  });
}

export interface Pending {
  key: number;
  incident: string;
  text: string;
  flagged: boolean;
  /** The entry it corrects. */
  corrects?: string;
  /** When it happened, if earlier than its writing. */
  happenedAt?: string;
  /** What was left in the input when the entry left it: the draft the entry's write keeps. */
  draftAfter: string;
  typedAt: Date;
  failed: AppError | null;
}

const RETRY_MS = 5000;

let queue: Pending[] = [];
let sending = false;
let nextKey = 1;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
const drained = new Set<() => void>();
/** Drafts to save, by incident: always newer than every queued entry of that incident. */
const drafts = new Map<string, string>();

/** Nothing left to send, or stopped at an entry that failed. */
function idle(): boolean {
  return queue.length === 0 ? drafts.size === 0 && !sending : queue[0]!.failed !== null;
}

/** Saves `text` as the input's draft of `incident` once the entries before it are stored. */
export function keepDraft(incident: string, text: string): void {
  drafts.set(incident, text);
  void pump();
}

export function enqueue(incident: string, text: string, flagged: boolean, draftAfter: string, extra: Pick<Pending, "corrects" | "happenedAt"> = {}): void {
  const item: Pending = { key: nextKey++, incident, text, flagged, draftAfter, ...extra, typedAt: new Date(), failed: null };
  // The entry's own write sets the draft; an older draft must not follow and undo it.
  drafts.delete(incident);
  queue.push(item);
  view?.showPending(item);
  void pump();
}

export async function pump(): Promise<void> {
  if (sending) return;
  sending = true;
  clearTimeout(retryTimer);
  try {
    while (queue.length > 0) {
      const item = queue[0]!;
      item.failed = null;
      view?.showPending(item);
      try {
        const input: EntryInput = { text: item.text, flagged: item.flagged, draft_after: item.draftAfter };
        if (item.corrects) input.corrects = item.corrects;
        if (item.happenedAt) input.happened_at = item.happenedAt;
        const entry = await api.appendLog(item.incident, input);
        if (queue[0] !== item) break; // Locked meanwhile: the queue was dropped.
        queue.shift();
        view?.stored(item, entry);
      } catch (err) {
        if (queue[0] !== item) break;
        item.failed = err as AppError;
        view?.showPending(item);
        if (handleLockedError(item.failed)) break;
        retryTimer = setTimeout(() => void pump(), RETRY_MS);
        break;
      }
    }
    // Then the drafts, newest text of each incident, once no entry is waiting before them.
    while (queue.length === 0 && drafts.size > 0) {
      const [incident, text] = drafts.entries().next().value as [string, string];
      drafts.delete(incident);
      try {
        await api.saveLogDraft(incident, text);
        if (!drafts.has(incident)) view?.draftSaved(incident, text);
      } catch (err) {
        if (handleLockedError(err as AppError)) break;
        // Kept for the next try, unless newer text replaced it meanwhile.
        if (!drafts.has(incident)) drafts.set(incident, text);
        retryTimer = setTimeout(() => void pump(), RETRY_MS);
        break;
      }
    }
  } finally {
    sending = false;
    view?.updateQueueNote();
    if (idle()) {
      for (const done of drained) done();
      drained.clear();
    }
  }
}

