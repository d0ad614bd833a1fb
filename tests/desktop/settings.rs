//! The settings screen: switching the interface to Russian.

use crate::harness::{App, Env, PASSPHRASE, TIMEOUT, serial};

fn has_cyrillic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// The settings screen's text without its `<select>`s: the language menu names each language
/// in itself ("Русский") whatever the interface language is.
const SETTINGS_TEXT_JS: &str = r#"
const s = document.querySelector('#settings-screen').cloneNode(true);
s.querySelectorAll('select').forEach(e => e.remove());
return s.textContent;
"#;

async fn settings_text(app: &App) -> String {
    app.eval(SETTINGS_TEXT_JS, vec![])
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn switching_to_russian_translates_the_window() {
    let _turn = serial().await;
    let mut env = Env::new("russian");
    env.create_vault();
    env.write_settings("en", 300);
    let mut app = env.launch().await;

    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    let lock_en = app.text("#lock").await;
    assert!(!has_cyrillic(&lock_en), "starts in English: {lock_en:?}");

    app.click("#open-settings").await;
    app.wait_for("#settings-screen").await;
    app.screenshot("settings").await;
    let settings_en = settings_text(&app).await;
    assert!(
        !has_cyrillic(&settings_en),
        "starts in English: {settings_en:?}"
    );

    app.select("#setting-language", "ru").await;
    app.wait_until(
        "the settings screen to be in Russian",
        TIMEOUT,
        |c| async move {
            c.execute(SETTINGS_TEXT_JS, vec![])
                .await
                .ok()
                .and_then(|v| v.as_str().map(has_cyrillic))
                .unwrap_or(false)
        },
    )
    .await;
    app.screenshot("settings-ru").await;
    // It says that the choice was saved, in the new language.
    let saved = app.wait_text("#settings-saved", "Сохранено").await;
    assert!(saved.contains("Сохранено"), "{saved:?}");

    app.click("#settings-close").await;
    app.wait_for("#main-screen").await;
    let lock_ru = app.text("#lock").await;
    assert!(
        has_cyrillic(&lock_ru) && lock_ru != lock_en,
        "#lock should now be in Russian: {lock_ru:?}"
    );
    app.quit().await;
}

/// Issue 11: counts in Kyrgyz read "2 жазуу", not the raw template "other=2 жазуу". Two
/// incidents, with 2 and 5 running-log entries, in a window started in Kyrgyz.
#[tokio::test]
async fn kyrgyz_counts_read_as_words() {
    use vigil_model::{Incident, IncidentId};

    let _turn = serial().await;
    let mut env = Env::new("kyrgyz-plurals");
    env.create_vault();
    env.write_settings("ky", 300);
    let mut vault = crate::harness::open_vault(&env.vault);
    for (title, entries) in [("Сот отуруму", 2), ("Митинг", 5)] {
        let id = IncidentId::new();
        vault
            .create_incident(&Incident::new(id, title, vault.now()))
            .unwrap();
        for i in 0..entries {
            vault.append_log(id, &format!("жазуу {i}"), false).unwrap();
        }
    }
    vault.close().unwrap();

    let mut app = env.launch().await;
    app.type_into("#passphrase", PASSPHRASE).await;
    app.click("#unlock").await;
    app.wait_for("#main-screen").await;
    app.wait_count(".incident-row", 2).await;
    let list = app
        .eval("return document.body.innerText", vec![])
        .await
        .as_str()
        .unwrap_or("")
        .to_owned();
    app.screenshot("list-ky-counts").await;
    assert!(
        !list.contains("other=") && !list.contains("one="),
        "a raw plural template in: {list}"
    );
    for want in ["2 жазуу", "5 жазуу", "2 окуя"] {
        assert!(list.contains(want), "{want:?} is not in: {list}");
    }
    app.quit().await;
}
