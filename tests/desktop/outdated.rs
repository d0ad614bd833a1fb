//! An edit waiting at HQ to amend a sealed record, when the monitor's newer amendment arrives
//! meanwhile: the editor says so and lets the person discard the edit (or keep it on top); it
//! never seals over the newer version unseen.

use vigil_exchange::{Selection, export, import};
use vigil_model::{Incident, IncidentId};

use crate::harness::{Env, PASSPHRASE, new_vault};

#[tokio::test]
async fn an_outdated_edit_is_shown_as_such_and_can_be_discarded() {
    let _turn = crate::harness::serial().await;
    let mut env = Env::new("outdated");
    env.write_settings("en", 300);
    // HQ (the window's vault) and a monitor, prepared through the crates.
    let mut hq = new_vault(&env.vault);
    let mut monitor = new_vault(&env.root.path().join("monitor"));
    let profile = hq.create_org("HQ", 1).unwrap();
    let invitation = hq.issue_invitation("Monitor's laptop", 14).unwrap();
    monitor
        .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
        .unwrap();
    let id = IncidentId::new();
    monitor
        .create_incident(&Incident::new(id, "Hearing", monitor.now()))
        .unwrap();
    monitor.seal(id).unwrap();
    let b1 = env.root.path().join("b1.vigil");
    export(&mut monitor, &Selection::Unsent, &b1).unwrap();
    import(&mut hq, &b1).unwrap();
    let mut edit = hq.incident(id).unwrap();
    edit.summary = "HQ's unsealed note".into();
    hq.save_draft(&edit).unwrap();
    let mut next = monitor.incident(id).unwrap();
    next.title = "Hearing, postponed".into();
    monitor.amend(id, &next).unwrap();
    let b2 = env.root.path().join("b2.vigil");
    export(&mut monitor, &Selection::Unsent, &b2).unwrap();
    import(&mut hq, &b2).unwrap();
    hq.close().unwrap();

    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.click_until(".incident-row", "#live-log-screen").await;
    app.click("#open-editor").await;
    app.wait_for("#draft-outdated").await;
    assert_eq!(
        app.value("#field-title").await,
        "Hearing",
        "the edit is shown"
    );
    // Sealing it as it is would undo the newer version: refused, in words.
    app.click("#seal-amendment").await;
    app.wait_text("#save-state", "amended elsewhere").await;
    app.screenshot("outdated").await;
    app.click("#draft-discard").await;
    app.wait_until(
        "the newer version",
        crate::harness::TIMEOUT,
        |c| async move {
            c.execute(
                "return !document.querySelector('#draft-outdated') && \
             document.querySelector('#field-title')?.value === 'Hearing, postponed'",
                vec![],
            )
            .await
            .is_ok_and(|v| v == serde_json::Value::Bool(true))
        },
    )
    .await;
    app.quit().await;

    let hq = crate::harness::open_vault_after_app(&env.vault);
    assert!(hq.draft(id).unwrap().is_none(), "the edit was discarded");
    assert_eq!(hq.revisions(id).unwrap().len(), 2, "nothing sealed over it");
}
