//! Tauri's build step: the capabilities in src-tauri/capabilities and the app's context.

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*"),
    )
    .expect("failed to run the Tauri build step");
}
