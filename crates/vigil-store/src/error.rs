use std::path::PathBuf;

/// Everything that can go wrong with a vault. Each variant has a stable [`StoreError::code`] for
/// user interfaces, and a message that says what happened and what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The disk holding the vault is full: the write was refused whole, and everything
    /// written before it is safe.
    #[error(
        "the disk is full: nothing was lost, everything saved until now is safe, but this could not be saved; free some space on this laptop and try again"
    )]
    DiskFull,
    /// The passphrase does not open this vault.
    #[error(
        "wrong passphrase: this passphrase does not open the vault (check the keyboard layout and Caps Lock)"
    )]
    WrongPassphrase,
    /// The folder holds no vault, or something else.
    #[error("{path} is not a Vigil vault ({reason})")]
    NotAVault {
        /// The folder that was opened.
        path: PathBuf,
        /// What was missing or wrong.
        reason: String,
    },
    /// `create` was asked to use a folder that already holds files.
    #[error("{path} already exists and is not empty; choose a new folder for the vault")]
    AlreadyExists {
        /// The folder.
        path: PathBuf,
    },
    /// The database file is shorter than it should be.
    #[error(
        "the vault database is truncated (the file is shorter than its content): restore it from a backup or an exported bundle"
    )]
    Truncated,
    /// The database failed its integrity checks.
    #[error(
        "the vault database is damaged or was altered ({detail}): restore it from a backup or an exported bundle"
    )]
    Corrupted {
        /// What the check found.
        detail: String,
    },
    /// An attachment's encrypted chunks were altered, removed or reordered.
    #[error("attachment {id} was altered or is incomplete on disk; nothing was written")]
    TamperedAttachment {
        /// The attachment.
        id: String,
    },
    /// The vault was written by a newer version of Vigil.
    #[error(
        "this vault was written by a newer version of Vigil (format {found}, this version reads up to {supported}); update Vigil"
    )]
    NewerVersion {
        /// Found version.
        found: u32,
        /// Supported version.
        supported: u32,
    },
    /// The key header asks for unsafe key-derivation parameters.
    #[error("the vault's key header was altered to weaken it ({0}); refusing to use it")]
    KdfRefused(String),
    /// Another Vigil process has the vault open.
    #[error("the vault is open in another Vigil window or command; close it and try again")]
    Locked,
    /// The duress passphrase given is the vault's own passphrase.
    #[error("the duress passphrase and the vault's passphrase must differ; choose another one")]
    DuressSameAsReal,
    /// No such record.
    #[error("no {what} with id {id} in this vault")]
    NotFound {
        /// Kind of record.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A sealed record cannot be changed in place.
    #[error("incident {0} is sealed and cannot be changed")]
    Sealed(String),
    /// A sealed incident has nothing new to seal in an amendment.
    #[error(
        "nothing changed in incident {0} since its last sealed revision: add to the running log, attach a file or edit the report first"
    )]
    NothingToSeal(String),
    /// The edit waiting to amend a sealed incident began before a newer revision of it arrived.
    #[error(
        "incident {0} was amended elsewhere after this edit began; keep the edit on top of the newer version or discard it, then seal"
    )]
    DraftOutdated(String),
    /// The incident has more than one latest revision (two devices amended the same one).
    #[error(
        "incident {0} has two latest versions, amended on different devices; it cannot be amended until a person settles which one stands"
    )]
    Forked(String),
    /// Only a sealed incident can be amended.
    #[error("incident {0} is a draft: seal it first, then amend it")]
    NotSealed(String),
    /// An edit of the sealed incident waits to be sealed as an amendment: amending it with
    /// other fields now would lose that edit.
    #[error(
        "an edit of incident {0} made in the app is waiting to be sealed; seal it first (Seal amendment in the app, or `vigil seal ID`), then amend"
    )]
    EditWaiting(String),
    /// A revision with this id, or at this place of its device's chain, is already stored with
    /// different content.
    #[error(
        "revision {id} is already in this vault with different content; nothing was changed (the bundle is not genuine or a device reused an id)"
    )]
    RevisionConflict {
        /// The revision.
        id: String,
    },
    /// Quarantine holds as much as it may: a person must accept or drop what waits there.
    #[error(
        "quarantine is full ({bundles} bundles, {bytes} bytes): accept or drop what waits there before importing more from devices HQ does not trust; nothing was changed"
    )]
    QuarantineFull {
        /// Bundles waiting.
        bundles: u64,
        /// Their bytes.
        bytes: u64,
    },
    /// A revision refers to an attachment that is neither in what arrived nor in the vault.
    #[error(
        "revision {revision} refers to attachment {sha256}, which did not arrive with it; nothing was changed"
    )]
    MissingAttachment {
        /// The revision.
        revision: String,
        /// The attachment's hash.
        sha256: String,
    },
    /// The attachment's content was removed from this laptop after HQ acknowledged it.
    #[error(
        "attachment {id} was delivered to HQ and removed from this laptop to free space; HQ holds it"
    )]
    AttachmentFreed {
        /// The attachment.
        id: String,
    },
    /// The attachment came in parts, and not all of them have been imported yet.
    #[error(
        "attachment {id} came in parts and is not complete: {missing} of its {of} parts are not yet imported; import the other bundles of the same export"
    )]
    AttachmentIncomplete {
        /// The attachment.
        id: String,
        /// Parts still missing.
        missing: u64,
        /// Parts in all.
        of: u64,
    },
    /// A device already known here presents different keys.
    #[error(
        "device {device} is already known here with different keys; refusing its records (possible impersonation)"
    )]
    DeviceKeyConflict {
        /// The device.
        device: String,
    },
    /// A signed record, or a rule about who may add it, refused it (see
    /// [`vigil_ledger::LedgerError`]).
    #[error("{0}")]
    Ledger(#[from] vigil_ledger::LedgerError),
    /// A device id given for an action matches more than one key here.
    #[error(
        "device {device} is known here with more than one key; say which with its key (the first digits are enough)"
    )]
    AmbiguousDevice {
        /// The device.
        device: String,
    },
    /// Only a vault enrolled in its organisation can do this.
    #[error(
        "this device is not enrolled in its organisation: join with an invitation from HQ (vigil org join PROFILE --invite FILE)"
    )]
    NotEnrolled,
    /// The vault is already enrolled.
    #[error("this device is already enrolled in its organisation as {name}")]
    AlreadyEnrolled {
        /// The name it enrolled under.
        name: String,
    },
    /// An organisation profile is unreadable or its signature does not verify.
    #[error("not a valid organisation profile: {0}")]
    BadProfile(String),
    /// The vault already belongs to an organisation.
    #[error(
        "this vault already belongs to the organisation {name} ({org_id}); a vault can belong to one organisation only"
    )]
    AlreadyInOrg {
        /// The organisation's id.
        org_id: String,
        /// Its name.
        name: String,
    },
    /// An organisation profile older than the one the vault holds (a replayed file).
    #[error(
        "this organisation profile was signed at {offered}, before the one this vault holds ({held}); nothing was changed"
    )]
    OlderProfile {
        /// When the offered profile was signed.
        offered: String,
        /// When the held one was.
        held: String,
    },
    /// The vault belongs to no organisation yet.
    #[error("this vault belongs to no organisation: run `vigil org join PROFILE` first")]
    NoOrganisation,
    /// Only the organisation's HQ vault holds its secret keys.
    #[error("this vault is not the organisation's HQ vault, so it holds no HQ keys")]
    NotHq,
    /// Custom thesaurus terms clash with existing ones.
    #[error("the thesaurus terms cannot be added: {0}")]
    Thesaurus(String),
    /// The data does not pass validation.
    #[error("{0}")]
    Invalid(#[from] vigil_model::ValidationErrors),
    /// A model-level problem (bad JSON, newer schema).
    #[error("{0}")]
    Model(#[from] vigil_model::ModelError),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Key handling failed in a way not covered above.
    #[error("{0}")]
    Crypto(vigil_crypto::CryptoError),
    /// An unexpected database error.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl StoreError {
    /// A stable, machine-readable code for user interfaces and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::WrongPassphrase => "wrong_passphrase",
            StoreError::DiskFull => "disk_full",
            StoreError::NotAVault { .. } => "not_a_vault",
            StoreError::AlreadyExists { .. } => "already_exists",
            StoreError::Truncated => "vault_truncated",
            StoreError::Corrupted { .. } => "vault_corrupted",
            StoreError::TamperedAttachment { .. } => "attachment_tampered",
            StoreError::NewerVersion { .. } => "newer_version",
            StoreError::KdfRefused(_) => "kdf_refused",
            StoreError::Locked => "vault_locked",
            StoreError::DuressSameAsReal => "duress_same_as_real",
            StoreError::NotFound { .. } => "not_found",
            StoreError::Sealed(_) => "sealed",
            StoreError::Invalid(_) => "invalid",
            StoreError::Thesaurus(_) => "thesaurus",
            StoreError::NotSealed(_) => "not_sealed",
            StoreError::EditWaiting(_) => "edit_waiting",
            StoreError::Forked(_) => "incident_forked",
            StoreError::NothingToSeal(_) => "nothing_to_seal",
            StoreError::DraftOutdated(_) => "draft_outdated",
            StoreError::RevisionConflict { .. } => "revision_conflict",
            StoreError::DeviceKeyConflict { .. } => "device_key_conflict",
            StoreError::MissingAttachment { .. } => "missing_attachment",
            StoreError::AttachmentFreed { .. } => "attachment_freed",
            StoreError::AttachmentIncomplete { .. } => "attachment_incomplete",
            StoreError::QuarantineFull { .. } => "quarantine_full",
            StoreError::Ledger(e) => e.code(),
            StoreError::AmbiguousDevice { .. } => "ambiguous_device",
            StoreError::NotEnrolled => "not_enrolled",
            StoreError::AlreadyEnrolled { .. } => "already_enrolled",
            StoreError::BadProfile(_) => "bad_profile",
            StoreError::AlreadyInOrg { .. } => "already_in_org",
            StoreError::OlderProfile { .. } => "older_profile",
            StoreError::NoOrganisation => "no_organisation",
            StoreError::NotHq => "not_hq",
            StoreError::Model(_) => "invalid_json",
            StoreError::Io { .. } => "io",
            StoreError::Crypto(_) => "crypto",
            StoreError::Sqlite(_) => "database",
        }
    }

    /// True when the vault or one of its files is damaged or unreadable (as opposed to a wrong
    /// passphrase or bad input). A broken chain found by [`crate::Vault::verify_chain`] is
    /// reported as [`StoreError::Corrupted`].
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            StoreError::NotAVault { .. }
                | StoreError::Truncated
                | StoreError::Corrupted { .. }
                | StoreError::TamperedAttachment { .. }
                | StoreError::NewerVersion { .. }
                | StoreError::KdfRefused(_)
                | StoreError::Sqlite(_)
        )
    }

    /// True when trying again later may succeed without changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Locked | StoreError::Io { .. })
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
        let context = context.into();
        move |source| {
            if source.kind() == std::io::ErrorKind::StorageFull {
                StoreError::DiskFull
            } else {
                StoreError::Io { context, source }
            }
        }
    }

    /// True when the disk holding the vault is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::DiskFull => true,
            StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    /// A page that fails its HMAC or a broken b-tree found while working (not only at open)
    /// is damage, and is reported as such.
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
                ) =>
            {
                StoreError::Corrupted {
                    detail: e.to_string(),
                }
            }
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
                StoreError::DiskFull
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<vigil_crypto::CryptoError> for StoreError {
    fn from(e: vigil_crypto::CryptoError) -> Self {
        use vigil_crypto::CryptoError as C;
        match e {
            C::WrongPassphrase => StoreError::WrongPassphrase,
            C::KdfBelowFloor(s) => StoreError::KdfRefused(s),
            C::NewerFormat { found, supported } => StoreError::NewerVersion { found, supported },
            other => StoreError::Crypto(other),
        }
    }
}

/// Shorthand.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
