//! `vigil org`: the organisation, its invitations and its devices.

use std::fs;
use std::io::Write;
use std::path::Path;

use vigil_crypto::sign::grouped_hex;
use vigil_store::{DeviceTrust, JoinOutcome, Vault};

use crate::cli::OrgCommand;
use crate::commands::parse_incident_id;
use crate::error::{Failure, usage};
use crate::output;

fn refuse_existing(path: &Path) -> Result<(), Failure> {
    if path.exists() {
        return Err(usage(format!(
            "{} already exists; choose a new file name",
            path.display()
        )));
    }
    Ok(())
}

/// Creates `path` (which must not exist) with mode 0600 and writes `bytes`, fsynced.
fn write_private_new(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| usage(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))
}

/// A small file a person hands over (a profile, an invitation): at most 1 MiB.
fn read_small(path: &Path) -> Result<Vec<u8>, Failure> {
    let len = fs::metadata(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?
        .len();
    if len > 1024 * 1024 {
        return Err(usage(format!(
            "{} is {len} bytes, far larger than what it should be",
            path.display()
        )));
    }
    fs::read(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))
}

/// Writes a profile for people to hand over (indented JSON), atomically.
fn write_profile(path: &Path, profile: &vigil_store::OrgProfile) -> Result<(), Failure> {
    let mut text = profile.to_json_pretty();
    text.push('\n');
    Ok(vigil_store::write_atomic(path, text.as_bytes())?)
}

