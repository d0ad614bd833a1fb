//! Tests of sealed revisions: they verify and travel, and every change after sealing is refused.

#![allow(clippy::unwrap_used)]
use super::*;
use crate::ids::device_id_for;

fn sealed(keys: &DeviceKeys) -> Revision {
    let at = "2019-05-23T10:45:00+06:00".parse().unwrap();
    let device = device_id_for(&keys.public().sign_pk);
    let mut incident = Incident::new(IncidentId::new(), "Meeting", at);
    incident.location.latitude = Some(42.8746);
    incident.location.longitude = Some(74.5698);
    let entry = LogEntry {
        id: vigil_model::EntryId::new(),
        incident: incident.id,
        seq: 1,
        at,
        text: "10:30 nine men enter".into(),
        device,
        flagged: true,
        corrects: None,
        happened_at: None,
    };
    RevisionDoc::new(
        incident,
        vec![entry],
        vec![],
        Some(Uuid::now_v7()),
        device,
        keys.public(),
        1,
        None,
        None,
        at,
    )
    .seal(keys)
    .unwrap()
}

#[test]
fn a_sealed_revision_verifies_and_travels() {
    let keys = DeviceKeys::generate().unwrap();
    let r = sealed(&keys);
    r.verify().unwrap();
    let entry = r.to_entry().unwrap();
    // The spliced entry is exactly the canonical encoding of the entry object.
    let v: serde_json::Value = serde_json::from_slice(&entry).unwrap();
    assert_eq!(canonical::encode(&v), entry);
    assert_eq!(v["version"], 1);
    assert!(
        tail_signature(&entry[entry.len() - ENTRY_TAIL_LEN..]).is_some(),
        "read without parsing the entry twice"
    );
    let back = Revision::from_entry("e", &entry).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.verify().unwrap().document().version, 3);
    // The same entry read the long way gives the same revision.
    let mut spaced = entry.clone();
    spaced.extend_from_slice(b" ");
    assert_eq!(
        Revision::from_entry("e", &spaced).unwrap_err().code(),
        "not_canonical"
    );
}

fn edited(r: &Revision, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&r.doc).unwrap();
    edit(&mut v);
    canonical::encode(&v)
}

#[test]
fn every_change_after_sealing_is_refused() {
    let keys = DeviceKeys::generate().unwrap();
    let r = sealed(&keys);
    let resign = |bytes: Vec<u8>| {
        let sig = keys.sign(&sign::sha256(&bytes));
        Revision::from_signed(bytes, sig).and_then(|r| r.verify())
    };
    // Same key, but the document breaks a rule of the format.
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (edited(&r, |v| v["version"] = 4.into()), "newer_version"),
        (
            edited(&r, |v| {
                v.as_object_mut().unwrap().remove("org");
            }),
            "record_malformed",
        ),
        (edited(&r, |v| v["surprise"] = 1.into()), "record_malformed"),
        (edited(&r, |v| v["device_seq"] = 2.into()), "record_altered"),
        (edited(&r, |v| v["device_seq"] = 0.into()), "record_altered"),
        (
            edited(&r, |v| {
                let e = v["log"][0].clone();
                v["log"].as_array_mut().unwrap().push(e);
            }),
            "record_malformed",
        ),
        (
            serde_json::to_vec_pretty(
                &serde_json::from_slice::<serde_json::Value>(&r.doc).unwrap(),
            )
            .unwrap(),
            "not_canonical",
        ),
        // A correction of an entry the revision does not carry, or of itself.
        (
            edited(&r, |v| {
                v["log"][0]["corrects"] = vigil_model::EntryId::new().to_string().into();
            }),
            "record_malformed",
        ),
        (
            edited(&r, |v| v["log"][0]["corrects"] = v["log"][0]["id"].clone()),
            "record_malformed",
        ),
        // Something that happened after it was written.
        (
            edited(&r, |v| {
                v["log"][0]["happened_at"] = "2019-05-23T10:46:00+06:00".into();
            }),
            "record_malformed",
        ),
        // Corrections and late notes in a version that has neither.
        (
            edited(&r, |v| {
                v["version"] = 2.into();
                v["log"][0]["happened_at"] = "2019-05-23T10:40:00+06:00".into();
            }),
            "record_malformed",
        ),
    ];
    for (bytes, code) in cases {
        assert_eq!(resign(bytes).unwrap_err().code(), code);
    }
    // The same entries, rightly formed, are accepted: a correction of an entry it carries,
    // and a time earlier than the writing.
    let fine = edited(&r, |v| {
        let mut second = v["log"][0].clone();
        second["id"] = vigil_model::EntryId::new().to_string().into();
        second["seq"] = 2.into();
        second["corrects"] = v["log"][0]["id"].clone();
        second["happened_at"] = "2019-05-23T10:31:00+06:00".into();
        v["log"].as_array_mut().unwrap().push(second);
    });
    let verified = resign(fine).unwrap();
    assert_eq!(
        verified.document().log[1].corrects,
        Some(verified.document().log[0].id)
    );
    // Content changed without signing again.
    let title = edited(&r, |v| v["incident"]["title"] = "Nothing happened".into());
    let forged = Revision::from_signed(title, r.sig).unwrap();
    assert_eq!(forged.verify().unwrap_err().code(), "bad_signature");
    // A field beside the document that disagrees with it.
    let mut moved = r.clone();
    moved.device_seq = 5;
    assert_eq!(moved.verify().unwrap_err().code(), "record_altered");
}

#[test]
fn an_entry_in_another_form_is_refused_not_rewritten() {
    let keys = DeviceKeys::generate().unwrap();
    let r = sealed(&keys);
    let entry = r.to_entry().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&entry).unwrap();
    let pretty = serde_json::to_vec_pretty(&v).unwrap();
    assert_eq!(
        Revision::from_entry("e", &pretty).unwrap_err().code(),
        "not_canonical"
    );
    let text = String::from_utf8(entry).unwrap();
    let doubled = text.replacen(
        "\"format\":\"vigil-revision\",",
        "\"format\":\"vigil-revision\",\"format\":\"vigil-revision\",",
        1,
    );
    assert_eq!(
        Revision::from_entry("e", doubled.as_bytes())
            .unwrap_err()
            .code(),
        "duplicate_key"
    );
}
