// The live log: a large input where Enter stores an entry, and the timeline of entries
// (../../parts/timeline.ts). Typing is never blocked: entries go through the queue of
// ./queue.ts, each shown pending until it is on disk. An entry may correct an earlier one
// (Correct beside it; Esc cancels) or say when it happened (Earlier…, HH:MM).
//
// What is typed but not yet entered is a draft, kept encrypted in the vault: saved a moment
// after typing stops, on leaving the screen and before a lock, and restored when the log opens
// again, so a lock, an auto-lock or a crash loses none of it. Drafts go through the same
// one-at-a-time pump as the entries, after them; an entry's own write clears the draft in the
// same transaction, so a crash can never leave an entered text in the input as well.

import type { AppError } from "../../bindings/AppError";
import type { LogEntry } from "../../bindings/LogEntry";
import * as api from "../../api";
import { handleLockedError, isLocking, lockNow, navigate, onBeforeLock, onReset, openOverlay, overlayOpen, route, showScreen } from "../../app";
import { h, setT, setText } from "../../dom";
import { errorText, formatClock, happenedAt } from "../../format";
import { onLanguageChange, t } from "../../i18n";
import { AttachmentsPanel, pickAndAttach } from "../../parts/attachments";
import { entryNode, timelineItems, type TimelineModel } from "../../parts/timeline";
import { type Pending, type QueueView, enqueue, keepDraft, pump, queued, resetQueue, setQueueView, whenIdle } from "./queue";

/** How long after the last keystroke the input's draft is saved. */
const DRAFT_DELAY_MS = 400;

/** The live log on screen, if any. */
let screen: LiveLog | null = null;
/** The incident whose log was on screen when the vault locked: opened again after unlocking. */
let resume: string | null = null;

onReset(() => {
  resetQueue();
  screen = null;
});

onBeforeLock(() => {
  screen?.keepDraft();
  return whenIdle();
});

onLanguageChange(() => screen?.retranslate());

class LiveLog implements QueueView {
  readonly root: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly timeline: HTMLOListElement;
  private readonly title: HTMLElement;
  private readonly flagButton: HTMLButtonElement;
  private readonly queueNote: HTMLElement;
  private readonly sealState: HTMLElement = h("span", { id: "seal-state", class: "small muted", attrs: { role: "status" } });
  private readonly empty: HTMLElement;
  private readonly panel: AttachmentsPanel;
  private readonly pendingNodes = new Map<number, HTMLElement>();
  private readonly model: TimelineModel;
  /** The entry the input is writing a correction of, if any. */
  private correcting: LogEntry | null = null;
  private readonly correctingBar: HTMLElement;
  private readonly correctingText: HTMLElement;
  private readonly whenButton: HTMLButtonElement;
  private readonly happenedInput: HTMLInputElement;
  private readonly happenedError: HTMLElement;
  private flagNext = false;
  private lineBreakByKey = false;
  private entries: LogEntry[];
  private draftTimer: ReturnType<typeof setTimeout> | undefined;
  /** The input changed since its draft was last handed to the pump. */
  private draftDirty = false;

