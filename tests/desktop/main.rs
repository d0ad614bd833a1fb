//! End-to-end tests of the desktop app: the real window (WebKitGTK) driven through WebDriver
//! (`tauri-driver` + `WebKitWebDriver`), with real vaults on disk.
//!
//! Registered as the `desktop` test target of the root `vigil-desktop` package, so
//! `CARGO_BIN_EXE_vigil-desktop` is the freshly built app. They need an X display and
//! `tauri-driver` (scripts/setup installs it):
//!
//! ```sh
//! xvfb-run -a --server-args="-screen 0 1280x800x24" cargo test -p vigil-desktop --test desktop
//! ```
//!
//! Screenshots go to `target/screenshots/` (or `$VIGIL_SCREENSHOTS`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod amend;
mod corrections;
mod exchange;
mod field_safety;
mod harness;
mod layout;
mod meeting;
#[path = "../support/memory.rs"]
mod memory;
mod outdated;
mod parts;
mod scenario;
mod session_traces;
mod settings;
mod smoke;
mod sync;
mod sync_typing;
mod traces;
mod trust;
mod unlock;
#[path = "../support/vigil_server.rs"]
mod vigil_server;
