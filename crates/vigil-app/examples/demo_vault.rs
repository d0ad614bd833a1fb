//! Writes a small demo vault with made-up incidents, for trying the desktop app and for its
//! end-to-end tests:
//!
//! ```text
//! cargo run -p vigil-app --example demo_vault -- DIR PASSPHRASE
//! target/debug/vigil-desktop --vault DIR
//! ```
//!
//! The passphrase is taken from the command line, where other users of the machine can see it:
//! use this only for demo data.

use std::path::PathBuf;
use std::sync::Arc;

use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_model::{Incident, IncidentId, Party, PartyId, PartyKind, Precision, Role};
use vigil_store::{Clock, KdfChoice, SystemClock, Vault};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), Some(pass)) = (args.next(), args.next()) else {
        eprintln!("usage: demo_vault DIR PASSPHRASE");
        std::process::exit(2);
    };
    let pass = Passphrase::new(
        pass.into_string()
            .map_err(|_| "the passphrase is not UTF-8")?,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut vault = Vault::create(
        &PathBuf::from(dir),
        &pass,
        KdfChoice::Params(KdfParams::FLOOR),
        Arc::clone(&clock),
    )?;

    let mut beaten = Incident::new(
        IncidentId::new(),
        "Lawyer beaten outside the district court",
        clock.now(),
    );
    beaten.summary =
        "A defence lawyer was attacked by a group of men in plain clothes as she left \
                      the court after a hearing. Her phone and case files were taken."
            .into();
    beaten.parties = vec![
        Party::new(
            PartyId::new(),
            PartyKind::Person {
                name: "A. B.".into(),
                gender: None,
                occupation: Some("lawyer".into()),
            },
            vec![Role::Victim, Role::Source],
        ),
        Party::new(
            PartyId::new(),
            PartyKind::Group {
                name: String::new(),
                description: "men in plain clothes".into(),
                unit: "individuals".into(),
                size: Some(4),
                size_precision: Precision::Approximate,
            },
            vec![Role::Perpetrator],
        ),
    ];
    vault.create_incident(&beaten)?;
    for text in [
        "Call from A. B.'s colleague: she was attacked at the court exit.",
        "Arrived at the hospital. A. B. conscious, bruising to the face and arms.",
        "Statement taken; she asks that her name is not published.",
    ] {
        vault.append_log(beaten.id, text, false)?;
    }

    let mut detained = Incident::new(
        IncidentId::new(),
        "Journalists detained at a protest",
        clock.now(),
    );
    detained.summary = "Three journalists covering a peaceful protest were detained and held \
                        for six hours without charge."
        .into();
    detained.parties = vec![Party::new(
        PartyId::new(),
        PartyKind::Organisation {
            name: "District police department".into(),
        },
        vec![Role::Perpetrator],
    )];
    vault.create_incident(&detained)?;
    vault.append_log(detained.id, "Detentions confirmed by two witnesses.", true)?;

    vault.create_incident(&Incident::new(
        IncidentId::new(),
        "Threats against a local NGO",
        clock.now(),
    ))?;
    vault.close()?;
    Ok(())
}
