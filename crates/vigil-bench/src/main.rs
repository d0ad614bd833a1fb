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

mod plain;
mod report;
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

use plain::PlainDb;
use report::{Report, Row, Samples, Verdict, count, mib};

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
         `temp_store=MEMORY`, `foreign_keys=ON`, `cache_size=-32768` — and every statement) on a \
         connection that is never given a key, which is plain SQLite (rusqlite is linked against \
         SQLCipher), and does the same validation as the `Vault` method it stands for; only \
         encryption differs. *ratio* is Vigil ÷ plain for the value in that row.\n",
        date = chrono::Local::now().format("%Y-%m-%d %H:%M %:z"),
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

// ---------------------------------------------------------------------------------------------
// 2. Bulk insert

fn bench_bulk(work: &Path, incidents: &[Incident]) -> Result<(Databases, Section)> {
    let n = incidents.len();
    let rate = |m: usize, t: Duration| m as f64 / t.as_secs_f64();
    let mut rows = Vec::new();

    // A tenth first, to see whether the cost per incident holds as the vault grows.
    let m = n / 10;
    progress(&format!(
        "bulk insert: {m} incidents per side (scaling probe)"
    ));
    let probe_dir = work.join("probe");
    let (pv, pp) = insert_both(&probe_dir, &probe_dir.join("plain.db"), &incidents[..m])?;
    fs::remove_dir_all(&probe_dir)?;

    progress(&format!("bulk insert: {n} incidents per side"));
    let vault_dir = work.join("vault");
    let plain_path = work.join("plain.db");
    let (tv, tp) = insert_both(&vault_dir, &plain_path, incidents)?;
    let (rv, rp) = (rate(n, tv), rate(n, tp));
    rows.push(
        Row::values(
            format!("incidents per second, {} in one call", count(n as f64)),
            count(rv),
            count(rp),
            rv,
            rp,
        )
        .target("Vigil ≥ 100 000/s", Verdict::of(rv >= 100_000.0)),
    );
    // The target says "rows/s": every row the import writes, in every table, counted on the
    // reference (both sides write the same rows).
    let table_rows: u64 = {
        let c = rusqlite::Connection::open(&plain_path)?;
        let mut total = 0i64;
        for t in [
            "incidents",
            "search_index",
            "search_refs",
            "incident_terms",
            "incident_tags",
        ] {
            total += c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                r.get::<_, i64>(0)
            })?;
        }
        total as u64
    };
    let (wv, wp) = (
        table_rows as f64 / tv.as_secs_f64(),
        table_rows as f64 / tp.as_secs_f64(),
    );
    rows.push(
        Row::values(
            format!(
                "table rows written per second ({} rows: incidents, full-text rows, their refs, \
                 violation and tag rows)",
                count(table_rows as f64)
            ),
            count(wv),
            count(wp),
            wv,
            wp,
        )
        .target(
            "Vigil ≥ 100 000 rows/s, if rows are table rows",
            Verdict::of(wv >= 100_000.0),
        ),
    );
    rows.push(Row::time(
        format!("total for {} incidents", count(n as f64)),
        tv,
        Some(tp),
    ));
    rows.push(Row::values(
        format!(
            "probe: incidents per second, {} in one call",
            count(m as f64)
        ),
        count(rate(m, pv)),
        count(rate(m, pp)),
        rate(m, pv),
        rate(m, pp),
    ));

    progress("bulk insert: where the time goes (side measurements)");
    let parts = breakdown(work, incidents)?;
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    let per = |d: Duration| format!("{:.1} µs", us(d));
    rows.push(Row::time(
        format!("validation of {} (both)", count(n as f64)),
        parts.validate,
        Some(parts.validate),
    ));
    rows.push(Row::time(
        format!("`to_json` of {} (both)", count(n as f64)),
        parts.json,
        Some(parts.json),
    ));
    // Shares of the side measurement's own total, so that the parts add up to 100%.
    let side_total = parts.validate + parts.insert + parts.commit;
    let plain_total = side_total.as_secs_f64();
    let share = |d: Duration| d.as_secs_f64() * 100.0 / plain_total;
    let row_only = parts
        .insert
        .saturating_sub(parts.index)
        .saturating_sub(parts.json);
    let note = format!(
        "`Vault::create_incidents` in one call with pre-generated incidents (validation of each \
         against the thesaurus, then `sql::insert_incident` for each: `to_json`, the incident \
         row, the search rows for the incident and each party with their `search_refs` rows; \
         one transaction and one durable commit) against the reference doing exactly the same: \
         `incident.validate(&Thesaurus::default_terms())` for each, then the same \
         `vigil_store::sql::insert_incident` in one transaction on an unkeyed connection, so \
         only encryption differs; each side into a new database. The probe row loads the \
         first tenth the same way, to show whether the rate holds as the database grows. \
         **Where the time goes** (per incident, from side measurements on plain SQLite into \
         new databases, {n} incidents each; the vault pays the same plus encryption): \
         validation {v} ({vs:.0}% of their total of {t:.1} µs; the plain run in the table took \
         {tpu:.1} µs), `to_json` {j} ({js:.0}%), \
         `sql::index_incident` alone — FTS5 rows for the incident and its {parties:.1} parties \
         on average, plus their `search_refs` rows — {ix} ({ixs:.0}%), the rest of \
         `sql::insert_incident` (the incident row and the other rows it writes besides the \
         search rows) {r} ({rs:.0}%), the commit {c} \
         ({cs:.0}%), which writes out and fsyncs the WAL: a JSON document averages {doc} \
         bytes and the plain database ends at {db} bytes per incident; encryption (Vigil − plain) {e:+.1} µs per incident.",
        n = count(n as f64),
        v = per(parts.validate),
        vs = share(parts.validate),
        t = us(side_total),
        tpu = us(tp),
        j = per(parts.json),
        js = share(parts.json),
        parties = incidents.iter().map(|i| i.parties.len()).sum::<usize>() as f64 / n as f64,
        ix = per(parts.index),
        ixs = share(parts.index),
        r = per(row_only),
        rs = share(row_only),
        c = per(parts.commit),
        cs = share(parts.commit),
        e = us(tv) - us(tp),
        doc = count(parts.json_bytes as f64 / n as f64),
        db = count(parts.db_bytes as f64 / n as f64),
    );
    Ok((
        Databases {
            vault_dir,
            plain_path,
        },
        (2, "2. Bulk insert of incidents".to_owned(), rows, note),
    ))
}

