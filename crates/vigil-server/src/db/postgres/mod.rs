//! The PostgreSQL backend (`--database postgres://…`): the same operations and rules as the
//! SQLite one, for several server processes sharing one database.
//!
//! What keeps several processes correct:
//! - every uniqueness rule is a constraint, and inserts use `ON CONFLICT DO NOTHING`, then read
//!   what won, so two processes storing the same item at once store it once and return the same
//!   receipt;
//! - pushes of one organisation take a transaction-level advisory lock on it, so feed positions
//!   are committed in the order they are handed out and HQ's cursor never skips an item that
//!   commits late;
//! - nonces live in the database, so a replay to another process is refused too.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use uuid::Uuid;
use vigil_crypto::sign::SigningKey;
use vigil_ledger::enrolment::VerifiedCertificate;
use vigil_ledger::profile::OrgProfile;
use vigil_ledger::signed::Revocation;
use vigil_model::DeviceId;

use super::{DeviceRow, OrgRefused, OrgRow, Registration, now, role_from};
use crate::error::ApiError;

mod items;
mod uploads;

/// The schema this build writes.
const SCHEMA_VERSION: i32 = 2;

/// Created under an advisory lock, so that processes starting together do not race.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS vigil_schema (id INT PRIMARY KEY CHECK (id = 1), version INT NOT NULL);
CREATE TABLE IF NOT EXISTS server_key (id INT PRIMARY KEY CHECK (id = 1), pkcs8 BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    org TEXT PRIMARY KEY, sign_pk BYTEA NOT NULL, profile TEXT NOT NULL,
    created_at TEXT NOT NULL, added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, org TEXT NOT NULL REFERENCES orgs(org), sign_pk BYTEA NOT NULL,
    role TEXT NOT NULL, invitation TEXT NOT NULL UNIQUE, certificate_sha256 TEXT NOT NULL,
    registered_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS revocations (
    device TEXT PRIMARY KEY, org TEXT NOT NULL REFERENCES orgs(org), revoked_at TEXT NOT NULL,
    document TEXT NOT NULL, signature TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (
    device TEXT NOT NULL, nonce TEXT NOT NULL, expires BIGINT NOT NULL,
    PRIMARY KEY (nonce, device));
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires);
CREATE TABLE IF NOT EXISTS receipts (
    pos BIGSERIAL PRIMARY KEY, device TEXT NOT NULL, document TEXT NOT NULL,
    signature TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS receipts_device ON receipts(device, pos);
CREATE TABLE IF NOT EXISTS items (
    pos BIGSERIAL PRIMARY KEY, org TEXT NOT NULL, device TEXT NOT NULL, seq BIGINT NOT NULL,
    id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL,
    ciphertext BYTEA NOT NULL, receipt BIGINT NOT NULL REFERENCES receipts(pos),
    UNIQUE (device, seq));
CREATE INDEX IF NOT EXISTS items_feed ON items(org, pos);
CREATE TABLE IF NOT EXISTS acks (
    pos BIGSERIAL PRIMARY KEY, item TEXT NOT NULL UNIQUE REFERENCES items(id),
    device TEXT NOT NULL, acked_by TEXT NOT NULL, acked_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS acks_device ON acks(device, pos);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, device TEXT NOT NULL, length BIGINT NOT NULL,
    sha256 TEXT NOT NULL, upload_offset BIGINT NOT NULL, complete BOOLEAN NOT NULL,
    created_at TEXT NOT NULL, receipt TEXT, receipt_sig TEXT);
CREATE TABLE IF NOT EXISTS upload_parts (
    upload TEXT NOT NULL REFERENCES uploads(id), part_offset BIGINT NOT NULL, key TEXT NOT NULL,
    size BIGINT NOT NULL, PRIMARY KEY (upload, part_offset));
";

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never printed.
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

fn db_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

pub(crate) type Client = deadpool_postgres::Object;

impl Postgres {
    /// Connects to `url` and makes the schema if it is not there.
    pub async fn connect(url: &str) -> anyhow::Result<Postgres> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("--database is not a PostgreSQL URL: {e}"))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager).max_size(16).build()?;
        let client = pool
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("could not connect to PostgreSQL: {e}"))?;
        client
            .batch_execute(&format!(
                "SELECT pg_advisory_lock(72616); {SCHEMA} \
                 INSERT INTO vigil_schema (id, version) VALUES (1, {SCHEMA_VERSION}) ON CONFLICT (id) DO NOTHING; \
                 SELECT pg_advisory_unlock(72616);"
            ))
            .await?;
        let version: i32 = client
            .query_one("SELECT version FROM vigil_schema WHERE id = 1", &[])
            .await?
            .get(0);
        if version > SCHEMA_VERSION {
            anyhow::bail!(
                "the database was written by a newer vigil-server (schema {version}, this one knows {SCHEMA_VERSION})"
            );
        }
        if version == 1 {
            anyhow::bail!(
                "the database was written by a development build of vigil-server before its first release (schema 1, one receipt per item); start with an empty database"
            );
        }
        Ok(Postgres { pool })
    }

    pub(crate) async fn client(&self) -> Result<Client, ApiError> {
        self.pool.get().await.map_err(db_error)
    }

    /// The receipt key (see [`super::Db::server_key`]).
    pub async fn server_key(&self) -> anyhow::Result<SigningKey> {
        let client = self.pool.get().await?;
        let candidate = SigningKey::generate()?;
        client
            .execute(
                "INSERT INTO server_key (id, pkcs8) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                &[&candidate.expose_pkcs8()],
            )
            .await?;
        let stored: Vec<u8> = client
            .query_one("SELECT pkcs8 FROM server_key WHERE id = 1", &[])
            .await?
            .get(0);
        Ok(SigningKey::from_pkcs8(&stored)?)
    }

    /// Registers an organisation (see [`super::sqlite::add_org`]).
    pub async fn add_org(&self, text: &str) -> Result<(OrgProfile, bool), OrgRefused> {
        let profile = OrgProfile::parse_and_verify(text).map_err(OrgRefused::Invalid)?;
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| OrgRefused::Db(e.to_string()))?;
        let org = profile.org_id.to_string();
        let inserted = client
            .execute(
                "INSERT INTO orgs (org, sign_pk, profile, created_at, added_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (org) DO NOTHING",
                &[
                    &org,
                    &profile.org_sign_pk.as_slice(),
                    &profile.to_json_pretty(),
                    &profile.created_at.to_rfc3339(),
                    &now().to_rfc3339(),
                ],
            )
            .await?;
        if inserted == 1 {
            return Ok((profile, true));
        }
        let pk: Vec<u8> = client
            .query_one("SELECT sign_pk FROM orgs WHERE org = $1", &[&org])
            .await?
            .get(0);
        if pk != profile.org_sign_pk.as_slice() {
            return Err(OrgRefused::KeyChanged(profile.org_id));
        }
        client
            .execute(
                "UPDATE orgs SET profile = $2 WHERE org = $1",
                &[&org, &profile.to_json_pretty()],
            )
            .await?;
        Ok((profile, false))
    }

    /// Every registered organisation, each profile verified again.
    pub async fn orgs(&self) -> Result<Vec<OrgRow>, ApiError> {
        self.orgs_where(None).await
    }

    /// One organisation (only its own profile is read and verified).
    pub async fn org(&self, org: Uuid) -> Result<Option<OrgRow>, ApiError> {
        Ok(self.orgs_where(Some(org)).await?.into_iter().next())
    }

    async fn orgs_where(&self, only: Option<Uuid>) -> Result<Vec<OrgRow>, ApiError> {
        let only = only.map(|o| o.to_string());
        let rows = self
            .client()
            .await?
            .query(
                "SELECT org, profile, added_at FROM orgs WHERE $1::TEXT IS NULL OR org = $1 ORDER BY added_at",
                &[&only],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let org = r.get::<_, String>(0).parse().ok()?;
                let profile = OrgProfile::parse_and_verify(r.get(1)).ok()?;
                Some(OrgRow {
                    org,
                    profile,
                    added_at: r.get(2),
                })
            })
            .collect())
    }

    async fn devices_where(&self, clause: &str, value: String) -> Result<Vec<DeviceRow>, ApiError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT d.device, d.org, d.sign_pk, d.role, d.registered_at, v.revoked_at
                     FROM devices d LEFT JOIN revocations v ON v.device = d.device
                     WHERE {clause} = $1 ORDER BY d.registered_at"
                ),
                &[&value],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(DeviceRow {
                    device: r.get::<_, String>(0).parse().ok()?,
                    org: r.get::<_, String>(1).parse().ok()?,
                    sign_pk: r.get::<_, Vec<u8>>(2).try_into().ok()?,
                    role: role_from(r.get(3)),
                    registered_at: r.get(4),
                    revoked_at: r.get(5),
                })
            })
            .collect())
    }

    /// A registered device.
    pub async fn device(&self, device: DeviceId) -> Result<Option<DeviceRow>, ApiError> {
        Ok(self
            .devices_where("d.device", device.to_string())
            .await?
            .into_iter()
            .next())
    }

    /// An organisation's devices.
    pub async fn devices(&self, org: Uuid) -> Result<Vec<DeviceRow>, ApiError> {
        self.devices_where("d.org", org.to_string()).await
    }

    /// When the organisation revoked `device`.
    pub async fn revoked(&self, device: DeviceId) -> Result<Option<String>, ApiError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT revoked_at FROM revocations WHERE device = $1",
                &[&device.to_string()],
            )
            .await?
            .map(|r| r.get(0)))
    }

    /// Registers a device whose certificate was verified.
    pub async fn register_device(
        &self,
        cert: &VerifiedCertificate,
    ) -> Result<Registration, ApiError> {
        let client = self.client().await?;
        let device = cert.device.to_string();
        let hash = hex::encode(cert.hash.0);
        let inserted = client
            .execute(
                "INSERT INTO devices (device, org, sign_pk, role, invitation, certificate_sha256, registered_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[
                    &device,
                    &cert.invitation.org.to_string(),
                    &cert.device_keys.sign_pk.as_slice(),
                    &cert.invitation.role.as_str(),
                    &cert.invitation.id.to_string(),
                    &hash,
                    &now().to_rfc3339(),
                ],
            )
            .await?;
        if inserted == 1 {
            return Ok(Registration::New);
        }
        let existing = client
            .query_opt(
                "SELECT certificate_sha256 FROM devices WHERE device = $1",
                &[&device],
            )
            .await?;
        Ok(match existing {
            Some(r) if r.get::<_, String>(0) == hash => Registration::Again,
            Some(_) => Registration::OtherCertificate,
            None => Registration::InvitationUsed,
        })
    }

    /// Records a verified revocation.
    pub async fn revoke(&self, revocation: &Revocation) -> Result<bool, ApiError> {
        let wire = revocation.to_wire();
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO revocations (device, org, revoked_at, document, signature)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device) DO NOTHING",
                &[
                    &revocation.doc.device.to_string(),
                    &revocation.doc.org.to_string(),
                    &revocation.doc.revoked_at.to_rfc3339(),
                    &wire.document,
                    &wire.signature.to_string(),
                ],
            )
            .await?;
        Ok(n == 1)
    }
}
