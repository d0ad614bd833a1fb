//! Sealing: an incident becomes a signed revision ([`vigil_ledger::revision`]), chained to this
//! device's previous revision, and amendments add revisions without changing any sealed one
//! (the `revisions` table refuses UPDATE and DELETE).

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use vigil_ledger::RevisionId;
use vigil_ledger::custody::CustodyKind;
use vigil_ledger::lineage::{Lineage, Node};
use vigil_ledger::revision::{AttachmentRef, Revision, RevisionDoc};
use vigil_model::{Incident, IncidentId, IncidentStatus};

use crate::custody::{append_custody, org_of};
use crate::error::{Result, StoreError};
use crate::rows::{insert_revision, query_revisions, sha_from};
use crate::{Vault, sql};

/// An incident's lineage: its heads and the revision it is shown as ([`Lineage`]).
pub(crate) fn lineage_of(conn: &Connection, incident: IncidentId) -> Result<Lineage> {
    let mut stmt = conn.prepare_cached("SELECT id, amends FROM revisions WHERE incident = ?1")?;
    let rows = stmt
        .query_map([incident.as_uuid().as_bytes().as_slice()], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut nodes = Vec::with_capacity(rows.len());
    for (id, amends) in rows {
        nodes.push(Node {
            id: RevisionId(crate::uuid_from(&id)?),
            amends: amends
                .as_deref()
                .map(|a| crate::uuid_from(a).map(RevisionId))
                .transpose()?,
        });
    }
    Ok(Lineage::of(&nodes))
}

fn revision_in(conn: &Connection, id: RevisionId) -> Result<Revision> {
    query_revisions(conn, "WHERE id = ?1", [id.0.as_bytes().as_slice()])?
        .pop()
        .ok_or_else(|| StoreError::NotFound {
            what: "revision",
            id: id.to_string(),
        })
}

/// The revision an incident is shown as: its only head or, with a fork, the newest revision all
/// heads descend from.
pub(crate) fn shown_revision(conn: &Connection, incident: IncidentId) -> Result<Option<Revision>> {
    match lineage_of(conn, incident)?.shown {
        Some(id) => revision_in(conn, id).map(Some),
        None => Ok(None),
    }
}

impl Vault {
    /// Seals a draft incident: a signed revision of it, its running log and its attachment
    /// references, chained to this device's previous revision. The incident becomes `Sealed`
    /// ([`Vault::update_incident`] refuses it from then on) and a `sealed` custody event is
    /// recorded.
    pub fn seal(&mut self, incident: IncidentId) -> Result<Revision> {
        let current = self.incident(incident)?;
        if current.is_sealed() {
            return Err(StoreError::Sealed(incident.to_string()));
        }
        self.seal_revision(current, None)
    }

    /// Amends a sealed incident: `next` becomes a new sealed revision that names the incident's
    /// latest revision in `amends`. Nothing sealed before is changed. Refused while the
    /// incident is forked ([`StoreError::Forked`]), and while an edit made in the app waits to
    /// be sealed ([`StoreError::EditWaiting`]: `next` would silently drop it).
    pub fn amend(&mut self, incident: IncidentId, next: &Incident) -> Result<Revision> {
        if self.draft(incident)?.is_some() && self.incident(incident)?.is_sealed() {
            return Err(StoreError::EditWaiting(incident.to_string()));
        }
        self.amend_with(incident, next)
    }

    /// [`Vault::amend`] without the check for a waiting edit: `seal_now` seals that edit.
    fn amend_with(&mut self, incident: IncidentId, next: &Incident) -> Result<Revision> {
        let current = self.incident(incident)?;
        if !current.is_sealed() {
            return Err(StoreError::NotSealed(incident.to_string()));
        }
        if next.id != incident {
            return Err(StoreError::Invalid(vigil_model::ValidationErrors(vec![
                vigil_model::FieldError::new(
                    "id",
                    vigil_model::Problem::DuplicateId {
                        id: next.id.to_string(),
                    },
                ),
            ])));
        }
        let mut next = next.clone();
        next.created_at = current.created_at;
        next.updated_at = self.clock.now();
        next.validate(&self.thesaurus)?;
        let head = self.head_revision(incident)?;
        self.seal_revision(next, head.map(|h| h.id))
    }

    /// Seals what the incident holds now: its first sealed revision, or, once it is sealed, an
    /// amendment with the edits kept for it (the editor's draft, if any) and every running-log
    /// entry and attachment added since. Refuses ([`StoreError::NothingToSeal`]) when nothing
    /// changed since the last sealed revision.
    pub fn seal_now(&mut self, incident: IncidentId) -> Result<Revision> {
        let current = self.incident(incident)?;
        if !current.is_sealed() {
            return self.seal(incident);
        }
        let next = match self.draft(incident)? {
            // The editor's copy carries the `updated_at` of the version it began from: if a
            // newer revision arrived since (another device's amendment), sealing the copy would
            // quietly undo it. A person decides (keep the edit on top, or discard it).
            Some(d) if d.updated_at != current.updated_at => {
                return Err(StoreError::DraftOutdated(incident.to_string()));
            }
            Some(d) => d,
            None => current.clone(),
        };
        if let Some(head) = self.head_revision(incident)? {
            let doc = head.document()?;
            let mut sealed = doc.incident;
            let mut pending = next.clone();
            for i in [&mut sealed, &mut pending] {
                i.status = IncidentStatus::Sealed;
                i.updated_at = current.updated_at;
                i.created_at = current.created_at;
            }
            let log: BTreeSet<_> = self.log_entries(incident)?.iter().map(|e| e.id).collect();
            let files: BTreeSet<_> = self.attachments(incident)?.iter().map(|a| a.id).collect();
            if sealed == pending
                && doc.log.iter().map(|e| e.id).collect::<BTreeSet<_>>() == log
                && doc
                    .attachments
                    .iter()
                    .map(|a| a.id)
                    .collect::<BTreeSet<_>>()
                    == files
            {
                return Err(StoreError::NothingToSeal(incident.to_string()));
            }
        }
        self.amend_with(incident, &next)
    }

    /// The revision an amendment of `incident` amends: its only head. With a fork there is no
    /// such revision until a person settles it.
    fn head_revision(&self, incident: IncidentId) -> Result<Option<Revision>> {
        let lineage = lineage_of(&self.conn, incident)?;
        match lineage.heads.as_slice() {
            [] => Ok(None),
            [only] => revision_in(&self.conn, *only).map(Some),
            _ => Err(StoreError::Forked(incident.to_string())),
        }
    }

    /// The incident's lineage: its heads (more than one is a fork) and the revision it is
    /// shown as.
    pub fn lineage(&self, incident: IncidentId) -> Result<Lineage> {
        lineage_of(&self.conn, incident)
    }

    /// The running-log entries sealed so far: those the revision the incident is shown as
    /// carries (none before the first seal). Entries written since are not sealed yet.
    pub fn sealed_entries(&self, incident: IncidentId) -> Result<Vec<vigil_model::EntryId>> {
        let Some(shown) = lineage_of(&self.conn, incident)?.shown else {
            return Ok(Vec::new());
        };
        let doc = revision_in(&self.conn, shown)?.document()?;
        Ok(doc.log.iter().map(|e| e.id).collect())
    }

    fn seal_revision(
        &mut self,
        incident: Incident,
        amends: Option<RevisionId>,
    ) -> Result<Revision> {
        let now = self.clock.now();
        let log = self.log_entries(incident.id)?;
        let attachments = self
            .attachments(incident.id)?
            .into_iter()
            .map(|a| AttachmentRef {
                id: a.id,
                original_name: a.original_name,
                media_type: a.media_type,
                size: a.size,
                sha256: a.sha256,
            })
            .collect();
        let tx = self.conn.transaction()?;
        let dev = self.device.as_uuid().as_bytes().as_slice();
        let last: Option<(i64, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT device_seq, hash FROM revisions WHERE device = ?1
                 ORDER BY device_seq DESC LIMIT 1",
            )?
            .query_row([dev], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (device_seq, prev) = match last {
            Some((s, h)) => (s as u64 + 1, Some(sha_from(&h)?)),
            None => (1, None),
        };
        let doc = RevisionDoc::new(
            incident,
            log,
            attachments,
            org_of(&tx)?,
            self.device,
            self.keys.public(),
            device_seq,
            prev,
            amends,
            now,
        );
        let sealed = doc.incident.clone();
        let rev = doc.seal(&self.keys)?;
        insert_revision(&tx, &rev, false)?;
        sql::update_incident(&tx, &sealed)?;
        sql::clear_draft(&tx, sealed.id)?;
        append_custody(
            &tx,
            &self.keys,
            self.device,
            now,
            CustodyKind::Sealed,
            &rev.id.to_string(),
            serde_json::json!({
                "incident": sealed.id,
                "hash": rev.hash,
                "amends": amends,
            }),
        )?;
        tx.commit()?;
        Ok(rev)
    }

    /// The sealed revisions of an incident, oldest first.
    pub fn revisions(&self, incident: IncidentId) -> Result<Vec<Revision>> {
        query_revisions(
            &self.conn,
            "WHERE incident = ?1 ORDER BY rowid",
            [incident.as_uuid().as_bytes().as_slice()],
        )
    }

    /// One revision.
    pub fn revision(&self, id: RevisionId) -> Result<Revision> {
        revision_in(&self.conn, id)
    }

    /// Every revision in the vault, by device and chain position.
    pub fn all_revisions(&self) -> Result<Vec<Revision>> {
        query_revisions(&self.conn, "ORDER BY device, device_seq", [])
    }

    /// Revisions sealed here (under any id this vault's key had) that no bundle has carried
    /// out yet and that HQ has not acknowledged through the server, in the order they were
    /// sealed.
    pub fn unsent_revisions(&self) -> Result<Vec<Revision>> {
        self.unsent_revision_ids()?
            .into_iter()
            .map(|id| self.revision(id))
            .collect()
    }

    /// The ids of [`Vault::unsent_revisions`] (which an export loads one at a time).
    pub fn unsent_revision_ids(&self) -> Result<Vec<RevisionId>> {
        self.revision_ids(
            "WHERE imported = 0
               AND device IN (SELECT device FROM known_devices WHERE sign_pk = ?1)
               AND NOT EXISTS (SELECT 1 FROM revision_exports e WHERE e.revision = revisions.id)
               AND NOT EXISTS (SELECT 1 FROM sync_item_revisions s
                               JOIN sync_items i ON i.seq = s.item
                               WHERE s.revision = revisions.id AND i.acked_at IS NOT NULL)
             ORDER BY rowid",
        )
    }

    /// Whether `id` is a revision signed by this vault's key (one a bundle of this device may
    /// carry).
    pub fn is_own_revision(&self, id: RevisionId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM revisions WHERE id = ?1
                 AND device IN (SELECT device FROM known_devices WHERE sign_pk = ?2)",
            )?
            .exists(params![
                id.0.as_bytes().as_slice(),
                self.keys.public().sign_pk.as_slice()
            ])?)
    }

    /// The revisions signed by this vault's key (under any id it had, restored ones included),
    /// by device and place: the only ones a bundle of this device may carry.
    pub fn own_revision_ids(&self) -> Result<Vec<(RevisionId, IncidentId)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, incident FROM revisions
             WHERE device IN (SELECT device FROM known_devices WHERE sign_pk = ?1)
             ORDER BY device, device_seq",
        )?;
        let rows = stmt
            .query_map([self.keys.public().sign_pk.as_slice()], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, inc)| {
                Ok((
                    RevisionId(crate::uuid_from(&id)?),
                    IncidentId::from_uuid(crate::uuid_from(&inc)?),
                ))
            })
            .collect()
    }

    fn revision_ids(&self, tail: &str) -> Result<Vec<RevisionId>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT id FROM revisions {tail}"))?;
        let rows = stmt
            .query_map([self.keys.public().sign_pk.as_slice()], |r| {
                r.get::<_, Vec<u8>>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter()
            .map(|id| Ok(RevisionId(crate::uuid_from(id)?)))
            .collect()
    }

    /// Records that `bundle` carried these revisions out (an `exported` custody event).
    pub fn mark_exported(&mut self, revisions: &[RevisionId], bundle: &str) -> Result<()> {
        let now = self.clock.now();
        let tx = self.conn.transaction()?;
        for id in revisions {
            let exists = tx
                .prepare_cached("SELECT 1 FROM revisions WHERE id = ?1")?
                .exists([id.0.as_bytes().as_slice()])?;
            if !exists {
                return Err(StoreError::NotFound {
                    what: "revision",
                    id: id.to_string(),
                });
            }
            tx.prepare_cached(
                "INSERT OR IGNORE INTO revision_exports (revision, bundle, at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                id.0.as_bytes().as_slice(),
                bundle,
                now.to_rfc3339()
            ])?;
        }
        append_custody(
            &tx,
            &self.keys,
            self.device,
            now,
            CustodyKind::Exported,
            bundle,
            serde_json::json!({ "revisions": revisions }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Signs `bytes` with this vault's device key (bundle manifests).
    pub fn device_sign(&self, bytes: &[u8]) -> [u8; 64] {
        self.keys.sign(bytes).0
    }
}
