//! The whole USB round trip through two windows: HQ creates the organisation and writes its
//! profile and an invitation to a "USB stick"; the monitor joins and enrols from those files,
//! types an entry, seals and exports; HQ imports the bundle (twice: nothing is added the second
//! time), finds the entry, lists the device with the key the monitor sees, and is told in words
//! when a damaged copy is refused. A second monitor that joined without an invitation: HQ keeps
//! its bundle in quarantine, shows why and the key, and imports it once a person accepts it.

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
    hq.wait_for("#org-devices-section h3").await;
    hq.type_into("#invite-name", "Aigul's laptop").await;
    hq.type_into("#invite-folder", &usb_path).await;
    hq.click("#invite-go").await;
    hq.wait_text("#org-result", "Invitation for").await;
    hq.wait_count("#invitation-list li", 1).await;
    hq.screenshot("org-hq").await;
    hq.quit().await;
    let profiles = files_with(usb.path(), "vigil-org");
    assert_eq!(profiles.len(), 1, "one profile written");
    let invitations = files_with(usb.path(), "vigil-invite");
    assert_eq!(invitations.len(), 1, "one invitation written");

    // --- The monitor joins, logs, seals and exports. -----------------------------------------
    let mut env = Env::new("exchange");
    env.write_settings("en", 300);
    env.create_vault();
    let mut app = unlock(&mut env).await;
    app.click("#export").await;
    app.wait_for("#export-dialog").await;
    app.wait_text("#export-preview", "Nothing new to send")
        .await;
    app.type_into("#export-folder", &usb_path).await;
    app.click("#export-go").await;
    let refused = app.wait_text("#export-result", "organisation").await;
    assert!(refused.contains("Join one first"), "{refused}");
    app.click("#export-close").await;
    app.click("#org").await;
    app.wait_for("#org-role[data-role=none]").await;
    app.type_into("#org-profile-path", profiles[0].to_str().unwrap())
        .await;
    app.type_into("#org-invitation-path", invitations[0].to_str().unwrap())
        .await;
    app.click("#org-join").await;
    app.wait_for("#org-role[data-role=member]").await;
    app.wait_text("#org-result", "Joined Coalition HQ").await;
    app.wait_for("#org-enrolment[data-enrolled=yes]").await;
    assert!(app.text("#org-enrolment").await.contains("Aigul's laptop"));
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
    app.seal_record().await;
    app.wait_for("#seal-state[data-state=sealed]").await;
    app.screenshot("sealed").await;
    app.click("#back").await;
    app.wait_for("#main-screen").await;
    // The status bar says what is waiting to go.
    app.wait_text("#unsent-count", "1 sealed version not yet sent")
        .await;
    app.click("#export").await;
    app.wait_for("#export-dialog").await;
    // It says beforehand what it will send.
    app.wait_text(
        "#export-preview",
        "sealed versions: 1; records: 1; attachments: 0",
    )
    .await;
    // The folder chosen, it says how many files it will write there and that they fit.
    app.type_into("#export-folder", &usb_path).await;
    let files = app.wait_text("#export-files", "Will write 1 file").await;
    assert!(files.contains("at most"), "{files}");
    assert_eq!(
        app.eval(
            "return document.querySelector('#export-files').dataset.fits",
            vec![]
        )
        .await,
        "true"
    );
    // Enter in the folder field exports, as the dialog's main action.
    app.type_into("#export-folder", crate::harness::ENTER).await;
    let done = app.wait_text("#export-result", &usb_path).await;
    // It counts what it counts: sealed versions, not records.
    assert!(
        done.contains("Sealed versions (records and amendments): 1;"),
        "{done}"
    );
    assert!(
        !app.is_visible("#unsent-count").await,
        "nothing is waiting any more"
    );
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
    hq.click_until(".incident-row", "#live-log-screen").await;
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
    // A refused import changed nothing, and its progress bar does not stay full as if it had.
    assert!(
        !hq.is_visible("#import-progress").await,
        "the progress bar is still shown after a refused import"
    );
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

    // HQ lists the device, with the key the monitor read out.
    hq.click("#org").await;
    hq.wait_count("#device-list li", 1).await;
    assert!(hq.text("#device-list li").await.contains(&device_key));
    assert!(hq.text("#device-list li").await.contains("Aigul's laptop"));
    hq.click("#org-close").await;
    hq.quit().await;

    // --- A monitor that joined with the profile only: its bundle waits in quarantine. --------
    let mut other_env = Env::new("exchange-unenrolled");
    other_env.write_settings("en", 300);
    other_env.create_vault();
    let mut other = unlock(&mut other_env).await;
    other.click("#org").await;
    other.wait_for("#org-role[data-role=none]").await;
    other
        .type_into("#org-profile-path", profiles[0].to_str().unwrap())
        .await;
    other.click("#org-join").await;
    other.wait_for("#org-enrolment[data-enrolled=no]").await;
    let other_key = other.text("#device-key").await;
    other.click("#org-close").await;
    other.click("#new-log").await;
    other.wait_for("#live-log-screen").await;
    other
        .type_into("#log-input", "Second monitor's entry")
        .await;
    other.press_enter("#log-input").await;
    other.wait_count(".log-entry", 1).await;
    other.seal_record().await;
    other.wait_for("#seal-state[data-state=sealed]").await;
    other.click("#back").await;
    other.wait_for("#main-screen").await;
    let other_usb = tempfile::tempdir().unwrap();
    other.click("#export").await;
    other.wait_for("#export-dialog").await;
    other
        .type_into("#export-folder", &other_usb.path().display().to_string())
        .await;
    other.click("#export-go").await;
    other
        .wait_text("#export-result", &other_usb.path().display().to_string())
        .await;
    other.quit().await;
    let held_bundle = files_with(other_usb.path(), "vigil").remove(0);

    let mut hq = unlock(&mut hq_env).await;
    let held = import(&mut hq, &held_bundle).await;
    assert!(held.starts_with("Nothing was imported"), "{held}");
    assert!(held.contains(&other_key), "the key to compare: {held}");
    hq.screenshot("import-quarantined").await;
    hq.click("#import-close").await;
    hq.click("#org").await;
    hq.wait_count("#quarantine-list li", 1).await;
    assert!(hq.text("#quarantine-list li").await.contains(&other_key));
    hq.eval(
        "document.querySelector('#org-quarantine-section').scrollIntoView(); return null",
        vec![],
    )
    .await;
    hq.screenshot("quarantine").await;
    hq.click("#accept-0").await;
    hq.click("#accept-0-yes").await;
    hq.wait_text("#org-result", "Accepted: 1 record imported.")
        .await;
    hq.wait_count("#device-list li", 2).await;
    hq.click("#org-close").await;
    hq.replace_text("#search", "Second monitor").await;
    hq.wait_count(".incident-row", 1).await;
    hq.quit().await;
}
