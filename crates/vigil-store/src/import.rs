//! Receiving what another vault sealed: judging the sender, then applying its revisions,
//! attachments and custody events in one transaction, each revision authorised first.
//!
//! The caller (`vigil-exchange`) reads a bundle and checks every record in it on its own
//! (signatures, hashes, canonical form), then hands over an [`Incoming`]: the records wait in
//! a [`Spill`] and the attachments are staged in the chunk store, so memory stays flat. Here:
//!
//! 1. [`Vault::judge_sender`]: the sender's standing ([`vigil_ledger::trust`]) from its
//!    certificate and this vault's register. A sender that is not trusted goes to quarantine
//!    (the caller keeps the bundle with [`Vault::quarantine_bundle`]).
//! 2. [`Vault::apply_incoming`]: in ONE transaction, the sender is registered if it is new, each
//!    device's revisions must continue its chain, and each revision is authorised
//!    ([`vigil_ledger::authorise`]) against what the vault holds, this import's earlier
//!    revisions included, before it is stored. Any refusal rolls everything back. Incidents
//!    are then shown as their lineage says ([`vigil_ledger::lineage`]), never by clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::OptionalExtension;
use serde::Serialize;
use uuid::Uuid;
use vigil_ledger::authorise::{Vantage, authorise};
use vigil_ledger::chain::{self, Completeness, Link};
use vigil_ledger::custody::CustodyKind;
use vigil_ledger::enrolment::{Certificate, VerifiedCertificate};
use vigil_ledger::lineage::{Arriving, apply_order};
use vigil_ledger::trust::{self, QuarantineReason, RegisterView, Sender, Standing};
use vigil_ledger::{LedgerError, RevisionId};
use vigil_model::{DeviceId, IncidentId, IncidentStatus};

use crate::attachments::insert_staged;
use crate::custody::{Received, append_custody, org_of, store_received};
use crate::error::{Result, StoreError};
use crate::facts::{attachment_held, facts_for, insert_log_entry};
use crate::incoming::IncomingRevision;
use crate::rows::{insert_revision, known_device, register_device, revision_hash_at};
use crate::staging::{StagedAttachment, remove_chunks};
use crate::{Incoming, Vault, register, sql};

/// The page cache while a bundle is applied, in KiB as SQLite counts it (negative).
const IMPORT_CACHE_KIB: i64 = -4096;

/// What [`Vault::apply_incoming`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Attachments stored now.
    pub attachments: usize,
    /// Attachments whose revision came now, that wait for parts still to come.
    pub awaiting: usize,
    /// Parts of attachments stored now.
    pub parts: usize,
    /// Revisions stored now.
    pub applied: Vec<RevisionId>,
    /// Revisions already here with the same hash.
    pub skipped: Vec<RevisionId>,
    /// Revisions of a revoked device sealed after its revocation: never stored.
    pub refused_after_revocation: Vec<RevisionId>,
    /// Incidents created or brought up to date.
    pub incidents: Vec<IncidentId>,
    /// Incidents that now have more than one latest revision: a person must settle them.
    pub forks: Vec<IncidentId>,
    /// Devices whose keys this vault learnt now.
    pub new_devices: Vec<DeviceId>,
    /// The sender, when it entered the register now.
    pub registered: Option<DeviceId>,
    /// Custody events received and stored now.
    pub custody_events: usize,
    /// Received custody events that contradict the history kept here (which was kept).
    pub custody_conflicts: Vec<String>,
}

impl Vault {
    /// What this vault makes of the sender of `incoming` (see [`vigil_ledger::trust::judge`]).
    pub fn judge_sender(&self, incoming: &Incoming) -> Result<Standing> {
        let own_key = self.keys.public().sign_pk;
        let certificate = self.check_certificate(incoming)?;
        let mut new_revisions = 0;
        for r in &incoming.revisions {
            let held = self
                .conn
                .prepare_cached("SELECT 1 FROM revisions WHERE id = ?1")?
                .exists([r.id.0.as_bytes().as_slice()])?;
            new_revisions += usize::from(!held);
        }
        let other_key = |rec: Option<register::DeviceRecord>| {
            rec.filter(|r| r.sign_pk != incoming.sender_key)
                .map(|r| r.registered())
        };
        // The sender's id held by another key: in the register, or known from what was
        // imported before the register existed.
        let by_device = match other_key(register::by_device(&self.conn, incoming.sender)?) {
            Some(r) => Some(r),
            None => known_device(&self.conn, incoming.sender)?
                .filter(|k| k.sign_pk != incoming.sender_key)
                .map(|k| trust::Registered {
                    device: incoming.sender,
                    sign_pk: k.sign_pk,
                    invitation: None,
                    revoked_at: None,
                }),
        };
        let view = RegisterView {
            by_key: register::by_key(&self.conn, &incoming.sender_key)?.map(|r| r.registered()),
            by_device,
            by_invitation: match &certificate {
                Some(Ok(c)) => other_key(register::by_invitation(&self.conn, c.invitation.id)?),
                _ => None,
            },
        };
        let standing = trust::judge(
            &Sender {
                device: incoming.sender,
                sign_pk: incoming.sender_key,
                certificate: certificate.as_ref(),
                new_revisions,
                received_at: self.clock.now(),
            },
            &own_key,
            &view,
        );
        // Revisions under another id of the same key (sealed before the device enrolled) are
        // taken only when this vault already knows that id with this key.
        if matches!(standing, Standing::Registered(_) | Standing::Enrolled(_)) {
            let mut former: BTreeSet<DeviceId> = BTreeSet::new();
            for r in &incoming.revisions {
                if r.device != incoming.sender
                    && !former.contains(&r.device)
                    && known_device(&self.conn, r.device)?.map(|k| k.sign_pk)
                        != Some(incoming.sender_key)
                {
                    former.insert(r.device);
                }
            }
            if !former.is_empty() {
                return Ok(Standing::Quarantine(QuarantineReason::FormerId {
                    devices: former.into_iter().collect(),
                }));
            }
        }
        Ok(standing)
    }

