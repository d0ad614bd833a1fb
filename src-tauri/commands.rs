//! The UI's commands: each one is one call on [`Session`]; the logic lives in `vigil-app`.
//!
//! They are `async` so that Tauri runs them off the UI thread (unlocking spends about a second
//! in Argon2id, and typing in the live log must never wait for the disk). Errors reach the UI as
//! `AppError { code, message, .. }`. See docs/ui-contract.md.

use tauri::ipc::{Channel, Response};
use tauri::{AppHandle, Manager, State};
use vigil_app::{
    AcceptOutcome, AppError, AppStatus, DevicesView, EntryInput, ExportFiles, ExportPhase,
    ExportPreview, ExportSummary, HistoryView, ImportSummary, IncidentPage, IncidentView,
    ListRequest, OrgView, QuarantineRow, SaveOutcome, Session, Settings, SyncView, TermView,
    VaultOverview,
};
use vigil_model::{AttachmentMeta, Incident, LogEntry};
use vigil_store::SearchHit;

type Res<T> = Result<T, AppError>;

/// Runs a long call (an exchange, a large attachment, Argon2id) on Tauri's blocking pool: the
/// async runtime has one worker per core, two on a small laptop, and a call that held one for
/// the length of a 1 GiB export left the running log's calls one worker to share.
async fn blocking<T: Send + 'static>(
    app: AppHandle,
    call: impl FnOnce(&Session) -> Res<T> + Send + 'static,
) -> Res<T> {
    tauri::async_runtime::spawn_blocking(move || call(&app.state::<Session>()))
        .await
        .unwrap_or_else(|e| Err(AppError::io(&e)))
}

#[tauri::command]
pub async fn app_status(s: State<'_, Session>) -> Res<AppStatus> {
    Ok(s.status())
}

#[tauri::command]
pub async fn create_vault(app: AppHandle, passphrase: String) -> Res<VaultOverview> {
    blocking(app, move |s| s.create_vault(passphrase)).await
}

#[tauri::command]
pub async fn unlock(app: AppHandle, passphrase: String) -> Res<VaultOverview> {
    blocking(app, move |s| s.unlock(passphrase)).await
}

#[tauri::command]
pub async fn quick_delete(app: AppHandle) -> Res<()> {
    blocking(app, |s| s.quick_delete()).await
}

#[tauri::command]
pub async fn rekey_vault(app: AppHandle, passphrase: String, new_passphrase: String) -> Res<()> {
    blocking(app, move |s| s.rekey(passphrase, new_passphrase)).await
}

#[tauri::command]
pub async fn has_duress(s: State<'_, Session>) -> Res<bool> {
    s.has_duress()
}

#[tauri::command]
pub async fn set_duress(
    app: AppHandle,
    passphrase: String,
    duress: String,
    destroy_real: bool,
) -> Res<()> {
    blocking(app, move |s| s.set_duress(passphrase, duress, destroy_real)).await
}

#[tauri::command]
pub async fn remove_duress(app: AppHandle) -> Res<()> {
    blocking(app, |s| s.remove_duress()).await
}

/// Clears the clipboard if it still holds `text`, which was copied from the window a while ago
/// (something copied since, from anywhere, is left alone). Says whether it cleared it.
#[tauri::command]
pub async fn clear_clipboard(app: AppHandle, text: String) -> Res<bool> {
    let (tx, rx) = std::sync::mpsc::channel();
    app.run_on_main_thread(move || {
        let _ = tx.send(clear_clipboard_if(&text));
    })
    .map_err(|e| AppError::io(&e))?;
    rx.recv().map_err(|e| AppError::io(&e))
}

#[cfg(target_os = "linux")]
fn clear_clipboard_if(text: &str) -> bool {
    let clipboard = gtk::Clipboard::get(&gtk::gdk::SELECTION_CLIPBOARD);
    if clipboard.wait_for_text().as_deref() != Some(text) {
        return false;
    }
    clipboard.set_text("");
    clipboard.clear();
    true
}

#[cfg(not(target_os = "linux"))]
fn clear_clipboard_if(_text: &str) -> bool {
    false
}

/// Sets the window's title and icon as the session's settings say (discreet mode or not).
pub fn apply_look(window: &tauri::WebviewWindow, s: &Session) {
    let look = s.window_look();
    let _ = window.set_title(look.title);
    let icon = match look.icon {
        Some((rgba, side)) => Some(tauri::image::Image::new_owned(rgba, side, side)),
        None => window.app_handle().default_window_icon().cloned(),
    };
    if let Some(icon) = icon {
        let _ = window.set_icon(icon);
    }
}

#[tauri::command]
pub async fn apply_window_look(window: tauri::WebviewWindow, s: State<'_, Session>) -> Res<()> {
    apply_look(&window, &s);
    Ok(())
}

#[tauri::command]
pub async fn lock(s: State<'_, Session>) -> Res<()> {
    s.lock();
    Ok(())
}

#[tauri::command]
pub async fn touch(s: State<'_, Session>) -> Res<()> {
    s.touch();
    Ok(())
}

#[tauri::command]
pub async fn list_incidents(s: State<'_, Session>, request: ListRequest) -> Res<IncidentPage> {
    s.list(&request)
}

#[tauri::command]
pub async fn get_incident(s: State<'_, Session>, id: String) -> Res<IncidentView> {
    s.incident(&id)
}

#[tauri::command]
pub async fn new_incident(s: State<'_, Session>, title: String) -> Res<Incident> {
    s.new_incident(&title)
}

