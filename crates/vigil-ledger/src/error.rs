//! The one error type of the ledger: what is wrong with a record, or why a rule refuses it.

/// Why a record was refused. Each variant is one idea with one stable [`code`](Self::code); the
/// message says what happened and what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The bytes are not in canonical form (see [`crate::canonical`]): something rewrote the
    /// record after it was signed, or it was made by hand.
    #[error("{what} is not in canonical form, so it is not the record that was signed")]
    NotCanonical {
        /// The record.
        what: String,
    },
    /// A JSON object names the same key twice (a reader could pick either value).
    #[error("{what} names the key {key:?} twice; it is refused")]
    DuplicateKey {
        /// The record.
        what: String,
        /// The repeated key.
        key: String,
    },
    /// The record cannot be read as its format.
    #[error("{what} is malformed: {detail}")]
    Malformed {
        /// The record.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// The record was written by a newer version of Vigil.
    #[error(
        "{what} was written by a newer version of Vigil (format {found}, this version reads up to {supported}); update Vigil"
    )]
    NewerVersion {
        /// The record.
        what: String,
        /// Its version.
        found: u64,
        /// The newest this build reads.
        supported: u64,
    },
    /// A record's content and the fields stored or sent beside it disagree.
    #[error("{what} was altered ({detail}); nothing was changed")]
    Altered {
        /// The record.
        what: String,
        /// What disagrees.
        detail: String,
    },
    /// A signature does not verify.
    #[error("the signature on {what} does not verify: it was altered or signed by another key")]
    BadSignature {
        /// What was signed.
        what: String,
    },
    /// A device's chain of revisions or custody events is broken.
    #[error(
        "the sealed record of device {device} is broken ({detail}): a record was removed, reordered or altered"
    )]
    ChainBroken {
        /// The device.
        device: String,
        /// What was found.
        detail: String,
    },
    /// The record belongs to another organisation.
    #[error("{what} belongs to another organisation ({found}), not to this one ({ours})")]
    WrongOrganisation {
        /// The record.
        what: String,
        /// The organisation it names.
        found: String,
        /// This vault's.
        ours: String,
    },
    /// A device id that its signing key does not make: someone claims another device's name.
    #[error(
        "device {device} is not the id its key makes ({derived}); the record claims another device's name and is refused"
    )]
    DeviceIdForged {
        /// The id claimed.
        device: String,
        /// The id the key makes.
        derived: String,
    },
    /// A first revision for an incident this vault already holds.
    #[error(
        "revision {revision} would start incident {incident} afresh, but that incident is already here; it must amend the latest revision"
    )]
    IncidentTaken {
        /// The revision.
        revision: String,
        /// The incident.
        incident: String,
    },
    /// A revision amends one this vault does not hold for its incident.
    #[error(
        "revision {revision} amends {amends}, which is not a revision of incident {incident} held here; import the earlier bundles first"
    )]
    AmendsUnknown {
        /// The revision.
        revision: String,
        /// What it amends.
        amends: String,
        /// Its incident.
        incident: String,
    },
    /// A device that never sealed an incident, and was not handed it, sealed a revision of it.
    #[error(
        "device {device} sealed revision {revision} of incident {incident}, which it never sealed before and was not granted; refused"
    )]
    NotAuthorised {
        /// The device.
        device: String,
        /// The revision.
        revision: String,
        /// The incident.
        incident: String,
    },
    /// A revision carries a running-log entry of another incident.
    #[error(
        "revision {revision} carries running-log entry {entry} of another incident ({entry_incident}); refused"
    )]
    EntryWrongIncident {
        /// The revision.
        revision: String,
        /// The entry.
        entry: String,
        /// The incident the entry names.
        entry_incident: String,
    },
    /// A revision carries a new running-log entry written by another device.
    #[error(
        "revision {revision} by device {device} carries running-log entry {entry} under device {entry_device}'s name; refused"
    )]
    EntryForeignDevice {
        /// The revision.
        revision: String,
        /// The sealing device.
        device: String,
        /// The entry.
        entry: String,
        /// The device the entry names.
        entry_device: String,
    },
    /// A new running-log entry at a place of the log already taken by another entry.
    #[error(
        "running-log entry {entry} takes place {seq} of incident {incident}, which already holds another entry; refused"
    )]
    EntryPlaceTaken {
        /// The entry.
        entry: String,
        /// The place.
        seq: u64,
        /// The incident.
        incident: String,
    },
    /// An entry with the id of one held here, but other content.
    #[error("running-log entry {entry} is already here with other content; the record is refused")]
    EntryConflict {
        /// The entry.
        entry: String,
    },
    /// An attachment with the id of one held here, but other content or another incident.
    #[error(
        "attachment {attachment} is already here with other content or in another incident; the record is refused"
    )]
    AttachmentConflict {
        /// The attachment.
        attachment: String,
    },
    /// A bundle carries a revision signed by another key than the device that made the bundle.
    #[error(
        "revision {revision} is signed by another key than the device that made this bundle; a bundle carries its own device's records only"
    )]
    ForeignRevision {
        /// The revision.
        revision: String,
    },
    /// The invitation file is not meant for this organisation, or has expired.
    #[error("this invitation cannot be used: {0}")]
    InvitationUnusable(String),
}

impl LedgerError {
    /// A stable, machine-readable code for user interfaces and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::NotCanonical { .. } => "not_canonical",
            LedgerError::DuplicateKey { .. } => "duplicate_key",
            LedgerError::Malformed { .. } => "record_malformed",
            LedgerError::NewerVersion { .. } => "newer_version",
            LedgerError::Altered { .. } => "record_altered",
            LedgerError::BadSignature { .. } => "bad_signature",
            LedgerError::ChainBroken { .. } => "chain_broken",
            LedgerError::WrongOrganisation { .. } => "wrong_organisation",
            LedgerError::DeviceIdForged { .. } => "device_id_forged",
            LedgerError::IncidentTaken { .. } => "incident_taken",
            LedgerError::AmendsUnknown { .. } => "amends_unknown",
            LedgerError::NotAuthorised { .. } => "not_authorised",
            LedgerError::EntryWrongIncident { .. } => "entry_wrong_incident",
            LedgerError::EntryForeignDevice { .. } => "entry_foreign_device",
            LedgerError::EntryPlaceTaken { .. } => "entry_place_taken",
            LedgerError::EntryConflict { .. } => "entry_conflict",
            LedgerError::AttachmentConflict { .. } => "attachment_conflict",
            LedgerError::ForeignRevision { .. } => "foreign_revision",
            LedgerError::InvitationUnusable(_) => "invitation_unusable",
        }
    }

    /// A [`LedgerError::Malformed`].
    pub fn malformed(what: impl Into<String>, detail: impl Into<String>) -> Self {
        LedgerError::Malformed {
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn altered(what: impl Into<String>, detail: impl Into<String>) -> Self {
        LedgerError::Altered {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// Shorthand.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
