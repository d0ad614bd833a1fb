// Boot: read the app status, pick the language, show the create or unlock screen, and wire
// what applies everywhere: shortcuts, activity pings, auto-lock and file drops.

import type { AppError } from "./bindings/AppError";
import type { VaultOverview } from "./bindings/VaultOverview";
import * as api from "./api";
import { closeOverlays, handleLockedError, lockNow, navigate, onReset, overlayOpen, setLockState, setTotal, setUnlockScreen, state } from "./app";
import { byId, h } from "./dom";
import { errorText, num } from "./format";
import { isLang, setLanguage, translateTree } from "./i18n";
import { activePanel } from "./parts/attachments";
import { startSyncStatus, syncNowButton } from "./parts/sync";
import { showCreate, showUnlock } from "./screens/auth";
import { applyDocumentTitle, clearCopiesLater, quickDelete } from "./parts/safety";
// Every screen and dialog registers its route when loaded.
import "./screens/editor";
import "./screens/exchange";
import "./screens/history";
import { refreshListTerms } from "./screens/list";
import { takeResume } from "./screens/livelog";
import "./screens/org";
import "./screens/settings";
import "./screens/switcher";

const TOUCH_EVERY_MS = 5000;
const DEFAULT_AUTO_LOCK_S = 300;

let lastActivity = Date.now();
let lastTouch = 0;

function buildShell(): void {
  const statusBar = h(
    "footer",
    { id: "status-bar", class: "status-bar" },
    h("span", { id: "lock-state", class: "lock-state", t: "status.locked", data: { state: "locked" } }),
    h("span", { id: "sync-state", class: "sync-state", t: "status.sync_offline", attrs: { role: "status" } }),
    syncNowButton(),
    h("span", { id: "unsent-count", class: "unsent-count", hidden: true, attrs: { role: "status" } }),
    h("span", { id: "incident-count", class: "incident-count" }),
  );
  const drop = h("div", { id: "drop-hint", class: "drop-hint", hidden: true }, h("p", { t: "attach.drop" }));
  document.body.replaceChildren(
    h("div", { id: "screen", class: "screen" }),
    h("div", { id: "overlay", class: "overlay", hidden: true }),
    drop,
    statusBar,
  );
}

async function onUnlocked(overview: VaultOverview): Promise<void> {
  setLockState(true);
  lastActivity = Date.now();
  setTotal(num(overview.incidents));
  startSyncStatus();
  // Back where the person was when it locked: the running log, if one was open (over the
  // list, which stays if that log cannot be opened).
  void navigate({ to: "list" });
  const resume = takeResume();
  if (resume) void navigate({ to: "log", id: resume });
  try {
    const [terms, settings] = await Promise.all([api.thesaurus(), api.getSettings()]);
    state.terms = terms;
    state.settings = settings;
    if (isLang(settings.language)) setLanguage(settings.language);
    refreshListTerms();
  } catch (err) {
    handleLockedError(err as AppError);
  }
}

function showLocked(): void {
  const idleSeconds = state.autoLocked ? autoLockSeconds() : null;
  state.autoLocked = false;
  showUnlock((overview) => void onUnlocked(overview), idleSeconds);
}

function activity(): void {
  lastActivity = Date.now();
  if (!state.unlocked || lastActivity - lastTouch < TOUCH_EVERY_MS) return;
  lastTouch = lastActivity;
  api.touch().catch((err: AppError) => handleLockedError(err));
}

function autoLockSeconds(): number {
  const s = num(state.settings?.auto_lock_seconds ?? DEFAULT_AUTO_LOCK_S);
  return s > 0 ? s : DEFAULT_AUTO_LOCK_S;
}

function onGlobalKey(e: KeyboardEvent): void {
  if (e.key === "Escape" && overlayOpen()) {
    e.preventDefault();
    closeOverlays();
    return;
  }
  // Quick delete: anywhere, locked or not.
  if (e.ctrlKey && e.shiftKey && !e.altKey && !e.metaKey && e.key === "Delete") {
    e.preventDefault();
    quickDelete();
    return;
  }
  if (!e.ctrlKey || e.altKey || e.metaKey || !state.unlocked) return;
  const key = e.key.toLowerCase();
  if (key === "l") {
    e.preventDefault();
    void lockNow();
  } else if (key === "n" && !overlayOpen()) {
    e.preventDefault();
    void navigate({ to: "new-log" });
  } else if (key === ",") {
    e.preventDefault();
    void navigate({ to: "settings" });
  }
}

async function wireDragDrop(): Promise<void> {
  const hint = byId("drop-hint");
  await api.onDragDrop((payload) => {
    const panel = state.unlocked ? activePanel() : null;
    if (payload.type === "enter" || payload.type === "over") {
      hint.hidden = panel === null;
    } else if (payload.type === "leave") {
      hint.hidden = true;
    } else if (payload.type === "drop") {
      hint.hidden = true;
      if (panel && payload.paths?.length) void panel.attach(payload.paths);
    }
  });
}

async function start(): Promise<void> {
  buildShell();
  const preferred = navigator.language.slice(0, 2);
  if (isLang(preferred)) setLanguage(preferred);
  translateTree(document.body);
  setUnlockScreen(showLocked);
  onReset(() => {
    lastTouch = 0;
  });

  document.addEventListener("keydown", onGlobalKey);
  clearCopiesLater();
  // WebKit's own menu (Back, Reload, Inspect Element) has nothing for a monitor, and Reload
  // would drop the screen: it is kept only where it offers copy and paste.
  document.addEventListener("contextmenu", (e) => {
    const editable = e.target instanceof Element && e.target.closest("input, textarea, [contenteditable]") !== null;
    const selected = !(window.getSelection()?.isCollapsed ?? true);
    if (!editable && !selected) e.preventDefault();
  });
  document.addEventListener("keydown", activity, true);
  document.addEventListener("mousedown", activity, true);
  setInterval(() => {
    if (state.unlocked && Date.now() - lastActivity > autoLockSeconds() * 1000) void lockNow(false, true);
  }, 1000);

  try {
    await api.onLocked(() => void lockNow(true, true));
    // Started again on this vault: the window came forward, ready for typing where it was.
    await api.onRaised(() => {
      if (overlayOpen()) return;
      document.querySelector<HTMLElement>("#screen [data-typing]")?.focus();
    });
    await wireDragDrop();
  } catch {
    // Without the event API (a browser preview) the app still works, minus these.
  }

  try {
    const status = await api.appStatus();
    state.settings = status.settings;
    state.vaultDir = status.vault_dir;
    if (isLang(status.settings.language)) setLanguage(status.settings.language);
    if (!status.vault_exists) {
      showCreate((overview) => void onUnlocked(overview));
    } else if (status.unlocked) {
      // The window was reloaded while the vault was open: start from the list.
      const page = await api.listIncidents({ offset: 0, limit: 1, query: null, status: null, violation: null, tag: null, from: null, to: null });
      await onUnlocked({ dir: status.vault_dir, incidents: page.total } as VaultOverview);
    } else {
      showLocked();
    }
  } catch (err) {
    byId("screen").replaceChildren(h("p", { class: "error banner", text: errorText(err) }));
  }
  applyDocumentTitle();
}

void start();