    /// The sender's certificate, checked for this vault's organisation (`None` if it sent
    /// none).
    fn check_certificate(
        &self,
        incoming: &Incoming,
    ) -> Result<Option<std::result::Result<VerifiedCertificate, LedgerError>>> {
        let profile = self.org_profile()?;
        Ok(match (&incoming.certificate, &profile) {
            (Some(bytes), Some(p)) => {
                Some(Certificate::from_bytes(bytes.clone()).verify(p.org_id, &p.org_sign_pk))
            }
            (Some(_), None) => Some(Err(LedgerError::malformed(
                "the device certificate",
                "this vault belongs to no organisation to check it against",
            ))),
            (None, _) => None,
        })
    }

    /// The name the organisation gave the sender, shown to the person who decides on it: only
    /// from a certificate that verifies for this organisation and is the sender's own, and
    /// never when another device used its invitation first (a copied invitation file would
    /// otherwise lend a thief the monitor's name).
    pub fn certified_name(
        &self,
        incoming: &Incoming,
        standing: &Standing,
    ) -> Result<Option<String>> {
        if matches!(
            standing,
            Standing::Quarantine(QuarantineReason::InvitationReused { .. })
        ) {
            return Ok(None);
        }
        Ok(match self.check_certificate(incoming)? {
            Some(Ok(c))
                if c.device == incoming.sender && c.device_keys.sign_pk == incoming.sender_key =>
            {
                Some(c.invitation.name)
            }
            _ => None,
        })
    }

    /// Applies `incoming` (see the module documentation), its sender having `standing`. A
    /// sender in quarantine is applied only when a person accepted it: `accepted` names the
    /// quarantine entry, which goes in the same transaction. On any error nothing changes and
    /// the staged attachments are removed.
    pub fn apply_incoming(
        &mut self,
        mut incoming: Incoming,
        standing: &Standing,
        accepted: Option<Uuid>,
    ) -> Result<ApplyReport> {
        let mut used = Vec::new();
        // A bundle's transaction may be tens of MiB: let SQLite spill its pages to the journal
        // early instead of keeping them in memory (the cache's usual size serves browsing).
        self.conn
            .pragma_update(None, "cache_size", IMPORT_CACHE_KIB)?;
        let result = self.apply_tx(&mut incoming, standing, accepted, &mut used);
        let restored = self.conn.pragma_update(None, "cache_size", sql::CACHE_KIB);
        match &result {
            // The staged chunks now recorded belong to the vault; quarantine chunks go.
            Ok((_, names)) => remove_chunks(&self.dir, names),
            Err(_) => used.into_iter().for_each(StagedAttachment::discard),
        }
        incoming.discard();
        restored?;
        result.map(|(r, _)| r)
    }

