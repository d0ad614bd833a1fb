//! The whole journey over three launches sharing one vault and one private HOME: create a
//! vault, keep a running log, find it again by search, describe a party in the editor, see it
//! survive a restart; then check that nothing of it was written outside the vault.

use std::fs;

use serde_json::{Value, json};

use crate::harness::{App, Env, PASSPHRASE, TIMEOUT, serial};
use crate::traces;

/// The running log, one distinctive word per entry (all scanned for as traces).
const ENTRIES: [&str; 5] = [
    "09:40 arrived at the market square, quillwort stall closed",
    "09:52 two vans without plates parked by the obsidianlark pharmacy",
    "10:05 crowd dispersed, one man detained near the zebrafinch kiosk",
    "10:11 detainee taken towards tamarindo street",
    "10:30 shops reopened, halcyonpier bus stop quiet again",
];
const SEARCH_WORD: &str = "zebrafinch";
const TITLE: &str = "Marmoset square detention";
const PARTY: &str = "nine unknown individuals";
/// What must not appear anywhere outside the vault.
const MARKERS: [&str; 8] = [
    "quillwort",
    "obsidianlark",
    "zebrafinch",
    "tamarindo",
    "halcyonpier",
    "marmoset",
    "nine unknown individuals",
    // The passphrase, too.
    "correct horse battery staple",
];

#[tokio::test]
async fn create_log_search_edit_relaunch_and_leave_no_traces() {
    let _turn = serial().await;
    let mut env = Env::new("scenario");
    env.write_settings("en", 300);

    // --- Launch 1: create the vault and keep a running log. ---------------------------------
    let mut app = env.launch().await;
    app.wait_for("#create-screen").await;
    app.type_into("#create-passphrase", PASSPHRASE).await;
    app.type_into("#create-confirm", PASSPHRASE).await;
    app.screenshot("create").await;
    app.click("#create-submit").await;
    app.wait_for("#main-screen").await;
    app.wait_count(".incident-row", 0).await;
    app.screenshot("list-empty").await;

    app.click("#new-log").await;
    app.wait_for("#live-log-screen").await;
    for (i, entry) in ENTRIES.iter().enumerate() {
        app.type_into("#log-input", entry).await;
        app.press_enter("#log-input").await;
        // Stored (the entry is shown) and the field emptied before the next one is typed.
        app.wait_count(".log-entry", i as u64 + 1).await;
        wait_value(&mut app, "#log-input", "").await;
    }
    let timeline = app.text("#log-timeline").await;
    for entry in ENTRIES {
        assert!(
            timeline.contains(entry),
            "{entry:?} in the timeline:\n{timeline}"
        );
    }
    app.screenshot("live-log").await;
    let exited = app.quit().await;
    eprintln!("launch 1: app exited by itself: {exited}");

    // --- Launch 2: unlock, search, open, edit. ----------------------------------------------
    let mut app = env.launch().await;
    app.wait_for("#unlock-screen").await;
    app.screenshot("unlock").await;
    unlock(&mut app).await;

    // A word that matches nothing empties the list; the word from entry 3 finds the incident.
    app.replace_text("#search", "nosuchwordanywhere").await;
    app.wait_count(".incident-row", 0).await;
    app.replace_text("#search", SEARCH_WORD).await;
    app.wait_count(".incident-row", 1).await;
    app.click_until(".incident-row", "#live-log-screen").await;
    app.wait_count(".log-entry", ENTRIES.len() as u64).await;
    let timeline = app.text("#log-timeline").await;
    assert!(
        timeline.contains(ENTRIES[2]),
        "the log is back:\n{timeline}"
    );

    app.click("#open-editor").await;
    app.wait_for("#editor-screen").await;
    app.replace_text("#field-title", TITLE).await;
    let parties_before = app.count(".party").await;
    app.click("#add-party").await;
    app.wait_count(".party", parties_before + 1).await;
    let party = format!(".party:nth-child({})", parties_before + 1);
    let party = if parties_before == 0 {
        ".party".to_owned()
    } else {
        party
    };
    set_field(&mut app, &format!("{party} [data-field=kind]"), "group").await;
    // A group is described rather than named; fall back to the name field if that is all.
    let description = format!("{party} [data-field=description]");
    if app.is_visible(&description).await {
        app.replace_text(&description, PARTY).await;
    } else {
        app.replace_text(&format!("{party} [data-field=name]"), PARTY)
            .await;
    }
    app.replace_text(&format!("{party} [data-field=unit]"), "individuals")
        .await;
    app.replace_text(&format!("{party} [data-field=size]"), "9")
        .await;
    watch_save_state(&app).await;
    app.click(&format!("{party} [data-role=perpetrator]")).await;
    wait_saved(&mut app).await;
    app.screenshot("editor").await;
    let exited = app.quit().await;
    eprintln!("launch 2: app exited by itself: {exited}");

    // --- Launch 3: everything is still there. ------------------------------------------------
    let mut app = env.launch().await;
    unlock(&mut app).await;
    app.wait_count(".incident-row", 1).await;
    app.click_until(".incident-row", "#live-log-screen").await;
    app.wait_count(".log-entry", ENTRIES.len() as u64).await;
    app.click("#open-editor").await;
    app.wait_for("#editor-screen").await;
    assert_eq!(app.value("#field-title").await, TITLE);
    app.wait_count(".party", 1).await;
    let party = app
        .eval(
            r#"const p = document.querySelector('.party');
               const v = f => { const e = p.querySelector(`[data-field=${f}]`);
                                return e ? (e.value ?? e.textContent) : null; };
               const role = p.querySelector('[data-role=perpetrator]');
               return { kind: v('kind'), name: v('name'), description: v('description'),
                        unit: v('unit'), size: v('size'), perpetrator: !!role && role.checked };"#,
            vec![],
        )
        .await;
    let text_of = |f: &str| party[f].as_str().unwrap_or("").to_owned();
    assert!(
        text_of("description").contains(PARTY) || text_of("name").contains(PARTY),
        "the party is back: {party}"
    );
    assert_eq!(party["kind"], json!("group"), "{party}");
    assert_eq!(text_of("unit"), "individuals", "{party}");
    assert_eq!(text_of("size"), "9", "{party}");
    assert_eq!(party["perpetrator"], json!(true), "{party}");
    // Nothing typed reaches a command line: every process of the app, read while it runs.
    traces::assert_not_on_command_lines(&app.process_ids(), &MARKERS);
    let exited = app.quit().await;
    eprintln!("launch 3: app exited by itself: {exited}");

    // --- No traces outside the vault. --------------------------------------------------------
    let root = env.root.path();
    // Control: the scan finds a marker planted where the app could have written one.
    let planted = root.join("tmp").join("control.bin");
    let utf16: Vec<u8> = "…zebrafinch…"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    fs::write(&planted, utf16).unwrap();
    let hits = traces::scan(root, &env.vault, &MARKERS);
    assert!(
        hits.iter()
            .any(|h| h.file == planted && h.marker == "zebrafinch"),
        "the control marker must be found: {hits:?}"
    );
    fs::remove_file(&planted).unwrap();

    let hits = traces::scan(root, &env.vault, &MARKERS);
    assert!(
        hits.is_empty(),
        "report content outside the vault: {hits:#?}\nfiles outside the vault:\n{:#?}",
        traces::list_files(root, &env.vault)
    );
    // What the app and WebKit left behind (shown with --nocapture).
    let files = traces::list_files(root, &env.vault);
    let mut by_dir = std::collections::BTreeMap::<String, usize>::new();
    for f in &files {
        let rel = f.strip_prefix(root).unwrap_or(f);
        let top: Vec<_> = rel.iter().take(3).map(|c| c.to_string_lossy()).collect();
        *by_dir
            .entry(top[..top.len().saturating_sub(1)].join("/"))
            .or_default() += 1;
    }
    eprintln!(
        "no traces: scanned {} files outside the vault: {by_dir:?}",
        files.len()
    );
}

