//! Sealed records change only by signed amendments, from the window: the running log goes on
//! after a seal and is sealed again; an edit in the report is kept until "Seal amendment"; the
//! History dialog shows each revision naming the one it amends, all signatures verified.

use crate::harness::Env;

#[tokio::test]
async fn the_log_goes_on_after_a_seal_and_edits_become_signed_amendments() {
    let _turn = crate::harness::serial().await;
    let mut env = Env::new("amend");
    env.write_settings("en", 300);
    env.create_vault();
    let mut app = env.launch().await;
    app.unlock_and_log("10:30 nine men enter the office").await;
    app.seal_record().await;
    app.wait_for("#seal-state[data-state=sealed]").await;
    // From now on the button records amendments, and says so.
    let button = app.text("#seal").await;
    assert_eq!(button, "Seal amendment");

    // Sealing again with nothing new is refused, in words.
    app.seal_record().await;
    app.wait_text("#seal-state", "Nothing changed since the last seal")
        .await;
    // The log goes on; sealing again records the new entry as an amendment.
    app.type_into("#log-input", "10:52 two lawyers taken away")
        .await;
    app.press_enter("#log-input").await;
    app.wait_count(".log-entry", 2).await;
    app.seal_record().await;
    app.wait_for("#seal-state[data-state=sealed]").await;

    // An edit in the sealed report waits for "Seal amendment".
    app.click("#open-editor").await;
    app.wait_for("#editor-screen").await;
    app.replace_text("#field-title", "Lawyers' meeting broken up")
        .await;
    app.wait_for("#save-state[data-state=pending]").await;
    app.click("#seal-amendment").await;
    app.wait_for("#save-state[data-state=sealed]").await;
    app.screenshot("amendment").await;
    app.click("#back").await;
    app.wait_for("#live-log-screen").await;
    app.click("#open-history").await;
    app.wait_count("#history-revisions li", 3).await;
    let revisions = app
        .eval(
            "return Array.from(document.querySelectorAll('#history-revisions li'))
               .map(e => e.textContent.includes('signature verified')).join(' ')",
            vec![],
        )
        .await;
    assert_eq!(revisions, serde_json::json!("true true true"));
    let amends = app
        .eval(
            "return document.querySelectorAll('#history-revisions li .amends').length",
            vec![],
        )
        .await;
    assert_eq!(
        amends,
        serde_json::json!(2),
        "the 2nd and 3rd name the one they amend"
    );
    app.quit().await;

    // What the window sealed is in the vault: three revisions, the last with the new title.
    let vault = crate::harness::open_vault_after_app(&env.vault);
    let id = vault
        .list_incidents(&vigil_store::ListQuery::default())
        .unwrap()[0]
        .id;
    let revs = vault.revisions(id).unwrap();
    assert_eq!(revs.len(), 3);
    assert_eq!(revs[2].amends, Some(revs[1].id));
    assert_eq!(revs[1].amends, Some(revs[0].id));
    assert_eq!(
        revs[2].document().unwrap().incident.title,
        "Lawyers' meeting broken up"
    );
    assert_eq!(revs[2].document().unwrap().log.len(), 2);
    vault.verify_chain().unwrap();
}
