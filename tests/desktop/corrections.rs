//! Corrections and late notes in the running log (issue 11): a garbled entry is corrected by a
//! new entry (the original stays, struck through, with the correction beside it), an event
//! noted late says when it happened, both are sealed, exported, imported at HQ, and HQ's window
//! shows the log exactly as the monitor's did. Entries written after a seal are set apart.

use serde_json::Value;
use vigil_exchange::{Selection, export, import};
use vigil_model::{Incident, IncidentId};

use crate::harness::{App, Env, PASSPHRASE, new_vault, open_vault_after_app, serial};

/// What the timeline shows, item by item: its classes and every visible part in order.
async fn timeline(app: &App) -> Value {
    app.eval(
        "return Array.from(document.querySelectorAll('#log-timeline > li')).map(li => [
           li.className,
           Array.from(li.querySelectorAll('time, .happened, .corrects-note, .text, .correction-beside .small'))
             .map(e => e.tagName + ':' + e.textContent)
         ]);",
        vec![],
    )
    .await
}

async fn unlock_and_open_log(app: &mut App) {
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.click_until(".incident-row", "#live-log-screen").await;
    app.wait_for("#log-input").await;
}

#[tokio::test]
async fn a_correction_and_a_late_note_are_sealed_and_shown_at_hq_as_at_the_monitor() {
    let _turn = serial().await;
    let mut monitor_env = Env::new("corrections-monitor");
    let mut hq_env = Env::new("corrections-hq");
    monitor_env.write_settings("en", 300);
    hq_env.write_settings("en", 300);

    // HQ's organisation and the monitor's enrolment, through the crates.
    let mut hq = new_vault(&hq_env.vault);
    let profile = hq.create_org("Coalition HQ", 1).unwrap();
    let invitation = hq.issue_invitation("Field laptop", 14).unwrap();
    hq.close().unwrap();
    let mut monitor = new_vault(&monitor_env.vault);
    monitor
        .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
        .unwrap();
    let id = IncidentId::new();
    monitor
        .create_incident(&Incident::new(
            id,
            "Lawyers' meeting, Bishkek",
            monitor.now(),
        ))
        .unwrap();
    monitor
        .append_log(id, "eihgt men etner the ofice", false)
        .unwrap();
    monitor
        .append_log(id, "they ask for identity papers", true)
        .unwrap();
    monitor.close().unwrap();

    let mut app = monitor_env.launch().await;
    unlock_and_open_log(&mut app).await;
    app.wait_count("#log-timeline > li", 2).await;

    // Correct the first entry: the input takes its text, which is then fixed.
    app.click("#log-timeline > li[data-seq='1'] .entry-correct")
        .await;
    app.wait_for("#log-correcting").await;
    assert_eq!(app.value("#log-input").await, "eihgt men etner the ofice");
    app.replace_text("#log-input", "eight men enter the office")
        .await;
    app.press_enter("#log-input").await;
    app.wait_count(".log-entry.corrected", 1).await;
    assert!(!app.is_visible("#log-correcting").await);
    assert_eq!(
        app.text(".log-entry.corrected s.text").await,
        "eihgt men etner the ofice"
    );
    assert_eq!(
        app.text(".log-entry.corrected .correction-beside .text")
            .await,
        "eight men enter the office"
    );
    app.wait_count(".log-entry.correction .corrects-note", 1)
        .await;

    // A note of something that happened earlier: a wrong time is refused and keeps the text.
    app.click("#log-when").await;
    app.type_into("#log-happened", "27:15").await;
    app.type_into("#log-input", "a van waited outside").await;
    app.press_enter("#log-input").await;
    app.wait_for("#log-happened-error").await;
    assert_eq!(app.value("#log-input").await, "a van waited outside");
    app.replace_text("#log-happened", "00:00").await;
    app.press_enter("#log-input").await;
    app.wait_count(".log-entry .happened", 1).await;
    assert_eq!(app.text(".log-entry .happened").await, "happened 00:00");
    assert!(!app.is_visible("#log-happened").await, "one entry only");

    // Sealed: every entry is marked sealed, and there is nothing after the seal yet.
    app.seal_record().await;
    app.wait_count(".log-entry.sealed", 4).await;
    assert_eq!(app.count("#sealed-divider").await, 0);
    let at_monitor = timeline(&app).await;

    // An entry written after the seal is set apart from the sealed ones.
    app.type_into("#log-input", "the police leave").await;
    app.press_enter("#log-input").await;
    app.wait_for("#sealed-divider").await;
    app.wait_count(".log-entry:not(.pending)", 5).await;
    assert_eq!(app.count(".log-entry.sealed").await, 4);
    let last: Value = app
        .eval(
            "const items = document.querySelectorAll('#log-timeline > li');
             return [items[4].id, items[5].className];",
            vec![],
        )
        .await;
    assert_eq!(last, serde_json::json!(["sealed-divider", "log-entry"]));
    assert!(app.quit().await);

    // The bundle goes to HQ and is imported there.
    let mut monitor = open_vault_after_app(&monitor_env.vault);
    let bundle = monitor_env.root.path().join("b.vigil");
    export(&mut monitor, &Selection::Unsent, &bundle).unwrap();
    monitor.close().unwrap();
    let mut hq = open_vault_after_app(&hq_env.vault);
    let report = import(&mut hq, &bundle).unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    hq.close().unwrap();

    // HQ's window shows the log exactly as the monitor's did at the seal.
    let mut app = hq_env.launch().await;
    unlock_and_open_log(&mut app).await;
    app.wait_count(".log-entry", 4).await;
    assert_eq!(timeline(&app).await, at_monitor);
    assert!(app.quit().await);
}
