//! HQ's side of enrolment: the invitations it issued, the register of devices it trusts, their
//! revocation, and grants handing an incident to another device ([`vigil_ledger::trust`],
//! [`vigil_ledger::grant`]).
//!
//! A device enters the register when its first bundle is imported with a valid certificate
//! (enrolled by the organisation), or when a person accepts what it sent from quarantine
//! (accepted by a person, who compared its key). It is known by its key from then on.

use chrono::{DateTime, Duration, FixedOffset};
use rusqlite::{Connection, Transaction, params};
use serde::Serialize;
use uuid::Uuid;
use vigil_crypto::sign::SignPublicKey;
use vigil_ledger::enrolment::{Invitation, VerifiedCertificate};
use vigil_ledger::grant::Grant;
use vigil_ledger::trust::Registered;
use vigil_model::{DeviceId, IncidentId};

use crate::Vault;
use crate::error::{Result, StoreError};
use crate::rows::{key_from, time_from};
use crate::uuid_from;

/// How a device came to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceTrust {
    /// It enrolled with an invitation of the organisation.
    Enrolled,
    /// A person accepted what it sent from quarantine, after comparing its key.
    Accepted,
}

/// A device in HQ's register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRecord {
    /// Its id.
    pub device: DeviceId,
    /// Its signing key.
    #[serde(with = "hex::serde")]
    pub sign_pk: SignPublicKey,
    /// The name from its invitation (or the one a person gave it on accepting).
    pub name: String,
    /// How it came to be trusted.
    pub trust: DeviceTrust,
    /// The invitation it enrolled with.
    pub invitation: Option<Uuid>,
    /// When it enrolled, on its own clock.
    pub enrolled_at: Option<DateTime<FixedOffset>>,
    /// When HQ registered it.
    pub registered_at: DateTime<FixedOffset>,
    /// When HQ last imported something new from it.
    pub last_seen: DateTime<FixedOffset>,
    /// When the organisation revoked it.
    pub revoked_at: Option<DateTime<FixedOffset>>,
}

/// An invitation HQ issued that no device has used yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingInvitation {
    /// The invitation.
    pub id: Uuid,
    /// The name it gives the device.
    pub name: String,
    /// When it was issued.
    pub issued_at: DateTime<FixedOffset>,
    /// Until when it may be used.
    pub expires_at: DateTime<FixedOffset>,
}

const DEVICE_COLUMNS: &str = "device, sign_pk, name, invitation, certificate IS NOT NULL AND invitation IS NOT NULL, enrolled_at, registered_at, last_seen, revoked_at";

type DeviceRow = (
    Vec<u8>,
    Vec<u8>,
    String,
    Option<Vec<u8>>,
    bool,
    Option<String>,
    String,
    String,
    Option<String>,
);

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn record(row: DeviceRow) -> Result<DeviceRecord> {
    let (device, pk, name, invitation, enrolled, enrolled_at, registered, last_seen, revoked) = row;
    Ok(DeviceRecord {
        device: DeviceId::from_uuid(uuid_from(&device)?),
        sign_pk: key_from(&pk)?,
        name,
        trust: if enrolled {
            DeviceTrust::Enrolled
        } else {
            DeviceTrust::Accepted
        },
        invitation: invitation.as_deref().map(uuid_from).transpose()?,
        enrolled_at: enrolled_at.as_deref().map(time_from).transpose()?,
        registered_at: time_from(&registered)?,
        last_seen: time_from(&last_seen)?,
        revoked_at: revoked.as_deref().map(time_from).transpose()?,
    })
}

fn query_devices(
    conn: &Connection,
    where_tail: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<DeviceRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DEVICE_COLUMNS} FROM device_register {where_tail}"
    ))?;
    let rows = stmt
        .query_map(args, device_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(record).collect()
}

impl DeviceRecord {
    pub(crate) fn registered(&self) -> Registered {
        Registered {
            device: self.device,
            sign_pk: self.sign_pk,
            invitation: self.invitation,
            revoked_at: self.revoked_at,
        }
    }
}

/// The register's entry for a key.
pub(crate) fn by_key(conn: &Connection, key: &SignPublicKey) -> Result<Option<DeviceRecord>> {
    Ok(query_devices(conn, "WHERE sign_pk = ?1", [key.as_slice()])?.pop())
}

/// The register's entry for a device id.
pub(crate) fn by_device(conn: &Connection, device: DeviceId) -> Result<Option<DeviceRecord>> {
    Ok(query_devices(
        conn,
        "WHERE device = ?1",
        [device.as_uuid().as_bytes().as_slice()],
    )?
    .pop())
}

