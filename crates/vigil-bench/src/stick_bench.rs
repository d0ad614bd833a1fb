//! Exporting a record with a 4.3 GiB recording to a FAT32 stick (an image made with
//! `mkfs.vfat`, mounted through FUSE with Debian's `fusefat`), against `cp` of the same bytes
//! to the same mount, in the same run. The export finds the stick's limit itself and writes
//! several bundles with the recording in parts; `cp` gets the same bytes cut into files of the
//! bundles' sizes (one 4.3 GiB file cannot be written there: `fusefat` stops at 2 GiB). Both
//! end with everything on the image (`sync`). Needs root (to mount) and `scripts/setup
//! --tests` (for `fusefat` and `dosfstools`). Writes the section "Export to a FAT32 stick" of
//! `docs/benchmarks-export.md` with `--out` (the rest of the file is kept).
//!
//! `cargo run --release -p vigil-bench --bin stick-bench -- [--quick] [--out FILE]`

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_exchange::{Limits, Selection};
use vigil_model::{Incident, IncidentId};
use vigil_store::{KdfChoice, SystemClock, Vault};

/// Where this benchmark's section of the export benchmark file begins.
pub const SECTION: &str = "## Export to a FAT32 stick";

fn pass() -> Passphrase {
    Passphrase::new("bench passphrase".to_owned())
}

fn fill(block: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for b in block.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        b.copy_from_slice(&bytes[..b.len()]);
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let s = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !s.success() {
        bail!("{cmd:?} failed");
    }
    Ok(())
}

/// A FAT32 image mounted through fusefat; unmounted when dropped.
struct Fat32 {
    dir: PathBuf,
    daemon: Child,
}

