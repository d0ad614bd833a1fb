//! Metadata of files attached to an incident (photos, recordings, documents).
//! The bytes themselves live in the store, encrypted; this is what describes them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validate::{FieldError, Problem, ValidationErrors};
use crate::{AttachmentId, IncidentId, ModelError};

/// A SHA-256 digest, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, type = "string"))]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// Wraps a digest.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl FromStr for Sha256 {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ModelError::InvalidDigest {
            input: s.to_owned(),
        };
        let hex = s.as_bytes();
        if hex.len() != 64 {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let hi = hex_value(pair[0]).ok_or_else(invalid)?;
            let lo = hex_value(pair[1]).ok_or_else(invalid)?;
            *byte = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Longest attachment file name, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// Describes one attached file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct AttachmentMeta {
    /// Identifies the attachment.
    pub id: AttachmentId,
    /// The incident it belongs to.
    pub incident: IncidentId,
    /// The file name it had when added (may reveal information; treat as sensitive).
    pub original_name: String,
    /// Media type, e.g. `image/jpeg`.
    pub media_type: String,
    /// Size in bytes of the plaintext.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// SHA-256 of the plaintext, for integrity and de-duplication.
    pub sha256: Sha256,
    /// When it was added.
    pub added_at: DateTime<FixedOffset>,
}

impl AttachmentMeta {
    /// Checks that the name and media type are present and of sane length.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = Vec::new();
        if self.original_name.trim().is_empty() {
            errors.push(FieldError::new("original_name", Problem::Required));
        } else if self.original_name.chars().count() > MAX_FILE_NAME_CHARS {
            errors.push(FieldError::new(
                "original_name",
                Problem::TooLong {
                    max: MAX_FILE_NAME_CHARS,
                },
            ));
        }
        if self.media_type.trim().is_empty() {
            errors.push(FieldError::new("media_type", Problem::Required));
        }
        ValidationErrors::result(errors)
    }

    /// The JSON form (compact).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("attachment metadata is always representable as JSON")
    }

    /// Reads the JSON form.
    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        serde_json::from_str(json).map_err(ModelError::Json)
    }
}

/// A media type guessed from a file name's extension (`application/octet-stream` if unknown).
pub fn media_type_for_name(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "txt" | "md" => "text/plain",
        "pdf" => "application/pdf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" => "audio/ogg",
        "wav" => "audio/wav",
        "json" => "application/json",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sha256_hex_round_trip() {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i * 9) as u8;
        }
        let digest = Sha256(bytes);
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json.len(), 66);
        assert_eq!(json, json.to_lowercase());
        assert_eq!(serde_json::from_str::<Sha256>(&json).unwrap(), digest);
        assert!("zz".parse::<Sha256>().is_err());
        assert!("g".repeat(64).parse::<Sha256>().is_err());
    }
}
