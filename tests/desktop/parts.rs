//! A record larger than one bundle file, carried in parts: HQ holding the first bundle and only
//! some of the parts sees, in the window and in each language, which parts are missing (nothing
//! clipped); once the rest is imported through the window's import dialog, the attachment is
//! whole.

use std::path::PathBuf;

use vigil_exchange::{Limits, Selection, import};
use vigil_model::{Incident, IncidentId};

use crate::harness::{Env, PASSPHRASE, new_vault};

/// HQ's vault (the window's) with the first bundle and the third of a record cut into parts;
/// returns every bundle, in order.
fn hq_with_some_parts(env: &Env) -> Vec<PathBuf> {
    let root = env.root.path().to_path_buf();
    let mut hq = new_vault(&env.vault);
    let profile = hq.create_org("Coalition HQ", 1).unwrap();
    let invitation = hq.issue_invitation("Aigul's laptop", 14).unwrap();
    let mut monitor = new_vault(&root.join("monitor"));
    monitor
        .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
        .unwrap();
    let id = IncidentId::new();
    monitor
        .create_incident(&Incident::new(
            id,
            "Recording of the hearing",
            monitor.now(),
        ))
        .unwrap();
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    monitor
        .add_attachment(id, "hearing.mp4", "video/mp4", &bytes[..], None)
        .unwrap();
    monitor.seal(id).unwrap();
    let limits = Limits {
        max_file: Some(1_000_000),
        ..Limits::default()
    };
    let bundles: Vec<PathBuf> = vigil_exchange::export_all(
        &mut monitor,
        &Selection::Unsent,
        &root.join("b.vigil"),
        limits,
    )
    .unwrap()
    .into_iter()
    .map(|r| r.path)
    .collect();
    assert!(bundles.len() >= 4, "{bundles:?}");
    import(&mut hq, &bundles[0]).unwrap();
    import(&mut hq, &bundles[2]).unwrap();
    hq.close().unwrap();
    monitor.close().unwrap();
    bundles
}

#[tokio::test]
async fn missing_parts_are_shown_in_three_languages_until_the_rest_arrive() {
    let _turn = crate::harness::serial().await;
    for lang in ["en", "ru", "ky"] {
        let mut env = Env::new(&format!("parts-{lang}"));
        env.write_settings(lang, 300);
        let bundles = hq_with_some_parts(&env);
        let mut app = env.launch().await;
        app.type_into("#passphrase", PASSPHRASE).await;
        app.click("#unlock").await;
        app.wait_for("#main-screen").await;
        app.click_until(".incident-row", "#live-log-screen").await;
        app.wait_for(".attachment .parts-missing").await;
        let missing = app
            .eval(
                "const p = document.querySelector('.parts-missing');
                 const box = p.closest('.attachments').getBoundingClientRect();
                 const clipped = Array.from(p.querySelectorAll('*')).concat([p])
                   .some(e => e.getBoundingClientRect().right > box.right + 1
                           || e.scrollWidth > e.clientWidth + 1);
                 return [p.dataset.missing, p.dataset.of, p.textContent, clipped];",
                vec![],
            )
            .await;
        let of: usize = missing[1].as_str().unwrap().parse().unwrap();
        assert_eq!(of, bundles.len(), "{lang}: one part per bundle: {missing}");
        let numbers: Vec<&str> = missing[0].as_str().unwrap().split(' ').collect();
        assert_eq!(numbers.len(), of - 2, "{lang}: {missing}");
        assert!(
            !numbers.contains(&"1") && !numbers.contains(&"3"),
            "{lang}: {missing}"
        );
        let text = missing[2].as_str().unwrap();
        assert!(text.contains(&numbers.join(", ")), "{lang}: {text}");
        assert_eq!(
            text.contains("Incomplete"),
            lang == "en",
            "{lang}: translated: {text}"
        );
        assert_eq!(missing[3], false, "{lang}: nothing clipped: {text}");
        app.screenshot(&format!("parts-missing-{lang}")).await;

        if lang == "en" {
            // The rest, through the window's import dialog: the attachment becomes whole.
            app.click("#back").await;
            app.wait_for("#main-screen").await;
            for b in &bundles {
                app.click("#import").await;
                app.wait_for("#import-dialog").await;
                app.type_into("#import-path", b.to_str().unwrap()).await;
                app.click("#import-go").await;
                app.wait_text("#import-result", ".").await;
                app.click("#import-close").await;
            }
            app.click_until(".incident-row", "#live-log-screen").await;
            app.wait_for(".attachment").await;
            let left = app
                .eval(
                    "return document.querySelectorAll('.parts-missing').length;",
                    vec![],
                )
                .await;
            assert_eq!(left, 0, "the attachment is whole");
        }
        app.quit().await;
    }
}