/// Side measurements of the parts of a bulk insert, on plain SQLite.
struct Breakdown {
    validate: Duration,
    json: Duration,
    /// `sql::index_incident` alone for every incident, one transaction, commit excluded.
    index: Duration,
    /// `sql::insert_incident` for every incident, one transaction, commit excluded.
    insert: Duration,
    /// The commit of that transaction.
    commit: Duration,
    /// The length of all the JSON documents.
    json_bytes: usize,
    /// The size of the plain database after that insert, checkpointed.
    db_bytes: u64,
}

fn breakdown(work: &Path, incidents: &[Incident]) -> Result<Breakdown> {
    let thesaurus = Thesaurus::default_terms();
    let ((), validate) = timed(|| {
        for i in incidents {
            i.validate(&thesaurus)
                .map_err(|e| anyhow::anyhow!("invalid incident: {e}"))?;
        }
        Ok(())
    })?;
    let (json_bytes, json) = timed(|| {
        let bytes: usize = incidents.iter().map(|i| i.to_json().len()).sum();
        Ok(std::hint::black_box(bytes))
    })?;

    let path = work.join("breakdown-index.db");
    let mut db = PlainDb::create(&path)?;
    let tx = db.conn_mut().transaction()?;
    let ((), index) = timed(|| {
        for i in incidents {
            vigil_store::sql::index_incident(&tx, i, false)?;
        }
        Ok(())
    })?;
    tx.commit()?;
    db.close()?;
    remove_db(&path)?;

    let path = work.join("breakdown-insert.db");
    let mut db = PlainDb::create(&path)?;
    let tx = db.conn_mut().transaction()?;
    let ((), insert) = timed(|| {
        for i in incidents {
            vigil_store::sql::insert_incident(&tx, i)?;
        }
        Ok(())
    })?;
    let ((), commit) = timed(|| Ok(tx.commit()?))?;
    db.close()?;
    let db_bytes = file_len(&path);
    remove_db(&path)?;
    Ok(Breakdown {
        validate,
        json,
        index,
        insert,
        commit,
        json_bytes,
        db_bytes,
    })
}

