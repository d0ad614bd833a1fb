//! What a bundle proves, for `vigil verify` and for people.

use std::path::Path;

use serde::Serialize;
use vigil_bundle::Manifest;
use vigil_ledger::enrolment::{Certificate, CertificateDoc};
use vigil_store::Vault;

use crate::check::{Nothing, Seen};
use crate::error::Result;
use crate::read::{Expect, read_extracted, read_file};

/// What a bundle proves, for `vigil verify`.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    /// The bundle's id.
    pub id: String,
    /// When it was made (UTC).
    pub created_at: String,
    /// The organisation it was made for.
    pub org_id: String,
    /// The device that signed the manifest.
    pub device: String,
    /// Its Ed25519 public key (hex).
    pub device_key: String,
    /// The enrolment the device's certificate claims, if it carries one.
    pub enrolment: Option<ProvenEnrolment>,
    /// Every revision, with what its signature covers.
    pub revisions: Vec<ProvenRevision>,
    /// Every attachment, with its size; all matched their SHA-256.
    pub attachments: Vec<ProvenAttachment>,
    /// Attachments carried in parts: their part lists and the parts in this bundle, each
    /// matching the SHA-256 its list names.
    pub parts: Vec<ProvenParts>,
    /// Custody events whose signatures were checked.
    pub custody_events: usize,
}

/// An attachment carried in parts: what the bundle's part list says, and which parts it holds.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenParts {
    /// The whole attachment's SHA-256.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// How many parts it is cut into.
    pub of: u64,
    /// The parts this bundle carries, numbered from 1.
    pub here: Vec<u64>,
}

/// The enrolment a bundle's certificate claims.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenEnrolment {
    /// The name the organisation's invitation gave the device.
    pub name: String,
    /// The invitation.
    pub invitation: String,
    /// When the device enrolled, on its clock.
    pub enrolled_at: String,
    /// Whether every signature on the certificate verified with the organisation's key (`None`
    /// when verified without a vault, so without that key).
    pub verified: Option<bool>,
}

/// A revision whose canonical form, hash and signature were checked.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenRevision {
    /// The revision.
    pub id: String,
    /// Its incident.
    pub incident: String,
    /// The incident's title as sealed.
    pub title: String,
    /// The device that sealed it.
    pub device: String,
    /// Position in the device's chain.
    pub device_seq: u64,
    /// When it was sealed, on the device's clock.
    pub sealed_at: String,
    /// SHA-256 of its canonical document.
    pub hash: String,
    /// The revision it amends, if any.
    pub amends: Option<String>,
}

/// An attachment whose bytes matched the hash its revisions name.
#[derive(Debug, Clone, Serialize)]
pub struct ProvenAttachment {
    /// SHA-256 (also its name in the bundle).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl Proof {
    fn new(manifest: &Manifest, seen: Seen, org: Option<(uuid::Uuid, [u8; 32])>) -> Proof {
        let enrolment = seen.certificate.as_ref().and_then(|bytes| {
            let doc: CertificateDoc = serde_json::from_slice(bytes).ok()?;
            let verified = org.map(|(id, pk)| {
                Certificate::from_bytes(bytes.clone())
                    .verify(id, &pk)
                    .is_ok_and(|c| c.device.as_uuid() == &manifest.device.id)
            });
            Some(ProvenEnrolment {
                name: doc.invitation.name,
                invitation: doc.invitation.id.to_string(),
                enrolled_at: doc.enrolled_at.to_rfc3339(),
                verified,
            })
        });
        Proof {
            id: manifest.bundle_id.to_string(),
            created_at: manifest.created_at.to_rfc3339(),
            org_id: manifest.org_id.to_string(),
            device: manifest.device.id.to_string(),
            device_key: manifest.device.sign_pk.clone(),
            enrolment,
            revisions: seen
                .revisions
                .into_iter()
                .map(|r| ProvenRevision {
                    id: r.id,
                    incident: r.incident,
                    title: r.title,
                    device: r.device,
                    device_seq: r.device_seq,
                    sealed_at: r.sealed_at,
                    hash: r.hash,
                    amends: r.amends,
                })
                .collect(),
            attachments: seen
                .attachments
                .into_iter()
                .map(|(sha256, size)| ProvenAttachment { sha256, size })
                .collect(),
            parts: seen
                .part_lists
                .iter()
                .map(|(sha256, size, of)| ProvenParts {
                    sha256: sha256.clone(),
                    size: *size,
                    of: *of,
                    here: seen
                        .parts
                        .iter()
                        .filter(|(s, _)| s == sha256)
                        .map(|(_, i)| i + 1)
                        .collect(),
                })
                .collect(),
            custody_events: seen.custody_events,
        }
    }

