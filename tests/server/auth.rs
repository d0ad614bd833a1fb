//! Who may do what: every endpoint crossed with every forged or misused request, each refused
//! with its own status and code, and nothing stored. Registration and revocation attacks.

use chrono::Duration;
use serde_json::{Value, json};
use vigil_crypto::sign::OrgKeys;
use vigil_ledger::enrolment::{DeviceRole, Invitation};
use vigil_ledger::profile::OrgProfile;

use crate::harness::{Backend, Device, Org, Reply, Signing, Store, World, fresh_nonce, now};

/// What the database holds, but nonces.
fn stored(s: &Store) -> [i64; 4] {
    [
        s.count("items"),
        s.count("acks"),
        s.count("revocations"),
        s.count("devices"),
    ]
}

/// A request as an endpoint takes it, made for `device` (its own new item, and so on).
fn request(
    w: &World,
    device: &Device,
    endpoint: &str,
    seq: u64,
) -> (&'static str, String, Vec<u8>) {
    match endpoint {
        "profile" => ("GET", "/v1/profile".into(), vec![]),
        "push" => (
            "POST",
            "/v1/items".into(),
            serde_json::to_vec(
                &json!({ "items": [device.item(&w.org, seq, b"a sealed revision")] }),
            )
            .unwrap(),
        ),
        "receipts" => ("GET", "/v1/receipts?since=0".into(), vec![]),
        "feed" => ("GET", "/v1/feed?since=0".into(), vec![]),
        "ack" => (
            "POST",
            "/v1/acks".into(),
            serde_json::to_vec(&json!({ "items": [w.first_item()] })).unwrap(),
        ),
        "acks" => ("GET", "/v1/acks?since=0".into(), vec![]),
        "upload_receipt" => (
            "GET",
            format!(
                "/v1/uploads/{}/receipt",
                w.store.text("SELECT id FROM uploads LIMIT 1")
            ),
            vec![],
        ),
        "revoke" => (
            "POST",
            "/v1/revocations".into(),
            serde_json::to_vec(&w.org.revocation(w.monitor.id)).unwrap(),
        ),
        other => unreachable!("{other}"),
    }
}

const ENDPOINTS: [&str; 8] = [
    "profile",
    "push",
    "receipts",
    "feed",
    "ack",
    "acks",
    "upload_receipt",
    "revoke",
];
const HQ_ONLY: [&str; 3] = ["feed", "ack", "revoke"];

impl World {
    /// The id of the item pushed first (by [`World::seeded`]).
    fn first_item(&self) -> Value {
        json!(self.store.text("SELECT id FROM items ORDER BY pos LIMIT 1"))
    }

    /// A world where the monitor pushed one item and uploaded one attachment.
    async fn seeded(backend: Backend) -> World {
        let mut w = World::new(backend).await;
        let item = w.monitor.item(&w.org, 1, b"the first revision");
        assert_eq!(w.monitor.push(&w.server, &[item]).await.status, 200);
        let attachment = age::encrypt(&w.org.recipient(), b"a photo of the door").unwrap();
        crate::uploads::upload_whole(&w, &w.monitor, &attachment).await;
        w.monitor.seq = 2;
        w
    }
}

fn refused(r: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{what}: {r:?}");
}

