//! The one error type of this crate.

use std::io;

/// Why a bundle could not be written or read.
///
/// Each variant is one class of failure that a person needs to tell apart; [`code`](Self::code)
/// gives a stable identifier for the UI. Details in messages are for logs and support, never
/// matched on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The file is not an age file, or its payload is not a Vigil bundle archive.
    #[error("this file is not a Vigil bundle ({0}); check that you chose the right file")]
    NotABundle(String),
    /// The file is an age file, but none of the identities at hand can open it.
    #[error(
        "this bundle is not addressed to any identity here; it was made for another \
         organisation or device"
    )]
    NotForUs,
    /// Authentication failed (age header MAC, a payload chunk tag) or an entry's SHA-256 differs
    /// from the manifest.
    #[error("this bundle has been damaged or modified ({0}); ask for a new copy")]
    Tampered(String),
    /// The file ends before the bundle does.
    #[error("this bundle is incomplete: {0}; copy it again from the original")]
    Truncated(String),
    /// `manifest.sig` is not a valid Ed25519 signature by the manifest's device key.
    #[error("the bundle's signature does not verify ({0}); do not trust its contents")]
    BadSignature(String),
    /// The bundle was made by a newer version of Vigil than this one.
    #[error(
        "this bundle uses format version {found}; this Vigil reads up to {supported}: update Vigil"
    )]
    NewerVersion {
        /// The version the manifest declares.
        found: u64,
        /// The newest version this build reads.
        supported: u64,
    },
    /// An archive entry's path is absolute, climbs out with `..`, or is otherwise unsafe.
    #[error("the bundle holds an entry whose path escapes its folder: {0:?}")]
    PathEscape(String),
    /// An entry, the manifest, or the total is larger than what the manifest declares or allows.
    #[error("the bundle holds more data than it declares ({0})")]
    TooLarge(String),
    /// Anything else that breaks the format: bad JSON, a missing or unexpected entry, sizes that
    /// disagree, misuse of the writer.
    #[error("the bundle is malformed: {0}")]
    Malformed(String),
    /// Reading or writing the file failed.
    #[error("could not read or write the bundle file: {0}")]
    Io(#[source] io::Error),
}

impl BundleError {
    /// A stable identifier for this class of error, for the UI and for tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotABundle(_) => "bundle.not_a_bundle",
            Self::NotForUs => "bundle.not_for_us",
            Self::Tampered(_) => "bundle.tampered",
            Self::Truncated(_) => "bundle.truncated",
            // The same idea as a record's bad signature or newer version, so the same codes.
            Self::BadSignature(_) => "bad_signature",
            Self::NewerVersion { .. } => "newer_version",
            Self::PathEscape(_) => "bundle.path_escape",
            Self::TooLarge(_) => "bundle.too_large",
            Self::Malformed(_) => "bundle.malformed",
            Self::Io(_) => "bundle.io",
        }
    }

    /// Whether trying again (another drive, more free space) might help. Only I/O errors qualify:
    /// everything else is a property of the bundle's bytes.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Io(_))
    }

    /// Carries this error through an [`io::Read`]/[`io::Write`] boundary; [`From<io::Error>`]
    /// unpacks it again.
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            Self::Io(e) => e,
            other => io::Error::other(other),
        }
    }
}

impl From<io::Error> for BundleError {
    fn from(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<BundleError>()) {
            if let Some(inner) = e.into_inner()
                && let Ok(b) = inner.downcast::<BundleError>()
            {
                return *b;
            }
            return Self::Malformed("unexpected wrapped error".into());
        }
        Self::Io(e)
    }
}

/// Result with [`BundleError`].
pub type Result<T, E = BundleError> = std::result::Result<T, E>;
