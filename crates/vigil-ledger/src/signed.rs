//! Small signed documents that travel between HQ, the server and devices: revocations (signed
//! by the organisation) and receipts (signed by the server).
//!
//! Each is canonical JSON ([`crate::canonical`]) with a `format` and a `version`; the signature
//! is Ed25519 over the SHA-256 of those bytes, as for grants. On the wire a document travels as
//! its canonical JSON text beside the signature in hex ([`SignedWire`]), so the bytes that were
//! signed are the bytes that arrive.

use chrono::{DateTime, FixedOffset};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_crypto::sign::{self, SignPublicKey, Signature};
use vigil_model::DeviceId;

use crate::{LedgerError, Result, canonical};

/// A kind of small signed document.
pub trait Document: Serialize + DeserializeOwned + Clone {
    /// Its `format`.
    const FORMAT: &'static str;
    /// The version this build writes and the newest it reads.
    const VERSION: u32;
    /// How messages name it.
    const WHAT: &'static str;
    /// Its `format` field.
    fn format(&self) -> &str;
    /// Its `version` field.
    fn version(&self) -> u32;
    /// The organisation it belongs to.
    fn org(&self) -> Uuid;
}

/// A document with its canonical bytes and the signature over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<T> {
    /// What it says.
    pub doc: T,
    /// Its canonical JSON.
    pub bytes: Vec<u8>,
    /// The signature over the SHA-256 of `bytes`.
    pub sig: Signature,
}

/// How a signed document travels in JSON: its canonical text and the signature in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedWire {
    /// The canonical JSON of the document, as text.
    pub document: String,
    /// The signature, hex.
    pub signature: Signature,
}

impl<T: Document> Signed<T> {
    /// Signs `doc` with `sign` (the organisation's or the server's key).
    pub fn sign(doc: T, sign: impl FnOnce(&[u8]) -> Signature) -> Result<Signed<T>> {
        let bytes = canonical::encode_serialize(T::WHAT, &doc)?;
        let sig = sign(&sign::sha256(&bytes));
        Ok(Signed { doc, bytes, sig })
    }

    /// Reads a document and checks that it belongs to `org` and that `pk` signed it.
    pub fn verify(bytes: Vec<u8>, sig: Signature, org: Uuid, pk: &SignPublicKey) -> Result<Self> {
        let (doc, _) = canonical::decode::<T>(T::WHAT, &bytes)?;
        if doc.format() != T::FORMAT {
            return Err(LedgerError::malformed(T::WHAT, format!("not {}", T::WHAT)));
        }
        if doc.version() > T::VERSION {
            return Err(LedgerError::NewerVersion {
                what: T::WHAT.into(),
                found: u64::from(doc.version()),
                supported: u64::from(T::VERSION),
            });
        }
        if doc.org() != org {
            return Err(LedgerError::WrongOrganisation {
                what: T::WHAT.into(),
                found: doc.org().to_string(),
                ours: org.to_string(),
            });
        }
        sign::verify(pk, &sign::sha256(&bytes), &sig).map_err(|_| LedgerError::BadSignature {
            what: T::WHAT.into(),
        })?;
        Ok(Signed { doc, bytes, sig })
    }

    /// As it travels.
    pub fn to_wire(&self) -> SignedWire {
        SignedWire {
            document: String::from_utf8_lossy(&self.bytes).into_owned(),
            signature: self.sig,
        }
    }

    /// From how it travelled, checked as [`Signed::verify`] does.
    pub fn from_wire(wire: &SignedWire, org: Uuid, pk: &SignPublicKey) -> Result<Self> {
        Self::verify(wire.document.as_bytes().to_vec(), wire.signature, org, pk)
    }
}

