//! Who may add what to an incident: the rules a vault (and the server) apply to every revision
//! that arrives from elsewhere, as pure functions over what the vault already holds.
//!
//! A revision has already proved itself ([`crate::revision::Revision::verify`]) and its device
//! is trusted ([`crate::trust`]). Then, before anything is stored:
//!
//! 1. **Organisation.** A revision naming an organisation must name this vault's.
//! 2. **A new incident.** A revision of an incident the vault does not have creates it, and
//!    must be a first sealing (`amends` null).
//! 3. **An incident the vault has.** The revision must amend a revision of that incident held
//!    here, and its key must have sealed a revision of the incident before, or its device must
//!    hold the organisation's grant for it. A first sealing of an incident that is already
//!    here is refused (it would replace someone else's record). The vault's own key may also
//!    seal its own draft, which has no revision yet (a vault restoring its own bundle).
//! 4. **Running-log entries.** Every entry the revision carries must belong to its incident.
//!    An entry the vault already holds must be held identically. A new entry must be the
//!    sealing device's own (its id, or an id the vault knows for the same key) and must take a
//!    free place in that device's part of the log: places (`seq`) are numbered per device, so
//!    two devices writing the same incident at once never take each other's.
//! 5. **Attachments.** An attachment id already held must be the same file of the same incident.
//!
//! Which revision is the incident's current state is [`crate::lineage`]'s business, never a
//! clock's.

use std::collections::BTreeMap;

use uuid::Uuid;
use vigil_crypto::sign::SignPublicKey;
use vigil_model::{AttachmentId, DeviceId, IncidentId, LogEntry, Sha256};

use crate::ids::is_derived;
use crate::revision::VerifiedRevision;
use crate::{LedgerError, Result};

/// What the vault holds that bears on one revision: of its incident, and of what it names.
/// Each is a lookup the vault answers from an index, so a revision is checked in the same time
/// however many revisions its incident has.
#[derive(Debug, Clone, Default)]
pub struct IncidentFacts {
    /// Whether the incident is here at all.
    pub exists: bool,
    /// Whether any revision of it is held here.
    pub sealed: bool,
    /// Whether the revision it amends is held here, as a revision of this incident.
    pub holds_amended: bool,
    /// Whether its key sealed a revision of this incident held here.
    pub sealed_by_key: bool,
    /// Devices the organisation granted the incident to, each with the key known here for it
    /// (a grant follows the key when its device later speaks under another id).
    pub granted: Vec<(DeviceId, Option<SignPublicKey>)>,
    /// The running-log entries the revision carries that are held here, by id, each as its
    /// [`entry_digest`] (a long log is compared without holding a second copy of it).
    pub entries: BTreeMap<vigil_model::EntryId, Sha256>,
    /// Which entry holds each place the revision's new entries want, by device and place.
    pub places: BTreeMap<(DeviceId, u64), vigil_model::EntryId>,
    /// The key known here for each device the revision's entries name.
    pub device_keys: BTreeMap<DeviceId, SignPublicKey>,
    /// The attachments the revision names that are held here: incident and hash.
    pub attachments: BTreeMap<AttachmentId, (IncidentId, Sha256)>,
}

/// A running-log entry's SHA-256, over its canonical JSON: two entries with the same digest are
/// the same entry.
pub fn entry_digest(e: &LogEntry) -> Sha256 {
    let bytes = serde_json::to_value(e)
        .map(|v| crate::canonical::encode(&v))
        .unwrap_or_default();
    Sha256(vigil_crypto::sign::sha256(&bytes))
}

/// What the vault is.
#[derive(Debug, Clone)]
pub struct Vantage {
    /// Its organisation.
    pub org: Option<Uuid>,
    /// Its own device key.
    pub own_key: SignPublicKey,
}

/// Whether a device id speaks for `key`: the id the key makes, or one the vault knows with it.
fn speaks_for(device: DeviceId, key: &SignPublicKey, facts: &IncidentFacts) -> bool {
    is_derived(device, key) || facts.device_keys.get(&device) == Some(key)
}

