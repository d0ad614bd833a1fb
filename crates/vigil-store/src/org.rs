//! The organisation a vault belongs to, this vault's own device identity, and its enrolment.
//!
//! HQ creates the organisation ([`Vault::create_org`]): fresh [`OrgKeys`] kept in its vault,
//! and a signed [`OrgProfile`] that monitors import ([`Vault::join_org`]). A monitor enrols with
//! an invitation from HQ ([`Vault::join_and_enrol`], [`Vault::enrol`]): its certificate
//! ([`vigil_ledger::enrolment`]) is kept here and travels in every bundle it makes.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use uuid::Uuid;
use vigil_crypto::sign::{self, AgeIdentity, DeviceKeys, DevicePublic, OrgKeys};
use vigil_ledger::LedgerError;
use vigil_ledger::enrolment::{Certificate, Invitation};
use vigil_ledger::ids::device_id_for;
use vigil_ledger::profile::ServerSettings;
pub use vigil_ledger::profile::{OrgProfile, PROFILE_FORMAT, PROFILE_VERSION};
use vigil_model::DeviceId;
use zeroize::Zeroizing;

use crate::Vault;
use crate::error::{Result, StoreError};

/// What [`Vault::join_org`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinOutcome {
    /// The vault now belongs to the organisation.
    Joined,
    /// The vault already held exactly this profile.
    Unchanged,
    /// A newer profile of the same organisation, signed by the same key, replaced the old one.
    Updated,
}

/// A profile file that is not a valid profile is `bad_profile`; a forged one keeps its own code.
fn read_profile(text: &str) -> Result<OrgProfile> {
    OrgProfile::parse_and_verify(text).map_err(|e| match e {
        LedgerError::Malformed { detail, .. } => StoreError::BadProfile(detail),
        LedgerError::NotCanonical { .. } | LedgerError::DuplicateKey { .. } => {
            StoreError::BadProfile(e.to_string())
        }
        other => other.into(),
    })
}

/// This vault's enrolment in its organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enrolment {
    /// The name HQ gave the device in its invitation.
    pub name: String,
    /// The invitation.
    pub invitation: Uuid,
    /// When the device enrolled (its own clock).
    pub enrolled_at: DateTime<FixedOffset>,
    /// Until when the invitation was valid.
    pub expires_at: DateTime<FixedOffset>,
}

/// Loads this vault's device keys, creating them (and registering the device as known) in a
/// vault made before identities existed.
pub(crate) fn load_or_create_device_keys(
    conn: &mut rusqlite::Connection,
    device: DeviceId,
    now: DateTime<FixedOffset>,
) -> Result<DeviceKeys> {
    let stored: Option<Zeroizing<Vec<u8>>> = conn
        .query_row("SELECT secret FROM device_keys WHERE id = 1", [], |r| {
            r.get::<_, Vec<u8>>(0).map(Zeroizing::new)
        })
        .optional()?;
    if let Some(secret) = stored {
        return DeviceKeys::from_secret_bytes(&secret).map_err(|e| StoreError::Corrupted {
            detail: format!("the device keys: {e}"),
        });
    }
    let keys = DeviceKeys::generate()?;
    let tx = conn.transaction()?;
    store_device_keys(&tx, device, &keys, now)?;
    tx.commit()?;
    Ok(keys)
}

/// A new vault's device: fresh keys, and the id they make ([`device_id_for`]).
pub(crate) fn new_device(
    tx: &rusqlite::Transaction<'_>,
    now: DateTime<FixedOffset>,
) -> Result<(DeviceId, DeviceKeys)> {
    let keys = DeviceKeys::generate()?;
    let device = device_id_for(&keys.public().sign_pk);
    store_device_keys(tx, device, &keys, now)?;
    Ok((device, keys))
}

fn store_device_keys(
    tx: &rusqlite::Transaction<'_>,
    device: DeviceId,
    keys: &DeviceKeys,
    now: DateTime<FixedOffset>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO device_keys (id, device, secret, created_at) VALUES (1, ?1, ?2, ?3)",
        params![
            device.as_uuid().as_bytes().as_slice(),
            keys.expose_secret_bytes().as_slice(),
            now.to_rfc3339()
        ],
    )?;
    crate::rows::register_device(tx, device, &keys.public(), &now)?;
    Ok(())
}