#[tauri::command]
pub async fn append_log(s: State<'_, Session>, id: String, entry: EntryInput) -> Res<LogEntry> {
    s.append_log_from_input(&id, &entry)
}

#[tauri::command]
pub async fn save_log_draft(s: State<'_, Session>, id: String, text: String) -> Res<()> {
    s.save_log_draft(&id, &text)
}

#[tauri::command]
pub async fn save_incident(s: State<'_, Session>, incident: Incident) -> Res<SaveOutcome> {
    s.save_incident(incident)
}

#[tauri::command]
pub async fn add_attachment(
    app: AppHandle,
    id: String,
    path: std::path::PathBuf,
    on_progress: Channel<u64>,
) -> Res<AttachmentMeta> {
    blocking(app, move |s| {
        s.add_attachment(&id, &path, &mut |done| drop(on_progress.send(done)))
    })
    .await
}

#[tauri::command]
pub async fn attachment_bytes(s: State<'_, Session>, id: String) -> Res<Response> {
    s.attachment_bytes(&id).map(Response::new)
}

#[tauri::command]
pub async fn search(s: State<'_, Session>, query: String) -> Res<Vec<SearchHit>> {
    s.search(&query)
}

#[tauri::command]
pub async fn thesaurus(s: State<'_, Session>) -> Res<Vec<TermView>> {
    s.thesaurus()
}

#[tauri::command]
pub async fn get_settings(s: State<'_, Session>) -> Res<Settings> {
    Ok(s.settings())
}

#[tauri::command]
pub async fn save_settings(s: State<'_, Session>, settings: Settings) -> Res<Settings> {
    s.save_settings(settings)
}

#[tauri::command]
pub async fn seal_incident(s: State<'_, Session>, id: String) -> Res<IncidentView> {
    s.seal(&id)
}

#[tauri::command]
pub async fn export_preview(s: State<'_, Session>) -> Res<ExportPreview> {
    s.export_preview()
}

#[tauri::command]
pub async fn export_files(s: State<'_, Session>, folder: std::path::PathBuf) -> Res<ExportFiles> {
    s.export_files(&folder)
}

#[tauri::command]
pub async fn export_bundle(
    app: AppHandle,
    folder: std::path::PathBuf,
    on_progress: Channel<(ExportPhase, u64, u64)>,
) -> Res<ExportSummary> {
    blocking(app, move |s| {
        s.export_unsent(&folder, &mut |phase, done, total| {
            drop(on_progress.send((phase, done, total)))
        })
    })
    .await
}

#[tauri::command]
pub async fn import_bundle(
    app: AppHandle,
    path: std::path::PathBuf,
    on_progress: Channel<(u64, u64)>,
) -> Res<ImportSummary> {
    blocking(app, move |s| {
        s.import_bundle(&path, &mut |done, total| {
            drop(on_progress.send((done, total)))
        })
    })
    .await
}

#[tauri::command]
pub async fn removable_drives(s: State<'_, Session>) -> Res<Vec<String>> {
    Ok(s.removable_drives())
}

#[tauri::command]
pub async fn org_status(s: State<'_, Session>) -> Res<OrgView> {
    s.org()
}

#[tauri::command]
pub async fn create_org(
    s: State<'_, Session>,
    name: String,
    readers: u32,
    folder: std::path::PathBuf,
) -> Res<OrgView> {
    s.create_org(&name, readers, &folder)
}

#[tauri::command]
pub async fn save_org_profile(s: State<'_, Session>, folder: std::path::PathBuf) -> Res<OrgView> {
    s.save_org_profile(&folder)
}

#[tauri::command]
pub async fn join_org(
    s: State<'_, Session>,
    path: std::path::PathBuf,
    invitation: Option<std::path::PathBuf>,
) -> Res<OrgView> {
    s.join_org(&path, invitation.as_deref())
}

#[tauri::command]
pub async fn invite_device(
    s: State<'_, Session>,
    name: String,
    days: u32,
    folder: std::path::PathBuf,
) -> Res<DevicesView> {
    s.invite_device(&name, days, &folder)
}

#[tauri::command]
pub async fn org_devices(s: State<'_, Session>) -> Res<DevicesView> {
    s.devices()
}

#[tauri::command]
pub async fn revoke_device(s: State<'_, Session>, device: String) -> Res<DevicesView> {
    s.revoke_device(&device)
}

#[tauri::command]
pub async fn quarantine_list(s: State<'_, Session>) -> Res<Vec<QuarantineRow>> {
    s.quarantine()
}

#[tauri::command]
pub async fn quarantine_accept(s: State<'_, Session>, device: String) -> Res<AcceptOutcome> {
    s.accept_quarantined(&device)
}

#[tauri::command]
pub async fn quarantine_drop(s: State<'_, Session>, device: String) -> Res<Vec<QuarantineRow>> {
    s.drop_quarantined(&device)
}

#[tauri::command]
pub async fn incident_history(s: State<'_, Session>, id: String) -> Res<HistoryView> {
    s.history(&id)
}

#[tauri::command]
pub async fn discard_edit(s: State<'_, Session>, id: String) -> Res<IncidentView> {
    s.discard_edit(&id)
}

#[tauri::command]
pub async fn sync_status(s: State<'_, Session>) -> Res<SyncView> {
    s.sync_status()
}

#[tauri::command]
pub async fn sync_now(s: State<'_, Session>) -> Res<()> {
    s.sync_now()
}