async fn every_endpoint_refuses_every_forged_or_misused_request_and_stores_nothing(
    backend: Backend,
) {
    let w = World::seeded(backend).await;
    // A device enrolled by the organisation but never registered here.
    let unknown = w.org.enrol("Unregistered laptop", DeviceRole::Monitor);
    // A device registered, then revoked by HQ.
    let revoked = w.org.enrol("Lost laptop", DeviceRole::Hq);
    assert_eq!(revoked.register(&w.server).await.status, 200);
    let body = serde_json::to_vec(&w.org.revocation(revoked.id)).unwrap();
    let r = w.hq.send(&w.server, "POST", "/v1/revocations", &body).await;
    assert_eq!(r.status, 200, "{r:?}");

    for endpoint in ENDPOINTS {
        let before = stored(&w.store);
        let (method, path, body) = request(&w, &w.hq, endpoint, 100);
        let what = |case: &str| format!("{endpoint}: {case}");

        let r =
            w.hq.send_with(&w.server, method, &path, &body, &Signing::unsigned())
                .await;
        refused(&r, 401, "unsigned", &what("no signature"));

        let r =
            w.hq.send_with(&w.server, method, &path, &body, &Signing::other_key())
                .await;
        refused(&r, 401, "bad_signature", &what("signed by another key"));

        let (m, p, b) = request(&w, &unknown, endpoint, 1);
        let r = unknown.send(&w.server, m, &p, &b).await;
        refused(&r, 401, "unknown_device", &what("an unknown device"));

        let (m, p, b) = request(&w, &revoked, endpoint, 1);
        let r = revoked.send(&w.server, m, &p, &b).await;
        refused(&r, 403, "device_revoked", &what("a revoked device"));

        // Well past the five minutes either way, so that a slow run cannot bring it back.
        for skew in [-360, 360] {
            let signing = Signing::skewed(skew);
            let r =
                w.hq.send_with(&w.server, method, &path, &body, &signing)
                    .await;
            refused(&r, 401, "stale_signature", &what(&format!("{skew} s off")));
        }

        if HQ_ONLY.contains(&endpoint) {
            let (m, p, b) = request(&w, &w.monitor, endpoint, 100);
            let r = w.monitor.send(&w.server, m, &p, &b).await;
            refused(&r, 403, "hq_only", &what("a monitor"));
        }
        assert_eq!(stored(&w.store), before, "{endpoint}: nothing stored");

        // A replay of a genuine request: the first is served, the second refused.
        let signer = if HQ_ONLY.contains(&endpoint) {
            &w.hq
        } else {
            &w.monitor
        };
        let (method, path, body) = match endpoint {
            // Revoking the monitor would end the matrix: the never-registered device instead.
            "revoke" => (
                "POST",
                "/v1/revocations".to_owned(),
                serde_json::to_vec(&w.org.revocation(unknown.id)).unwrap(),
            ),
            _ => request(&w, signer, endpoint, 50),
        };
        let signing = Signing {
            nonce: fresh_nonce(),
            ..Signing::default()
        };
        let first = signer
            .send_with(&w.server, method, &path, &body, &signing)
            .await;
        assert_eq!(
            first.status, 200,
            "{endpoint}: the genuine request: {first:?}"
        );
        let after_first = stored(&w.store);
        let r = signer
            .send_with(&w.server, method, &path, &body, &signing)
            .await;
        refused(&r, 401, "replayed_nonce", &what("a replay"));
        assert_eq!(
            stored(&w.store),
            after_first,
            "{endpoint}: the replay stored nothing"
        );
    }
}

async fn another_organisations_devices_see_and_touch_nothing_of_this_one(backend: Backend) {
    let w = World::seeded(backend).await;
    let other = Org::new("Another organisation");
    other.register(&w.store, w.dir.path());
    let their_hq = other.enrol("Their HQ", DeviceRole::Hq);
    let their_monitor = other.enrol("Their laptop", DeviceRole::Monitor);
    for d in [&their_hq, &their_monitor] {
        assert_eq!(d.register(&w.server).await.status, 200);
    }
    let before = stored(&w.store);

    // Their monitor pushes an item naming this organisation.
    let mut item = their_monitor.item(&w.org, 1, b"planted");
    item["org"] = json!(w.org.id());
    let r = their_monitor.push(&w.server, &[item]).await;
    refused(
        &r,
        403,
        "other_organisation",
        "a push into this organisation",
    );

    // Their HQ reads its feed: none of this organisation's items.
    let feed = their_hq
        .send(&w.server, "GET", "/v1/feed?since=0", b"")
        .await;
    assert_eq!(feed.status, 200);
    assert_eq!(feed.body["items"].as_array().unwrap().len(), 0, "{feed:?}");

    // Their HQ acknowledges this organisation's item: refused as unknown.
    let body = serde_json::to_vec(&json!({ "items": [w.first_item()] })).unwrap();
    let r = their_hq.send(&w.server, "POST", "/v1/acks", &body).await;
    refused(
        &r,
        400,
        "unknown_item",
        "an acknowledgement across organisations",
    );

    // Their HQ pushes a genuine revocation of this organisation's monitor (signed by this
    // organisation, replayed from elsewhere): refused, since it is not theirs.
    let body = serde_json::to_vec(&w.org.revocation(w.monitor.id)).unwrap();
    let r = their_hq
        .send(&w.server, "POST", "/v1/revocations", &body)
        .await;
    refused(
        &r,
        403,
        "revocation_refused",
        "a revocation across organisations",
    );

    // Their monitor reads receipts and acknowledgements: only its own (none).
    for path in ["/v1/receipts?since=0", "/v1/acks?since=0"] {
        let r = their_monitor.send(&w.server, "GET", path, b"").await;
        assert_eq!(r.status, 200);
        let list = r
            .body
            .as_object()
            .unwrap()
            .values()
            .find_map(|v| v.as_array())
            .unwrap();
        assert!(list.is_empty(), "{path}: {r:?}");
    }
    let profile = their_monitor
        .send(&w.server, "GET", "/v1/profile", b"")
        .await;
    assert_eq!(profile.body["org_id"], other.id().to_string());
    assert_eq!(stored(&w.store), before);
    // The monitor of this organisation still works.
    let item = w.monitor.item(&w.org, 2, b"second");
    assert_eq!(w.monitor.push(&w.server, &[item]).await.status, 200);
}

