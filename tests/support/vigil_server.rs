//! A real `vigil-server` process on 127.0.0.1 for the end-to-end tests of `vigil` (tests/cli)
//! and of the window (tests/desktop), each of which includes this file. The binary is the one
//! `cargo test --workspace` builds beside theirs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running server, with its data folder; stopped on drop.
pub struct VigilServer {
    child: Child,
    bin: PathBuf,
    data: PathBuf,
    /// Where it listens (`127.0.0.1:PORT`).
    pub addr: String,
}

impl VigilServer {
    /// The server binary beside `own` (the test's own binary under test).
    pub fn binary(own: &str) -> PathBuf {
        let bin = Path::new(own).with_file_name("vigil-server");
        assert!(
            bin.exists(),
            "{} is missing: build it first (cargo build -p vigil-server); scripts/test does",
            bin.display()
        );
        bin
    }

    /// Starts `bin` on `data`, listening on `listen` (`127.0.0.1:0` for a free port), over TLS
    /// when `tls` gives a certificate and its key.
    pub fn start(bin: &Path, data: &Path, listen: &str, tls: Option<(&Path, &Path)>) -> Self {
        let mut cmd = Command::new(bin);
        cmd.arg("--data").arg(data).args(["--listen", listen]);
        if let Some((cert, key)) = tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        // Its log beside its data (so that a test can read what the server logged).
        let log = std::fs::File::create(data.with_extension("log"))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let mut child = cmd.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server did not start: {line:?}"))
            .to_owned();
        VigilServer {
            child,
            bin: bin.to_owned(),
            data: data.to_owned(),
            addr,
        }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A counter of its `/metrics` (`vigil_server_NAME_total`), 0 before it is first counted.
    #[allow(dead_code)]
    pub fn counter(&self, name: &str) -> u64 {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            conn,
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        let wanted = format!("vigil_server_{name}_total ");
        text.lines()
            .find_map(|l| l.strip_prefix(&wanted))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    /// `vigil-server admin --data DATA ARGS…`; its standard output.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .arg("admin")
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "admin {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Stops it with SIGTERM, as an operator would, and waits.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for VigilServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