fn remove_db(path: &Path) -> Result<()> {
    fs::remove_file(path)?;
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    let _ = fs::remove_file(plain_wal(path));
    let _ = fs::remove_file(shm);
    Ok(())
}

/// `create_incidents` into a new vault at `vault_dir`, then the reference into a new plain
/// database at `plain_path`; both closed afterwards.
fn insert_both(
    vault_dir: &Path,
    plain_path: &Path,
    incidents: &[Incident],
) -> Result<(Duration, Duration)> {
    let mut vault = Vault::create(
        vault_dir,
        &pass(),
        KdfChoice::Params(KdfParams::FLOOR),
        clock(),
    )?;
    let ((), tv) = timed(|| Ok(vault.create_incidents(incidents)?))?;
    vault.close()?;
    let mut db = PlainDb::create(plain_path)?;
    let ((), tp) = timed(|| db.insert_incidents(incidents))?;
    db.close()?;
    Ok((tv, tp))
}

/// Saving an edit of one incident in the full databases (median of a few).
fn bench_update(dbs: &Databases, incidents: &[Incident], runs: usize) -> Result<Vec<Row>> {
    progress("update: saving edited incidents in the full databases");
    let key = Vault::unwrap_key(&dbs.vault_dir, &pass())?;
    let mut vault = Vault::open_with_key(&dbs.vault_dir, &key, clock())?;
    let mut db = PlainDb::open(&dbs.plain_path)?;
    let (mut sv, mut sp) = (Vec::new(), Vec::new());
    for r in 0..runs {
        let mut edited = incidents[(r * 7919) % incidents.len()].clone();
        edited
            .summary
            .push_str(" Update: the victim was released on bail.");
        sv.push(timed(|| Ok(vault.update_incident(&edited)?))?.1);
        sp.push(timed(|| db.update_incident(&edited))?.1);
    }
    vault.close()?;
    db.close()?;
    let (sv, sp) = (Samples::new(sv), Samples::new(sp));
    Ok(vec![Row::time(
        format!("save one edited incident (`update_incident`) in the full vault, median of {runs}"),
        sv.pct(50.0),
        Some(sp.pct(50.0)),
    )])
}

// ---------------------------------------------------------------------------------------------
// 3. Search

