//! The whole USB round trip through two windows: HQ creates the organisation and writes its
//! profile to a "USB stick"; the monitor joins from that file, types an entry, seals and exports;
//! HQ imports the bundle (twice: nothing is added the second time), finds the entry, and is
//! told in words when a damaged copy is refused.

use std::path::{Path, PathBuf};

use crate::harness::{App, Env, PASSPHRASE};

const WORD: &str = "kestrelwing";

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

async fn unlock(env: &mut Env) -> App {
    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app
}

async fn import(app: &mut App, bundle: &Path) -> String {
    app.click("#import").await;
    app.wait_for("#import-dialog").await;
    app.type_into("#import-path", bundle.to_str().unwrap())
        .await;
    app.click("#import-go").await;
    // Either outcome ends the same sentence in English: "… attachments." or "… imported."
    app.wait_text("#import-result", ".").await
}

#[tokio::test]
async fn hq_creates_monitor_joins_seals_exports_and_hq_imports_all_in_the_window() {
    let _turn = crate::harness::serial().await;
    let usb = tempfile::tempdir().unwrap();
    let usb_path = usb.path().display().to_string();

    // --- HQ creates the organisation. -------------------------------------------------------
    let mut hq_env = Env::new("exchange-hq");
    hq_env.write_settings("en", 300);
    hq_env.create_vault();
    let mut hq = unlock(&mut hq_env).await;
    hq.click("#org").await;
    hq.wait_for("#org-role[data-role=none]").await;
    hq.type_into("#org-name", "Coalition HQ").await;
    hq.type_into("#org-folder", &usb_path).await;
    hq.click("#org-create").await;
    hq.wait_for("#org-role[data-role=hq]").await;
    hq.wait_text("#org-result", &usb_path).await;
    let org_key = hq.text("#org-key").await;
    assert_eq!(org_key.split(' ').count(), 16, "{org_key}");
    hq.screenshot("org-hq").await;
    hq.quit().await;
    let profiles = files_with(usb.path(), "vigil-org");
    assert_eq!(profiles.len(), 1, "one profile written");

    // --- The monitor joins, logs, seals and exports. -----------------------------------------
    let mut env = Env::new("exchange");
    env.write_settings("en", 300);
    env.create_vault();
    let mut app = unlock(&mut env).await;
    app.click("#export").await;
    app.wait_for("#export-dialog").await;
    app.type_into("#export-folder", &usb_path).await;
    app.click("#export-go").await;
    let refused = app.wait_text("#export-result", "organisation").await;
    assert!(refused.contains("Join one first"), "{refused}");
    app.click("#export-close").await;
    app.click("#org").await;
    app.wait_for("#org-role[data-role=none]").await;
    app.type_into("#org-profile-path", profiles[0].to_str().unwrap())
        .await;
    app.click("#org-join").await;
    app.wait_for("#org-role[data-role=member]").await;
    app.wait_text("#org-result", "Joined Coalition HQ").await;
    assert_eq!(
        app.text("#org-key").await,
        org_key,
        "the monitor sees the key HQ sees, to compare by phone"
    );
    let device_key = app.text("#device-key").await;
    app.screenshot("org-join").await;
    app.click("#org-close").await;
    app.click("#new-log").await;
    app.wait_for("#live-log-screen").await;
    app.type_into(
        "#log-input",
        &format!("Police sealed the courtroom: {WORD}"),
    )
    .await;
    app.press_enter("#log-input").await;
    app.wait_count(".log-entry", 1).await;
    app.click("#seal").await;
    app.wait_for("#seal-state[data-state=sealed]").await;
    app.screenshot("sealed").await;
    app.click("#back").await;
    app.wait_for("#main-screen").await;
    app.click("#export").await;
    app.wait_for("#export-dialog").await;
    app.type_into("#export-folder", &usb_path).await;
    app.click("#export-go").await;
    app.wait_text("#export-result", &usb_path).await;
    // It said it was writing, then that it was reading the bundle back.
    let phases = app
        .eval(
            "return document.querySelector('#export-phase').dataset.phases",
            vec![],
        )
        .await;
    assert_eq!(phases, serde_json::json!("writing checking"));
    app.screenshot("export").await;
    app.quit().await;
    let bundles = files_with(usb.path(), "vigil");
    assert_eq!(bundles.len(), 1, "one finished bundle, no temporary file");

    // --- HQ imports: once, again (nothing new), and a damaged copy (refused, in words). -----
    let damaged = usb.path().join("damaged.vigil");
    let bytes = std::fs::read(&bundles[0]).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    let mut hq = unlock(&mut hq_env).await;
    let first = import(&mut hq, &bundles[0]).await;
    assert!(
        first.starts_with("Imported. New records: 1; already here: 0"),
        "{first}"
    );
    hq.screenshot("import").await;
    hq.click("#import-close").await;
    hq.replace_text("#search", WORD).await;
    hq.wait_count(".incident-row", 1).await;
    // The record's history at HQ: sealed by the monitor's key, signature checked, and where it
    // has been (created and sealed on the monitor's device, imported here).
    hq.click(".incident-row").await;
    hq.wait_for("#live-log-screen").await;
    hq.click("#open-history").await;
    hq.wait_count("#history-events li", 3).await;
    assert_eq!(hq.text(".revision-key").await, device_key);
    let revision = hq.text("#history-revisions li").await;
    assert!(revision.contains("signature verified"), "{revision}");
    let events = hq
        .eval(
            "return Array.from(document.querySelectorAll('#history-events li')).map(e => e.dataset.event).join(' ')",
            vec![],
        )
        .await;
    assert_eq!(events, serde_json::json!("created sealed imported"));
    hq.screenshot("history").await;
    hq.click("#history-close").await;
    hq.click("#back").await;
    hq.wait_for("#main-screen").await;
    let again = import(&mut hq, &bundles[0]).await;
    assert!(
        again.starts_with("Imported. New records: 0; already here: 1"),
        "{again}"
    );
    hq.click("#import-close").await;
    let bad = import(&mut hq, &damaged).await;
    // Cut inside an encrypted chunk: age cannot tell that from damage, so "altered or damaged".
    assert!(
        bad.starts_with(
            "The bundle was altered or damaged after it was written. Nothing was imported."
        ),
        "{bad}"
    );
    assert!(
        hq.eval(
            "return document.querySelector('#import-result').classList.contains('error')",
            vec![]
        )
        .await
            == serde_json::Value::Bool(true)
    );
    hq.click("#import-close").await;
    hq.quit().await;
}