/// Implements [`Document`] for a struct with `format`, `version` and `org` fields.
macro_rules! document {
    ($ty:ty, $format:expr, $what:expr) => {
        impl Document for $ty {
            const FORMAT: &'static str = $format;
            const VERSION: u32 = 1;
            const WHAT: &'static str = $what;
            fn format(&self) -> &str {
                &self.format
            }
            fn version(&self) -> u32 {
                self.version
            }
            fn org(&self) -> Uuid {
                self.org
            }
        }
    };
}

/// The `format` of a revocation.
pub const REVOCATION_FORMAT: &str = "vigil-revocation";

/// The organisation withdraws a device's certificate: the server refuses its requests from
/// then on, and HQ's vaults quarantine what it sends that they do not already hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationDoc {
    /// Always [`REVOCATION_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// The organisation.
    pub org: Uuid,
    /// The device revoked.
    pub device: DeviceId,
    /// When, on HQ's clock.
    pub revoked_at: DateTime<FixedOffset>,
}

impl RevocationDoc {
    /// A revocation of `device` in `org` at `revoked_at`.
    pub fn new(org: Uuid, device: DeviceId, revoked_at: DateTime<FixedOffset>) -> Self {
        RevocationDoc {
            format: REVOCATION_FORMAT.into(),
            version: 1,
            org,
            device,
            revoked_at,
        }
    }
}

document!(RevocationDoc, REVOCATION_FORMAT, "a revocation");

/// The `format` of a receipt.
pub const RECEIPT_FORMAT: &str = "vigil-receipt";

/// The server's word that it stored the items of one push: which, with what hash and size, and
/// when. Signed with the server's key, whose public half the organisation pins. One receipt
/// covers every item a push stored (one signature per push, not per item: signing is the
/// costliest step of a push of small items); an item pushed again gets the receipt that first
/// covered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptDoc {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// The organisation.
    pub org: Uuid,
    /// The device that pushed the items.
    pub device: DeviceId,
    /// When the server stored them.
    pub received_at: DateTime<FixedOffset>,
    /// The items, at least one, in the order they were pushed.
    pub items: Vec<ReceiptItem>,
}

/// One item a receipt covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptItem {
    /// The item's place in the device's sequence.
    pub seq: u64,
    /// The item's id.
    pub item: Uuid,
    /// SHA-256 of the item's ciphertext, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

impl ReceiptDoc {
    /// A receipt for `items` of `device` in `org`, stored at `received_at`.
    pub fn new(
        org: Uuid,
        device: DeviceId,
        received_at: DateTime<FixedOffset>,
        items: Vec<ReceiptItem>,
    ) -> Self {
        ReceiptDoc {
            format: RECEIPT_FORMAT.into(),
            version: 1,
            org,
            device,
            received_at,
            items,
        }
    }

    /// What this receipt says of item `id`, if it covers it.
    pub fn covers(&self, id: Uuid) -> Option<&ReceiptItem> {
        self.items.iter().find(|i| i.item == id)
    }
}

document!(ReceiptDoc, RECEIPT_FORMAT, "a receipt");

/// The `format` of an attachment's receipt.
pub const ATTACHMENT_RECEIPT_FORMAT: &str = "vigil-attachment-receipt";

/// The server's word that it holds a whole attachment, every byte checked against the
/// SHA-256 the device named when it began the upload. Signed with the server's receipt key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentReceiptDoc {
    /// Always [`ATTACHMENT_RECEIPT_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// The organisation.
    pub org: Uuid,
    /// The device that uploaded it.
    pub device: DeviceId,
    /// The attachment's id.
    pub attachment: Uuid,
    /// SHA-256 of its ciphertext, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// When its last byte arrived and the whole was checked.
    pub received_at: DateTime<FixedOffset>,
}

impl AttachmentReceiptDoc {
    /// A receipt for attachment `attachment` of `device` in `org`.
    pub fn new(
        org: Uuid,
        device: DeviceId,
        attachment: Uuid,
        sha256: String,
        size: u64,
        received_at: DateTime<FixedOffset>,
    ) -> Self {
        AttachmentReceiptDoc {
            format: ATTACHMENT_RECEIPT_FORMAT.into(),
            version: 1,
            org,
            device,
            attachment,
            sha256,
            size,
            received_at,
        }
    }
}