/// The device that enrolled with an invitation.
pub(crate) fn by_invitation(conn: &Connection, invitation: Uuid) -> Result<Option<DeviceRecord>> {
    Ok(query_devices(
        conn,
        "WHERE invitation = ?1",
        [invitation.as_bytes().as_slice()],
    )?
    .pop())
}

/// Registers a device the organisation enrolled, from its verified certificate.
pub(crate) fn register_enrolled(
    tx: &Transaction<'_>,
    cert: &VerifiedCertificate,
    bytes: &[u8],
    now: DateTime<FixedOffset>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO device_register (sign_pk, device, name, invitation, certificate, enrolled_at, registered_at, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![
        cert.device_keys.sign_pk.as_slice(),
        cert.device.as_uuid().as_bytes().as_slice(),
        cert.invitation.name,
        cert.invitation.id.as_bytes().as_slice(),
        bytes,
        cert.enrolled_at.to_rfc3339(),
        now.to_rfc3339(),
    ])?;
    Ok(())
}

/// Registers a device a person accepted (with the certificate it sent, if any, kept as
/// evidence but not as its invitation, which may have been expired or used by another).
pub(crate) fn register_accepted(
    tx: &Transaction<'_>,
    device: DeviceId,
    key: &SignPublicKey,
    name: &str,
    certificate: Option<&[u8]>,
    now: DateTime<FixedOffset>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO device_register (sign_pk, device, name, invitation, certificate, enrolled_at, registered_at, last_seen)
         VALUES (?1, ?2, ?3, NULL, ?4, NULL, ?5, ?5)",
    )?
    .execute(params![
        key.as_slice(),
        device.as_uuid().as_bytes().as_slice(),
        name,
        certificate,
        now.to_rfc3339(),
    ])?;
    Ok(())
}

/// A device in the register without an invitation (accepted by a person) enrolled since: its
/// invitation and certificate are recorded.
pub(crate) fn record_enrolment(
    tx: &Transaction<'_>,
    key: &SignPublicKey,
    cert: &VerifiedCertificate,
    bytes: &[u8],
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE device_register SET invitation = ?1, certificate = ?2, enrolled_at = ?3
         WHERE sign_pk = ?4 AND invitation IS NULL",
    )?
    .execute(params![
        cert.invitation.id.as_bytes().as_slice(),
        bytes,
        cert.enrolled_at.to_rfc3339(),
        key.as_slice(),
    ])?;
    Ok(())
}

/// A registered key now speaks under the id it makes (a device made before enrolment, which
/// enrolled since); its earlier id stays known with the same key.
pub(crate) fn reidentify(
    tx: &Transaction<'_>,
    key: &SignPublicKey,
    device: DeviceId,
) -> Result<()> {
    tx.prepare_cached("UPDATE device_register SET device = ?1 WHERE sign_pk = ?2")?
        .execute(params![
            device.as_uuid().as_bytes().as_slice(),
            key.as_slice()
        ])?;
    Ok(())
}

/// Notes that something new arrived from a registered device.
pub(crate) fn seen(
    tx: &Transaction<'_>,
    key: &SignPublicKey,
    now: DateTime<FixedOffset>,
) -> Result<()> {
    tx.prepare_cached("UPDATE device_register SET last_seen = ?1 WHERE sign_pk = ?2")?
        .execute(params![now.to_rfc3339(), key.as_slice()])?;
    Ok(())
}

/// Devices the organisation granted `incident` to, each with the key known for it here.
pub(crate) fn granted(
    conn: &Connection,
    incident: IncidentId,
) -> Result<Vec<(DeviceId, Option<SignPublicKey>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.device, k.sign_pk FROM grants g LEFT JOIN known_devices k ON k.device = g.device
         WHERE g.incident = ?1",
    )?;
    let rows = stmt
        .query_map([incident.as_uuid().as_bytes().as_slice()], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.iter()
        .map(|(d, k)| {
            Ok((
                DeviceId::from_uuid(uuid_from(d)?),
                k.as_deref().map(key_from).transpose()?,
            ))
        })
        .collect()
}

/// A device named by a person: its id, or the start of its key in hex (spaces allowed, at
/// least 8 digits).
fn matching<'a>(records: &'a [DeviceRecord], who: &str) -> Vec<&'a DeviceRecord> {
    let who = who.trim();
    if let Ok(id) = who.parse::<Uuid>() {
        return records
            .iter()
            .filter(|r| *r.device.as_uuid() == id)
            .collect();
    }
    let digits: String = who
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if digits.len() < 8 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Vec::new();
    }
    records
        .iter()
        .filter(|r| hex::encode(r.sign_pk).starts_with(&digits))
        .collect()
}

