//! The Vigil desktop shell: a Tauri window over [`vigil_app::Session`].
//!
//! Usage: `vigil-desktop [--vault DIR]`. Without `--vault`, `VIGIL_VAULT` or the platform data
//! folder (`~/.local/share/vigil/vault` on Linux) is used, as by the `vigil` command.
//!
//! Nothing the webview sees is written to disk by WebKit: the window is opened in incognito mode
//! (`"incognito": true` in `tauri.conf.json`), which gives it an ephemeral WebKit data store, so
//! no HTTP cache, localStorage or IndexedDB with report content outlives the process. The UI
//! itself never uses web storage either.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;

use std::sync::Arc;

use tauri::{Manager, RunEvent};
use vigil_app::Session;
use vigil_store::SystemClock;

fn main() {
    let dir = match vigil_app::process_vault_dir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("vigil-desktop: {e}");
            std::process::exit(2);
        }
    };
    let app = tauri::Builder::default()
        .manage(Session::new(dir, Arc::new(SystemClock)))
        .invoke_handler(tauri::generate_handler![
            commands::unlock,
            commands::lock,
            commands::list_incidents,
            commands::get_incident,
            commands::search,
        ])
        .build(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("vigil-desktop: could not start the window: {e}");
            std::process::exit(1);
        });
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            app.state::<Session>().lock();
        }
    });
}