  constructor(
    readonly incidentId: string,
    titleText: string,
    entries: LogEntry[],
    panel: AttachmentsPanel,
    versions: string[] = [],
    draft = "",
    private sealedBefore = false,
    sealed: string[] = [],
  ) {
    this.entries = [...entries];
    this.model = { entries: this.entries, sealed: new Set(sealed), onCorrect: (e) => this.startCorrection(e) };
    this.panel = panel;
    this.title = h("h1", { id: "log-title", text: titleText });
    this.timeline = h("ol", { id: "log-timeline", class: "timeline", attrs: { "aria-live": "polite" } });
    this.empty = h("p", { class: "muted timeline-empty", t: "log.empty" });
    this.queueNote = h("p", { class: "queue-note small", hidden: true, attrs: { role: "status" } });
    this.input = h("textarea", {
      id: "log-input",
      data: { typing: "" },
      rows: 2,
      spellcheck: true,
      tLabel: "log.input_label",
      tPlaceholder: "log.input_placeholder",
      on: {
        keydown: (e) => this.onInputKey(e),
        input: (e) => this.onInput(e as InputEvent),
      },
    });
    this.input.value = draft;
    this.input.dataset.draft = draft === "" ? "none" : "saved";
    this.flagButton = h("button", {
      id: "log-flag",
      type: "button",
      class: "flag-toggle",
      t: "log.flag",
      tTitle: "log.flag",
      attrs: { "aria-pressed": "false" },
      on: { click: () => this.toggleFlag() },
    });

    this.correctingText = h("span", { class: "correcting-text" });
    this.correctingBar = h(
      "p",
      { id: "log-correcting", class: "correcting-bar small", hidden: true, attrs: { role: "status" } },
      this.correctingText,
      h("button", { id: "log-correct-cancel", type: "button", class: "link", t: "log.correct_cancel", on: { click: () => this.endCorrection(true) } }),
    );
    this.happenedInput = h("input", {
      id: "log-happened",
      type: "text",
      inputMode: "numeric",
      autocomplete: "off",
      spellcheck: false,
      maxLength: 5,
      size: 5,
      hidden: true,
      tLabel: "log.happened_label",
      tTitle: "log.happened_label",
      attrs: { placeholder: "HH:MM" },
      on: {
        keydown: (e) => {
          if (e.key === "Enter") {
            e.preventDefault();
            this.input.focus();
          }
        },
        input: () => this.checkHappened(),
      },
    });
    this.happenedError = h("p", { id: "log-happened-error", class: "error small", hidden: true, attrs: { role: "alert" }, t: "log.happened_invalid" });
    this.whenButton = h("button", {
      id: "log-when",
      type: "button",
      t: "log.when",
      tTitle: "log.when_title",
      attrs: { "aria-expanded": "false" },
      on: { click: () => this.toggleWhen() },
    });

    const toolbar = h(
      "header",
      { class: "toolbar" },
      h("button", { id: "back", type: "button", t: "log.back", on: { click: () => void navigate({ to: "list" }) } }),
      this.title,
      h("button", { id: "log-attach", type: "button", t: "log.attach", tTitle: "log.attach", on: { click: () => void pickAndAttach() } }),
      h("button", { id: "log-switch", type: "button", t: "log.switch", on: { click: () => void navigate({ to: "switcher" }) } }),
      h("button", { id: "open-editor", type: "button", t: "log.editor", on: { click: () => void navigate({ to: "editor", id: this.incidentId }) } }),
      h("button", { id: "seal", type: "button", t: sealedBefore ? "log.seal_amendment" : "log.seal", tTitle: "log.seal_hint", on: { click: () => this.confirmSeal() } }),
      this.sealState,
      h("button", { id: "open-history", type: "button", t: "log.history", on: { click: () => void navigate({ to: "history", id: this.incidentId }) } }),
      h("button", { id: "lock", type: "button", t: "main.lock", on: { click: () => void lockNow() } }),
    );
    this.root = h(
      "div",
      { id: "live-log-screen", class: "live-log-screen" },
      toolbar,
      h(
        "div",
        { class: "live-body" },
        h(
          "div",
          { class: "live-main" },
          versions.length > 1
            ? h("p", { id: "conflict-notice", class: "warning small", t: "log.conflict", tParams: { n: versions.length } })
            : null,
          h("div", { class: "timeline-scroll", on: { mouseup: () => this.focusUnlessSelecting() } }, this.empty, this.timeline),
          h(
            "div",
            { class: "composer" },
            this.queueNote,
            this.correctingBar,
            this.happenedError,
            h("div", { class: "composer-row" }, this.flagButton, this.input, h("div", { class: "when-box" }, this.whenButton, this.happenedInput)),
            h("p", { class: "muted small hint", t: "log.hint" }),
          ),
        ),
        h("aside", { class: "live-side" }, panel.root),
      ),
    );
    this.renderTimeline();
  }

  focus(): void {
    this.input.focus();
    const end = this.input.value.length;
    this.input.setSelectionRange(end, end);
  }

  /** A click on the timeline gives the input its focus back, unless it selected text to copy. */
  private focusUnlessSelecting(): void {
    const selection = window.getSelection();
    if (selection && !selection.isCollapsed) return;
    if (document.activeElement !== this.input) this.input.focus({ preventScroll: true });
  }

  dispose(): void {
    this.keepDraft();
    this.panel.dispose();
  }

