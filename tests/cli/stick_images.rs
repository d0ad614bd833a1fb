//! USB sticks for the tests: FAT32 and exFAT file system images (Debian's `dosfstools` and
//! `exfatprogs`) mounted through FUSE (`fusefat`, `exfat-fuse`), no kernel file system
//! modules, and small or read-only tmpfs mounts. Mounting needs root, as CI runs;
//! `scripts/setup --tests` installs the tools.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A file system image mounted at `dir` through FUSE; unmounted (and its loop device freed)
/// when dropped.
pub(crate) struct Stick {
    pub(crate) dir: PathBuf,
    /// `fusefat`, run in the foreground so that the test can pull the stick out by killing it.
    daemon: Option<Child>,
    loop_device: Option<String>,
}

pub(crate) fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The file system type `mountinfo` gives for `dir`, if something is mounted there.
pub(crate) fn mounted_type(dir: &Path) -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines().find_map(|l| {
        let (mount, rest) = l.split_once(" - ")?;
        (mount.split(' ').nth(4)? == dir.to_str()?).then(|| rest.split(' ').next().unwrap().into())
    })
}

pub(crate) fn wait_mounted(dir: &Path, fs_type: &str) {
    let start = Instant::now();
    while mounted_type(dir).as_deref() != Some(fs_type) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} was not mounted as {fs_type}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Stick {
    /// A FAT32 stick of `mib` MiB (sparse image).
    pub(crate) fn fat32(root: &Path, mib: u64) -> Stick {
        let (image, dir) = Self::image(root, "fat32", mib);
        run(Command::new("mkfs.vfat").args(["-F", "32"]).arg(&image));
        let daemon = Command::new("fusefat")
            .args(["-f", "-o", "rw+"])
            .arg(&image)
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fusefat (scripts/setup --tests installs it)");
        let stick = Stick {
            dir,
            daemon: Some(daemon),
            loop_device: None,
        };
        wait_mounted(&stick.dir, "fuse.fusefat");
        stick
    }

    /// An exFAT stick of `mib` MiB. exfat-fuse run by root insists on a block device, so the
    /// image is attached to a loop device first.
    pub(crate) fn exfat(root: &Path, mib: u64) -> Stick {
        let (image, dir) = Self::image(root, "exfat", mib);
        run(Command::new("mkfs.exfat").arg(&image));
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&image)
            .output()
            .unwrap();
        assert!(out.status.success(), "losetup: {}", stderr(&out));
        let device = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let mut stick = Stick {
            dir,
            daemon: None,
            loop_device: Some(device.clone()),
        };
        run(Command::new("mount.exfat-fuse")
            .arg(&device)
            .arg(&stick.dir));
        wait_mounted(&stick.dir, "fuseblk");
        stick.daemon = None;
        stick
    }

    fn image(root: &Path, name: &str, mib: u64) -> (PathBuf, PathBuf) {
        let image = root.join(format!("{name}.img"));
        std::fs::File::create(&image)
            .unwrap()
            .set_len(mib << 20)
            .unwrap();
        let dir = root.join(name);
        std::fs::create_dir(&dir).unwrap();
        (image, dir)
    }

    /// The stick is pulled out: its driver stops, and every access fails.
    pub(crate) fn pull_out(&mut self) {
        let mut daemon = self.daemon.take().expect("a fusefat stick");
        daemon.kill().unwrap();
        daemon.wait().unwrap();
    }

    pub(crate) fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Stick {
    fn drop(&mut self) {
        let _ = Command::new("fusermount")
            .args(["-u", "-z"])
            .arg(&self.dir)
            .status();
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        if let Some(dev) = &self.loop_device {
            let _ = Command::new("losetup").args(["-d", dev]).status();
        }
    }
}

/// A tmpfs mounted at `dir` with `options`, unmounted when dropped.
pub(crate) struct Tmpfs(PathBuf);

impl Tmpfs {
    pub(crate) fn mount(dir: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir(dir).unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir));
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The export's error code, and that its message says `words`.
pub(crate) fn refused_with(out: &std::process::Output, code: &str, words: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert_eq!(json_error_code(out), code, "{}", stderr(out));
    assert!(stderr(out).contains(words), "{}", stderr(out));
}

/// The next export, to a folder with room, still carries `revisions` revisions: nothing was
/// recorded as exported.
pub(crate) fn still_unsent(monitor: &Env, revisions: u64) -> PathBuf {
    let again = monitor.root.path().join("again.vigil");
    let report = json(&monitor.ok(&["--json", "export", "--to", again.to_str().unwrap()]));
    assert_eq!(report["revisions"], revisions, "still unsent: {report}");
    again
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A sealed record with an attachment of `size` bytes (random, so nothing compresses it).
pub(crate) fn record_with(monitor: &Env, title: &str, size: usize) -> String {
    let id = monitor.new_incident(title);
    let file = monitor.root.path().join(format!("{title}.bin"));
    let mut bytes = vec![0u8; size];
    // Seeded by the title: each record's file differs (equal files are stored and sent once).
    let mut x: u64 = title
        .bytes()
        .fold(0x9e37_79b9_7f4a_7c15 ^ size as u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    for chunk in bytes.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = chunk.len();
        chunk.copy_from_slice(&x.to_le_bytes()[..n]);
    }
    std::fs::write(&file, &bytes).unwrap();
    monitor.ok(&["attach", &id, file.to_str().unwrap()]);
    monitor.ok(&["seal", &id]);
    id
}
