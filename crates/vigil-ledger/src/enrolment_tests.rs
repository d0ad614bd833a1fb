//! Tests of invitations, enrolment and certificates.
#![allow(clippy::unwrap_used)]
use super::*;

fn t(s: &str) -> DateTime<FixedOffset> {
    s.parse().unwrap()
}

struct Org {
    keys: OrgKeys,
    profile: OrgProfile,
}

fn org() -> Org {
    let keys = OrgKeys::generate(1).unwrap();
    let profile =
        OrgProfile::signed(Uuid::now_v7(), "HQ", &keys, t("2019-05-01T00:00:00Z")).unwrap();
    Org { keys, profile }
}

fn invite(o: &Org) -> Invitation {
    Invitation::issue(
        &o.keys,
        o.profile.org_id,
        "Aigul's laptop",
        t("2019-05-20T09:00:00+06:00"),
        t("2019-06-03T09:00:00+06:00"),
    )
    .unwrap()
}

fn enrol(inv: &Invitation, keys: &DeviceKeys, at: &str) -> Certificate {
    inv.enrol(keys, device_id_for(&keys.public().sign_pk), t(at))
        .unwrap()
}

#[test]
fn an_hq_device_carries_its_role_and_a_monitor_keeps_version_1_bytes() {
    let o = org();
    let monitor = invite(&o);
    let keys = DeviceKeys::generate().unwrap();
    let cert = enrol(&monitor, &keys, "2019-05-21T09:00:00+06:00");
    let text = String::from_utf8(cert.bytes().to_vec()).unwrap();
    assert!(!text.contains("\"role\""), "{text}");
    assert!(text.contains("\"version\":1"), "{text}");
    let v = cert
        .verify(o.profile.org_id, &o.profile.org_sign_pk)
        .unwrap();
    assert_eq!(v.invitation.role, DeviceRole::Monitor);

    let hq = Invitation::issue_for(
        &o.keys,
        o.profile.org_id,
        "HQ reader",
        DeviceRole::Hq,
        t("2019-05-20T09:00:00+06:00"),
        t("2019-06-03T09:00:00+06:00"),
    )
    .unwrap();
    let cert = enrol(&hq, &keys, "2019-05-21T09:00:00+06:00");
    let v = cert
        .verify(o.profile.org_id, &o.profile.org_sign_pk)
        .unwrap();
    assert_eq!(v.invitation.role, DeviceRole::Hq);
    assert_eq!(v.invitation.version, 2);

    // The organisation's own signature on a version-1 body with the HQ role: refused, so
    // an older reader's view (a monitor) and this one's can never differ.
    let mut body = hq.signed().body.clone();
    body.version = 1;
    let forged = SignedInvitation {
        org_sig: o.keys.sign(&SignedInvitation::hash(&body).unwrap()),
        body,
    };
    let e = forged
        .verify(o.profile.org_id, &o.profile.org_sign_pk)
        .unwrap_err();
    assert_eq!(e.code(), "record_malformed", "{e}");
}

#[test]
fn the_file_round_trips_and_refuses_another_organisation() {
    let o = org();
    let inv = invite(&o);
    let file = inv.expose_file_bytes();
    let back = Invitation::from_file_bytes(&file, &o.profile).unwrap();
    assert_eq!(back.signed(), inv.signed());
    assert!(!format!("{back:?}").contains(&hex::encode(inv.key.expose_pkcs8())));
    let other = org();
    assert_eq!(
        Invitation::from_file_bytes(&file, &other.profile)
            .unwrap_err()
            .code(),
        "wrong_organisation"
    );
    // Renamed after the organisation signed it.
    let text = String::from_utf8(file.to_vec()).unwrap();
    let renamed = text.replace("Aigul's laptop", "Someone else");
    assert_eq!(
        Invitation::from_file_bytes(renamed.as_bytes(), &o.profile)
            .unwrap_err()
            .code(),
        "bad_signature"
    );
    assert_eq!(
        inv.check_usable(t("2019-06-04T00:00:00+06:00"))
            .unwrap_err()
            .code(),
        "invitation_unusable"
    );
    inv.check_usable(t("2019-06-02T00:00:00+06:00")).unwrap();
    assert_eq!(
        inv.check_usable(t("2019-05-10T00:00:00+06:00"))
            .unwrap_err()
            .code(),
        "invitation_unusable",
        "a clock far behind HQ's"
    );
}

