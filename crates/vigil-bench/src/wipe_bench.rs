//! Quick delete of a 10 GiB vault: how long until its key is destroyed on disk (from then on
//! nothing in it opens) and until every file is gone, against `rm -rf` of an identical folder,
//! in the same run. The vault is real (a key header, a SQLCipher database, the chunk store)
//! and made 10 GiB with sparse files: its database grown to 2 GiB and 32,768 chunk files of
//! 256 KiB each, as many files as 8 GiB of attachments fill. Writes `docs/benchmarks-wipe.md`
//! with `--out`.
//!
//! It also times an unlock of a vault with a duress passphrase: the real passphrase, the duress
//! one and a wrong one, against the real passphrase of the same vault without a decoy.
//!
//! `cargo run --release -p vigil-bench --bin wipe-bench -- [--quick] [--out FILE]`

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_store::{KdfChoice, SystemClock, Vault};

/// Interleaved rounds; the medians are reported.
const ROUNDS: usize = 3;
const CHUNK: u64 = 256 * 1024;

struct Size {
    db: u64,
    chunks: u64,
}

/// A real vault in `dir`, grown with sparse files to `size`.
fn build(dir: &Path, size: &Size) -> Result<()> {
    let vault = Vault::create(
        dir,
        &Passphrase::new("bench passphrase".to_owned()),
        KdfChoice::Params(KdfParams::FLOOR),
        Arc::new(SystemClock),
    )?;
    vault.close()?;
    File::options()
        .write(true)
        .open(dir.join("vault.db"))?
        .set_len(size.db)?;
    for i in 0..size.chunks {
        let name = format!(
            "{:032x}",
            u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C)
        );
        let shard = dir.join("blobs").join(&name[..2]);
        fs::create_dir_all(&shard)?;
        File::create(shard.join(&name))?.set_len(CHUNK)?;
    }
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> Result<()> {
    let mut quick = false;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--out" => out = Some(args.next().context("--out needs a file")?),
            other => bail!("unknown argument {other}"),
        }
    }
    let size = if quick {
        Size {
            db: 64 << 20,
            chunks: 1024,
        }
    } else {
        Size {
            db: 2 << 30,
            chunks: 32_768,
        }
    };
    let total = size.db + size.chunks * CHUNK;
    let parent = if Path::new("target").is_dir() {
        Path::new("target").to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let work = tempfile::Builder::new()
        .prefix("vigil-wipe-bench-")
        .tempdir_in(&parent)?;
    let (mut key_gone, mut all_gone, mut rm) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        eprintln!(
            "round {}/{ROUNDS}: building two {} GiB vaults",
            round + 1,
            total >> 30
        );
        let ours = work.path().join(format!("vigil-{round}"));
        let theirs = work.path().join(format!("rm-{round}"));
        build(&ours, &size)?;
        build(&theirs, &size)?;
        let report = Vault::wipe(&ours)?;
        if ours.exists() {
            bail!("the wipe left {}", ours.display());
        }
        key_gone.push(report.key_destroyed_after);
        all_gone.push(report.removed_after);
        let t = Instant::now();
        let s = Command::new("rm").arg("-rf").arg(&theirs).status()?;
        if !s.success() {
            bail!("rm -rf failed");
        }
        rm.push(t.elapsed());
    }
    let (key_gone, all_gone, rm) = (median(key_gone), median(all_gone), median(rm));
    let verdict = if key_gone < Duration::from_secs(1) {
        "met"
    } else {
        "**missed**"
    };
    let text = format!(
        "# Quick delete\n\n\
         Measured {date} with `cargo run --release -p vigil-bench --bin wipe-bench{q}` \
         ({mode}; medians of {ROUNDS} rounds; {dev}).\n\n\
         A real vault (key header, SQLCipher database, chunk store) grown with sparse files to \
         {gib:.1} GiB: the database to {db} MiB and {chunks} chunk files of 256 KiB (as many as \
         {att:.1} GiB of attachments make). The reference removes an identical folder with \
         `rm -rf`, in the same run.\n\n\
         | | Vigil `wipe` | `rm -rf` | target |\n|---|---|---|---|\n\
         | key header overwritten and flushed (nothing opens from here on) | {k} | — | under 1 s: {verdict} |\n\
         | every file removed | {a} | {r} | — |\n\n\
         The key goes first, whatever the size: one small file is overwritten with random bytes \
         and fsynced, then the folder is fsynced; only then are the database and chunks \
         removed. What the removal leaves in free blocks is ciphertext whose key no longer \
         exists (on flash, the overwritten header's old blocks may survive wear-levelling: see \
         docs/threat-model.md).\n",
        date = chrono::Local::now().format("%Y-%m-%d %H:%M %:z"),
        q = if quick { " -- --quick" } else { "" },
        mode = if quick { "quick mode" } else { "full" },
        dev = if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        },
        gib = total as f64 / f64::from(1u32 << 30),
        db = size.db >> 20,
        chunks = size.chunks,
        att = (size.chunks * CHUNK) as f64 / f64::from(1u32 << 30),
        k = ms(key_gone),
        a = ms(all_gone),
        r = ms(rm),
    ) + &unlock_times(work.path(), if quick { 5 } else { 15 })?;
    print!("{text}");
    if let Some(out) = out {
        fs::write(&out, &text).with_context(|| format!("writing {out}"))?;
    }
    Ok(())
}

