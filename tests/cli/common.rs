use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const PASSPHRASE: &str = "correct horse battery staple";

/// A private playground: a vault path, a temp directory for the child processes, and a
/// passphrase file. Everything is removed on drop.
pub struct Env {
    pub root: tempfile::TempDir,
    pub vault: PathBuf,
    pub tmp: PathBuf,
    pub pass_file: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let root = tempfile::Builder::new()
            .prefix("vigil-e2e-")
            .tempdir()
            .unwrap();
        let vault = root.path().join("vault");
        let tmp = root.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        let pass_file = root.path().join("passphrase");
        fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
        Env {
            root,
            vault,
            tmp,
            pass_file,
        }
    }

    /// `vigil --vault V --passphrase-file P`, with TMPDIR pointing at our scanned temp dir.
    pub fn cmd(&self) -> Command {
        let mut c = self.bare_cmd();
        c.arg("--vault")
            .arg(&self.vault)
            .arg("--passphrase-file")
            .arg(&self.pass_file);
        c
    }

    /// `vigil` with only the environment set up.
    pub fn bare_cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
        c.env("TMPDIR", &self.tmp)
            .env_remove("VIGIL_LOG")
            .env_remove("VIGIL_VAULT")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "vigil {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A vault at the minimum (fast) key-derivation parameters.
    pub fn init(&self) {
        self.ok(&["init", "--kdf", "minimum"]);
    }

    pub fn new_incident(&self, title: &str) -> String {
        self.ok(&["new", "--title", title]).trim().to_owned()
    }
}

/// Every file under `dir`: its length and SHA-256.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, Vec<u8>)> {
    let mut out = BTreeMap::new();
    fn walk(d: &Path, out: &mut BTreeMap<PathBuf, (u64, Vec<u8>)>) {
        let Ok(entries) = fs::read_dir(d) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                let bytes = fs::read(&p).unwrap_or_default();
                let h = ring::digest::digest(&ring::digest::SHA256, &bytes);
                out.insert(p, (bytes.len() as u64, h.as_ref().to_vec()));
            }
        }
    }
    if dir.is_file() {
        let bytes = fs::read(dir).unwrap();
        let h = ring::digest::digest(&ring::digest::SHA256, &bytes);
        out.insert(dir.to_path_buf(), (bytes.len() as u64, h.as_ref().to_vec()));
    } else {
        walk(dir, &mut out);
    }
    out
}

/// All regular files below `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir).into_keys().collect()
}

pub fn sha256_file(path: &Path) -> Vec<u8> {
    let mut f = fs::File::open(path).unwrap();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    ctx.finish().as_ref().to_vec()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The error code from `--json` error output on stderr.
pub fn json_error_code(o: &Output) -> String {
    let text = stderr(o);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!("no JSON error on stderr: {text}");
        });
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["error"]["code"].as_str().unwrap().to_owned()
}

/// An HQ vault that created the organisation `name`, a monitor's vault that joined it with an
/// invitation from HQ, and the profile file.
pub fn organisation(name: &str) -> (Env, Env, PathBuf) {
    let hq = Env::new();
    hq.init();
    let profile = hq.root.path().join("org.json");
    hq.ok(&[
        "org",
        "create",
        "--name",
        name,
        "--profile-out",
        profile.to_str().unwrap(),
    ]);
    let invitation = hq.root.path().join("aigul.invitation");
    hq.ok(&[
        "org",
        "invite",
        "--name",
        "Aigul's laptop",
        "--out",
        invitation.to_str().unwrap(),
    ]);
    let monitor = Env::new();
    monitor.init();
    monitor.ok(&[
        "org",
        "join",
        profile.to_str().unwrap(),
        "--invite",
        invitation.to_str().unwrap(),
    ]);
    (hq, monitor, profile)
}

/// Opens a vault of `env` in this process (no `vigil` may be running on it meanwhile).
pub fn open_vault(env: &Env) -> vigil_store::Vault {
    vigil_store::Vault::open(
        &env.vault,
        &vigil_crypto::Passphrase::new(PASSPHRASE.to_owned()),
        std::sync::Arc::new(vigil_store::SystemClock),
    )
    .unwrap()
}

/// A SHA-256 over every row of every table of `env`'s vault.
pub fn tables(env: &Env) -> vigil_model::Sha256 {
    let v = open_vault(env);
    let d = v.content_digest().unwrap();
    v.close().unwrap();
    d
}

/// Runs `cmd` under GNU time and returns (success, its peak RSS in KiB, from the kernel's
/// accounting). Not wait4 on a child of this process: at exec the kernel carries the parent's
/// own peak RSS into the child's `ru_maxrss`, and this test process runs other tests in
/// parallel threads, so a child would report this process's peak instead of its own. `time` is
/// small, so what it inherits is far below the limit.
pub fn peak_rss(cmd: &Command, env: &Env) -> (bool, i64) {
    let report = env.root.path().join("time.out");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(v) => timed.env(name, v),
            None => timed.env_remove(name),
        };
    }
    let status = timed
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("GNU time (/usr/bin/time) is installed by scripts/setup");
    let text = fs::read_to_string(&report).unwrap();
    let kib = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS from time: {text:?}"));
    (status.success(), kib)
}
