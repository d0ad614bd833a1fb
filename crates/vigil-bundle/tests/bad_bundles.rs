//! A corpus of bad bundles, each rejected with the right error code.
#![allow(clippy::unwrap_used)]

use vigil_fixtures::bundle as common;

use common::{Fixture, corpus, outcome, sha256_hex};
use vigil_bundle::{BundleReader, Manifest};

const REV: &str = "revisions/0190a1b2-0000-7000-8000-000000000001.json";
const LOG: &str = "custody/log.jsonl";

fn attachment_path(bytes: &[u8]) -> String {
    format!("attachments/{}", sha256_hex(bytes))
}

#[test]
fn bad_bundles_are_rejected_with_the_right_code() {
    let fx = Fixture::new();
    let rev = br#"{"title":"Peaceful assembly dispersed"}"#.to_vec();
    let log = b"{\"event\":\"sealed\"}\n".to_vec();
    // Three age chunks' worth, so a bundle has a first, middle and last chunk.
    let photo: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let photo_path = attachment_path(&photo);
    let files: Vec<(&str, &[u8])> = vec![(REV, &rev), (LOG, &log), (&photo_path, &photo)];
    let good = fx.bundle(&files);
    let ids = [fx.hq.clone()];
    assert_eq!(outcome(&good, &ids), "ok");

    let manifest = BundleReader::open(&good[..], &ids)
        .unwrap()
        .manifest()
        .clone();
    let sign = |b: &[u8]| fx.sign(b);
    let cases = corpus::cases(&corpus::Source {
        lead: Vec::new(),
        files: files
            .iter()
            .map(|(p, b)| ((*p).to_owned(), b.to_vec()))
            .collect(),
        manifest,
        good,
        recipients: fx.recipients(),
        sign: &sign,
    });

    let mut wrong = Vec::new();
    let total = cases.len();
    for case in &cases {
        let got = outcome(&case.bytes, &ids);
        if got != case.code {
            wrong.push(format!("{}: expected {}, got {got}", case.name, case.code));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(total >= 30, "only {total} bad bundles");
    eprintln!("{total} bad bundles rejected");
}

#[test]
fn manifest_round_trips_through_verify() {
    let fx = Fixture::new();
    let m: Manifest = fx.manifest(&[(LOG, b"x")]);
    let (json, sig) = fx.signed(&m);
    assert_eq!(Manifest::verify(&json, &sig).unwrap(), m);
}