/// The stored profile text and, on HQ, the organisation's secret keys.
type OrgRow = (String, Option<Zeroizing<Vec<u8>>>);

impl Vault {
    /// This device's public keys.
    pub fn device_public(&self) -> DevicePublic {
        self.keys.public()
    }

    /// This device's age identity (to decrypt the bundles it encrypted to itself).
    pub fn device_age_identity(&self) -> &AgeIdentity {
        self.keys.age_identity()
    }

    fn org_row(&self) -> Result<Option<OrgRow>> {
        Ok(self
            .conn
            .query_row("SELECT profile, secret FROM org WHERE id = 1", [], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?.map(Zeroizing::new),
                ))
            })
            .optional()?)
    }

    /// The organisation this vault belongs to, if any.
    pub fn org_profile(&self) -> Result<Option<OrgProfile>> {
        match self.org_row()? {
            None => Ok(None),
            Some((text, _)) => {
                OrgProfile::parse_and_verify(&text)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupted {
                        detail: format!("the stored organisation profile: {e}"),
                    })
            }
        }
    }

    /// The HQ recipients every bundle must be encrypted to (empty outside an organisation).
    pub fn hq_recipients(&self) -> Result<Vec<String>> {
        Ok(self
            .org_profile()?
            .map(|p| p.hq_recipients)
            .unwrap_or_default())
    }

    /// Names the organisation's sync server in a new signed version of its profile (HQ vault
    /// only), kept here and returned to hand to monitors.
    pub fn set_server(&mut self, server: &ServerSettings) -> Result<OrgProfile> {
        let keys = self.org_keys()?;
        let current = self.org_profile()?.ok_or(StoreError::NoOrganisation)?;
        let next = current.with_server(&keys, server, self.clock.now())?;
        self.conn.execute(
            "UPDATE org SET profile = ?1 WHERE id = 1",
            [next.to_json_pretty()],
        )?;
        Ok(next)
    }

    /// HQ's own certificate as a device of its organisation (role `hq`), which the server
    /// needs to let HQ read the feed: issued by the organisation's keys held here the first
    /// time it is asked for, then kept (the server registers one certificate per device).
    pub fn hq_certificate(&mut self) -> Result<Certificate> {
        if let Some(hex_bytes) = self.sync_state("hq_certificate")? {
            let bytes = hex::decode(hex_bytes).map_err(|_| StoreError::Corrupted {
                detail: "HQ's certificate is malformed".into(),
            })?;
            return Ok(Certificate::from_bytes(bytes));
        }
        let keys = self.org_keys()?;
        let profile = self.org_profile()?.ok_or(StoreError::NoOrganisation)?;
        let now = self.clock.now();
        let invitation = Invitation::issue_for(
            &keys,
            profile.org_id,
            "HQ",
            vigil_ledger::enrolment::DeviceRole::Hq,
            now - chrono::Duration::hours(1),
            now + chrono::Duration::hours(1),
        )?;
        let device = device_id_for(&self.keys.public().sign_pk);
        let certificate = invitation.enrol(&self.keys, device, now)?;
        self.set_sync_state("hq_certificate", Some(&hex::encode(certificate.bytes())))?;
        Ok(certificate)
    }

    /// The organisation's secret keys (HQ vault only).
    pub fn org_keys(&self) -> Result<OrgKeys> {
        match self.org_row()? {
            None => Err(StoreError::NoOrganisation),
            Some((_, None)) => Err(StoreError::NotHq),
            Some((_, Some(secret))) => {
                OrgKeys::from_secret_bytes(&secret).map_err(|e| StoreError::Corrupted {
                    detail: format!("the organisation keys: {e}"),
                })
            }
        }
    }

    /// Whether this vault is its organisation's HQ (it holds the organisation's keys).
    pub fn is_hq(&self) -> Result<bool> {
        Ok(matches!(self.org_row()?, Some((_, Some(_)))))
    }

    /// The HQ readers' age identities (HQ vault only), to decrypt bundles.
    pub fn org_identities(&self) -> Result<Vec<AgeIdentity>> {
        Ok(self.org_keys()?.identities().to_vec())
    }

    /// HQ reader number `reader` (from 0) as an `age-keygen`-style identity file.
    pub fn org_identity_file(&self, reader: usize) -> Result<Zeroizing<String>> {
        let keys = self.org_keys()?;
        let identity = keys.identities().get(reader).ok_or(StoreError::NotFound {
            what: "HQ reader",
            id: (reader + 1).to_string(),
        })?;
        let created = self.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true);
        Ok(sign::age_identity_file(identity, &created))
    }

    /// Creates an organisation with this vault as its HQ: fresh organisation keys with `readers`
    /// HQ reader identities, kept in the vault, and the signed profile to hand to monitors.
    pub fn create_org(&mut self, name: &str, readers: usize) -> Result<OrgProfile> {
        if name.trim().is_empty() {
            return Err(StoreError::Invalid(vigil_model::ValidationErrors(vec![
                vigil_model::FieldError::new("name", vigil_model::Problem::Required),
            ])));
        }
        if let Some(p) = self.org_profile()? {
            return Err(StoreError::AlreadyInOrg {
                org_id: p.org_id.to_string(),
                name: p.name,
            });
        }
        let now = self.clock.now();
        let keys = OrgKeys::generate(readers)?;
        let profile = OrgProfile::signed(Uuid::now_v7(), name.trim(), &keys, now)?;
        self.conn.execute(
            "INSERT INTO org (id, org_id, profile, secret, joined_at) VALUES (1, ?1, ?2, ?3, ?4)",
            params![
                profile.org_id.to_string(),
                profile.to_json_pretty(),
                keys.expose_secret_bytes().as_slice(),
                now.to_rfc3339()
            ],
        )?;
        Ok(profile)
    }

    /// Joins the organisation of a signed profile (checked against its own key). A vault
    /// belongs to one organisation: another one is refused; the same profile again changes
    /// nothing; a newer profile of the same organisation signed by the same key replaces it.
    pub fn join_org(&mut self, profile_json: &str) -> Result<(OrgProfile, JoinOutcome)> {
        let offered = read_profile(profile_json)?;
        let tx = self.conn.transaction()?;
        let outcome = join_in(&tx, self.clock.now(), &offered)?;
        tx.commit()?;
        Ok((offered, outcome))
    }

    /// Joins the organisation of `profile_json` and enrols in it with the invitation file
    /// `invitation`, in one step: both are checked before anything is written.
    pub fn join_and_enrol(
        &mut self,
        profile_json: &str,
        invitation: &[u8],
    ) -> Result<(OrgProfile, JoinOutcome, Enrolment)> {
        let offered = read_profile(profile_json)?;
        if let Some(current) = self.org_profile()?
            && current.org_id != offered.org_id
        {
            return Err(StoreError::AlreadyInOrg {
                org_id: current.org_id.to_string(),
                name: current.name,
            });
        }
        let invitation = self.usable_invitation(&offered, invitation)?;
        let now = self.clock.now();
        // A vault made before enrolment has a random id; it enrols under the id its key makes
        // (earlier revisions keep their old id, which stays known here with the same key).
        let device = device_id_for(&self.keys.public().sign_pk);
        let certificate = invitation.enrol(&self.keys, device, now)?;
        let tx = self.conn.transaction()?;
        let outcome = join_in(&tx, now, &offered)?;
        let enrolment = enrol_in(&tx, &invitation, &certificate, device, &self.keys, now)?;
        tx.commit()?;
        self.device = device;
        Ok((offered, outcome, enrolment))
    }

    /// Enrols this vault, already in the organisation, with the invitation file `invitation`.
    pub fn enrol(&mut self, invitation: &[u8]) -> Result<Enrolment> {
        let profile = self.org_profile()?.ok_or(StoreError::NoOrganisation)?;
        let invitation = self.usable_invitation(&profile, invitation)?;
        let now = self.clock.now();
        let device = device_id_for(&self.keys.public().sign_pk);
        let certificate = invitation.enrol(&self.keys, device, now)?;
        let tx = self.conn.transaction()?;
        let enrolment = enrol_in(&tx, &invitation, &certificate, device, &self.keys, now)?;
        tx.commit()?;
        self.device = device;
        Ok(enrolment)
    }

    fn usable_invitation(&self, profile: &OrgProfile, bytes: &[u8]) -> Result<Invitation> {
        if let Some(e) = self.enrolment()? {
            return Err(StoreError::AlreadyEnrolled { name: e.name });
        }
        if self.is_hq()? {
            return Err(StoreError::Ledger(LedgerError::InvitationUnusable(
                "this is the organisation's HQ vault; invitations are for monitors' devices".into(),
            )));
        }
        let invitation = Invitation::from_file_bytes(bytes, profile)?;
        invitation.check_usable(self.clock.now())?;
        Ok(invitation)
    }

    /// This vault's enrolment, if it has one.
    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        let row: Option<(Vec<u8>, String, String)> = self
            .conn
            .query_row(
                "SELECT certificate, name, enrolled_at FROM enrolment WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((cert, name, _)) = row else {
            return Ok(None);
        };
        let doc: vigil_ledger::enrolment::CertificateDoc =
            serde_json::from_slice(&cert).map_err(|e| StoreError::Corrupted {
                detail: format!("the stored certificate: {e}"),
            })?;
        Ok(Some(Enrolment {
            name,
            invitation: doc.invitation.id,
            enrolled_at: doc.enrolled_at,
            expires_at: doc.invitation.expires_at,
        }))
    }

    /// This vault's certificate, to carry in its bundles.
    pub fn certificate(&self) -> Result<Option<Certificate>> {
        let row: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT certificate FROM enrolment WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(row.map(Certificate::from_bytes))
    }
}

