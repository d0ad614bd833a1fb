//! The operating system's word that the network changed, so that a device waiting out its
//! probes' backoff tries at once when a cable is plugged in, Wi-Fi joins or a VPN comes up.
//!
//! On Linux this is rtnetlink: a socket subscribed to the link, address and route groups gets a
//! message whenever an interface goes up or down, gains or loses an address, or a route
//! changes. One thread per process reads it and counts the messages; [`changes`] is the count.
//! Where there is no such signal (another system, or a socket the system refuses) it is `None`,
//! and the backoff is the only trigger.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static CHANGES: AtomicU64 = AtomicU64::new(0);
static LISTENING: OnceLock<bool> = OnceLock::new();

/// How many network changes the system announced since this process began to listen (the first
/// call begins), or `None` where it announces none.
pub fn changes() -> Option<u64> {
    LISTENING
        .get_or_init(listen)
        .then(|| CHANGES.load(Ordering::SeqCst))
}

#[cfg(target_os = "linux")]
fn listen() -> bool {
    use netlink_sys::protocols::NETLINK_ROUTE;
    use netlink_sys::{Socket, SocketAddr};
    // RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR |
    // RTMGRP_IPV6_ROUTE (linux/rtnetlink.h).
    const GROUPS: u32 = 0x1 | 0x10 | 0x40 | 0x100 | 0x400;
    let Ok(mut socket) = Socket::new(NETLINK_ROUTE) else {
        return false;
    };
    if socket.bind(&SocketAddr::new(0, GROUPS)).is_err() {
        return false;
    }
    std::thread::Builder::new()
        .name("vigil-netwatch".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match socket.recv(&mut &mut buf[..], 0) {
                    Ok(_) => {
                        CHANGES.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // A full queue (ENOBUFS) means changes were lost: still changes.
                    Err(_) => {
                        CHANGES.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                }
            }
        })
        .is_ok()
}

#[cfg(not(target_os = "linux"))]
fn listen() -> bool {
    false
}
