//! The UI's commands: each one is one call on [`Session`]; the logic lives in `vigil-app`.
//!
//! They are `async` so that Tauri runs them off the UI thread (unlocking spends about a second
//! in Argon2id). Errors reach the UI as `{code, message}`.

use tauri::State;
use vigil_app::{AppError, IncidentPage, IncidentView, Session, VaultOverview};
use vigil_store::SearchHit;

#[tauri::command]
pub async fn unlock(
    session: State<'_, Session>,
    passphrase: String,
) -> Result<VaultOverview, AppError> {
    session.unlock(passphrase)
}

#[tauri::command]
pub async fn lock(session: State<'_, Session>) -> Result<(), AppError> {
    session.lock();
    Ok(())
}

#[tauri::command]
pub async fn list_incidents(
    session: State<'_, Session>,
    offset: u32,
    limit: u32,
) -> Result<IncidentPage, AppError> {
    session.list(offset, limit)
}

#[tauri::command]
pub async fn get_incident(
    session: State<'_, Session>,
    id: String,
) -> Result<IncidentView, AppError> {
    session.incident(&id)
}

#[tauri::command]
pub async fn search(
    session: State<'_, Session>,
    query: String,
) -> Result<Vec<SearchHit>, AppError> {
    session.search(&query)
}