async fn registration_takes_only_a_genuine_certificate_signed_by_its_own_device(backend: Backend) {
    let w = World::new(backend).await;
    let devices = w.store.count("devices");

    // An organisation the server does not know.
    let stranger = Org::new("Unregistered organisation");
    let d = stranger.enrol("Their laptop", DeviceRole::Monitor);
    refused(
        &d.register(&w.server).await,
        403,
        "unknown_organisation",
        "an unknown organisation",
    );

    // A certificate for this organisation's id, made with a thief's key.
    let thief = Org {
        keys: OrgKeys::generate(1).unwrap(),
        profile: OrgProfile::signed(
            w.org.id(),
            "Bishkek Monitoring Group",
            &OrgKeys::generate(1).unwrap(),
            now(),
        )
        .unwrap(),
    };
    let forged = thief.enrol("Planted HQ", DeviceRole::Hq);
    refused(
        &forged.register(&w.server).await,
        403,
        "certificate_refused",
        "a forged certificate",
    );

    // A genuine certificate, but the request signed by someone else's key.
    let genuine = w.org.enrol("Bakyt's laptop", DeviceRole::Monitor);
    let body = genuine.cert.bytes().to_vec();
    for (signing, code, what) in [
        (
            Signing::other_key(),
            "bad_signature",
            "a stolen certificate",
        ),
        (Signing::unsigned(), "unsigned", "an unsigned registration"),
    ] {
        let r = genuine
            .send_with(&w.server, "POST", "/v1/devices", &body, &signing)
            .await;
        refused(&r, 401, code, what);
    }
    // Another registered device presents this certificate as its own.
    let r = w
        .monitor
        .send(&w.server, "POST", "/v1/devices", &body)
        .await;
    refused(&r, 401, "bad_signature", "someone else's certificate");

    // One invitation, two devices: the second is refused.
    let invitation = Invitation::issue_for(
        &w.org.keys,
        w.org.id(),
        "Shared invitation",
        DeviceRole::Monitor,
        now() - Duration::hours(1),
        now() + Duration::days(1),
    )
    .unwrap();
    let first = Device::with_invitation(&invitation, w.org.id());
    let second = Device::with_invitation(&invitation, w.org.id());
    assert_eq!(first.register(&w.server).await.status, 200);
    refused(
        &second.register(&w.server).await,
        409,
        "invitation_used",
        "a second device on one invitation",
    );
    assert_eq!(w.store.count("devices"), devices + 1);

    // Registering again is harmless.
    let again = first.register(&w.server).await;
    assert_eq!(
        (again.status, &again.body["new"]),
        (200, &json!(false)),
        "{again:?}"
    );

    // A revoked device cannot register again.
    let body = serde_json::to_vec(&w.org.revocation(genuine.id)).unwrap();
    assert_eq!(
        w.hq.send(&w.server, "POST", "/v1/revocations", &body)
            .await
            .status,
        200
    );
    refused(
        &genuine.register(&w.server).await,
        403,
        "device_revoked",
        "a revoked device registering",
    );
    assert_eq!(w.store.count("devices"), devices + 1);
    let (ok, out, _) = w.store.admin(&["devices", &w.org.id().to_string()]);
    assert!(ok);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains(" hq "), "{out}");
}

async fn only_the_organisations_own_signature_revokes_a_device(backend: Backend) {
    let w = World::seeded(backend).await;
    // A revocation signed by a thief's key, pushed by a genuine HQ device.
    let thief = OrgKeys::generate(1).unwrap();
    let forged = vigil_ledger::signed::Revocation::sign(
        vigil_ledger::signed::RevocationDoc::new(w.org.id(), w.monitor.id, now()),
        |m| thief.sign(m),
    )
    .unwrap();
    let body = serde_json::to_vec(&forged.to_wire()).unwrap();
    let r = w.hq.send(&w.server, "POST", "/v1/revocations", &body).await;
    refused(&r, 403, "revocation_refused", "a forged revocation");
    assert_eq!(w.store.count("revocations"), 0);
    let item = w.monitor.item(&w.org, 2, b"still here");
    assert_eq!(w.monitor.push(&w.server, &[item]).await.status, 200);

    // The genuine one: the monitor is refused from then on, and said so.
    let body = serde_json::to_vec(&w.org.revocation(w.monitor.id)).unwrap();
    let r = w.hq.send(&w.server, "POST", "/v1/revocations", &body).await;
    assert_eq!((r.status, &r.body["new"]), (200, &json!(true)), "{r:?}");
    let item = w.monitor.item(&w.org, 3, b"after revocation");
    refused(
        &w.monitor.push(&w.server, &[item]).await,
        403,
        "device_revoked",
        "after revocation",
    );
    assert_eq!(w.store.count("items"), 2);
}

crate::on_every_backend!(
    every_endpoint_refuses_every_forged_or_misused_request_and_stores_nothing,
    another_organisations_devices_see_and_touch_nothing_of_this_one,
    registration_takes_only_a_genuine_certificate_signed_by_its_own_device,
    only_the_organisations_own_signature_revokes_a_device,
);