fn bench_search(dbs: &Databases, sizes: Sizes) -> Result<Section> {
    let key = Vault::unwrap_key(&dbs.vault_dir, &pass())?;
    let vault = Vault::open_with_key(&dbs.vault_dir, &key, clock())?;
    let db = PlainDb::open(&dbs.plain_path)?;
    let n = sizes.incidents as f64;

    let queries: [(&str, String); 4] = [
        ("rare word", workload::RARE_WORD.to_owned()),
        ("common word", workload::COMMON_WORD.to_owned()),
        ("prefix", workload::PREFIX.to_owned()),
        (
            "two words",
            format!("{} {}", workload::COMMON_WORD, workload::PREFIX),
        ),
    ];
    let mut rows = Vec::new();
    let mut all_v = Vec::new();
    let mut all_p = Vec::new();
    for (label, q) in &queries {
        progress(&format!("search: {q:?}"));
        let fts = vigil_store::sql::fts_query(q).context("empty query")?;
        let matching: i64 = db.conn().query_row(
            "SELECT count(DISTINCT incident) FROM search_index WHERE search_index MATCH ?1",
            [&fts],
            |r| r.get(0),
        )?;
        // Both sides must do the same work: the same hits, in the same order.
        let found_v = vault.search(q, 50)?;
        let found_p = db.search(q, 50)?;
        if found_v != found_p {
            bail!("search {q:?}: the vault and plain SQLite return different hits");
        }
        let hits_v = found_v.len();
        // Warm-up, then alternate so that both sides see the same background load.
        let mut sv = Vec::new();
        let mut sp = Vec::new();
        for i in 0..sizes.searches + 3 {
            let (_, tv) = timed(|| Ok(vault.search(q, 50)?))?;
            let (_, tp) = timed(|| db.search(q, 50))?;
            if i >= 3 {
                sv.push(tv);
                sp.push(tp);
            }
        }
        all_v.extend(&sv);
        all_p.extend(&sp);
        let (sv, sp) = (Samples::new(sv), Samples::new(sp));
        let what = format!(
            "{label} `{q}` ({:.1}% of incidents, {hits_v} hits)",
            matching as f64 * 100.0 / n
        );
        rows.push(Row::time(
            format!("{what}: p50"),
            sv.pct(50.0),
            Some(sp.pct(50.0)),
        ));
        let p95 = sv.pct(95.0);
        rows.push(
            Row::time(format!("{what}: p95"), p95, Some(sp.pct(95.0)))
                .target("< 20 ms", Verdict::of(p95 < Duration::from_millis(20))),
        );
    }
    let (av, ap) = (Samples::new(all_v), Samples::new(all_p));
    rows.push(Row::time(
        "all queries: p50",
        av.pct(50.0),
        Some(ap.pct(50.0)),
    ));
    rows.push(
        Row::time("all queries: p95", av.pct(95.0), Some(ap.pct(95.0))).target(
            "< 20 ms",
            Verdict::of(av.pct(95.0) < Duration::from_millis(20)),
        ),
    );
    vault.close()?;
    db.close()?;
    let note = format!(
        "`Vault::search(query, 50)` over {} incidents (one index row per incident and per \
         party, no log rows yet) against `sql::search` (the same FTS5 query, join, ordering and \
         de-duplication) on plain SQLite, after checking that both return the same hits; {} timed runs per query after 3 warm-up runs, Vigil and plain \
         alternating, {} samples per side in the last two rows; the last word of each query is \
         a prefix, as in the app.",
        count(n),
        sizes.searches,
        av.len()
    );
    Ok((3, "3. Full-text search".to_owned(), rows, note))
}

// ---------------------------------------------------------------------------------------------
// 5. Size on disk

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map_or(0, |m| m.len())
}

fn bench_size(dbs: &Databases, sizes: Sizes) -> Result<Section> {
    // Both were closed with a TRUNCATE checkpoint, so the -wal files are empty or absent.
    let vault_db =
        file_len(&dbs.vault_dir.join("vault.db")) + file_len(&dbs.vault_dir.join("vault.db-wal"));
    let vault_all = vault_db + file_len(&Vault::key_header_path(&dbs.vault_dir));
    let plain_db = file_len(&dbs.plain_path) + file_len(&plain_wal(&dbs.plain_path));
    if vault_db == 0 || plain_db == 0 {
        bail!("a database file is missing");
    }
    let n = sizes.incidents as f64;
    let rows = vec![
        Row::values(
            "database on disk",
            mib(vault_all),
            mib(plain_db),
            vault_all as f64,
            plain_db as f64,
        ),
        Row::values(
            "bytes per incident",
            count(vault_all as f64 / n),
            count(plain_db as f64 / n),
            vault_all as f64,
            plain_db as f64,
        ),
    ];
    let note = format!(
        "File sizes after the bulk insert of {} incidents and a `wal_checkpoint(TRUNCATE)` on \
         close, before any log appends: `vault.db` plus `vault.key` against the plain database \
         file (the same page size, 4096 bytes; SQLCipher reserves 80 bytes per page for the IV \
         and HMAC).",
        count(n)
    );
    Ok((5, "5. Size on disk".to_owned(), rows, note))
}

