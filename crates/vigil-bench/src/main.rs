//! Vigil's benchmarks: the vault (SQLCipher) against plain SQLite running the same
//! `vigil_store::sql` functions (schema, pragmas, statements) without a key, measured in the same run on the same disk.
//!
//! ```text
//! cargo run --release -p vigil-bench -- [--quick] [--out docs/benchmarks.md] [--dir PATH]
//! ```
//!
//! The report is Markdown on stdout (progress goes to stderr); `--out` also writes it to a file.
//! Work happens in a temporary folder under `--dir` (default: `target/` when run from the
//! workspace root, else the system temporary folder), which is removed afterwards. A missed
//! target is reported in the table, not as a failure; the exit code is non-zero only on errors.
//!
//! The order of work: generate incidents, bulk insert (2), search (3), sizes (5), open (4),
//! then appends (1) on the full databases. Where both sides are timed repeatedly they alternate,
//! so that load from other processes on the machine falls on both alike.

mod bulk;
mod open_append;
mod plain;
mod report;
mod search_size;
mod workload;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_crypto::keyfile::KeyHeader;
use vigil_model::{Incident, Thesaurus};
use vigil_store::{KdfChoice, ListQuery, SystemClock, Vault};

use bulk::{bench_bulk, bench_update};
use open_append::{bench_append, bench_open};
use plain::PlainDb;
use report::{Report, Row, Samples, Verdict, count, mib};
use search_size::{bench_search, bench_size};

const SEED: u64 = 0x5EED_0F1C;
const PASSPHRASE: &str = "correct horse battery staple";

#[derive(Debug)]
struct Args {
    quick: bool,
    out: Option<PathBuf>,
    dir: Option<PathBuf>,
}

/// How much work each benchmark does.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    incidents: usize,
    appends: usize,
    searches: usize,
    opens: usize,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                incidents: 10_000,
                appends: 200,
                searches: 30,
                opens: 3,
            }
        } else {
            Sizes {
                incidents: 100_000,
                appends: 2_000,
                searches: 100,
                opens: 5,
            }
        }
    }
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        quick: false,
        out: None,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => args.quick = true,
            "--out" => args.out = Some(it.next().context("--out needs a file path")?.into()),
            "--dir" => args.dir = Some(it.next().context("--dir needs a folder path")?.into()),
            "-h" | "--help" => {
                println!("usage: vigil-bench [--quick] [--out FILE.md] [--dir WORK_PARENT]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}; try --help"),
        }
    }
    Ok(args)
}

fn progress(msg: &str) {
    eprintln!("[vigil-bench] {msg}");
}

fn clock() -> Arc<SystemClock> {
    Arc::new(SystemClock)
}

fn pass() -> Passphrase {
    Passphrase::new(PASSPHRASE.to_owned())
}

fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let start = Instant::now();
    let v = f()?;
    Ok((v, start.elapsed()))
}

/// One table: its number (for ordering), title, rows and the sentence under it.
type Section = (u8, String, Vec<Row>, String);

/// Everything the later benchmarks need from the bulk insert.
struct Databases {
    vault_dir: PathBuf,
    plain_path: PathBuf,
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let sizes = Sizes::new(args.quick);
    let parent = match &args.dir {
        Some(d) => d.clone(),
        None if Path::new("target").is_dir() => PathBuf::from("target"),
        None => std::env::temp_dir(),
    };
    let work = tempfile::Builder::new()
        .prefix("vigil-bench-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a work folder in {}", parent.display()))?;
    let work_path = fs::canonicalize(work.path())?;

    let mut report = Report::default();
    report.push(&header(&args, sizes, &work_path)?);

    progress(&format!("generating {} incidents", sizes.incidents));
    let incidents = workload::incidents(sizes.incidents, SEED);

    let mut sections: Vec<Section> = Vec::new();
    let (dbs, mut bulk) = bench_bulk(&work_path, &incidents)?;
    sections.push(bench_search(&dbs, sizes)?);
    bulk.2.extend(bench_update(&dbs, &incidents, sizes.opens)?);
    sections.push(bulk);
    sections.push(bench_size(&dbs, sizes)?);
    sections.push(bench_open(&work_path, &dbs, sizes)?);
    sections.push(bench_append(&dbs, &incidents, sizes)?);
    sections.sort_by_key(|s| s.0);
    for (_, title, rows, note) in &sections {
        report.table(title, rows, note);
    }
    let text = report.finish();
    print!("{text}");
    if let Some(out) = &args.out {
        fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
        progress(&format!("report written to {}", out.display()));
    }
    drop(work);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Machine facts

fn header(args: &Args, sizes: Sizes, work: &Path) -> Result<String> {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(|| "unknown".to_owned(), |kb| mib(kb * 1024));
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned());
    let conn = rusqlite::Connection::open_in_memory()?;
    let cipher: String = conn
        .query_row("PRAGMA cipher_version", [], |r| r.get(0))
        .unwrap_or_else(|_| "not SQLCipher".to_owned());
    let (fs_type, device) = filesystem_of(work);
    let mode = if args.quick { "quick" } else { "full" };
    let profile = if cfg!(debug_assertions) {
        "**debug build: numbers are meaningless, use --release**"
    } else {
        "release"
    };
    Ok(format!(
        "# Vigil benchmarks\n\n\
         Measured {date} with `cargo run --release -p vigil-bench --{quick}` ({mode} mode, {profile}).\n\
         Regenerate the same way; the numbers below are from one run on this machine.\n\n\
         | | |\n|---|---|\n\
         | CPU | {cpu} |\n\
         | cores | {cores} (shared with other builds while this ran) |\n\
         | memory | {mem} |\n\
         | kernel | Linux {kernel} |\n\
         | rustc | {rustc} |\n\
         | SQLite / SQLCipher | {sqlite} / {cipher} |\n\
         | work folder | `{work}` ({fs_type} on {device}; same disk as the repository, fsync included) |\n\
         | sizes | {n} incidents, {a} log appends, {s} runs per search query, {o} runs per open |\n\n\
         Each table compares Vigil's vault with the reference, plain SQLite running the very \
         same code, in the same run: the reference calls the store's own `vigil_store::sql` \
         functions (schema migrations, `configure` — WAL, `synchronous=FULL`, \
         `temp_store=MEMORY`, `foreign_keys=ON`, `cache_size={cache}` — and every statement) on a \
         connection that is never given a key, which is plain SQLite (rusqlite is linked against \
         SQLCipher), and does the same validation as the `Vault` method it stands for; only \
         encryption differs. *ratio* is Vigil ÷ plain for the value in that row.\n",
        date = chrono::Local::now().format("%Y-%m-%d %H:%M %:z"),
        cache = vigil_store::sql::CACHE_KIB,
        quick = if args.quick { " --quick" } else { "" },
        sqlite = rusqlite::version(),
        work = work.display(),
        n = count(sizes.incidents as f64),
        a = count(sizes.appends as f64),
        s = sizes.searches,
        o = sizes.opens,
    ))
}

/// The file system type and device of the mount that holds `path` (longest matching prefix).
fn filesystem_of(path: &Path) -> (String, String) {
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best: Option<(usize, String, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 || !path.starts_with(f[1]) {
            continue;
        }
        if best.as_ref().is_none_or(|b| f[1].len() > b.0) {
            best = Some((f[1].len(), f[2].to_owned(), f[0].to_owned()));
        }
    }
    best.map_or_else(
        || ("unknown".to_owned(), "unknown".to_owned()),
        |(_, t, d)| (t, d),
    )
}
