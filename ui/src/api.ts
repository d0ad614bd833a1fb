// The only module that touches `window.__TAURI__`: one typed function per command of
// docs/ui-contract.md. Every rejection is normalised to an `AppError`.

import type { AppError } from "./bindings/AppError";
import type { AppStatus } from "./bindings/AppStatus";
import type { AttachmentMeta } from "./bindings/AttachmentMeta";
import type { ExportPhase } from "./bindings/ExportPhase";
import type { Incident } from "./bindings/Incident";
import type { IncidentPage } from "./bindings/IncidentPage";
import type { IncidentView } from "./bindings/IncidentView";
import type { ListRequest } from "./bindings/ListRequest";
import type { EntryInput } from "./bindings/EntryInput";
import type { ExportFiles } from "./bindings/ExportFiles";
import type { ExportPreview } from "./bindings/ExportPreview";
import type { LogEntry } from "./bindings/LogEntry";
import type { SaveOutcome } from "./bindings/SaveOutcome";
import type { Settings } from "./bindings/Settings";
import type { TermView } from "./bindings/TermView";
import type { VaultOverview } from "./bindings/VaultOverview";
import type { ExportSummary } from "./bindings/ExportSummary";
import type { ImportSummary } from "./bindings/ImportSummary";
import type { OrgView } from "./bindings/OrgView";
import type { HistoryView } from "./bindings/HistoryView";
import type { DevicesView } from "./bindings/DevicesView";
import type { QuarantineRow } from "./bindings/QuarantineRow";
import type { AcceptOutcome } from "./bindings/AcceptOutcome";
import type { SyncView } from "./bindings/SyncView";

interface TauriChannel<T> {
  onmessage: (message: T) => void;
}

interface DragDropPayload {
  type: "enter" | "over" | "drop" | "leave";
  paths?: string[];
}

interface TauriGlobal {
  core: {
    invoke<T>(command: string, args?: Record<string, unknown>): Promise<T>;
    Channel: new <T>() => TauriChannel<T>;
  };
  event: {
    listen<T>(event: string, handler: (event: { payload: T }) => void): Promise<() => void>;
  };
  webview: {
    getCurrentWebview(): {
      onDragDropEvent(handler: (event: { payload: DragDropPayload }) => void): Promise<() => void>;
    };
  };
  dialog?: {
    open(options: { multiple?: boolean; directory?: boolean; title?: string }): Promise<string | string[] | null>;
  };
}

declare global {
  interface Window {
    __TAURI__?: TauriGlobal;
  }
}

function tauri(): TauriGlobal {
  const api = window.__TAURI__;
  if (!api) throw toAppError("the Tauri API is not available");
  return api;
}

/** Turns whatever a command rejected with into an `AppError`. */
export function toAppError(err: unknown): AppError {
  if (err && typeof err === "object" && "code" in err && typeof (err as AppError).code === "string") {
    const e = err as AppError;
    return { ...e, message: typeof e.message === "string" ? e.message : String(e.code) };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: "unexpected", message, field: null, retry_after_ms: 0 };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await tauri().core.invoke<T>(command, args);
  } catch (err) {
    throw toAppError(err);
  }
}

export const appStatus = () => call<AppStatus>("app_status");
export const createVault = (passphrase: string) => call<VaultOverview>("create_vault", { passphrase });
export const unlock = (passphrase: string) => call<VaultOverview>("unlock", { passphrase });
export const lock = () => call<null>("lock");
export const quickDelete = () => call<null>("quick_delete");
export const applyWindowLook = () => call<null>("apply_window_look");
export const rekeyVault = (passphrase: string, newPassphrase: string) => call<null>("rekey_vault", { passphrase, newPassphrase });
/** Clears the clipboard if it still holds `text` (copied from Vigil a while ago). */
export const clearClipboard = (text: string) => call<boolean>("clear_clipboard", { text });
export const hasDuress = () => call<boolean>("has_duress");
export const setDuress = (passphrase: string, duress: string, destroyReal: boolean) =>
  call<null>("set_duress", { passphrase, duress, destroyReal });