/// Checks every rule (see the module documentation) for one revision.
pub fn authorise(rev: &VerifiedRevision, at: &Vantage, facts: &IncidentFacts) -> Result<()> {
    let doc = rev.document();
    let r = rev.revision();
    let key = rev.sign_pk();
    let rid = r.id.to_string();
    let incident = r.incident.to_string();

    if let (Some(found), Some(ours)) = (doc.org, at.org)
        && found != ours
    {
        return Err(LedgerError::WrongOrganisation {
            what: format!("revision {rid}"),
            found: found.to_string(),
            ours: ours.to_string(),
        });
    }

    match (!facts.sealed, r.amends) {
        // Nothing sealed here yet: a first sealing creates the incident (or seals this vault's
        // own draft of it).
        (true, None) if !facts.exists || *key == at.own_key => {}
        (true, None) => {
            return Err(LedgerError::IncidentTaken {
                revision: rid,
                incident,
            });
        }
        (false, None) => {
            return Err(LedgerError::IncidentTaken {
                revision: rid,
                incident,
            });
        }
        (_, Some(amends)) if !facts.holds_amended => {
            return Err(LedgerError::AmendsUnknown {
                revision: rid,
                amends: amends.to_string(),
                incident,
            });
        }
        (_, Some(_)) => {
            let granted = facts
                .granted
                .iter()
                .any(|(d, k)| *d == r.device || k.as_ref() == Some(key));
            if !facts.sealed_by_key && !granted {
                return Err(LedgerError::NotAuthorised {
                    device: r.device.to_string(),
                    revision: rid,
                    incident,
                });
            }
        }
    }

    for e in &doc.log {
        if e.incident != r.incident {
            return Err(LedgerError::EntryWrongIncident {
                revision: rid,
                entry: e.id.to_string(),
                entry_incident: e.incident.to_string(),
            });
        }
        if let Some(held) = facts.entries.get(&e.id) {
            if *held != entry_digest(e) {
                return Err(LedgerError::EntryConflict {
                    entry: e.id.to_string(),
                });
            }
            continue;
        }
        if !speaks_for(e.device, key, facts) {
            return Err(LedgerError::EntryForeignDevice {
                revision: rid,
                device: r.device.to_string(),
                entry: e.id.to_string(),
                entry_device: e.device.to_string(),
            });
        }
        if facts
            .places
            .get(&(e.device, e.seq))
            .is_some_and(|held| *held != e.id)
        {
            return Err(LedgerError::EntryPlaceTaken {
                entry: e.id.to_string(),
                seq: e.seq,
                incident,
            });
        }
    }

    for a in &doc.attachments {
        if let Some((held_in, sha)) = facts.attachments.get(&a.id)
            && (*held_in != r.incident || *sha != a.sha256)
        {
            return Err(LedgerError::AttachmentConflict {
                attachment: a.id.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::RevisionId;
    use crate::ids::device_id_for;
    use crate::revision::{AttachmentRef, RevisionDoc};
    use vigil_crypto::sign::DeviceKeys;
    use vigil_model::{EntryId, Incident};

    struct Dev {
        keys: DeviceKeys,
        id: DeviceId,
    }

    fn dev() -> Dev {
        let keys = DeviceKeys::generate().unwrap();
        let id = device_id_for(&keys.public().sign_pk);
        Dev { keys, id }
    }

    fn entry(incident: IncidentId, seq: u64, device: DeviceId) -> LogEntry {
        LogEntry {
            id: EntryId::new(),
            incident,
            seq,
            at: "2019-05-23T10:30:00+06:00".parse().unwrap(),
            text: format!("entry {seq}"),
            device,
            flagged: false,
            corrects: None,
            happened_at: None,
        }
    }

    fn seal(
        d: &Dev,
        incident: IncidentId,
        log: Vec<LogEntry>,
        org: Option<Uuid>,
        amends: Option<RevisionId>,
    ) -> VerifiedRevision {
        let at = "2019-05-23T11:00:00+06:00".parse().unwrap();
        let inc = Incident::new(incident, "Meeting", at);
        let doc = RevisionDoc::new(
            inc,
            log,
            vec![AttachmentRef {
                id: AttachmentId::from_uuid(Uuid::from_u128(5)),
                original_name: "a".into(),
                media_type: "text/plain".into(),
                size: 1,
                sha256: Sha256([5; 32]),
            }],
            org,
            d.id,
            d.keys.public(),
            1,
            None,
            amends,
            at,
        );
        doc.seal(&d.keys).unwrap().verify().unwrap()
    }

    /// The facts once `rev` is held, for a revision by the same key that amends it.
    fn held(rev: &VerifiedRevision, facts: &mut IncidentFacts) {
        facts.exists = true;
        facts.sealed = true;
        facts.holds_amended = true;
        facts.sealed_by_key = true;
        for e in &rev.document().log {
            facts.entries.insert(e.id, entry_digest(e));
            facts.places.insert((e.device, e.seq), e.id);
        }
    }

    #[test]
    fn the_rules() {
        let hq = dev();
        let org = Uuid::now_v7();
        let at = Vantage {
            org: Some(org),
            own_key: hq.keys.public().sign_pk,
        };
        let (a, b) = (dev(), dev());
        let inc = IncidentId::new();
        let code = |rev: &VerifiedRevision, f: &IncidentFacts| {
            authorise(rev, &at, f).map_err(|e| e.code())
        };

        // A new incident: created by a first sealing.
        let e1 = entry(inc, 1, a.id);
        let first = seal(&a, inc, vec![e1.clone()], Some(org), None);
        let mut facts = IncidentFacts::default();
        assert_eq!(code(&first, &facts), Ok(()));
        // ... of another organisation: refused.
        let foreign = seal(&a, inc, vec![e1.clone()], Some(Uuid::now_v7()), None);
        assert_eq!(code(&foreign, &facts), Err("wrong_organisation"));
        // A first sealing of an incident that is held: refused, whoever makes it.
        held(&first, &mut facts);
        assert_eq!(
            code(&seal(&b, inc, vec![], Some(org), None), &facts),
            Err("incident_taken")
        );
        assert_eq!(
            code(&seal(&a, inc, vec![], Some(org), None), &facts),
            Err("incident_taken")
        );
        // An amendment of something not held (here, or as a revision of this incident).
        let stray = seal(&a, inc, vec![], Some(org), Some(RevisionId::new()));
        let unheld = IncidentFacts {
            holds_amended: false,
            ..facts.clone()
        };
        assert_eq!(code(&stray, &unheld), Err("amends_unknown"));
        // By its device: fine. By another device: not without a grant.
        let id1 = first.revision().id;
        let e2 = entry(inc, 2, a.id);
        assert_eq!(
            code(
                &seal(&a, inc, vec![e1.clone(), e2.clone()], Some(org), Some(id1)),
                &facts
            ),
            Ok(())
        );
        let by_b = seal(&b, inc, vec![e1.clone()], Some(org), Some(id1));
        let for_b = IncidentFacts {
            sealed_by_key: false,
            ..facts.clone()
        };
        assert_eq!(code(&by_b, &for_b), Err("not_authorised"));
        // A grant to another device, or to b's id under another key, is not b's.
        let mut others = for_b.clone();
        others.granted.push((a.id, Some(a.keys.public().sign_pk)));
        assert_eq!(code(&by_b, &others), Err("not_authorised"));
        let mut granted = for_b.clone();
        granted.granted.push((b.id, None));
        assert_eq!(code(&by_b, &granted), Ok(()));
        // A grant to an earlier id of b's key holds for b.
        let mut earlier = for_b.clone();
        earlier
            .granted
            .push((DeviceId::new(), Some(b.keys.public().sign_pk)));
        assert_eq!(code(&by_b, &earlier), Ok(()));
        // With the grant, b's own new entries are fine; entries under a's name are not.
        // Places are per device: b's entry 2 takes nothing from a's entry 2, already held.
        let b_entry = entry(inc, 2, b.id);
        granted.places.insert((a.id, 2), e2.id);
        assert_eq!(
            code(
                &seal(&b, inc, vec![e1.clone(), b_entry], Some(org), Some(id1)),
                &granted
            ),
            Ok(())
        );
        let as_a = seal(
            &b,
            inc,
            vec![e1.clone(), entry(inc, 2, a.id)],
            Some(org),
            Some(id1),
        );
        assert_eq!(code(&as_a, &granted), Err("entry_foreign_device"));
        // An entry of another incident.
        let elsewhere = seal(
            &a,
            inc,
            vec![entry(IncidentId::new(), 2, a.id)],
            Some(org),
            Some(id1),
        );
        assert_eq!(code(&elsewhere, &facts), Err("entry_wrong_incident"));
        // A held entry changed; a held place taken by a new entry.
        let mut changed = e1.clone();
        changed.text = "nothing happened".into();
        assert_eq!(
            code(&seal(&a, inc, vec![changed], Some(org), Some(id1)), &facts),
            Err("entry_conflict")
        );
        assert_eq!(
            code(
                &seal(&a, inc, vec![entry(inc, 1, a.id)], Some(org), Some(id1)),
                &facts
            ),
            Err("entry_place_taken")
        );
        // An attachment id held for another incident.
        let mut elsewhere = facts.clone();
        elsewhere.attachments.insert(
            AttachmentId::from_uuid(Uuid::from_u128(5)),
            (IncidentId::new(), Sha256([5; 32])),
        );
        assert_eq!(
            code(&seal(&a, inc, vec![], Some(org), Some(id1)), &elsewhere),
            Err("attachment_conflict")
        );
        // A legacy device id the vault knows for the same key speaks for it.
        let legacy = DeviceId::new();
        let mut known = facts.clone();
        let old = entry(inc, 3, legacy);
        assert_eq!(
            code(
                &seal(&a, inc, vec![old.clone()], Some(org), Some(id1)),
                &known
            ),
            Err("entry_foreign_device")
        );
        known.device_keys.insert(legacy, a.keys.public().sign_pk);
        assert_eq!(
            code(&seal(&a, inc, vec![old], Some(org), Some(id1)), &known),
            Ok(())
        );
        // The vault's own draft, sealed in a bundle it made itself.
        let mine = seal(&hq, inc, vec![], Some(org), None);
        let draft = IncidentFacts {
            exists: true,
            ..IncidentFacts::default()
        };
        assert_eq!(code(&mine, &draft), Ok(()));
        assert_eq!(
            code(&seal(&a, inc, vec![], Some(org), None), &draft),
            Err("incident_taken")
        );
    }
}