    /// A plain-text account for people.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "Bundle {} made {} for organisation {}\nSigned by device {}: signature valid.\n\
             Device key (Ed25519; compare with the key the monitor's Organisation dialog shows):\n  {}\n",
            self.id,
            self.created_at,
            self.org_id,
            self.device,
            hex::decode(&self.device_key)
                .map(|k| vigil_crypto::sign::grouped_hex(&k))
                .unwrap_or_else(|_| self.device_key.clone())
        );
        match &self.enrolment {
            None => s.push_str(
                "The device carries no enrolment certificate: HQ keeps its bundles in quarantine \
                 until a person accepts them.\n",
            ),
            Some(e) => s.push_str(&format!(
                "Enrolled as \"{}\" on {} with invitation {}: {}\n",
                e.name,
                e.enrolled_at,
                e.invitation,
                match e.verified {
                    Some(true) => "certificate verified with the organisation's key",
                    Some(false) => "CERTIFICATE DOES NOT VERIFY with the organisation's key",
                    None => "certificate not checked (no organisation key here)",
                }
            )),
        }
        s.push_str(&format!(
            "{} sealed revision(s), each in canonical form, hash and device signature verified:\n",
            self.revisions.len()
        ));
        for r in &self.revisions {
            s.push_str(&format!(
                "  {}  incident {} \"{}\"\n      device {} #{}, sealed {}, sha256 {}{}\n",
                r.id,
                r.incident,
                r.title,
                r.device,
                r.device_seq,
                r.sealed_at,
                r.hash,
                r.amends
                    .as_ref()
                    .map(|a| format!(", amends {a}"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(&format!(
            "{} attachment(s), each matching its SHA-256:\n",
            self.attachments.len()
        ));
        for a in &self.attachments {
            s.push_str(&format!("  {}  {} bytes\n", a.sha256, a.size));
        }
        for p in &self.parts {
            let here: Vec<String> = p.here.iter().map(u64::to_string).collect();
            s.push_str(&format!(
                "Attachment {} ({} bytes) in {} parts, by a part list the device signed; this bundle \
                 carries part(s) {}, each matching the SHA-256 the list names.\n",
                p.sha256,
                p.size,
                p.of,
                if here.is_empty() {
                    "none".to_owned()
                } else {
                    here.join(", ")
                }
            ));
        }
        s.push_str(&format!(
            "{} custody event(s), each signature verified.\n",
            self.custody_events
        ));
        s
    }
}

/// Whom a bundle of this vault is encrypted to: HQ's keys, and this device's own.
pub(crate) fn recipients(vault: &Vault) -> Result<Vec<age::x25519::Recipient>> {
    let device = vault.device_public();
    let mut recipients: Vec<age::x25519::Recipient> = Vec::new();
    for r in vault
        .hq_recipients()?
        .iter()
        .chain(std::iter::once(&device.age_recipient))
    {
        recipients
            .push(r.parse().map_err(|e| {
                vigil_bundle::BundleError::Malformed(format!("recipient {r}: {e}"))
            })?);
    }
    Ok(recipients)
}

/// The age identities a vault can open bundles with: its own device's, and HQ's readers'.
pub(crate) fn identities(vault: &Vault) -> Vec<age::x25519::Identity> {
    let mut ids = vec![vault.device_age_identity().clone()];
    if let Ok(org) = vault.org_identities() {
        ids.extend(org);
    }
    ids
}

/// Verifies a bundle file with the keys of `vault` (its HQ identities, or its own device
/// identity), changing nothing.
pub fn verify_with_vault(vault: &Vault, path: &Path) -> Result<Proof> {
    let (manifest, seen) = read_file(
        path,
        &identities(vault),
        Expect::default(),
        &mut Nothing,
        &mut |_, _| {},
    )?;
    let org = vault.org_profile()?.map(|p| (p.org_id, p.org_sign_pk));
    Ok(Proof::new(&manifest, seen, org))
}

/// Verifies a bundle that was decrypted with `age -d` and unpacked with `tar -x` into `dir`:
/// no keys are needed to check what it proves.
pub fn verify_extracted(dir: &Path) -> Result<Proof> {
    let (manifest, seen) = read_extracted(dir, &mut Nothing)?;
    Ok(Proof::new(&manifest, seen, None))
}
