//! Errors from reading model data.

/// Why model data could not be read. Validation problems are not errors of
/// this kind: they are [`ValidationErrors`](crate::ValidationErrors), reported
/// all at once with their field paths.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The data was written by a newer version of Vigil, whose format this
    /// version does not know. Updating Vigil fixes it; retrying does not.
    #[error(
        "this was made by a newer version of Vigil (format version {found}; this version reads up to {supported}); update Vigil to open it"
    )]
    NewerSchema {
        /// The version found in the data.
        found: u32,
        /// The newest version this build reads ([`SCHEMA_VERSION`](crate::SCHEMA_VERSION)).
        supported: u32,
    },
    /// The text is not valid JSON for this type. The message names the line
    /// and column and what is wrong there (for example an unknown field).
    #[error("the JSON could not be read: {0}")]
    Json(#[source] serde_json::Error),
    /// A country code is not an officially assigned ISO 3166-1 alpha-2 code.
    #[error("{code:?} is not an ISO 3166-1 alpha-2 country code (such as KG, KZ or RU)")]
    InvalidCountry {
        /// The rejected text.
        code: String,
    },
    /// A SHA-256 digest is not 64 hexadecimal digits.
    #[error("{input:?} is not a SHA-256 digest (expected 64 hexadecimal digits)")]
    InvalidDigest {
        /// The rejected text.
        input: String,
    },
}

impl ModelError {
    /// A stable code for the UI, which must not match on messages.
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::NewerSchema { .. } => "newer_schema",
            ModelError::Json(_) => "invalid_json",
            ModelError::InvalidCountry { .. } => "invalid_country",
            ModelError::InvalidDigest { .. } => "invalid_digest",
        }
    }
}