impl Vault {
    /// HQ issues an invitation for one device, valid for `days` days from now. The returned
    /// invitation is a secret (see [`Invitation::expose_file_bytes`]); HQ keeps its public part.
    pub fn issue_invitation(&mut self, name: &str, days: u32) -> Result<Invitation> {
        let keys = self.org_keys()?;
        let profile = self.org_profile()?.ok_or(StoreError::NoOrganisation)?;
        if !(1..=365).contains(&days) {
            return Err(StoreError::Invalid(vigil_model::ValidationErrors(vec![
                vigil_model::FieldError::new(
                    "expires",
                    vigil_model::Problem::OutOfRange {
                        what: "days",
                        range: "from 1 to 365",
                    },
                ),
            ])));
        }
        let now = self.clock.now();
        let invitation = Invitation::issue(
            &keys,
            profile.org_id,
            name,
            now,
            now + Duration::days(i64::from(days)),
        )?;
        let body = &invitation.signed().body;
        self.conn.execute(
            "INSERT INTO invitations (id, name, issued_at, expires_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                body.id.as_bytes().as_slice(),
                body.name,
                body.issued_at.to_rfc3339(),
                body.expires_at.to_rfc3339(),
                vigil_ledger::canonical::encode_serialize("the invitation", body)?,
            ],
        )?;
        Ok(invitation)
    }

    /// The devices in HQ's register, by name.
    pub fn devices(&self) -> Result<Vec<DeviceRecord>> {
        query_devices(&self.conn, "ORDER BY name, registered_at", [])
    }

    /// Invitations issued here that no device has used yet (expired ones included).
    pub fn pending_invitations(&self) -> Result<Vec<PendingInvitation>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, issued_at, expires_at FROM invitations
             WHERE id NOT IN (SELECT invitation FROM device_register WHERE invitation IS NOT NULL)
             ORDER BY issued_at",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, name, issued, expires)| {
                Ok(PendingInvitation {
                    id: uuid_from(&id)?,
                    name,
                    issued_at: time_from(&issued)?,
                    expires_at: time_from(&expires)?,
                })
            })
            .collect()
    }

    /// The registered device a person names (see [`Vault::revoke_device`]).
    pub fn find_device(&self, who: &str) -> Result<DeviceRecord> {
        let all = self.devices()?;
        match matching(&all, who).as_slice() {
            [] => Err(StoreError::NotFound {
                what: "device",
                id: who.to_owned(),
            }),
            [one] => Ok((*one).clone()),
            _ => Err(StoreError::AmbiguousDevice {
                device: who.to_owned(),
            }),
        }
    }

    /// Revokes a device, named by its id or the start of its key: revisions it seals after now
    /// (as this vault's clock says) are refused; what it sealed before stays. Revoking again
    /// keeps the first time.
    pub fn revoke_device(&mut self, who: &str) -> Result<DeviceRecord> {
        self.org_keys()?;
        let device = self.find_device(who)?;
        self.conn.execute(
            "UPDATE device_register SET revoked_at = coalesce(revoked_at, ?1) WHERE sign_pk = ?2",
            params![self.clock.now().to_rfc3339(), device.sign_pk.as_slice()],
        )?;
        self.find_device(&device.device.to_string())
    }

    /// The organisation hands `incident` to a device (named by its id or the start of its key,
    /// or by its full id before it is registered): it may amend the incident from now on.
    /// Signed with the organisation's key.
    pub fn grant(&mut self, incident: IncidentId, who: &str) -> Result<Grant> {
        let keys = self.org_keys()?;
        let profile = self.org_profile()?.ok_or(StoreError::NoOrganisation)?;
        self.incident(incident)?;
        // A device not registered yet can be named by its full id (it is bound to its key).
        let device = match (self.find_device(who), who.trim().parse::<Uuid>()) {
            (Ok(d), _) => d.device,
            (Err(StoreError::NotFound { .. }), Ok(id)) => DeviceId::from_uuid(id),
            (Err(e), _) => return Err(e),
        };
        let grant = Grant::issue(&keys, profile.org_id, incident, device, self.clock.now())?;
        self.conn.execute(
            "INSERT OR REPLACE INTO grants (incident, device, doc, sig) VALUES (?1, ?2, ?3, ?4)",
            params![
                incident.as_uuid().as_bytes().as_slice(),
                device.as_uuid().as_bytes().as_slice(),
                grant.bytes,
                grant.sig.0.as_slice(),
            ],
        )?;
        Ok(grant)
    }
}
