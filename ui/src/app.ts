// Screen switching, the state shared between screens, and locking.
//
// Only one screen is in the document at a time (the live log and the editor both have a
// `#back`), so screens are built when shown and dropped when left. Overlays (settings, the
// quick switcher, previews) sit above the current screen.

import type { AppError } from "./bindings/AppError";
import type { Settings } from "./bindings/Settings";
import type { TermView } from "./bindings/TermView";
import * as api from "./api";
import { byId, setT, setText } from "./dom";
import { num } from "./format";

export const state = {
  unlocked: false,
  settings: null as Settings | null,
  vaultDir: "",
  terms: [] as TermView[],
  /** Incidents in the vault (unfiltered), for the status bar. */
  total: 0,
  /** Why the vault last locked without being asked to (shown on the unlock screen once). */
  autoLocked: false,
};

// ---- Navigation -----------------------------------------------------------------------------
//
// Screens and dialogs never import one another: each registers how it opens with `route()`
// when its module loads (main.ts loads them all), and any of them goes anywhere with
// `navigate()`. So there is no import cycle between screens, and each screen can be read alone.

/** Everywhere the app can go. */
export type Route =
  | { to: "list" }
  | { to: "new-log" }
  | { to: "log"; id: string }
  | { to: "switcher" }
  | { to: "editor"; id: string }
  | { to: "history"; id: string }
  | { to: "settings" }
  | { to: "export" }
  | { to: "import"; onClose?: () => void }
  | { to: "org" };

type Opener<R> = (route: R) => void | Promise<void>;
const routes = new Map<Route["to"], Opener<Route>>();

/** Registers how `to` opens (once, by the module that shows it). */
export function route<T extends Route["to"]>(to: T, open: Opener<Extract<Route, { to: T }>>): void {
  routes.set(to, open as Opener<Route>);
}

/** Goes to a screen or opens a dialog; resolves once it is shown. */
export async function navigate(where: Route): Promise<void> {
  const open = routes.get(where.to);
  if (!open) throw new Error(`nothing opens "${where.to}"`);
  await open(where);
}

type Leave = () => void;
let leaveCurrent: Leave | null = null;
let currentName = "";

/** Replaces the current screen. `leave` runs when it is replaced (flush, stop timers...). */
export function showScreen(name: string, screen: HTMLElement, leave?: Leave): void {
  closeOverlays();
  const previous = leaveCurrent;
  leaveCurrent = null;
  previous?.();
  currentName = name;
  byId("screen").replaceChildren(screen);
  leaveCurrent = leave ?? null;
}

export function screenName(): string {
  return currentName;
}

/** Overlays: at most one at a time; each has a close function. */
let overlayClose: (() => void) | null = null;

export function openOverlay(node: HTMLElement, onClose?: () => void): () => void {
  closeOverlays();
  const layer = byId("overlay");
  layer.replaceChildren(node);
  layer.hidden = false;
  const previousFocus = document.activeElement as HTMLElement | null;
  const close = () => {
    if (overlayClose !== close) return;
    overlayClose = null;
    layer.hidden = true;
    layer.replaceChildren();
    onClose?.();
    if (previousFocus && document.contains(previousFocus)) previousFocus.focus();
  };
  overlayClose = close;
  return close;
}

export function closeOverlays(): void {
  overlayClose?.();
}

export function overlayOpen(): boolean {
  return overlayClose !== null;
}

// ---- Status bar -----------------------------------------------------------------------------

export function setLockState(unlocked: boolean): void {
  state.unlocked = unlocked;
  const node = byId("lock-state");
  setT(node, unlocked ? "status.unlocked" : "status.locked");
  node.dataset.state = unlocked ? "unlocked" : "locked";
}

export function setTotal(total: number | bigint): void {
  state.total = num(total);
  const node = byId("incident-count");
  if (state.unlocked) setT(node, "status.count", { n: state.total });
  else setText(node, "");
}

/** The status bar's count of sealed versions not yet sent to HQ (nothing shown at 0). */
export function setUnsent(unsent: number | bigint): void {
  const n = state.unlocked ? num(unsent) : 0;
  const node = byId("unsent-count");
  node.hidden = n === 0;
  if (n > 0) setT(node, "status.unsent", { n });
  else setText(node, "");
}

// ---- Locking --------------------------------------------------------------------------------

const flushers = new Set<() => Promise<void>>();
const resetters = new Set<() => void>();
let showUnlock: () => void = () => {};
let locking = false;

/** Registers work to finish before locking (pending log entries, an unsaved report). */
export function onBeforeLock(flush: () => Promise<void>): void {
  flushers.add(flush);
}

/** Registers a function that forgets a module's state when the vault locks. */
export function onReset(reset: () => void): void {
  resetters.add(reset);
}

export function setUnlockScreen(show: () => void): void {
  showUnlock = show;
}

/**
 * Locks: first lets pending writes finish (bounded, so a hung write cannot keep the vault
 * open), then locks the backend unless it already locked itself, then forgets everything.
 */
/** Whether a lock is under way (screens leaving now are left because of it). */
export function isLocking(): boolean {
  return locking;
}

export async function lockNow(backendAlreadyLocked = false, idle = false): Promise<void> {
  if (locking) return;
  locking = true;
  state.autoLocked = idle && state.unlocked;
  try {
    if (state.unlocked && !backendAlreadyLocked) {
      const flushes = Promise.allSettled([...flushers].map((f) => f()));
      await Promise.race([flushes, new Promise((resolve) => setTimeout(resolve, 3000))]);
      try {
        await api.lock();
      } catch {
        // Locking only drops keys; if the backend is already locked there is nothing to undo.
      }
    }
    resetAll();
  } finally {
    locking = false;
  }
}

function resetAll(): void {
  closeOverlays();
  const previous = leaveCurrent;
  leaveCurrent = null;
  try {
    previous?.();
  } catch {
    // Leaving a screen must not stop the lock.
  }
  for (const reset of resetters) reset();
  state.terms = [];
  state.total = 0;
  setLockState(false);
  setTotal(0);
  setUnsent(0);
  showUnlock();
}

/** For command failures: a locked vault sends the person to the unlock screen. */
export function handleLockedError(err: AppError): boolean {
  // Only "locked" (this window's session is locked). "vault_locked" means another window or
  // command has the vault open: its own message says so, where the call was made.
  if (err.code === "locked") {
    void lockNow(true);
    return true;
  }
  return false;
}