  /** Hands the input's text to the pump as its draft now, if it changed since the last time. */
  keepDraft(): void {
    clearTimeout(this.draftTimer);
    if (!this.draftDirty) return;
    this.draftDirty = false;
    this.input.dataset.draft = "saving";
    keepDraft(this.incidentId, this.input.value);
  }

  /** The pump stored `text` as this incident's draft. */
  draftSaved(incident: string, text: string): void {
    if (incident !== this.incidentId || this.draftDirty || this.input.value !== text) return;
    this.input.dataset.draft = text === "" ? "none" : "saved";
  }

  retranslate(): void {
    this.renderTimeline();
    this.updateQueueNote();
  }

  private renderTimeline(): void {
    this.pendingNodes.clear();
    this.timeline.replaceChildren(...timelineItems(this.model));
    for (const item of queued()) if (item.incident === this.incidentId) this.showPending(item, false);
    this.empty.hidden = this.timeline.childElementCount > 0;
    this.scrollToEnd(true);
  }

  /** Adds or updates the timeline item of a queued entry. */
  showPending(item: Pending, scroll = true): void {
    if (item.incident !== this.incidentId) return;
    let node = this.pendingNodes.get(item.key);
    const nearEnd = this.isNearEnd();
    const state = item.failed
      ? h(
          "span",
          { class: "entry-state failed", attrs: { role: "alert" } },
          h("span", { text: t("log.failed", { error: errorText(item.failed) }) }),
          h("button", { type: "button", class: "link", t: "log.retry", on: { click: () => void pump() } }),
        )
      : h("span", { class: "entry-state pending", t: "log.pending" });
    const children = [
      h("time", { text: formatClock(item.typedAt) }),
      item.flagged ? h("span", { class: "flag-mark", text: "★" }) : h("span", { class: "flag-mark" }),
      h("span", { class: "text", text: item.text }),
      state,
    ];
    if (!node) {
      node = h("li", { class: "log-entry pending" }, ...children);
      this.pendingNodes.set(item.key, node);
      this.timeline.append(node);
    } else {
      node.replaceChildren(...children);
    }
    node.classList.toggle("failed", item.failed !== null);
    node.classList.toggle("flagged", item.flagged);
    this.empty.hidden = true;
    this.updateQueueNote();
    if (scroll) this.scrollToEnd(nearEnd);
  }

  stored(item: Pending, entry: LogEntry): void {
    if (item.incident !== this.incidentId) return;
    this.entries.push(entry);
    if (entry.corrects || (this.model.sealed.size > 0 && !this.timeline.querySelector("#sealed-divider"))) {
      // The corrected entry changes too (struck through, with this beside it), or this is the
      // first entry after a seal, set apart from the sealed ones.
      this.renderTimeline();
      return;
    }
    const node = this.pendingNodes.get(item.key);
    this.pendingNodes.delete(item.key);
    const done = entryNode(entry, this.model);
    if (node) node.replaceWith(done);
    else this.timeline.append(done);
  }

  /** Seals the incident once every typed entry is stored (nothing typed is left out). */
  /** Asks before sealing: a seal cannot be undone, and a stray click should not make one. */
  confirmSeal(): void {
    const confirm = h("button", { id: "seal-confirm", type: "button", class: "primary", t: this.sealedBefore ? "log.seal_amendment" : "log.seal" });
    const cancel = h("button", { id: "seal-cancel", type: "button", t: "common.cancel" });
    const panel = h(
      "section",
      { id: "seal-dialog", class: "dialog", attrs: { role: "alertdialog", "aria-modal": "true", "aria-labelledby": "seal-heading" } },
      h("h2", { id: "seal-heading", t: this.sealedBefore ? "log.seal_confirm_amendment_title" : "log.seal_confirm_title" }),
      h("p", { t: "log.seal_confirm", tParams: { n: this.entries.length + queued().filter((q) => q.incident === this.incidentId).length } }),
      h("div", { class: "actions" }, confirm, cancel),
    );
    const close = openOverlay(panel);
    cancel.addEventListener("click", close);
    confirm.addEventListener("click", () => {
      close();
      void this.seal();
    });
    confirm.focus();
  }