pub(crate) fn run(
    action: OrgCommand,
    out: &output::Printer,
    open: impl Fn() -> Result<Vault, Failure>,
) -> Result<(), Failure> {
    match action {
        OrgCommand::Create {
            name,
            profile_out,
            readers,
        } => {
            refuse_existing(&profile_out)?;
            let mut vault = open()?;
            let profile = vault.create_org(&name, readers)?;
            vault.close()?;
            write_profile(&profile_out, &profile)?;
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": profile.org_id,
                        "name": profile.name,
                        "hq_recipients": profile.hq_recipients,
                        "profile": profile_out,
                    })
                );
            } else {
                println!(
                    "Created the organisation {} ({}); give {} to its monitors, each with an \
                     invitation (vigil org invite)",
                    profile.name,
                    profile.org_id,
                    profile_out.display()
                );
            }
        }
        OrgCommand::Join { profile, invite } => {
            let text = String::from_utf8(read_small(&profile)?)
                .map_err(|_| usage(format!("{} is not text", profile.display())))?;
            let invitation = invite.as_deref().map(read_small).transpose()?;
            let mut vault = open()?;
            let (p, outcome, enrolment) = match &invitation {
                Some(bytes) => {
                    let (p, o, e) = vault.join_and_enrol(&text, bytes)?;
                    (p, o, Some(e))
                }
                None => {
                    let (p, o) = vault.join_org(&text)?;
                    (p, o, None)
                }
            };
            let device = vault.device();
            let key = vault.device_public().sign_pk;
            vault.close()?;
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": p.org_id,
                        "name": p.name,
                        "outcome": outcome,
                        "device": device,
                        "device_key": hex::encode(key),
                        "enrolment": enrolment,
                    })
                );
            } else {
                let what = match outcome {
                    JoinOutcome::Joined => "Joined",
                    JoinOutcome::Unchanged => "Already a member of",
                    JoinOutcome::Updated => "Updated the profile of",
                };
                println!("{what} the organisation {} ({})", p.name, p.org_id);
                match enrolment {
                    Some(e) => println!(
                        "Enrolled as \"{}\". Device {device}, key (read it to HQ by phone):\n  {}",
                        e.name,
                        grouped_hex(&key)
                    ),
                    None => println!(
                        "Not enrolled: HQ will keep this device's bundles in quarantine until it \
                         enrols (vigil org join PROFILE --invite FILE)"
                    ),
                }
            }
        }
        OrgCommand::Invite {
            name,
            expires,
            out: file,
        } => {
            refuse_existing(&file)?;
            let mut vault = open()?;
            let invitation = vault.issue_invitation(&name, expires)?;
            vault.close()?;
            write_private_new(&file, &invitation.expose_file_bytes())?;
            let body = &invitation.signed().body;
            eprintln!(
                "WARNING: {} lets one device join the organisation as \"{}\" until {}. Hand it \
                 over in person or on a stick, and delete it once used.",
                file.display(),
                body.name,
                body.expires_at.to_rfc3339()
            );
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": body.id,
                        "name": body.name,
                        "expires_at": body.expires_at,
                        "file": file,
                    })
                );
            } else {
                println!("{}", body.id);
            }
        }
        OrgCommand::Devices => {
            let vault = open()?;
            vault.org_keys()?;
            let devices = vault.devices()?;
            let pending = vault.pending_invitations()?;
            vault.close()?;
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({ "id": null, "devices": devices, "invitations": pending })
                );
                return Ok(());
            }
            if devices.is_empty() {
                println!("No device is registered yet.");
            }
            for d in &devices {
                let trust = match d.trust {
                    DeviceTrust::Enrolled => format!(
                        "enrolled {}",
                        d.enrolled_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                    ),
                    DeviceTrust::Accepted => "accepted by a person".to_owned(),
                };
                println!("{}  ({})", d.name, d.device);
                println!("  key       {}", grouped_hex(&d.sign_pk));
                println!("  {trust}, last seen {}", d.last_seen.to_rfc3339());
                if let Some(r) = d.revoked_at {
                    println!("  REVOKED   {}", r.to_rfc3339());
                }
            }
            for i in &pending {
                println!(
                    "Invitation for \"{}\" ({}), not used yet, valid until {}",
                    i.name,
                    i.id,
                    i.expires_at.to_rfc3339()
                );
            }
        }
        OrgCommand::Revoke { device } => {
            let mut vault = open()?;
            let d = vault.revoke_device(&device)?;
            vault.close()?;
            if out.json {
                println!("{}", serde_json::json!({ "id": d.device, "device": d }));
            } else {
                println!(
                    "Revoked {} ({}) as of {}: revisions it seals from now on are refused.",
                    d.name,
                    d.device,
                    d.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                );
            }
        }
        OrgCommand::Grant { incident, device } => {
            let incident = parse_incident_id(&incident)?;
            let mut vault = open()?;
            let g = vault.grant(incident, &device)?;
            vault.close()?;
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": g.doc.incident,
                        "device": g.doc.device,
                        "granted_at": g.doc.granted_at,
                    })
                );
            } else {
                println!(
                    "Device {} may now amend incident {}.",
                    g.doc.device, g.doc.incident
                );
            }
        }
        OrgCommand::Identity { out: file, reader } => {
            refuse_existing(&file)?;
            if reader == 0 {
                return Err(usage("HQ readers are numbered from 1"));
            }
            let vault = open()?;
            let text = vault.org_identity_file(reader - 1)?;
            vault.close()?;
            write_private_new(&file, text.as_bytes())?;
            eprintln!(
                "WARNING: whoever holds {} can read every bundle sent to the organisation. \
                 Keep it offline, on an encrypted drive, and never send it over a network.",
                file.display()
            );
            out.message(&format!(
                "wrote HQ reader {reader}'s identity to {}",
                file.display()
            ));
        }
        OrgCommand::Server {
            url,
            pin_from,
            receipt_key,
            profile_out,
        } => {
            refuse_existing(&profile_out)?;
            let pin = pin_from
                .as_deref()
                .map(|f| {
                    vigil_sync::pin_of_pem(&read_small(f)?)
                        .map_err(|e| usage(format!("{}: {e}", f.display())))
                })
                .transpose()?;
            let receipt_key: [u8; 32] = hex::decode(receipt_key.trim())
                .ok()
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| {
                    usage("--receipt-key: give the 64 hex digits `vigil-server admin key` prints")
                })?;
            let settings = vigil_ledger::profile::ServerSettings {
                url: url.trim_end_matches('/').to_owned(),
                pin,
                receipt_key,
            };
            settings.check().map_err(|e| usage(e.to_string()))?;
            let mut vault = open()?;
            let profile = vault.set_server(&settings)?;
            vault.close()?;
            write_profile(&profile_out, &profile)?;
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "server": settings.url,
                        "pin": settings.pin,
                        "profile": profile_out,
                        "updated_at": profile.updated_at,
                    })
                );
            } else {
                println!(
                    "The profile now names the server {}{}. Register it there \
                     (vigil-server admin org add {}) and give it to the monitors \
                     (vigil org join {}, or they get it by sync).",
                    settings.url,
                    settings
                        .pin
                        .as_deref()
                        .map(|p| format!(" (key pinned: {p})"))
                        .unwrap_or_default(),
                    profile_out.display(),
                    profile_out.display()
                );
            }
        }
    }
    Ok(())
}
