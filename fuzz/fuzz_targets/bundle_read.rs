//! Arbitrary bytes as a bundle: opening and draining must fail cleanly or succeed, never panic
//! or grow without bound.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use vigil_bundle::BundleReader;

/// A fixed identity, so inputs that start from a real bundle to it (seed corpus) get past the
/// age layer.
const IDENTITY: &str = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";

fuzz_target!(|data: &[u8]| {
    let Ok(identity) = IDENTITY.parse::<age::x25519::Identity>() else {
        return;
    };
    let Ok(mut reader) = BundleReader::open(data, &[identity]) else {
        return;
    };
    let mut buf = [0u8; 4096];
    while let Ok(Some(mut entry)) = reader.next_entry() {
        while let Ok(n) = entry.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
});