async fn unlock(app: &mut App) {
    app.wait_for("#unlock-screen").await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
}

/// Waits until the form field `css` has `value`.
async fn wait_value(app: &mut App, css: &str, value: &str) {
    let (sel, want) = (css.to_owned(), value.to_owned());
    app.wait_until(&format!("`{css}` to hold {value:?}"), TIMEOUT, move |c| {
        let (sel, want) = (sel.clone(), want.clone());
        async move {
            c.execute(
                "const e = document.querySelector(arguments[0]); return e ? e.value : null",
                vec![json!(sel)],
            )
            .await
            .is_ok_and(|v| v == Value::String(want))
        }
    })
    .await;
}

/// Sets a party field: chooses the option in a `<select>`, else types.
async fn set_field(app: &mut App, css: &str, value: &str) {
    let tag = app.wait_for(css).await.tag_name().await.unwrap_or_default();
    if tag.eq_ignore_ascii_case("select") {
        app.select(css, value).await;
    } else {
        app.replace_text(css, value).await;
    }
}

/// Starts counting changes of any `data-state` (the save indicator) in the page, so that
/// [`wait_saved`] waits for a save that happened after this point rather than an earlier one.
async fn watch_save_state(app: &App) {
    app.eval(
        r#"window.__vigilSaveChanges = 0;
           new MutationObserver(() => { window.__vigilSaveChanges += 1; })
             .observe(document.body, { subtree: true, childList: true,
                                       attributes: true, attributeFilter: ['data-state'] });
           return true;"#,
        vec![],
    )
    .await;
}

async fn wait_saved(app: &mut App) {
    app.wait_until(
        "#save-state[data-state=saved] after the last edit",
        TIMEOUT,
        |c| async move {
            c.execute(
                "const s = document.querySelector('#save-state');
                 return window.__vigilSaveChanges > 0 && !!s && s.dataset.state === 'saved'",
                vec![],
            )
            .await
            .is_ok_and(|v| v == Value::Bool(true))
        },
    )
    .await;
}
