//! Devices: registration from a verified certificate, revocations, and nonces.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use vigil_ledger::signed::Revocation;
use vigil_model::DeviceId;

use super::key_from;
use crate::db::{DeviceRow, Nonce, Registration, now, role_from};

/// A device row as read: id, organisation, key, role, registered, revoked.
type RawDevice = (String, String, Vec<u8>, String, String, Option<String>);

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawDevice> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

const DEVICE_COLUMNS: &str = "d.device, d.org, d.sign_pk, d.role, d.registered_at, v.revoked_at \
     FROM devices d LEFT JOIN revocations v ON v.device = d.device";

fn to_device(
    (device, org, pk, role, registered_at, revoked_at): RawDevice,
) -> rusqlite::Result<Option<DeviceRow>> {
    let (Ok(device), Ok(org)) = (device.parse(), org.parse()) else {
        return Ok(None);
    };
    Ok(Some(DeviceRow {
        device,
        org,
        sign_pk: key_from(pk)?,
        role: role_from(&role),
        registered_at,
        revoked_at,
    }))
}

/// A registered device.
pub fn device(conn: &Connection, device: DeviceId) -> rusqlite::Result<Option<DeviceRow>> {
    let row = conn
        .query_row(
            &format!("SELECT {DEVICE_COLUMNS} WHERE d.device = ?1"),
            params![device.to_string()],
            device_from_row,
        )
        .optional()?;
    match row {
        Some(row) => to_device(row),
        None => Ok(None),
    }
}

/// The devices of an organisation.
pub fn devices(conn: &Connection, org: Uuid) -> rusqlite::Result<Vec<DeviceRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {DEVICE_COLUMNS} WHERE d.org = ?1 ORDER BY d.registered_at"
    ))?;
    let rows = stmt.query_map(params![org.to_string()], device_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        if let Some(d) = to_device(row?)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// Whether the organisation revoked `device` (registered or not).
pub fn revoked(conn: &Connection, device: DeviceId) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT revoked_at FROM revocations WHERE device = ?1",
        params![device.to_string()],
        |r| r.get(0),
    )
    .optional()
}

/// Registers a device whose certificate the API layer verified.
pub fn register_device(
    conn: &Connection,
    cert: &vigil_ledger::enrolment::VerifiedCertificate,
) -> rusqlite::Result<Registration> {
    let hash = hex::encode(cert.hash.0);
    let existing: Option<String> = conn
        .query_row(
            "SELECT certificate_sha256 FROM devices WHERE device = ?1",
            params![cert.device.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(h) = existing {
        return Ok(if h == hash {
            Registration::Again
        } else {
            Registration::OtherCertificate
        });
    }
    let used: bool = conn
        .query_row(
            "SELECT 1 FROM devices WHERE invitation = ?1",
            params![cert.invitation.id.to_string()],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if used {
        return Ok(Registration::InvitationUsed);
    }
    conn.execute(
        "INSERT INTO devices (device, org, sign_pk, role, invitation, certificate_sha256, registered_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            cert.device.to_string(),
            cert.invitation.org.to_string(),
            cert.device_keys.sign_pk.as_slice(),
            cert.invitation.role.as_str(),
            cert.invitation.id.to_string(),
            hash,
            now().to_rfc3339()
        ],
    )?;
    Ok(Registration::New)
}

/// Records a verified revocation. Returns whether it was new.
pub fn revoke(conn: &Connection, revocation: &Revocation) -> rusqlite::Result<bool> {
    let wire = revocation.to_wire();
    let n = conn.execute(
        "INSERT INTO revocations (device, org, revoked_at, document, signature)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (device) DO NOTHING",
        params![
            revocation.doc.device.to_string(),
            revocation.doc.org.to_string(),
            revocation.doc.revoked_at.to_rfc3339(),
            wire.document,
            wire.signature.to_string()
        ],
    )?;
    Ok(n == 1)
}

/// Uses a nonce: false when this device already used it (a replay).
pub fn use_nonce(conn: &Connection, nonce: &Nonce) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO nonces (device, nonce, expires) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![nonce.device.to_string(), nonce.nonce, nonce.expires])?;
    Ok(n == 1)
}

/// Forgets expired nonces (the writer's chore, every few seconds): a request that old is
/// refused as stale before its nonce is looked at.
pub fn forget_expired_nonces(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM nonces WHERE expires < ?1")?
        .execute(params![Utc::now().timestamp()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db::sqlite::Sqlite;

    #[tokio::test]
    async fn a_used_nonce_is_refused_and_only_expired_ones_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let db = Sqlite::open(dir.path()).unwrap();
        let device = DeviceId::new();
        let now = Utc::now().timestamp();
        let nonce = |n: &str, expires| Nonce {
            device,
            nonce: n.into(),
            expires,
        };
        let old = nonce("expired-0123456789", now - 1);
        let live = nonce("still-live-0123456789", now + 300);
        let mut fresh = Vec::new();
        for n in [old, live.clone(), live.clone()] {
            fresh.push(db.write(move |c| Ok(use_nonce(c, &n)?)).await.unwrap());
        }
        assert_eq!(
            fresh,
            [true, true, false],
            "the second use of a nonce is refused"
        );
        db.write(|c| Ok(forget_expired_nonces(c)?)).await.unwrap();
        let left: Vec<String> = db
            .read(|c| {
                Ok(c.prepare("SELECT nonce FROM nonces")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(left, [live.nonce]);
    }
}
