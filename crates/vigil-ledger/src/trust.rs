//! Whom a vault trusts to send it records: devices the organisation enrolled, and devices a
//! person accepted after comparing their key.
//!
//! Everything a device sends carries its certificate ([`crate::enrolment`]). The receiving
//! vault keeps a register of the devices it trusts. [`judge`] decides, for what one device sent:
//!
//! - the vault's **own** device (restoring from its own bundle) is itself;
//! - a device in the register (by its key) is **trusted**, unless it was revoked and sent
//!   any revision the vault does not hold yet, or presents its key under another id than the
//!   register's (allowed only for the id its key makes: a device made before enrolment takes
//!   that id when it enrols). A revoked device's key may be in a thief's hands, and a thief
//!   can set the clock back: so nothing new from it is applied by date alone. A person
//!   decides, and even then what claims to be sealed after the revocation is refused;
//! - a device not in the register is trusted if its certificate verifies for this organisation,
//!   it enrolled while its invitation was valid, its first bundle arrives within
//!   [`DELIVERY_GRACE_DAYS`] of the invitation's expiry (by the vault's clock), and no other
//!   device used that invitation first;
//! - anything else goes to **quarantine**: nothing is applied, what arrived is kept encrypted,
//!   and a person decides ([`QuarantineReason`] says why).

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use uuid::Uuid;
use vigil_crypto::sign::SignPublicKey;
use vigil_model::DeviceId;

use crate::LedgerError;
use crate::enrolment::VerifiedCertificate;
use crate::ids::is_derived;

/// A device in the vault's register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// Its id.
    pub device: DeviceId,
    /// Its key.
    pub sign_pk: SignPublicKey,
    /// The invitation it enrolled with (`None` if a person accepted it without one).
    pub invitation: Option<Uuid>,
    /// When the organisation revoked it, on the vault's clock.
    pub revoked_at: Option<DateTime<FixedOffset>>,
}

/// Why what a device sent was put in quarantine. Each has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum QuarantineReason {
    /// It carries no certificate (a device that joined before enrolment existed, or one the
    /// organisation never enrolled).
    NoCertificate,
    /// Its certificate does not verify for this organisation.
    CertificateInvalid {
        /// Why, in English.
        detail: String,
    },
    /// It enrolled after its invitation expired.
    InvitationExpired {
        /// When the invitation expired.
        expires_at: DateTime<FixedOffset>,
    },
    /// Another device used its invitation first.
    InvitationReused {
        /// The device that used it first.
        first: DeviceId,
    },
    /// The organisation revoked the device, and it sent revisions this vault does not hold.
    DeviceRevoked {
        /// When it was revoked.
        revoked_at: DateTime<FixedOffset>,
    },
    /// Its id is registered here with another key.
    KeyConflict,
    /// It carries revisions under other ids (ones its key had before it enrolled) that this
    /// vault has never seen with its key.
    FormerId {
        /// Those ids.
        devices: Vec<DeviceId>,
    },
}