impl Fat32 {
    fn mount(image: &Path, dir: &Path, bytes: u64) -> Result<Fat32> {
        File::create(image)?.set_len(bytes)?;
        run(Command::new("mkfs.vfat")
            .args(["-F", "32"])
            .arg(image)
            .stdout(Stdio::null()))?;
        std::fs::create_dir_all(dir)?;
        let daemon = Command::new("fusefat")
            .args(["-f", "-o", "rw+"])
            .arg(image)
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("fusefat (scripts/setup --tests installs it)")?;
        let start = Instant::now();
        let canon = dir.canonicalize()?;
        while vigil_exchange::stick::drive_of(&canon.join("x"))
            .fs_type
            .as_deref()
            != Some("fuse.fusefat")
        {
            if start.elapsed() > Duration::from_secs(20) {
                bail!("fusefat did not mount {}", dir.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Fat32 { dir: canon, daemon })
    }

    fn clear(&self) -> Result<()> {
        for e in std::fs::read_dir(&self.dir)? {
            std::fs::remove_file(e?.path())?;
        }
        run(&mut Command::new("sync"))
    }
}

impl Drop for Fat32 {
    fn drop(&mut self) {
        let _ = Command::new("fusermount").arg("-u").arg(&self.dir).status();
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// Exports everything of `vault` to `dest` on the stick, bundle after bundle as the drive (or
/// `max_file`) needs, then syncs: the time, and each bundle's size.
fn export(vault: &Path, dest: &Path, max_file: Option<u64>) -> Result<(Duration, Vec<u64>)> {
    let mut v = Vault::open(vault, &pass(), Arc::new(SystemClock))?;
    let t = Instant::now();
    let limits = Limits {
        max_file,
        ..Limits::default()
    };
    let reports = vigil_exchange::export_all(&mut v, &Selection::All, dest, limits)?;
    run(&mut Command::new("sync"))?;
    let took = t.elapsed();
    v.close()?;
    Ok((took, reports.iter().map(|r| r.bytes).collect()))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    // 4.3 GiB; --quick: 300 MiB under a 100 MiB file limit.
    let (total, limit): (u64, Option<u64>) = if quick {
        (300 << 20, Some(100 << 20))
    } else {
        (4_617_089_843, None)
    };
    let parent = if Path::new("target").is_dir() {
        PathBuf::from("target")
    } else {
        std::env::temp_dir()
    };
    let work = tempfile::Builder::new()
        .prefix("vigil-stick-bench-")
        .tempdir_in(&parent)?;
    let w = work.path();
    eprintln!(
        "[stick-bench] preparing {} MiB in {}",
        total >> 20,
        w.display()
    );
    let plain = w.join("recording.bin");
    {
        let mut f = BufWriter::new(File::create(&plain)?);
        let mut block = vec![0u8; 1 << 20];
        let mut left = total;
        let mut i = 0;
        while left > 0 {
            fill(&mut block, i);
            let n = left.min(block.len() as u64) as usize;
            f.write_all(&block[..n])?;
            left -= n as u64;
            i += 1;
        }
        f.flush()?;
    }
    let vault = w.join("monitor");
    let mut hq = Vault::create(
        &w.join("hq"),
        &pass(),
        KdfChoice::Params(KdfParams::FLOOR),
        Arc::new(SystemClock),
    )?;
    let profile = hq.create_org("Bench HQ", 1)?;
    let invitation = hq.issue_invitation("Bench monitor", 14)?;
    hq.close()?;
    let mut mon = Vault::create(
        &vault,
        &pass(),
        KdfChoice::Params(KdfParams::FLOOR),
        Arc::new(SystemClock),
    )?;
    mon.join_and_enrol(&profile.to_json_pretty(), &invitation.expose_file_bytes())?;
    let inc = Incident::new(IncidentId::new(), "Meeting recording", mon.now());
    mon.create_incident(&inc)?;
    mon.add_attachment(
        inc.id,
        "meeting.mp4",
        "video/mp4",
        std::io::BufReader::new(File::open(&plain)?),
        None,
    )?;
    mon.seal(inc.id)?;
    mon.close()?;

    let stick = Fat32::mount(
        &w.join("fat32.img"),
        &w.join("stick"),
        total + total / 8 + (256 << 20),
    )?;
    // Vigil: the export finds the stick's limit (or the quick run's) and splits.
    let (vigil, sizes) = export(&vault, &stick.dir.join("meeting.vigil"), limit)?;
    stick.clear()?;
    // cp: the same bytes, in files of the bundles' sizes (cut on the local disk first, untimed).
    let mut pieces = Vec::new();
    let mut src = File::open(&plain)?;
    let mut at = 0u64;
    for (i, size) in sizes.iter().enumerate() {
        let n = (*size).min(total - at);
        let piece = w.join(format!("piece-{i}"));
        src.seek(SeekFrom::Start(at))?;
        std::io::copy(&mut (&mut src).take(n), &mut File::create(&piece)?)?;
        at += n;
        pieces.push(piece);
        if at >= total {
            break;
        }
    }
    run(&mut Command::new("sync"))?;
    let t = Instant::now();
    run(Command::new("cp").args(&pieces).arg(&stick.dir))?;
    run(&mut Command::new("sync"))?;
    let cp = t.elapsed();
    // And one file of all of it, as a person would try first.
    stick.clear()?;
    let whole = Command::new("cp")
        .arg(&plain)
        .arg(&stick.dir)
        .stderr(Stdio::piped())
        .output()?;
    let whole_cp = if whole.status.success() {
        "copied".to_owned()
    } else {
        let said = String::from_utf8_lossy(&whole.stderr);
        format!(
            "fails: \"{}\"",
            said.trim().rsplit(": ").next().unwrap_or_default()
        )
    };
    drop(stick);

    let mib = total as f64 / 1048576.0;
    let rate = |d: Duration| mib / d.as_secs_f64();
    let mut r = format!(
        "{SECTION}\n\nMeasured {} with `cargo run --release -p vigil-bench --bin stick-bench --{}` on this machine \
         (2 cores), as root: a record with one recording of {:.0} MiB, exported to a FAT32 image (`mkfs.vfat -F 32`) \
         mounted through FUSE with Debian's `fusefat`, against `cp` of the same bytes to the same mount, in the same run. \
         The export reads the stick's file system and driver from the mount table and cuts the recording into parts: \
         {} bundle files ({}). `cp` copies the same bytes cut into files of those sizes, since one file of all of it \
         cannot be written there (`cp` of the whole recording {}). Each ends when everything is on the image (`sync`). \
         One round each: these take minutes.\n\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        if quick { " --quick" } else { "" },
        mib,
        sizes.len(),
        sizes
            .iter()
            .map(|s| format!("{:.1} MiB", *s as f64 / 1048576.0))
            .collect::<Vec<_>>()
            .join(", "),
        whole_cp,
    );
    r.push_str("| measure | time | MiB/s |\n|---|--:|--:|\n");
    r.push_str(&format!(
        "| Vigil export to the FAT32 stick: plan (hash every part), write each bundle, read it back from the stick and verify every byte, rename, record, `sync` | {:.1} s | {:.0} |\n",
        vigil.as_secs_f64(),
        rate(vigil)
    ));
    r.push_str(&format!(
        "| `cp` of the same bytes in files of the same sizes to the same stick, then `sync` | {:.1} s | {:.0} |\n\n",
        cp.as_secs_f64(),
        rate(cp)
    ));
    r.push_str(
        "`cp` writes the bytes once and checks nothing. The export hashes the recording's parts while planning (from \
         the vault's disk), writes every bundle to the stick, and reads each back through the stick's driver to \
         verify every byte before it counts as exported: the stick carries its bytes twice.\n",
    );
    println!("{r}");
    if let Some(out) = out {
        let before = std::fs::read_to_string(&out).unwrap_or_default();
        let kept = before.split(SECTION).next().unwrap_or_default().trim_end();
        std::fs::write(&out, format!("{kept}\n\n{r}"))?;
    }
    Ok(())
}
