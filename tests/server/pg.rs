//! A private PostgreSQL cluster for one test: Debian's `postgresql` (installed by
//! `scripts/setup`), `initdb` into a temporary folder, listening on 127.0.0.1 only, stopped when
//! dropped. PostgreSQL refuses to run as root, so under root it runs as the `postgres` user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster.
#[derive(Debug)]
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub url: String,
}

fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL is not installed: run scripts/setup --tests (Debian package postgresql)",
        )
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("no initdb under /usr/lib/postgresql/*/bin: run scripts/setup --tests")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL program, to run as `postgres` when we are root.
fn command(bin: &Path, program: &str, args: &[&str]) -> Command {
    let exe = bin.join(program);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args);
    cmd
}

/// Runs a PostgreSQL program and checks that it succeeded.
fn run(bin: &Path, program: &str, args: &[&str]) {
    let out = command(bin, program, args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgCluster {
    /// Makes and starts a cluster.
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let data = dir.path().join("data");
        let data_s = data.to_str().unwrap();
        run(
            &bin,
            "initdb",
            &[
                "-D",
                data_s,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            dir.path().display()
        );
        let log = dir.path().join("postgres.log");
        run(
            &bin,
            "pg_ctl",
            &[
                "-D",
                data_s,
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        PgCluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin,
        }
    }

    /// The cluster's files (for the zero-knowledge scan).
    pub fn files(&self) -> &Path {
        self.dir.path()
    }

    /// One value from a query, through `psql`, as text.
    pub fn text(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([&self.url, "-tAc", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let args = ["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"];
        let _ = command(&self.bin, "pg_ctl", &args).output();
    }
}