    fn apply_tx(
        &mut self,
        incoming: &mut Incoming,
        standing: &Standing,
        accepted: Option<Uuid>,
        used: &mut Vec<StagedAttachment>,
    ) -> Result<(ApplyReport, Vec<String>)> {
        let now = self.clock.now();
        let own_key = self.keys.public().sign_pk;
        let vantage = Vantage {
            org: org_of(&self.conn)?,
            own_key,
        };
        let key = incoming.sender_key;
        let revoked_at = register::by_key(&self.conn, &key)?.and_then(|r| r.revoked_at);
        if matches!(standing, Standing::Quarantine(_)) && accepted.is_none() {
            return Err(StoreError::Ledger(LedgerError::NotAuthorised {
                device: incoming.sender.to_string(),
                revision: "(all)".into(),
                incident: "(any)".into(),
            }));
        }
        let mut report = ApplyReport::default();
        let arrived = std::mem::take(&mut incoming.revisions);
        let arriving: Vec<Arriving> = arrived
            .iter()
            .map(|r| Arriving {
                id: r.id,
                device: r.device,
                device_seq: r.device_seq,
                amends: r.amends,
            })
            .collect();
        let mut slots: Vec<Option<IncomingRevision>> = arrived.into_iter().map(Some).collect();
        let order: Vec<IncomingRevision> = apply_order(&arriving)
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take))
            .collect();
        let (order, late): (Vec<_>, Vec<_>) = order
            .into_iter()
            .partition(|r| revoked_at.is_none_or(|at| r.sealed_at <= at));
        report.refused_after_revocation = late.iter().map(|r| r.id).collect();

        let certified_name = self.certified_name(incoming, standing)?;
        let certificate = match self.check_certificate(incoming)? {
            Some(Ok(c))
                if c.device == incoming.sender && c.device_keys.sign_pk == incoming.sender_key =>
            {
                Some(c)
            }
            _ => None,
        };
        let tx = self.conn.transaction()?;
        // A device in the register without an invitation (accepted by a person) that now
        // enrolled: its invitation is recorded, so that no other device can use it.
        if let (Standing::Registered(r), Some(c)) = (standing, &certificate)
            && r.invitation.is_none()
            && register::by_invitation(&tx, c.invitation.id)?.is_none()
        {
            register::record_enrolment(
                &tx,
                &key,
                c,
                incoming.certificate.as_deref().unwrap_or_default(),
            )?;
        }
        match standing {
            Standing::Enrolled(cert) => {
                let bytes = incoming.certificate.as_deref().unwrap_or_default();
                register::register_enrolled(&tx, cert, bytes, now)?;
                report.registered = Some(cert.device);
            }
            Standing::Registered(r) if r.device != incoming.sender => {
                register::reidentify(&tx, &key, incoming.sender)?;
            }
            Standing::Quarantine(_) if register::by_key(&tx, &key)?.is_none() => {
                if let Some(other) = register::by_device(&tx, incoming.sender)? {
                    return Err(StoreError::DeviceKeyConflict {
                        device: other.device.to_string(),
                    });
                }
                let name = certified_name.unwrap_or_else(|| "accepted by a person".into());
                register::register_accepted(
                    &tx,
                    incoming.sender,
                    &key,
                    &name,
                    incoming.certificate.as_deref(),
                    now,
                )?;
                report.registered = Some(incoming.sender);
            }
            _ => {}
        }

        // Each device's revisions continue what is held of its chain.
        let mut by_device: BTreeMap<DeviceId, Vec<Link>> = BTreeMap::new();
        for r in &order {
            by_device.entry(r.device).or_default().push(Link {
                seq: r.device_seq,
                prev: r.prev,
                hash: r.hash,
            });
        }
        for (device, links) in &by_device {
            chain::check(
                *device,
                "revision",
                links,
                Completeness::Continuing,
                |seq| revision_hash_at(&tx, *device, seq),
            )?;
        }

        let mut touched: BTreeSet<IncidentId> = BTreeSet::new();
        // The incident as each revision applied now seals it (small beside its running log), so
        // the one an incident is shown as need not be read back whole.
        let mut sealed_as: HashMap<RevisionId, vigil_model::Incident> = HashMap::new();
        for r in &order {
            let existing: Option<Vec<u8>> = tx
                .prepare_cached("SELECT hash FROM revisions WHERE id = ?1")?
                .query_row([r.id.0.as_bytes().as_slice()], |row| row.get(0))
                .optional()?;
            match existing {
                Some(h) if h == r.hash.0 => {
                    report.skipped.push(r.id);
                    continue;
                }
                Some(_) => {
                    return Err(StoreError::RevisionConflict {
                        id: r.id.to_string(),
                    });
                }
                None => {}
            }
            if revision_hash_at(&tx, r.device, r.device_seq)?.is_some() {
                return Err(StoreError::RevisionConflict {
                    id: r.id.to_string(),
                });
            }
            let v = incoming.load_revision(r)?;
            if *v.sign_pk() != key {
                return Err(LedgerError::ForeignRevision {
                    revision: r.id.to_string(),
                }
                .into());
            }
            let doc = v.document();
            if register_device(&tx, r.device, &doc.device_keys, &now)? {
                report.new_devices.push(r.device);
            }
            let facts = facts_for(&tx, &v)?;
            authorise(&v, &vantage, &facts)?;
            if !facts.exists {
                let mut inc = doc.incident.clone();
                inc.status = IncidentStatus::Sealed;
                sql::insert_incident(&tx, &inc)?;
            }
            insert_revision(&tx, v.revision(), true)?;
            for e in &doc.log {
                if !facts.entries.contains_key(&e.id) {
                    insert_log_entry(&tx, e)?;
                }
            }
            for a in &doc.attachments {
                if facts.attachments.contains_key(&a.id) || attachment_held(&tx, a.id)? {
                    continue;
                }
                // A bundle carries each content once; a second id with the same content gets a
                // copy of the chunks staged for the first.
                let staged = match incoming.attachments.remove(&a.sha256) {
                    Some(s) => s,
                    None => match used.iter().find(|u| u.sha256() == a.sha256.0) {
                        Some(earlier) => earlier.duplicate()?,
                        // Coming in parts (in this bundle's list, or an earlier one's): it
                        // waits for them.
                        None if incoming.has_part_list(&a.sha256)
                            || crate::parts::list_held(&tx, &a.sha256)? =>
                        {
                            crate::parts::insert_awaiting(&tx, a, r.incident, &now)?;
                            report.awaiting += 1;
                            continue;
                        }
                        None => {
                            return Err(StoreError::MissingAttachment {
                                revision: r.id.to_string(),
                                sha256: a.sha256.to_string(),
                            });
                        }
                    },
                };
                // Recorded in this transaction: the chunks are the vault's once it commits, and
                // the caller removes them if it does not.
                used.push(staged);
                let Some(staged) = used.last() else {
                    continue;
                };
                if staged.size() != a.size || staged.sha256() != a.sha256.0 {
                    return Err(StoreError::TamperedAttachment {
                        id: a.id.to_string(),
                    });
                }
                insert_staged(&tx, a, r.incident, staged, &now)?;
                report.attachments += 1;
            }
            touched.insert(r.incident);
            report.applied.push(r.id);
            sealed_as.insert(r.id, v.into_document().incident);
        }

        for incident in touched {
            let lineage = crate::sealing::lineage_of(&tx, incident)?;
            if lineage.is_fork() {
                report.forks.push(incident);
            }
            let shown = match lineage.shown {
                Some(id) => match sealed_as.remove(&id) {
                    Some(inc) => Some(inc),
                    None => crate::sealing::shown_revision(&tx, incident)?
                        .map(|r| r.document().map(|d| d.incident))
                        .transpose()?,
                },
                None => None,
            };
            if let Some(mut inc) = shown {
                inc.status = IncidentStatus::Sealed;
                let current = sql::load_incident(&tx, incident)?;
                if current != inc {
                    sql::update_incident(&tx, &inc)?;
                    // An edit waiting to amend a sealed incident here is the person's work: it
                    // stays (the editor shows it over the newer version). A local draft's
                    // leftovers go.
                    if current.status != IncidentStatus::Sealed {
                        sql::clear_draft(&tx, incident)?;
                    }
                }
            }
            report.incidents.push(incident);
        }

        // The sender's custody log, kept as history. After its first event that is skipped
        // or contradicts the history kept here, the rest are not taken either: they continue
        // from it. A revoked device's account is taken only when a person accepted it, and
        // then only up to the revocation.
        let own_device = self.device;
        let custody = std::mem::take(&mut incoming.custody);
        let custody = match (revoked_at, accepted) {
            (Some(_), None) => Vec::new(),
            _ => custody,
        };
        for slot in custody {
            let ev = incoming.load_custody(slot)?;
            if revoked_at.is_some_and(|at| ev.doc.at > at) {
                break;
            }
            if let (Some(found), Some(ours)) = (ev.doc.org, vantage.org)
                && found != ours
            {
                return Err(LedgerError::WrongOrganisation {
                    what: format!("custody event {} of device {}", ev.doc.seq, ev.doc.device),
                    found: found.to_string(),
                    ours: ours.to_string(),
                }
                .into());
            }
            match store_received(&tx, &ev, own_device)? {
                Received::Stored => report.custody_events += 1,
                Received::AlreadyHere => {}
                Received::Skipped => break,
                Received::Conflict(what) => {
                    report.custody_conflicts.push(what);
                    break;
                }
            }
        }

        let (dropped_parts, filled) = crate::parts::fill_awaiting(&tx, incoming, used)?;
        report.attachments += filled;
        report.parts = crate::parts::store_incoming(&tx, incoming, used, &now)?;
        let changed = !report.applied.is_empty()
            || report.attachments > 0
            || report.parts > 0
            || report.custody_events > 0;
        if changed {
            append_custody(
                &tx,
                &self.keys,
                self.device,
                now,
                CustodyKind::Imported,
                &incoming.origin,
                serde_json::json!({ "revisions": report.applied }),
            )?;
            register::seen(&tx, &key, now)?;
        }
        let mut names = match accepted {
            Some(id) => crate::quarantine::remove_entry(&tx, id)?,
            None => Vec::new(),
        };
        names.extend(dropped_parts);
        tx.commit()?;
        Ok((report, names))
    }
}