fn join_in(
    tx: &rusqlite::Transaction<'_>,
    now: DateTime<FixedOffset>,
    offered: &OrgProfile,
) -> Result<JoinOutcome> {
    let current: Option<String> = tx
        .query_row("SELECT profile FROM org WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    let current = current
        .map(|t| OrgProfile::parse_and_verify(&t))
        .transpose()
        .map_err(|e| StoreError::Corrupted {
            detail: format!("the stored organisation profile: {e}"),
        })?;
    match current {
        Some(current) if current == *offered => Ok(JoinOutcome::Unchanged),
        Some(current)
            if current.org_id == offered.org_id && current.org_sign_pk == offered.org_sign_pk =>
        {
            // A replayed older version (say, one without the server, or with an old pin) never
            // replaces a newer one.
            if offered.signed_at() < current.signed_at() {
                return Err(StoreError::OlderProfile {
                    offered: offered.signed_at().to_rfc3339(),
                    held: current.signed_at().to_rfc3339(),
                });
            }
            tx.execute(
                "UPDATE org SET profile = ?1 WHERE id = 1",
                [offered.to_json_pretty()],
            )?;
            Ok(JoinOutcome::Updated)
        }
        Some(current) => Err(StoreError::AlreadyInOrg {
            org_id: current.org_id.to_string(),
            name: current.name,
        }),
        None => {
            tx.execute(
                "INSERT INTO org (id, org_id, profile, secret, joined_at)
                 VALUES (1, ?1, ?2, NULL, ?3)",
                params![
                    offered.org_id.to_string(),
                    offered.to_json_pretty(),
                    now.to_rfc3339()
                ],
            )?;
            Ok(JoinOutcome::Joined)
        }
    }
}

/// Keeps the certificate and, for a vault made before enrolment, takes the id its key makes.
fn enrol_in(
    tx: &rusqlite::Transaction<'_>,
    invitation: &Invitation,
    certificate: &Certificate,
    device: DeviceId,
    keys: &DeviceKeys,
    now: DateTime<FixedOffset>,
) -> Result<Enrolment> {
    let body = &invitation.signed().body;
    tx.execute(
        "INSERT INTO enrolment (id, invitation, certificate, name, enrolled_at)
         VALUES (1, ?1, ?2, ?3, ?4)",
        params![
            body.id.as_bytes().as_slice(),
            certificate.bytes(),
            body.name,
            now.to_rfc3339()
        ],
    )?;
    let current: String = tx.query_row(
        "SELECT value FROM vault_meta WHERE key = 'device_id'",
        [],
        |r| r.get(0),
    )?;
    if current != device.to_string() {
        tx.execute(
            "UPDATE vault_meta SET value = ?1 WHERE key = 'device_id'",
            [device.to_string()],
        )?;
        tx.execute(
            "UPDATE device_keys SET device = ?1 WHERE id = 1",
            [device.as_uuid().as_bytes().as_slice()],
        )?;
        crate::rows::register_device(tx, device, &keys.public(), &now)?;
    }
    Ok(Enrolment {
        name: body.name.clone(),
        invitation: body.id,
        enrolled_at: now,
        expires_at: body.expires_at,
    })
}
