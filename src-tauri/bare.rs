//! The reference for the desktop memory benchmark: the smallest Tauri app there is, on the same
//! Tauri and WebKitGTK as Vigil, with the same window size and the same global Tauri API in its
//! page. Its page (src-tauri/bare/page/index.html) is blank and it does nothing else.
//! `scripts/bench-desktop` builds it (an example, so never shipped) and measures it beside
//! `vigil-desktop` in the same run.

fn main() {
    if let Err(e) =
        tauri::Builder::default().run(tauri::generate_context!("src-tauri/bare/tauri.conf.json"))
    {
        eprintln!("bare-window: {e}");
        std::process::exit(1);
    }
}