#[test]
fn a_certificate_verifies_with_public_keys_only() {
    let o = org();
    let inv = invite(&o);
    let keys = DeviceKeys::generate().unwrap();
    let cert = enrol(&inv, &keys, "2019-05-21T14:00:00+06:00");
    let v = cert
        .verify(o.profile.org_id, &o.profile.org_sign_pk)
        .unwrap();
    assert_eq!(v.device_keys, keys.public());
    assert!(v.in_time());
    let late = enrol(&inv, &keys, "2019-06-10T14:00:00+06:00");
    assert!(
        !late
            .verify(o.profile.org_id, &o.profile.org_sign_pk)
            .unwrap()
            .in_time()
    );
    // Another organisation's key, or id.
    let other = org();
    assert_eq!(
        cert.verify(o.profile.org_id, &other.profile.org_sign_pk)
            .unwrap_err()
            .code(),
        "bad_signature"
    );
    assert_eq!(
        cert.verify(other.profile.org_id, &o.profile.org_sign_pk)
            .unwrap_err()
            .code(),
        "wrong_organisation"
    );
}

/// The certificate's fields changed and signed again by whoever could sign.
fn forge(
    cert: &Certificate,
    edit: impl FnOnce(&mut serde_json::Value),
    invitation_key: Option<&SigningKey>,
    device_key: &DeviceKeys,
) -> Certificate {
    let mut v: serde_json::Value = serde_json::from_slice(cert.bytes()).unwrap();
    edit(&mut v);
    let obj = v.as_object_mut().unwrap();
    let inv_sig = obj.remove("invitation_sig").unwrap();
    obj.remove("device_sig");
    let hash = sign::sha256(&canonical::encode(&v));
    let obj = v.as_object_mut().unwrap();
    let inv_sig = invitation_key
        .map(|k| serde_json::Value::String(k.sign(&hash).to_string()))
        .unwrap_or(inv_sig);
    obj.insert("invitation_sig".into(), inv_sig);
    obj.insert(
        "device_sig".into(),
        serde_json::Value::String(device_key.sign(&hash).to_string()),
    );
    Certificate::from_bytes(canonical::encode(&v))
}

#[test]
fn forged_certificates_are_refused() {
    let o = org();
    let inv = invite(&o);
    let keys = DeviceKeys::generate().unwrap();
    let cert = enrol(&inv, &keys, "2019-05-21T14:00:00+06:00");
    let check = |c: &Certificate| {
        c.verify(o.profile.org_id, &o.profile.org_sign_pk)
            .map(|_| ())
            .map_err(|e| e.code())
    };
    // Someone who saw a certificate (not the invitation) binds their own key to it.
    let thief = DeviceKeys::generate().unwrap();
    let stolen = forge(
        &cert,
        |v| {
            v["device_keys"] = serde_json::to_value(thief.public()).unwrap();
            v["device"] = serde_json::to_value(device_id_for(&thief.public().sign_pk)).unwrap();
        },
        None,
        &thief,
    );
    assert_eq!(check(&stolen), Err("bad_signature"));
    // The invitation holder claims another device's id with their own key.
    let victim = device_id_for(&[9u8; 32]);
    let claim = forge(
        &cert,
        |v| v["device"] = serde_json::to_value(victim).unwrap(),
        Some(&inv.key),
        &keys,
    );
    assert_eq!(check(&claim), Err("device_id_forged"));
    // The invitation's expiry pushed back.
    let later = forge(
        &cert,
        |v| v["invitation"]["expires_at"] = "2030-01-01T00:00:00Z".into(),
        Some(&inv.key),
        &keys,
    );
    assert_eq!(check(&later), Err("bad_signature"));
    // Someone else's key binding a victim's public key to their invitation.
    let other_inv = invite(&o);
    let bound = forge(
        &cert,
        |v| {
            v["invitation"] = serde_json::to_value(&other_inv.signed.body).unwrap();
            v["org_sig"] = serde_json::to_value(other_inv.signed.org_sig).unwrap();
        },
        Some(&other_inv.key),
        &thief,
    );
    assert_eq!(check(&bound), Err("bad_signature"));
    let spaced = String::from_utf8(cert.bytes().to_vec())
        .unwrap()
        .replacen(',', ", ", 1);
    assert_eq!(
        check(&Certificate::from_bytes(spaced.into_bytes())),
        Err("not_canonical")
    );
    assert_eq!(
        check(&Certificate::from_bytes(b"{}".to_vec())),
        Err("record_malformed")
    );
}
