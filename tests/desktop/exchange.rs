//! Sealing and exporting from the window: the bundle written to a "USB stick" folder is
//! imported by an HQ vault, with the entry typed in the window.

use std::sync::Arc;

use serde_json::Value;
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_store::{KdfChoice, SystemClock, Vault};

use crate::harness::{Env, PASSPHRASE, TIMEOUT, serial};

fn vault(path: &std::path::Path) -> Vault {
    Vault::create(
        path,
        &Passphrase::new(PASSPHRASE.to_owned()),
        KdfChoice::Params(KdfParams::FLOOR),
        Arc::new(SystemClock),
    )
    .unwrap()
}

#[tokio::test]
async fn seal_and_export_from_the_window_then_import_at_hq() {
    let _turn = serial().await;
    let mut env = Env::new("exchange");
    env.write_settings("en", 300);
    let hq_dir = env.root.path().join("hq");
    let mut hq = vault(&hq_dir);
    let profile = hq.create_org("Coalition HQ", 1).unwrap();
    hq.close().unwrap();
    let mut monitor = vault(&env.vault);
    monitor.join_org(&profile.to_json_pretty()).unwrap();
    monitor.close().unwrap();
    let usb = env.root.path().join("usb-stick");
    std::fs::create_dir(&usb).unwrap();

    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.click("#new-log").await;
    app.wait_for("#live-log-screen").await;
    app.type_into("#log-input", "Police sealed the courtroom: kestrelwing")
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
    app.type_into("#export-folder", usb.to_str().unwrap()).await;
    app.click("#export-go").await;
    let folder = usb.display().to_string();
    app.wait_until("the export result", TIMEOUT, |c| {
        let folder = folder.clone();
        async move {
            c.execute(
                "const e = document.querySelector('#export-result');
                 return !!e && !e.hidden ? e.textContent : ''",
                vec![],
            )
            .await
            .is_ok_and(|v| matches!(v, Value::String(s) if s.contains(&folder)))
        }
    })
    .await;
    app.screenshot("export").await;
    app.quit().await;

    let bundles: Vec<_> = std::fs::read_dir(&usb)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "vigil"))
        .collect();
    assert_eq!(bundles.len(), 1, "one finished bundle, no temporary file");
    let mut hq = Vault::open(
        &hq_dir,
        &Passphrase::new(PASSPHRASE.to_owned()),
        Arc::new(SystemClock),
    )
    .unwrap();
    let report = vigil_exchange::import(&mut hq, &bundles[0]).unwrap();
    assert_eq!(report.applied, 1);
    let hits = hq.search("kestrelwing", 10).unwrap();
    assert_eq!(hits.len(), 1, "the entry typed in the window arrived at HQ");
    hq.close().unwrap();
}
