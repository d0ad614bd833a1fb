//! The Vigil desktop shell: a Tauri window over [`vigil_app::Session`].
//!
//! Usage: `vigil-desktop [--vault DIR]`. Without `--vault`, `VIGIL_VAULT` or the platform data
//! folder (`~/.local/share/vigil/vault` on Linux) is used, as by the `vigil` command.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;

use std::sync::Arc;

use tauri::{Emitter, Manager, RunEvent, WebviewWindowBuilder};
use vigil_app::Session;
use vigil_store::SystemClock;

fn main() {
    // Before any passphrase or key exists: a crash must not write them to disk.
    if let Err(e) = vigil_crypto::process::forbid_core_dumps() {
        eprintln!("vigil: core dumps could not be turned off: {e}");
    }
    let dir = match vigil_app::process_vault_dir() {
        Ok(dir) => dir,
        Err(e) => fail(&e.to_string(), 2),
    };
    let webview_data = match vigil_app::WebviewDir::create() {
        Ok(d) => d,
        Err(e) => fail(
            &format!("could not create a private folder for the window: {e}"),
            1,
        ),
    };
    let webview_path = webview_data.path();
    let context = tauri::generate_context!();
    let instance = vigil_app::instance_id(&context.config().identifier, &dir);
    let app = tauri::Builder::default()
        // First, so that a second start on the same vault does nothing but bring this window
        // forward (it exits before it opens anything).
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(instance)
                .callback(|app, _args, _cwd| {
                    if let Some(w) = app.get_webview_window("main") {
                        let _ = w.unminimize();
                        let _ = w.show();
                        let _ = w.set_focus();
                        let _ = w.emit("vigil://raised", ());
                    }
                })
                .build(),
        )
        .manage(Session::new(
            dir,
            Arc::new(SystemClock),
            vigil_app::kdf_choice_from_env(),
            vigil_app::Settings::default_path(),
        ))
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::create_vault,
            commands::unlock,
            commands::lock,
            commands::quick_delete,
            commands::rekey_vault,
            commands::has_duress,
            commands::clear_clipboard,
            commands::set_duress,
            commands::remove_duress,
            commands::apply_window_look,
            commands::touch,
            commands::list_incidents,
            commands::get_incident,
            commands::new_incident,
            commands::append_log,
            commands::save_log_draft,
            commands::save_incident,
            commands::add_attachment,
            commands::attachment_bytes,
            commands::search,
            commands::thesaurus,
            commands::get_settings,
            commands::save_settings,
            commands::seal_incident,
            commands::export_preview,
            commands::export_files,
            commands::export_bundle,
            commands::import_bundle,
            commands::removable_drives,
            commands::org_status,
            commands::create_org,
            commands::save_org_profile,
            commands::join_org,
            commands::invite_device,
            commands::org_devices,
            commands::revoke_device,
            commands::quarantine_list,
            commands::quarantine_accept,
            commands::quarantine_drop,
            commands::incident_history,
            commands::discard_edit,
            commands::sync_status,
            commands::sync_now,
        ])
        .setup(move |app| {
            // The window is declared in tauri.conf.json with `"create": false` and built here,
            // because only code can point its data directory at a folder chosen at run time.
            let config = app
                .config()
                .app
                .windows
                .first()
                .cloned()
                .ok_or("no window in tauri.conf.json")?;
            let window = WebviewWindowBuilder::from_config(app, &config)?
                .data_directory(webview_path)
                .build()?;
            // GTK's file picker adds what it opens to a recent-files list in the user's data
            // folder (recently-used.xbel): the name and path of every attachment. Off for this
            // process, before any picker opens.
            #[cfg(target_os = "linux")]
            if let Some(settings) = gtk::Settings::default() {
                use gtk::prelude::GtkSettingsExt;
                settings.set_gtk_recent_files_enabled(false);
            }
            // Discreet mode: a neutral title and icon from the first frame.
            commands::apply_look(&window, &app.state::<Session>());
            // WebKitGTK tuned for a form-like app (docs/benchmarks-desktop.md measures it
            // against a bare Tauri window, process by process):
            // - no accelerated compositing: Vigil draws no 3D, video or animation, and the
            //   compositor's layers (software GL where there is no GPU) held tens of MiB in
            //   the web process;
            // - a document viewer's cache: the window shows its own pages, loaded once, and
            //   has no use for a browser's memory cache of pages and resources.
            #[cfg(target_os = "linux")]
            window.with_webview(|w| {
                use webkit2gtk::{
                    CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
                };
                if let Some(settings) = WebViewExt::settings(&w.inner()) {
                    settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                }
                if let Some(context) = w.inner().context() {
                    context.set_cache_model(CacheModel::DocumentViewer);
                }
            })?;
            // Auto-lock: the session decides; this thread only asks once a second and tells
            // the UI when it locked.
            let handle = app.handle().clone();
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    if handle.state::<Session>().lock_if_idle() {
                        let _ = handle.emit("vigil://locked", ());
                    }
                }
            });
            // Sync with the organisation's server: the session's worker, on its own thread for
            // the life of the app (it holds the vault only between network calls).
            let handle = app.handle().clone();
            std::thread::spawn(move || handle.state::<Session>().run_sync_worker());
            Ok(())
        })
        .build(context)
        .unwrap_or_else(|e| fail(&format!("could not start the window: {e}"), 1));
    let mut webview_data = Some(webview_data);
    app.run(move |app, event| {
        if let RunEvent::Exit = event {
            app.state::<Session>().lock();
            // Dropping the TempDir deletes it (the event loop exits the process without running
            // destructors, so it is done here).
            webview_data.take();
        }
    });
}

fn fail(message: &str, code: i32) -> ! {
    eprintln!("vigil-desktop: {message}");
    std::process::exit(code);
}
