//! The system's network-change signal (issue 13): a device waiting out a long wait between
//! probes sends as soon as the system announces a change, as when a laptop joins a Wi-Fi.

use std::process::Command;

use crate::sync::{Server, connected, sealed, status, wait_for, watching};

/// `ip addr ARGS dev lo` (the test runs as root, as CI does; a machine where it cannot change
/// the loopback interface's addresses fails here, saying so).
fn ip_addr(action: &str, address: &str) {
    let out = Command::new("ip")
        .args(["addr", action, address, "dev", "lo"])
        .output()
        .expect("iproute2's ip (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "ip addr {action} {address} dev lo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The watcher's shortest wait is 60 s; the server starts, and an address is added to the
/// loopback interface (the kernel announces it as it would a Wi-Fi's). The watcher says the
/// network changed and sends within 20 s, long before its wait was over.
#[test]
fn a_network_change_ends_the_wait_and_the_device_sends_at_once() {
    let (_hq, monitor, mut server, data) = connected();
    let addr = server.addr.clone();
    server.stop();
    let id = sealed(&monitor, "Trial observed", &["10:00 hearing opens"]);

    let (mut watching, rx, failed) =
        watching(&monitor, &["--probe-min", "60", "--probe-max", "60"]);
    assert!(
        failed["next_probe_secs"].as_f64().unwrap() >= 48.0,
        "the next probe is at least 48 s away: {failed}"
    );

    let _server = Server::start(&data, &addr, None);
    let address = format!("127.0.0.{}/32", 200 + std::process::id() % 50);
    ip_addr("add", &address);
    let changed = std::panic::catch_unwind(|| {
        wait_for(&rx, 20, |v| v["event"] == "network_changed");
        wait_for(&rx, 20, |v| v["event"] == "synced")
    });
    ip_addr("del", &address);
    watching.kill().unwrap();
    watching.wait().unwrap();
    let synced = changed.expect("the watcher acted on the network change");
    assert_eq!(synced["revisions_sent"].as_u64(), Some(1), "{synced}");
    assert_eq!(status(&monitor, &id), "held_by_server");
}