impl QuarantineReason {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            QuarantineReason::NoCertificate => "no_certificate",
            QuarantineReason::CertificateInvalid { .. } => "certificate_invalid",
            QuarantineReason::InvitationExpired { .. } => "invitation_expired",
            QuarantineReason::InvitationReused { .. } => "invitation_reused",
            QuarantineReason::DeviceRevoked { .. } => "device_revoked",
            QuarantineReason::KeyConflict => "key_conflict",
            QuarantineReason::FormerId { .. } => "former_id",
        }
    }

    /// What happened and what a person can do, in English.
    pub fn describe(&self) -> String {
        match self {
            QuarantineReason::NoCertificate => {
                "the device was not enrolled by the organisation (it joined before enrolment, or \
                 never had an invitation); compare its key with the monitor by phone before \
                 accepting"
                    .into()
            }
            QuarantineReason::CertificateInvalid { detail } => {
                format!("its enrolment certificate does not hold ({detail})")
            }
            QuarantineReason::InvitationExpired { expires_at } => format!(
                "it enrolled with an invitation that had expired on {}",
                expires_at.to_rfc3339()
            ),
            QuarantineReason::InvitationReused { first } => format!(
                "its invitation was already used by device {first}; an invitation is for one \
                 device only"
            ),
            QuarantineReason::DeviceRevoked { revoked_at } => format!(
                "the device was revoked on {} and sent revisions this vault does not hold; its \
                 key may be in other hands, and its clock cannot be trusted: accept only what \
                 the monitor confirms (anything sealed after the revocation is refused even then)",
                revoked_at.to_rfc3339()
            ),
            QuarantineReason::KeyConflict => {
                "its device id is registered here with another key".into()
            }
            QuarantineReason::FormerId { devices } => format!(
                "it carries revisions under earlier ids this vault has not seen with its key ({}); \
                 compare the key with the monitor before accepting",
                devices
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// What the vault makes of a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The vault's own device.
    Own,
    /// In the register, and not revoked for what it sent.
    Registered(Registered),
    /// Enrolled by the organisation, new here: the certificate to register it with.
    Enrolled(Box<VerifiedCertificate>),
    /// A person must decide.
    Quarantine(QuarantineReason),
}

/// What the vault knows that bears on one sender (see [`judge`]).
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    /// The device id it gives.
    pub device: DeviceId,
    /// The key that signed what it sent.
    pub sign_pk: SignPublicKey,
    /// Its certificate, checked for this organisation (`None` if it sent none).
    pub certificate: Option<&'a Result<VerifiedCertificate, LedgerError>>,
    /// How many of the revisions it sent the vault does not hold.
    pub new_revisions: usize,
    /// When the vault receives it, on the vault's clock.
    pub received_at: DateTime<FixedOffset>,
}

/// How long after its invitation expired (on the receiving vault's clock) a device's first
/// bundle may still arrive: a USB stick can take weeks to reach HQ. Beyond it, a device whose
/// own clock says it enrolled in time is still held for a person, since that clock may have
/// been set back.
pub const DELIVERY_GRACE_DAYS: i64 = 30;

/// What the vault's register says about a sender.
#[derive(Debug, Clone, Default)]
pub struct RegisterView {
    /// The entry for the sender's key.
    pub by_key: Option<Registered>,
    /// An entry with the sender's device id (whatever its key).
    pub by_device: Option<Registered>,
    /// The device that used the certificate's invitation, if one did.
    pub by_invitation: Option<Registered>,
}

/// Decides a sender's standing (see the module documentation). `own_key` is the vault's own.
pub fn judge(sender: &Sender<'_>, own_key: &SignPublicKey, register: &RegisterView) -> Standing {
    if sender.sign_pk == *own_key {
        return Standing::Own;
    }
    if let Some(r) = &register.by_key {
        // The same key under another id: only a device made before enrolment, which took the
        // id its key makes when it enrolled, may do that.
        if r.device != sender.device && !is_derived(sender.device, &sender.sign_pk) {
            return Standing::Quarantine(QuarantineReason::KeyConflict);
        }
        if let Some(revoked_at) = r.revoked_at
            && sender.new_revisions > 0
        {
            return Standing::Quarantine(QuarantineReason::DeviceRevoked { revoked_at });
        }
        return Standing::Registered(r.clone());
    }
    if register.by_device.is_some() {
        return Standing::Quarantine(QuarantineReason::KeyConflict);
    }
    let cert = match sender.certificate {
        None => return Standing::Quarantine(QuarantineReason::NoCertificate),
        Some(Err(e)) => {
            return Standing::Quarantine(QuarantineReason::CertificateInvalid {
                detail: e.to_string(),
            });
        }
        Some(Ok(c)) => c,
    };
    if cert.device != sender.device || cert.device_keys.sign_pk != sender.sign_pk {
        return Standing::Quarantine(QuarantineReason::CertificateInvalid {
            detail: "it is another device's certificate".into(),
        });
    }
    if let Some(first) = &register.by_invitation {
        return Standing::Quarantine(QuarantineReason::InvitationReused {
            first: first.device,
        });
    }
    let delivered_late = sender.received_at
        > cert.invitation.expires_at + chrono::Duration::days(DELIVERY_GRACE_DAYS);
    if !cert.in_time() || delivered_late {
        return Standing::Quarantine(QuarantineReason::InvitationExpired {
            expires_at: cert.invitation.expires_at,
        });
    }
    Standing::Enrolled(Box::new(cert.clone()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::enrolment::{Certificate, Invitation};
    use crate::ids::device_id_for;
    use crate::profile::OrgProfile;
    use vigil_crypto::sign::{DeviceKeys, OrgKeys};

    fn t(s: &str) -> DateTime<FixedOffset> {
        s.parse().unwrap()
    }

    #[test]
    fn standings() {
        let org = OrgKeys::generate(1).unwrap();
        let profile =
            OrgProfile::signed(Uuid::now_v7(), "HQ", &org, t("2019-05-01T00:00:00Z")).unwrap();
        let inv = Invitation::issue(
            &org,
            profile.org_id,
            "laptop",
            t("2019-05-20T00:00:00Z"),
            t("2019-06-03T00:00:00Z"),
        )
        .unwrap();
        let keys = DeviceKeys::generate().unwrap();
        let pk = keys.public().sign_pk;
        let device = device_id_for(&pk);
        let check = |at: &str| {
            Certificate::from_bytes(inv.enrol(&keys, device, t(at)).unwrap().bytes().to_vec())
                .verify(profile.org_id, &profile.org_sign_pk)
        };
        let good = check("2019-05-21T00:00:00Z");
        let late = check("2019-06-21T00:00:00Z");
        let bad: Result<VerifiedCertificate, LedgerError> =
            Err(LedgerError::BadSignature { what: "x".into() });
        let own = [1u8; 32];
        let sender = |c| Sender {
            device,
            sign_pk: pk,
            certificate: c,
            new_revisions: 1,
            received_at: t("2019-06-10T00:00:00Z"),
        };
        let none = RegisterView::default();
        let code = |s: Standing| match s {
            Standing::Quarantine(r) => r.code(),
            Standing::Own => "own",
            Standing::Registered(_) => "registered",
            Standing::Enrolled(_) => "enrolled",
        };
        assert_eq!(code(judge(&sender(Some(&good)), &own, &none)), "enrolled");
        assert_eq!(code(judge(&sender(Some(&good)), &pk, &none)), "own");
        assert_eq!(code(judge(&sender(None), &own, &none)), "no_certificate");
        assert_eq!(
            code(judge(&sender(Some(&bad)), &own, &none)),
            "certificate_invalid"
        );
        assert_eq!(
            code(judge(&sender(Some(&late)), &own, &none)),
            "invitation_expired"
        );
        // Enrolled in time by its own clock, but first heard of long after the invitation
        // expired by HQ's: that clock may have been set back.
        let long_after = Sender {
            received_at: t("2019-07-04T00:00:00Z"),
            ..sender(Some(&good))
        };
        assert_eq!(code(judge(&long_after, &own, &none)), "invitation_expired");
        let within_grace = Sender {
            received_at: t("2019-07-02T00:00:00Z"),
            ..sender(Some(&good))
        };
        assert_eq!(code(judge(&within_grace, &own, &none)), "enrolled");
        let other = Registered {
            device: DeviceId::new(),
            sign_pk: [2u8; 32],
            invitation: Some(inv.signed().body.id),
            revoked_at: None,
        };
        let reused = RegisterView {
            by_invitation: Some(other.clone()),
            ..RegisterView::default()
        };
        assert_eq!(
            code(judge(&sender(Some(&good)), &own, &reused)),
            "invitation_reused"
        );
        let claimed = RegisterView {
            by_device: Some(other),
            ..RegisterView::default()
        };
        assert_eq!(
            code(judge(&sender(Some(&good)), &own, &claimed)),
            "key_conflict"
        );
        // Registered: trusted without looking at the certificate again, until revoked.
        let mut me = Registered {
            device,
            sign_pk: pk,
            invitation: Some(inv.signed().body.id),
            revoked_at: None,
        };
        let reg = |r: &Registered| RegisterView {
            by_key: Some(r.clone()),
            ..RegisterView::default()
        };
        assert_eq!(code(judge(&sender(None), &own, &reg(&me))), "registered");
        // Revoked: whatever it sends that is new waits for a person, whatever date it claims.
        me.revoked_at = Some(t("2019-05-30T00:00:00Z"));
        assert_eq!(
            code(judge(&sender(None), &own, &reg(&me))),
            "device_revoked"
        );
        let nothing_new = Sender {
            new_revisions: 0,
            ..sender(None)
        };
        assert_eq!(code(judge(&nothing_new, &own, &reg(&me))), "registered");
    }
}
