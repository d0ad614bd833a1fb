//! The processes behind one launch: free ports, the running tauri-driver, and finding,
//! signalling and waiting for the processes of one test's private world (by their TMPDIR).

use std::fs::{self, File};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use super::POLL;

/// Two distinct free local ports (both listeners are held until both are chosen).
pub(super) fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// The running tauri-driver. Stopped with SIGTERM (it then kills WebKitWebDriver): a SIGKILLed
/// driver leaves WebKitWebDriver holding the output open.
#[derive(Debug)]
pub(super) struct Driver {
    pub(super) child: Child,
    pub(super) log: PathBuf,
    /// The TMPDIR of this world, by which our own processes are recognised.
    pub(super) tmp: PathBuf,
    pub(super) stopped: bool,
}

impl Driver {
    pub(super) fn wait_listening(&mut self, ports: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.stopped = true;
                panic!(
                    "tauri-driver exited at start ({status})\n{}",
                    self.log_tail()
                );
            }
            if ports
                .iter()
                .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "tauri-driver did not listen on ports {ports:?} within 10 s\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    pub(super) fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!(
            "--- last lines of {} ---\n{}",
            self.log.display(),
            lines[start..].join("\n")
        )
    }

    /// SIGTERM, then wait for the driver; then make sure no process of this world is left.
    pub(super) fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            signal(self.child.id(), libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    break;
                }
                std::thread::sleep(POLL);
            }
            let _ = self.child.wait();
        }
        let leftovers = our_processes(&self.tmp, None);
        if !leftovers.is_empty() {
            for pid in &leftovers {
                signal(*pid, libc::SIGTERM);
            }
            if !wait_gone(&self.tmp, None, Duration::from_secs(5)) {
                for pid in our_processes(&self.tmp, None) {
                    signal(pid, libc::SIGKILL);
                }
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

#[allow(unsafe_code)]
pub(super) fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) only takes two integers and touches no memory of ours; the pid is one of
    // our own children or processes started on our behalf.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Processes started for this world (recognised by their TMPDIR), optionally only those whose
/// executable name starts with `exe_prefix`.
pub(super) fn our_processes(tmp: &Path, exe_prefix: Option<&str>) -> Vec<u32> {
    let needle = format!("TMPDIR={}", tmp.display()).into_bytes();
    let mut found = Vec::new();
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|var| var == needle) {
            continue;
        }
        if let Some(prefix) = exe_prefix {
            let exe = fs::read_link(entry.path().join("exe")).unwrap_or_default();
            let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.starts_with(prefix) {
                continue;
            }
        }
        // A zombie has no environ to read; one that is left has exited already.
        found.push(pid);
    }
    found
}

pub(super) fn wait_gone(tmp: &Path, exe_prefix: Option<&str>, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if our_processes(tmp, exe_prefix).is_empty() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// The app's processes in the world whose TMPDIR is `tmp` (the app and its WebKit helpers; not
/// the drivers).
pub(super) fn app_processes(tmp: &Path) -> Vec<u32> {
    our_processes(tmp, None)
        .into_iter()
        .filter(|pid| {
            let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with("tauri-driver") && !name.starts_with("WebKitWebDriver")
        })
        .collect()
}

/// A child process that is killed and reaped when dropped (a helper a test started).
#[derive(Debug)]
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
