//! The window at 1100×720 in English, Russian and Kyrgyz (issue 11): the list, the running
//! log, the editor and the export dialog, each screenshot for docs/screenshots, and each
//! checked for what a person would notice: a cut title, a wrapped filter row, a search box
//! squeezed to nothing, a button whose words do not fit, a raw translation template.

use serde_json::Value;
use vigil_model::{Incident, IncidentId};

use crate::harness::{App, Env, PASSPHRASE, new_vault, serial};

const TITLE: &str = "Police interrupt a meeting of lawyers in Bishkek";

/// A monitor's vault, enrolled with an organisation: one sealed record waiting to be sent and
/// the running log of the meeting.
fn seed(env: &Env) -> IncidentId {
    let mut hq = new_vault(&env.root.path().join("hq"));
    let mut monitor = new_vault(&env.vault);
    let profile = hq.create_org("Bishkek Human Rights Centre", 1).unwrap();
    let invitation = hq.issue_invitation("Monitor's laptop", 14).unwrap();
    monitor
        .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
        .unwrap();
    let sealed = IncidentId::new();
    monitor
        .create_incident(&Incident::new(sealed, "Hearing postponed", monitor.now()))
        .unwrap();
    monitor.seal(sealed).unwrap();
    let id = IncidentId::new();
    monitor
        .create_incident(&Incident::new(id, TITLE, monitor.now()))
        .unwrap();
    for text in [
        "10:02 nine men in plain clothes enter without a warrant",
        "10:04 they film every lawyer's face",
        "10:09 phones taken; the meeting ends",
    ] {
        monitor.append_log(id, text, false).unwrap();
    }
    monitor.close().unwrap();
    hq.close().unwrap();
    id
}

/// What is wrong with the layout on screen now, as readable lines (empty: nothing).
const LAYOUT_PROBLEMS_JS: &str = r#"
const problems = [];
const visible = (e) => e.getClientRects().length > 0 && !e.closest('[hidden]');
// A control or heading whose words do not fit the box it is given.
for (const e of document.querySelectorAll('button, h1, h2, .caption, .badge, label, .incident-row .title')) {
  if (!visible(e)) continue;
  const style = getComputedStyle(e);
  const clips = style.overflowX !== 'visible' || style.textOverflow === 'ellipsis';
  if (clips && e.scrollWidth > e.clientWidth + 1) {
    problems.push(`cut: <${e.tagName.toLowerCase()} id=${e.id}> "${e.textContent.trim()}" (${e.scrollWidth} > ${e.clientWidth} px)`);
  }
}
const title = document.querySelector('#log-title');
if (title && visible(title) && title.textContent !== arguments[0]) {
  problems.push(`the log's title reads "${title.textContent}"`);
}
const filters = document.querySelector('.filters');
if (filters && visible(filters)) {
  const tops = new Set([...filters.children].filter(visible).map((c) => Math.round(c.getBoundingClientRect().bottom)));
  if (tops.size > 1) problems.push(`the filter row wraps (${[...tops].join(', ')})`);
}
const search = document.querySelector('#search');
if (search && visible(search) && search.getBoundingClientRect().width < 250) {
  problems.push(`the search box is ${Math.round(search.getBoundingClientRect().width)} px wide`);
}
const text = document.body.innerText;
const raw = text.match(/\b(zero|one|two|few|many|other)=|\{[a-z_]+\}/);
if (raw) problems.push(`raw template text: ${raw[0]}`);
if (Math.abs(window.innerWidth - 1100) > 2 || Math.abs(window.innerHeight - 720) > 60) {
  problems.push(`the window is ${window.innerWidth}×${window.innerHeight}, not 1100×720`);
}
return problems.join('\n');
"#;

async fn check(app: &App, lang: &str, screen: &str, problems: &mut Vec<String>) {
    let name = format!("{screen}-{lang}");
    let found = app
        .eval(LAYOUT_PROBLEMS_JS, vec![Value::String(TITLE.into())])
        .await;
    // The first screen after an unlock can be captured before WebKit paints it: give it a
    // moment after the checks (which force a layout), then take the picture.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    app.screenshot(&name).await;
    let found = found.as_str().unwrap_or("(no answer)");
    if !found.is_empty() {
        problems.push(format!("{name}:\n{found}"));
    }
}

#[tokio::test]
async fn the_main_screens_fit_1100_by_720_in_every_language() {
    let _turn = serial().await;
    let mut problems = Vec::new();
    for lang in ["en", "ru", "ky"] {
        let mut env = Env::new(&format!("layout-{lang}"));
        let id = seed(&env);
        env.write_settings(lang, 300);
        let mut app = env.launch().await;
        app.type_into("#passphrase", PASSPHRASE).await;
        app.click("#unlock").await;
        app.wait_for("#main-screen").await;
        app.wait_count(".incident-row", 2).await;
        check(&app, lang, "list", &mut problems).await;

        app.click_until(
            &format!(".incident-row[data-id='{id}']"),
            "#live-log-screen",
        )
        .await;
        app.wait_count("#log-timeline .log-entry", 3).await;
        check(&app, lang, "live-log", &mut problems).await;

        app.click("#open-editor").await;
        app.wait_for("#editor-screen").await;
        check(&app, lang, "editor", &mut problems).await;

        app.click("#back").await;
        app.wait_for("#live-log-screen").await;
        app.click("#back").await;
        app.wait_for("#main-screen").await;
        app.click("#export").await;
        app.wait_for("#export-go").await;
        check(&app, lang, "export", &mut problems).await;

        app.type_into("#export-go", "\u{E00C}").await;
        app.click("#open-settings").await;
        app.wait_for("#settings-safety").await;
        // The field-safety section, at the foot of the dialog, in view.
        app.eval(
            "const d = document.querySelector('#settings-screen'); d.scrollTop = d.scrollHeight; return null",
            vec![],
        )
        .await;
        check(&app, lang, "settings", &mut problems).await;
        app.type_into("#settings-close", "\u{E009}\u{E008}\u{E017}\u{E000}")
            .await;
        app.wait_for("#quick-delete-dialog").await;
        check(&app, lang, "quick-delete", &mut problems).await;
        app.click("#quick-delete-cancel").await;
        app.quit().await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