/// Unlock times with a duress passphrase set: the three passphrases cost the same two key
/// derivations. Interleaved, `rounds` of each; medians.
fn unlock_times(work: &Path, rounds: usize) -> Result<String> {
    let real = Passphrase::new("bench passphrase".to_owned());
    let duress = Passphrase::new("bench duress words".to_owned());
    let wrong = Passphrase::new("bench wrong guess".to_owned());
    let with = work.join("with-decoy");
    let without = work.join("without-decoy");
    for dir in [&with, &without] {
        Vault::create(
            dir,
            &real,
            KdfChoice::Params(KdfParams::FLOOR),
            Arc::new(SystemClock),
        )?
        .close()?;
    }
    let v = Vault::open(&with, &real, Arc::new(SystemClock))?;
    v.set_duress(&duress, false)?;
    v.close()?;
    let time = |dir: &Path, p: &Passphrase, opens: bool| -> Result<Duration> {
        let t = Instant::now();
        let r = Vault::open(dir, p, Arc::new(SystemClock));
        let d = t.elapsed();
        match (r, opens) {
            (Ok(v), true) => v.close()?,
            (Err(vigil_store::StoreError::WrongPassphrase), false) => {}
            (r, _) => bail!("unexpected unlock outcome: {:?}", r.map(|_| ())),
        }
        Ok(d)
    };
    let mut rows: [Vec<Duration>; 4] = Default::default();
    for _ in 0..rounds {
        rows[0].push(time(&with, &real, true)?);
        rows[1].push(time(&with, &duress, true)?);
        rows[2].push(time(&with, &wrong, false)?);
        rows[3].push(time(&without, &real, true)?);
    }
    let [r, d, w, n] = rows.map(median);
    Ok(format!(
        "\n## Unlocking with a duress passphrase set\n\n\
         One vault with a decoy, at the floor Argon2id parameters (64 MiB, t = 3, p = 4), \
         unlocked {rounds} times with each passphrase, interleaved; medians. The reference is \
         the same kind of vault without a decoy, in the same run.\n\n\
         | passphrase | unlock (open and close) |\n|---|---|\n\
         | the real one | {r} |\n| the duress one (opens the decoy) | {d} |\n\
         | a wrong one | {w} |\n| the real one, no decoy (reference) | {n} |\n\n\
         With a decoy every unlock derives both keys, so the three cost the same and about \
         twice the reference. With destruction on, the duress unlock also removes the real \
         files once (the row \"every file removed\" above bounds it).\n",
        r = ms(r),
        d = ms(d),
        w = ms(w),
        n = ms(n),
    ))
}