document!(
    AttachmentReceiptDoc,
    ATTACHMENT_RECEIPT_FORMAT,
    "an attachment's receipt"
);

/// A revocation with the organisation's signature.
pub type Revocation = Signed<RevocationDoc>;
/// A receipt with the server's signature.
pub type Receipt = Signed<ReceiptDoc>;
/// An attachment's receipt with the server's signature.
pub type AttachmentReceipt = Signed<AttachmentReceiptDoc>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use vigil_crypto::sign::OrgKeys;

    #[test]
    fn a_revocation_verifies_with_its_organisations_key_only() {
        let keys = OrgKeys::generate(1).unwrap();
        let org = Uuid::now_v7();
        let doc = RevocationDoc::new(
            org,
            DeviceId::new(),
            "2019-05-24T09:00:00+06:00".parse().unwrap(),
        );
        let r = Revocation::sign(doc, |m| keys.sign(m)).unwrap();
        let wire = r.to_wire();
        assert_eq!(
            Revocation::from_wire(&wire, org, &keys.sign_pk()).unwrap(),
            r
        );
        let other = OrgKeys::generate(1).unwrap();
        let e = Revocation::from_wire(&wire, org, &other.sign_pk()).unwrap_err();
        assert_eq!(e.code(), "bad_signature");
        let e = Revocation::from_wire(&wire, Uuid::now_v7(), &keys.sign_pk()).unwrap_err();
        assert_eq!(e.code(), "wrong_organisation");
        let mut altered = wire.clone();
        altered.document = altered.document.replace("2019-05-24", "2019-05-25");
        let e = Revocation::from_wire(&altered, org, &keys.sign_pk()).unwrap_err();
        assert_eq!(e.code(), "bad_signature");
        let mut spaced = wire;
        spaced.document = spaced.document.replacen('{', "{ ", 1);
        assert!(Revocation::from_wire(&spaced, org, &keys.sign_pk()).is_err());
    }

    #[test]
    fn a_receipt_is_not_a_revocation() {
        let keys = OrgKeys::generate(1).unwrap();
        let org = Uuid::now_v7();
        let r = Revocation::sign(
            RevocationDoc::new(
                org,
                DeviceId::new(),
                "2019-05-24T09:00:00Z".parse().unwrap(),
            ),
            |m| keys.sign(m),
        )
        .unwrap();
        assert!(Receipt::from_wire(&r.to_wire(), org, &keys.sign_pk()).is_err());
        assert!(AttachmentReceipt::from_wire(&r.to_wire(), org, &keys.sign_pk()).is_err());
    }

    #[test]
    fn a_receipt_covers_its_items_and_an_edit_breaks_its_signature() {
        let keys = OrgKeys::generate(1).unwrap();
        let org = Uuid::now_v7();
        let item = |seq| ReceiptItem {
            seq,
            item: Uuid::now_v7(),
            sha256: "ab".repeat(32),
            size: 930,
        };
        let items = vec![item(1), item(2)];
        let doc = ReceiptDoc::new(
            org,
            DeviceId::new(),
            "2019-05-24T09:00:00Z".parse().unwrap(),
            items.clone(),
        );
        let r = Receipt::sign(doc, |m| keys.sign(m)).unwrap();
        let back = Receipt::from_wire(&r.to_wire(), org, &keys.sign_pk()).unwrap();
        assert_eq!(back.doc.covers(items[1].item), Some(&items[1]));
        assert_eq!(back.doc.covers(Uuid::now_v7()), None);
        let mut wire = r.to_wire();
        wire.document = wire.document.replace("\"size\":930", "\"size\":931");
        assert!(Receipt::from_wire(&wire, org, &keys.sign_pk()).is_err());
    }
}
