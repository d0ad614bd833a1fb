//! HQ's Organisation dialog in all three languages, with a device in its register and a bundle
//! in quarantine: every line is translated and nothing runs out of the dialog.

use vigil_exchange::{Selection, export, import};
use vigil_model::{Incident, IncidentId};
use vigil_store::Vault;

use crate::harness::{Env, PASSPHRASE, new_vault};

fn seal_one(v: &mut Vault, title: &str) {
    let id = IncidentId::new();
    v.create_incident(&Incident::new(id, title, v.now()))
        .unwrap();
    v.append_log(id, "10:30 nine men enter", false).unwrap();
    v.seal(id).unwrap();
}

#[tokio::test]
async fn hqs_devices_and_quarantine_in_three_languages() {
    let _turn = crate::harness::serial().await;
    for lang in ["en", "ru", "ky"] {
        let mut env = Env::new(&format!("trust-{lang}"));
        env.write_settings(lang, 300);
        let root = env.root.path().to_path_buf();
        // HQ (the window's vault), one enrolled monitor and one that joined without an
        // invitation, prepared through the crates.
        let mut hq = new_vault(&env.vault);
        let profile = hq.create_org("Правозащитный центр «Бишкек»", 1).unwrap();
        let invitation = hq.issue_invitation("Ноутбук Айгуль (полевой)", 14).unwrap();
        hq.issue_invitation("Айгүлдүн экинчи ноутбугу", 14).unwrap();
        let mut enrolled = new_vault(&root.join("enrolled"));
        enrolled
            .join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())
            .unwrap();
        seal_one(&mut enrolled, "Hearing");
        let b1 = root.join("b1.vigil");
        export(&mut enrolled, &Selection::Unsent, &b1).unwrap();
        import(&mut hq, &b1).unwrap();
        let mut stranger = new_vault(&root.join("stranger"));
        stranger.join_org(&profile.to_json_pretty()).unwrap();
        seal_one(&mut stranger, "Detention visit");
        let b2 = root.join("b2.vigil");
        export(&mut stranger, &Selection::Unsent, &b2).unwrap();
        assert!(import(&mut hq, &b2).unwrap().quarantined.is_some());
        hq.close().unwrap();
        enrolled.close().unwrap();
        stranger.close().unwrap();

        let mut app = env.launch().await;
        app.type_into("#passphrase", PASSPHRASE).await;
        app.click("#unlock").await;
        app.wait_for("#main-screen").await;
        app.click("#org").await;
        app.wait_count("#quarantine-list li", 1).await;
        app.wait_count("#device-list li", 1).await;
        app.wait_count("#invitation-list li", 1).await;
        // Translated: the reason is not the English one outside English.
        let reason = app.text(".quarantine-reason").await;
        assert_eq!(
            reason.starts_with("The device was not enrolled"),
            lang == "en",
            "{lang}: {reason}"
        );
        // Nothing wider than the dialog.
        let overflow = app
            .eval(
                "const d = document.querySelector('#org-dialog');
                 return Array.from(d.querySelectorAll('*'))
                   .filter(e => e.getBoundingClientRect().right > d.getBoundingClientRect().right + 1)
                   .map(e => e.id || e.className || e.tagName);",
                vec![],
            )
            .await;
        assert_eq!(overflow, serde_json::json!([]), "{lang}");
        app.click("#accept-0").await;
        app.wait_for("#accept-0-yes").await;
        app.screenshot(&format!("quarantine-{lang}")).await;
        app.eval(
            "document.querySelector('#org-devices-section').scrollIntoView(); return null",
            vec![],
        )
        .await;
        app.screenshot(&format!("devices-{lang}")).await;
        app.quit().await;
    }
}