fn plain_wal(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

// ---------------------------------------------------------------------------------------------
// 4. Open to first page

fn first_page(vault: &Vault) -> Result<usize> {
    Ok(vault.list_incidents(&first_page_query())?.len())
}

fn first_page_query() -> ListQuery {
    ListQuery {
        limit: 50,
        ..ListQuery::default()
    }
}

fn bench_open(work: &Path, dbs: &Databases, sizes: Sizes) -> Result<Section> {
    // What calibration picks on this machine: create a vault the way the app does.
    progress("open: calibrating the KDF (KdfChoice::Calibrate)");
    let probe_dir = work.join("calibrated-probe");
    let (probe, t_create) = timed(|| {
        Ok(Vault::create(
            &probe_dir,
            &pass(),
            KdfChoice::Calibrate,
            clock(),
        )?)
    })?;
    probe.close()?;
    let calibrated =
        KeyHeader::from_json(&fs::read_to_string(Vault::key_header_path(&probe_dir))?)?.params();

    // The same database under a header sealed with the calibrated parameters.
    let cal_dir = work.join("vault-calibrated");
    fs::create_dir(&cal_dir)?;
    fs::create_dir(cal_dir.join("blobs"))?;
    fs::copy(dbs.vault_dir.join("vault.db"), cal_dir.join("vault.db"))?;
    let header =
        KeyHeader::from_json(&fs::read_to_string(Vault::key_header_path(&dbs.vault_dir))?)?;
    let resealed = header.rewrap(&pass(), &pass(), calibrated)?;
    vigil_store::write_atomic(
        &Vault::key_header_path(&cal_dir),
        resealed.to_json().as_bytes(),
    )?;

    let key = Vault::unwrap_key(&dbs.vault_dir, &pass())?;
    let (mut floor, mut cal, mut nokdf, mut plain) = (vec![], vec![], vec![], vec![]);
    let (mut unwrap_floor, mut unwrap_cal) = (vec![], vec![]);
    for run in 0..sizes.opens {
        progress(&format!("open: run {} of {}", run + 1, sizes.opens));
        let (rows, t) = timed(|| {
            let v = Vault::open(&dbs.vault_dir, &pass(), clock())?;
            let n = first_page(&v)?;
            Ok((v, n))
        })?;
        check_page(rows.1)?;
        rows.0.close()?;
        floor.push(t);

        let (rows, t) = timed(|| {
            let v = Vault::open(&cal_dir, &pass(), clock())?;
            let n = first_page(&v)?;
            Ok((v, n))
        })?;
        check_page(rows.1)?;
        rows.0.close()?;
        cal.push(t);

        let (rows, t) = timed(|| {
            let v = Vault::open_with_key(&dbs.vault_dir, &key, clock())?;
            let n = first_page(&v)?;
            Ok((v, n))
        })?;
        check_page(rows.1)?;
        rows.0.close()?;
        nokdf.push(t);

        let (rows, t) = timed(|| {
            let db = PlainDb::open(&dbs.plain_path)?;
            let n = db.list_incidents(&first_page_query())?.len();
            Ok((db, n))
        })?;
        check_page(rows.1)?;
        rows.0.close()?;
        plain.push(t);

        unwrap_floor.push(timed(|| Ok(Vault::unwrap_key(&dbs.vault_dir, &pass())?))?.1);
        unwrap_cal.push(timed(|| Ok(Vault::unwrap_key(&cal_dir, &pass())?))?.1);
    }
    let med = |v: Vec<Duration>| Samples::new(v).pct(50.0);
    let plain_med = med(plain);
    let uc = med(unwrap_cal);
    let p = |k: KdfParams| format!("m={} MiB, t={}, p={}", k.m_kib / 1024, k.t, k.p);
    let rows = vec![
        Row::time(
            format!(
                "`Vault::open` + first page, floor KDF ({})",
                p(KdfParams::FLOOR)
            ),
            med(floor),
            Some(plain_med),
        ),
        Row::time(
            format!(
                "`Vault::open` + first page, calibrated KDF ({})",
                p(calibrated)
            ),
            med(cal),
            Some(plain_med),
        ),
        Row::time(
            "`open_with_key` + first page (no KDF)",
            med(nokdf),
            Some(plain_med),
        ),
        Row::time("of which `unwrap_key`, floor KDF", med(unwrap_floor), None),
        Row::time("of which `unwrap_key`, calibrated KDF", uc, None).target(
            "0.5–1 s (calibration aim)",
            Verdict::of(uc >= Duration::from_millis(450) && uc <= Duration::from_millis(1100)),
        ),
        Row::time(
            "`Vault::create` with `KdfChoice::Calibrate` (empty)",
            t_create,
            None,
        ),
    ];
    let note = format!(
        "Median of {} runs, OS page cache warm, over the {}-incident databases: from nothing open \
         to the first 50 rows of `list_incidents` (JSON parsed), against plain SQLite open + \
         `sql::configure` + `sql::migrate` + the device row + `sql::list_incidents`; the calibrated vault is the same \
         `vault.db` with its key header resealed (public `KeyHeader::rewrap`) under the \
         parameters `KdfChoice::Calibrate` chose in the last row. `Vault::open` also runs \
         `cipher_integrity_check`, which reads and authenticates every page.",
        sizes.opens,
        count(sizes.incidents as f64)
    );
    Ok((
        4,
        "4. Open to first page after unlock".to_owned(),
        rows,
        note,
    ))
}

fn check_page(n: usize) -> Result<()> {
    if n != 50 {
        bail!("the first page has {n} rows, expected 50");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 1. Durable append

fn bench_append(dbs: &Databases, incidents: &[Incident], sizes: Sizes) -> Result<Section> {
    progress(&format!(
        "append: {} durable log entries per side",
        sizes.appends
    ));
    let key = Vault::unwrap_key(&dbs.vault_dir, &pass())?;
    let mut vault = Vault::open_with_key(&dbs.vault_dir, &key, clock())?;
    let mut db = PlainDb::open(&dbs.plain_path)?;
    // A monitor writes into a few live incidents, the newest ones.
    let targets: Vec<_> = incidents.iter().rev().take(20).map(|i| i.id).collect();
    let mut rng = workload::Rng::new(SEED ^ 0xA99E);
    let notes: Vec<String> = (0..sizes.appends + 20)
        .map(|_| workload::log_note(&mut rng))
        .collect();

    let (mut sv, mut sp) = (Vec::new(), Vec::new());
    const BLOCK: usize = 50;
    const WARMUP: usize = 10;
    let mut done = 0;
    let mut k = 0;
    while done < sizes.appends + WARMUP {
        let block = BLOCK.min(sizes.appends + WARMUP - done);
        for j in 0..block {
            let (inc, text, flagged) = (
                targets[(k + j) % targets.len()],
                &notes[(k + j) % notes.len()],
                (k + j) % 17 == 0,
            );
            let (_, t) = timed(|| Ok(vault.append_log(inc, text, flagged)?))?;
            if done + j >= WARMUP {
                sv.push(t);
            }
        }
        for j in 0..block {
            let (inc, text, flagged) = (
                targets[(k + j) % targets.len()],
                &notes[(k + j) % notes.len()],
                (k + j) % 17 == 0,
            );
            let (_, t) = timed(|| db.append_log(inc, text, flagged))?;
            if done + j >= WARMUP {
                sp.push(t);
            }
        }
        done += block;
        k += block;
    }
    let logged = vault.log_entries(targets[0])?.len();
    vault.close()?;
    db.close()?;
    if logged == 0 {
        bail!("no log entries were stored");
    }
    let (sv, sp) = (Samples::new(sv), Samples::new(sp));
    let (v99, p99) = (sv.pct(99.0), sp.pct(99.0));
    let rows = vec![
        Row::time("p50", sv.pct(50.0), Some(sp.pct(50.0))),
        Row::time("p99", v99, Some(p99)).target(
            "Vigil ≤ 2× plain",
            Verdict::of(v99.as_secs_f64() <= 2.0 * p99.as_secs_f64()),
        ),
        Row::time("mean", sv.mean(), Some(sp.mean())),
    ];
    let note = format!(
        "{} calls of `Vault::append_log` (after {WARMUP} warm-up calls) into the 20 newest of \
         {} incidents, each an immediate transaction with the existence check, the `seq` \
         lookup, the entry row and its search row and a durable commit (WAL, \
         `synchronous=FULL`, so one fsync of the WAL per call), against `sql::append_log` on \
         plain SQLite, in alternating blocks of {BLOCK}.",
        count(sv.len() as f64),
        count(incidents.len() as f64)
    );
    Ok((
        1,
        "1. Durable save of one running-log entry".to_owned(),
        rows,
        note,
    ))
}