export const removeDuress = () => call<null>("remove_duress");
export const touch = () => call<null>("touch");
export const listIncidents = (request: ListRequest) => call<IncidentPage>("list_incidents", { request });
export const getIncident = (id: string) => call<IncidentView>("get_incident", { id });
export const newIncident = (title: string) => call<Incident>("new_incident", { title });
export const exportPreview = () => call<ExportPreview>("export_preview");
export const exportFiles = (folder: string) => call<ExportFiles>("export_files", { folder });
export const appendLog = (id: string, entry: EntryInput) => call<LogEntry>("append_log", { id, entry });
export const saveLogDraft = (id: string, text: string) => call<null>("save_log_draft", { id, text });
export const saveIncident = (incident: Incident) => call<SaveOutcome>("save_incident", { incident });
export const thesaurus = () => call<TermView[]>("thesaurus");
export const getSettings = () => call<Settings>("get_settings");
export const saveSettings = (settings: Settings) => call<Settings | null>("save_settings", { settings });
export const syncStatus = () => call<SyncView>("sync_status");
export const syncNow = () => call<null>("sync_now");

/** Adds the file at `path`; `onProgress` receives what the backend sends on the channel. */
export function addAttachment(id: string, path: string, onProgress: (value: number) => void) {
  const channel = new (tauri().core.Channel)<number>();
  channel.onmessage = onProgress;
  return call<AttachmentMeta>("add_attachment", { id, path, onProgress: channel });
}

export const sealIncident = (id: string) => call<IncidentView>("seal_incident", { id });
/** Imports the bundle at `path`; `onProgress` gets the bytes of the file read so far, of all. */
export function importBundle(path: string, onProgress: (done: number, total: number) => void) {
  const channel = new (tauri().core.Channel)<[number, number]>();
  channel.onmessage = ([done, total]) => onProgress(done, total);
  return call<ImportSummary>("import_bundle", { path, onProgress: channel });
}
export const removableDrives = () => call<string[]>("removable_drives");
export const orgStatus = () => call<OrgView>("org_status");
export const createOrg = (name: string, readers: number, folder: string) =>
  call<OrgView>("create_org", { name, readers, folder });
export const saveOrgProfile = (folder: string) => call<OrgView>("save_org_profile", { folder });
export const joinOrg = (path: string, invitation: string | null) => call<OrgView>("join_org", { path, invitation });
export const inviteDevice = (name: string, days: number, folder: string) =>
  call<DevicesView>("invite_device", { name, days, folder });
export const orgDevices = () => call<DevicesView>("org_devices");
export const revokeDevice = (device: string) => call<DevicesView>("revoke_device", { device });
export const quarantineList = () => call<QuarantineRow[]>("quarantine_list");
export const quarantineAccept = (device: string) => call<AcceptOutcome>("quarantine_accept", { device });
export const quarantineDrop = (device: string) => call<QuarantineRow[]>("quarantine_drop", { device });
export const incidentHistory = (id: string) => call<HistoryView>("incident_history", { id });
export const discardEdit = (id: string) => call<IncidentView>("discard_edit", { id });

/** Exports every unsent sealed revision into a new bundle in `folder`. */
export function exportBundle(folder: string, onProgress: (phase: ExportPhase, done: number, total: number) => void) {
  const channel = new (tauri().core.Channel)<[ExportPhase, number, number]>();
  channel.onmessage = ([phase, done, total]) => onProgress(phase, done, total);
  return call<ExportSummary>("export_bundle", { folder, onProgress: channel });
}

/** The native folder picker; null when cancelled. */
export async function pickFolder(title: string): Promise<string | null> {
  const dialog = tauri().dialog;
  if (!dialog) throw toAppError("the file dialog is not available");
  const chosen = await dialog.open({ multiple: false, directory: true, title });
  return Array.isArray(chosen) ? (chosen[0] ?? null) : chosen;
}

/** The attachment's plaintext, for in-memory preview only. */
export async function attachmentBytes(id: string): Promise<Uint8Array> {
  const raw = await call<ArrayBuffer | number[] | Uint8Array>("attachment_bytes", { id });
  if (Array.isArray(raw)) return Uint8Array.from(raw);
  if (ArrayBuffer.isView(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  return new Uint8Array(raw);
}

export function onLocked(handler: () => void): Promise<() => void> {
  return tauri().event.listen("vigil://locked", handler);
}

/** A second start of the app on this vault brought this window forward. */
export function onRaised(handler: () => void): Promise<() => void> {
  return tauri().event.listen("vigil://raised", handler);
}

export function onDragDrop(handler: (payload: DragDropPayload) => void): Promise<() => void> {
  return tauri().webview.getCurrentWebview().onDragDropEvent((event) => handler(event.payload));
}

/** The native file picker; resolves to the chosen paths (none when cancelled). */
export async function pickFiles(title: string): Promise<string[]> {
  const dialog = tauri().dialog;
  if (!dialog) throw toAppError("the file dialog is not available");
  const chosen = await dialog.open({ multiple: true, directory: false, title });
  if (chosen === null) return [];
  return Array.isArray(chosen) ? chosen : [chosen];
}
