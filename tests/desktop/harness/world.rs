//! A test world's processes besides the app under WebDriver: its private environment, a
//! session bus, a second start of the app, and reference programs for the benchmarks.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::{Reaped, app_processes};
use super::{APP, Env, POLL};

impl Env {
    /// A private environment: only what is needed to find programs and the display; the rest
    /// points into the scanned root. Its session bus, if a test starts one, is
    /// `$XDG_RUNTIME_DIR/bus`, private to this world.
    pub(super) fn private_env(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DISPLAY", std::env::var_os("DISPLAY").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .env("HOME", self.dir("home"))
            .env("XDG_CONFIG_HOME", self.dir("config"))
            .env("XDG_DATA_HOME", self.dir("data"))
            .env("XDG_CACHE_HOME", self.dir("cache"))
            .env("XDG_STATE_HOME", self.dir("state"))
            .env("XDG_RUNTIME_DIR", self.dir("runtime"))
            .env("TMPDIR", self.dir("tmp"));
        if let Some(xauth) = std::env::var_os("XAUTHORITY") {
            cmd.env("XAUTHORITY", xauth);
        }
    }

    /// Starts a D-Bus session bus for this world at `$XDG_RUNTIME_DIR/bus`, as a desktop
    /// session has one; stopped when the returned child is dropped.
    pub fn start_session_bus(&self) -> Reaped {
        let socket = self.dir("runtime").join("bus");
        let child = Command::new("dbus-daemon")
            .arg("--session")
            .arg("--nofork")
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start dbus-daemon ({e}); scripts/setup installs it")
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "dbus-daemon did not listen within 10 s"
            );
            std::thread::sleep(POLL);
        }
        Reaped(child)
    }

    /// Starts `program` in this world's private environment (a reference program for the
    /// benchmarks); its output is discarded.
    #[allow(dead_code)] // Used by tests/desktop/bench.rs.
    pub fn spawn_private(&self, program: &Path) -> std::process::Child {
        let mut cmd = Command::new(program);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.private_env(&mut cmd);
        cmd.spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", program.display()))
    }

    /// The processes running in this world's private environment (by their TMPDIR), drivers
    /// left out.
    #[allow(dead_code)] // Used by tests/desktop/bench.rs.
    pub fn processes(&self) -> Vec<u32> {
        app_processes(&self.dir("tmp"))
    }

    /// Starts the app again on this world's vault, as a person starting it a second time from
    /// the menu, outside WebDriver, and waits up to 30 s for it to end: its exit status, or
    /// `None` if it was still running (then it is killed).
    pub fn start_again(&self) -> Option<std::process::ExitStatus> {
        let mut cmd = Command::new(APP);
        cmd.arg("--vault")
            .arg(&self.vault)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.private_env(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(POLL);
        }
    }
}