  async seal(): Promise<void> {
    // Entries still on their way to the disk are part of the record: wait for them (a few
    // seconds at most; an entry that keeps failing keeps the message and blocks the seal).
    const deadline = Date.now() + 10_000;
    while (queued().length > 0) {
      setText(this.sealState, t("log.seal_wait"));
      if (Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    try {
      await api.sealIncident(this.incidentId);
      setText(this.sealState, t(this.sealedBefore ? "log.amendment_sealed" : "log.sealed"));
      this.sealState.dataset.state = "sealed";
      // From now on, sealing again records what was added since, as an amendment.
      this.sealedBefore = true;
      const button = this.root.querySelector<HTMLElement>("#seal");
      if (button) setT(button, "log.seal_amendment");
      // Everything written so far is in the seal: set apart what comes after it.
      this.model.sealed = new Set(this.entries.map((e) => e.id));
      this.renderTimeline();
    } catch (err) {
      setText(this.sealState, errorText(err));
      this.sealState.dataset.state = "error";
    }
  }

  updateQueueNote(): void {
    const waiting = queued().length;
    if (waiting > 1 || (waiting === 1 && queued()[0]!.failed)) {
      setT(this.queueNote, "log.queue", { n: waiting });
      this.queueNote.hidden = false;
    } else {
      this.queueNote.hidden = true;
    }
  }

  private isNearEnd(): boolean {
    const scroller = this.timeline.parentElement;
    if (!scroller) return true;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  private scrollToEnd(force: boolean): void {
    if (!force) return;
    const scroller = this.timeline.parentElement;
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  }

  toggleFlag(): void {
    this.flagNext = !this.flagNext;
    this.flagButton.setAttribute("aria-pressed", String(this.flagNext));
    this.flagButton.classList.toggle("on", this.flagNext);
    setT(this.flagButton, this.flagNext ? "log.flag_on" : "log.flag");
    this.input.focus();
  }

  /** Starts writing a correction of `entry`: the input takes its text if it holds none. */
  startCorrection(entry: LogEntry): void {
    this.correcting = entry;
    setText(this.correctingText, t("log.correcting", { time: formatClock(entry.at), text: entry.text }));
    this.correctingBar.hidden = false;
    if (this.input.value.trim() === "") {
      this.input.value = entry.text;
      this.draftDirty = true;
      this.autosize();
    }
    this.focus();
  }

  /** Stops correcting; `cancelled` also takes back the original text the input was given. */
  endCorrection(cancelled = false): void {
    if (cancelled && this.correcting && this.input.value === this.correcting.text) {
      this.input.value = "";
      this.draftDirty = true;
      this.keepDraft();
      this.autosize();
    }
    this.correcting = null;
    this.correctingBar.hidden = true;
    if (cancelled) this.input.focus();
  }

  private toggleWhen(): void {
    const show = this.happenedInput.hidden;
    this.happenedInput.hidden = !show;
    this.whenButton.setAttribute("aria-expanded", String(show));
    if (show) {
      this.happenedInput.focus();
    } else {
      this.happenedInput.value = "";
      this.checkHappened();
      this.input.focus();
    }
  }

  /** The time typed in "happened at", as RFC 3339; `undefined` if empty, `null` if not a time. */
  private happened(): string | undefined | null {
    const text = this.happenedInput.value.trim();
    return text === "" ? undefined : happenedAt(text);
  }

  private checkHappened(): boolean {
    const ok = this.happened() !== null;
    this.happenedInput.classList.toggle("invalid", !ok);
    this.happenedInput.setAttribute("aria-invalid", String(!ok));
    if (ok) this.happenedError.hidden = true;
    return ok;
  }

  private submit(): void {
    const happened = this.happened();
    if (happened === null && this.input.value.trim() !== "") {
      // Nothing is lost: the text stays in the input until the time is right or removed.
      this.checkHappened();
      this.happenedError.hidden = false;
      this.happenedInput.focus();
      return;
    }
    const text = this.input.value.replace(/\s+$/u, "");
    this.input.value = "";
    this.autosize();
    clearTimeout(this.draftTimer);
    this.draftDirty = false;
    if (text.trim() === "") {
      // Only blank lines were there: the draft, if any, goes.
      keepDraft(this.incidentId, "");
      return;
    }
    this.input.dataset.draft = "none";
    enqueue(this.incidentId, text, this.flagNext, this.input.value, {
      ...(this.correcting ? { corrects: this.correcting.id } : {}),
      ...(happened ? { happenedAt: happened } : {}),
    });
    if (this.flagNext) this.toggleFlag();
    this.endCorrection();
    if (!this.happenedInput.hidden) this.toggleWhen();
  }

  private onInputKey(e: KeyboardEvent): void {
    if (e.key === "Escape" && this.correcting && !e.isComposing) {
      e.preventDefault();
      this.endCorrection(true);
      return;
    }
    if (e.key !== "Enter" || e.isComposing) return;
    if (e.shiftKey) {
      this.lineBreakByKey = true;
      return;
    }
    e.preventDefault();
    this.submit();
  }

  /** Some input paths (automation, on-screen keyboards) insert a line break without a key event. */
  private onInput(e: InputEvent): void {
    const breakInserted = e.inputType === "insertLineBreak" || e.inputType === "insertParagraph";
    if (breakInserted && !this.lineBreakByKey) {
      this.submit();
    } else {
      this.draftDirty = true;
      this.input.dataset.draft = "typing";
      clearTimeout(this.draftTimer);
      this.draftTimer = setTimeout(() => this.keepDraft(), DRAFT_DELAY_MS);
    }
    this.lineBreakByKey = false;
    this.autosize();
  }

  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 220)}px`;
  }

  onKey(e: KeyboardEvent): boolean {
    if (overlayOpen()) return false;
    if (!e.ctrlKey && !e.altKey && !e.metaKey && e.key.length === 1 && !takesTyping(document.activeElement, e.key)) {
      // Typing while the focus is elsewhere on the screen (a clicked entry, the header) goes
      // into the input: moving the focus during keydown sends this very key there.
      this.input.focus({ preventScroll: true });
      return false;
    }
    if (!e.ctrlKey || e.altKey || e.metaKey) return false;
    switch (e.key.toLowerCase()) {
      case "k":
        this.toggleFlag();
        return true;
      case "o":
        void pickAndAttach();
        return true;
      case "j":
        void navigate({ to: "switcher" });
        return true;
      case "e":
        void navigate({ to: "editor", id: this.incidentId });
        return true;
      default:
        return false;
    }
  }
}

/** Whether `el` has a use for the typed `key` itself: a text field, or a button's Space. */
function takesTyping(el: Element | null, key: string): boolean {
  if (!(el instanceof HTMLElement)) return false;
  if (el.isContentEditable || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return true;
  if (el instanceof HTMLInputElement) return !["button", "checkbox", "radio", "submit", "reset", "file"].includes(el.type) || key === " ";
  return key === " " && (el instanceof HTMLButtonElement || el instanceof HTMLAnchorElement || el.getAttribute("role") === "button");
}

route("log", (r) => openLiveLog(r.id));

/** Opens the live log of an incident. */
async function openLiveLog(id: string): Promise<void> {
  let view;
  try {
    view = await api.getIncident(id);
  } catch (err) {
    if (handleLockedError(err as AppError)) return;
    // Stay where we are; there is nothing to show.
    const banner = document.querySelector<HTMLElement>(".error.banner");
    if (banner) {
      setText(banner, errorText(err));
      banner.hidden = false;
    }
    return;
  }
  const incident = view.draft ?? view.incident;
  const panel = new AttachmentsPanel(id, view.attachments, view.incomplete);
  const log = new LiveLog(id, incident.title, view.log, panel, view.versions, view.log_draft, view.incident.status === "sealed", view.sealed_entries);
  const onKey = (e: KeyboardEvent) => {
    if (log.onKey(e)) e.preventDefault();
  };
  screen = log;
  setQueueView(log);
  document.addEventListener("keydown", onKey);
  showScreen("live-log", log.root, () => {
    resume = isLocking() ? log.incidentId : null;
    document.removeEventListener("keydown", onKey);
    log.dispose();
    if (screen === log) {
      screen = null;
      setQueueView(null);
    }
  });
  log.focus();
}

/** The incident to open again after an unlock (its log was on screen when the vault locked). */
export function takeResume(): string | null {
  const id = resume;
  resume = null;
  return id;
}

/** The live log's incident, if the live log is on screen. */
export function liveLogIncident(): string | null {
  return screen?.incidentId ?? null;
}
