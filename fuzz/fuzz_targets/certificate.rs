//! Enrolment documents from outside: arbitrary bytes as a device certificate (what every bundle
//! and sync request carries) and as an invitation file (what a monitor opens). Every input must
//! be accepted or refused cleanly, never panic.
//!
//! A certificate is checked twice: as it came, and signed again here with fixed organisation,
//! invitation and device keys, so that the fuzzer's bytes reach what lies past the signatures
//! (the device id its key must make, the age recipient, the invitation's dates, and the
//! register's judgement). In the second pass a `device` of `"DERIVED"` becomes the id the device
//! key makes and an `age_recipient` of `"RECIPIENT"` a valid one, so seeds can reach acceptance.
//! Seeds are in `fuzz/seeds/certificate/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use vigil_ledger::canonical;
use vigil_ledger::enrolment::Certificate;
use vigil_ledger::profile::OrgProfile;
use vigil_ledger::trust::{RegisterView, Sender, judge};

const IDENTITY: &str = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";

fn key(seed: u8) -> Option<Ed25519KeyPair> {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).ok()
}

fn public(k: &Ed25519KeyPair) -> [u8; 32] {
    let mut pk = [0u8; 32];
    pk.copy_from_slice(k.public_key().as_ref());
    pk
}

fn sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b).as_ref().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let (Some(org), Some(invitation), Some(device)) = (key(1), key(2), key(3)) else {
        return;
    };
    let Ok(identity) = IDENTITY.parse::<age::x25519::Identity>() else {
        return;
    };
    let org_id = uuid::Uuid::from_u128(2);
    let org_pk = public(&org);

    // As it came.
    let _ = Certificate::from_bytes(data.to_vec()).verify(org_id, &org_pk);
    // As an invitation file, for a profile of this organisation.
    if let Ok(profile) = OrgProfile::parse_and_verify(
        &json!({
            "format": "vigil-org-profile", "version": 1, "org_id": org_id.to_string(),
            "name": "HQ", "hq_recipients": [identity.to_public().to_string()],
            "org_sign_pk": hex::encode(org_pk), "server": null, "server_pin": null,
            "created_at": "2019-05-01T00:00:00+06:00",
            "signature": hex::encode([0u8; 64]),
        })
        .to_string(),
    ) {
        let _ = vigil_ledger::enrolment::Invitation::from_file_bytes(data, &profile);
    }

    // Signed again with the keys it names, to get past the signatures.
    let Ok(mut v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if !v.is_object() {
        return;
    }
    if v["invitation"].is_object() {
        v["invitation"]["invitation_pk"] = json!(hex::encode(public(&invitation)));
        let body = canonical::encode(&v["invitation"]);
        v["org_sig"] = json!(hex::encode(org.sign(&sha256(&body)).as_ref()));
    }
    if v["device_keys"].is_object() {
        v["device_keys"]["sign_pk"] = json!(hex::encode(public(&device)));
        if v["device_keys"]["age_recipient"] == json!("RECIPIENT") {
            v["device_keys"]["age_recipient"] = json!(identity.to_public().to_string());
        }
    }
    let derived = vigil_ledger::ids::device_id_for(&public(&device));
    if v["device"] == json!("DERIVED") {
        v["device"] = json!(derived.to_string());
    }
    if let Some(obj) = v.as_object_mut() {
        obj.remove("invitation_sig");
        obj.remove("device_sig");
    }
    let hash = sha256(&canonical::encode(&v));
    if let Some(obj) = v.as_object_mut() {
        obj.insert("invitation_sig".into(), json!(hex::encode(invitation.sign(&hash).as_ref())));
        obj.insert("device_sig".into(), json!(hex::encode(device.sign(&hash).as_ref())));
    }
    let checked = Certificate::from_bytes(canonical::encode(&v)).verify(org_id, &org_pk);
    if let Ok(c) = &checked {
        let _ = c.in_time();
    }
    let _ = judge(
        &Sender {
            device: derived,
            sign_pk: public(&device),
            certificate: Some(&checked),
            new_revisions: 1,
            received_at: chrono::DateTime::parse_from_rfc3339("2019-05-23T10:00:00+06:00")
                .unwrap_or_default(),
        },
        &[9u8; 32],
        &RegisterView::default(),
    );
});
