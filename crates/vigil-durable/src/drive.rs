//! What a drive (a USB stick, a folder on a disk) allows, asked before a large file is written
//! to it: its free space, whether it is mounted read-only, its file system and that file
//! system's largest file. An export refuses at once what cannot work, rather than writing
//! gigabytes and then failing.

use std::io;
use std::path::Path;

/// The largest file FAT12/16/32 can hold: its size field has 32 bits.
pub const FAT_MAX_FILE: u64 = u32::MAX as u64;
/// The largest file Debian's `fusefat` (0.1a) writes on FAT32: 2 GiB, measured (a write past
/// that offset fails with `EPERM`), half of what the file system itself allows.
pub const FUSEFAT_MAX_FILE: u64 = 1 << 31;

/// What is known of the drive a folder is on. Each field is `None` where the system does not
/// say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Drive {
    /// Bytes an unprivileged writer may still put there (`None`: the file system reports no
    /// blocks, as some FUSE file systems do).
    pub free: Option<u64>,
    /// Mounted read-only.
    pub read_only: bool,
    /// The file system's type, as the kernel names it (`vfat`, `exfat`, `fuse.fusefat`, `ext4`).
    pub fs_type: Option<String>,
    /// The largest file it can hold, when that is a limit a bundle may meet (FAT: 4 GiB − 1).
    pub max_file: Option<u64>,
}

impl Drive {
    /// A short human name of the file system ("FAT32", "exFAT"...), for messages.
    pub fn fs_name(&self) -> Option<&'static str> {
        self.fs_type.as_deref().map(fs_name)
    }
}

/// A short human name for a kernel file system type.
pub fn fs_name(fs_type: &str) -> &'static str {
    match fs_type {
        "vfat" | "msdos" | "fat" | "fuse.fusefat" | "fusefat" => "FAT32",
        "exfat" | "fuse.exfat" | "fuseblk.exfat" => "exFAT",
        "ntfs" | "ntfs3" | "fuse.ntfs-3g" => "NTFS",
        // What exfat-fuse and ntfs-3g mount as: neither limits a file's size.
        "fuseblk" => "exFAT or NTFS",
        "ext2" | "ext3" | "ext4" => "ext4",
        "btrfs" => "Btrfs",
        "xfs" => "XFS",
        "tmpfs" => "tmpfs",
        "iso9660" | "udf" => "CD/DVD",
        _ => "unknown",
    }
}

/// The largest file a file system of this type (and its driver) can hold, where a bundle may
/// meet it.
pub fn max_file_of(fs_type: &str) -> Option<u64> {
    match (fs_type, fs_name(fs_type)) {
        ("fuse.fusefat" | "fusefat", _) => Some(FUSEFAT_MAX_FILE),
        (_, "FAT32") => Some(FAT_MAX_FILE),
        _ => None,
    }
}

/// What is known of the drive `dir` is on ([`Drive`]).
pub fn drive(dir: &Path) -> io::Result<Drive> {
    let (free, read_only) = space_and_mode(dir)?;
    let fs_type = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| mount_type(&d).ok().flatten());
    let max_file = fs_type.as_deref().and_then(max_file_of);
    Ok(Drive {
        free,
        read_only,
        fs_type,
        max_file,
    })
}

/// What a failed write or read says about the drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No space left (`ENOSPC`, or a quota).
    Full,
    /// Mounted read-only, or turned read-only by the kernel after an error (`EROFS`).
    ReadOnly,
    /// The file is larger than the file system allows (`EFBIG`).
    FileTooLarge,
    /// The drive went away: pulled out, or its FUSE driver stopped (`EIO`, `ENXIO`, `ENODEV`,
    /// `ENOTCONN`, `ESHUTDOWN`, a stale handle).
    Gone,
}

/// The drive fault an I/O error stands for, if it stands for one.
pub fn fault_of(e: &io::Error) -> Option<Fault> {
    #[cfg(target_os = "linux")]
    {
        use rustix::io::Errno;
        let raw = e.raw_os_error()?;
        let is = |errno: Errno| errno.raw_os_error() == raw;
        if is(Errno::NOSPC) || is(Errno::DQUOT) {
            Some(Fault::Full)
        } else if is(Errno::ROFS) {
            Some(Fault::ReadOnly)
        } else if is(Errno::FBIG) {
            Some(Fault::FileTooLarge)
        } else if [
            Errno::IO,
            Errno::NXIO,
            Errno::NODEV,
            Errno::NOTCONN,
            Errno::SHUTDOWN,
            Errno::STALE,
            Errno::NOMEDIUM,
        ]
        .into_iter()
        .any(is)
        {
            Some(Fault::Gone)
        } else {
            None
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        match e.kind() {
            io::ErrorKind::StorageFull => Some(Fault::Full),
            io::ErrorKind::ReadOnlyFilesystem => Some(Fault::ReadOnly),
            io::ErrorKind::FileTooLarge => Some(Fault::FileTooLarge),
            io::ErrorKind::NotConnected => Some(Fault::Gone),
            _ => None,
        }
    }
}

/// The bytes an unprivileged writer may still put in `dir`'s file system, or `None` when the
/// file system does not say (some FUSE file systems report no blocks at all).
pub fn free_space(dir: &Path) -> io::Result<Option<u64>> {
    Ok(space_and_mode(dir)?.0)
}

#[cfg(target_os = "linux")]
fn space_and_mode(dir: &Path) -> io::Result<(Option<u64>, bool)> {
    let st = rustix::fs::statvfs(dir)?;
    let read_only = st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY);
    if st.f_blocks == 0 {
        return Ok((None, read_only));
    }
    Ok((Some(st.f_bavail.saturating_mul(st.f_frsize)), read_only))
}

#[cfg(not(target_os = "linux"))]
fn space_and_mode(_dir: &Path) -> io::Result<(Option<u64>, bool)> {
    Ok((None, false))
}

/// The type of the file system mounted at the deepest mount point holding `dir` (a canonical
/// path), from `/proc/self/mountinfo`.
#[cfg(target_os = "linux")]
fn mount_type(dir: &Path) -> io::Result<Option<String>> {
    Ok(mount_type_in(
        &std::fs::read_to_string("/proc/self/mountinfo")?,
        dir,
    ))
}

#[cfg(not(target_os = "linux"))]
fn mount_type(_dir: &Path) -> io::Result<Option<String>> {
    Ok(None)
}

/// [`mount_type`] over the text of a `mountinfo` file. A later line for the same mount point
/// is a mount on top of the earlier one, and wins.
pub(crate) fn mount_type_in(mountinfo: &str, dir: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        let (mount, rest) = match line.split_once(" - ") {
            Some(parts) => parts,
            None => continue,
        };
        let Some(point) = mount.split(' ').nth(4).map(unescape) else {
            continue;
        };
        let Some(fs_type) = rest.split(' ').next() else {
            continue;
        };
        let point = Path::new(&point);
        if !dir.starts_with(point) {
            continue;
        }
        let depth = point.components().count();
        if best.as_ref().is_none_or(|(d, _)| depth >= *d) {
            best = Some((depth, fs_type.to_string()));
        }
    }
    best.map(|(_, t)| t)
}

/// A mount point as `mountinfo` writes it: space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MOUNTINFO: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /media/user/MY\\040STICK rw,nosuid shared:7 - vfat /dev/sdb1 rw,fmask=0022
31 22 0:27 / /media/user/big rw shared:8 - exfat /dev/sdc1 rw
32 31 0:28 / /media/user/big rw shared:9 - fuse.fusefat img rw,user_id=0
40 22 0:30 / /tmp rw shared:10 - tmpfs tmpfs rw
";

    #[test]
    fn the_deepest_mount_point_holding_the_folder_and_the_latest_mount_on_it_win() {
        let t = |p: &str| mount_type_in(MOUNTINFO, Path::new(p));
        assert_eq!(t("/home/user").as_deref(), Some("ext4"));
        assert_eq!(t("/media/user/MY STICK/vigil").as_deref(), Some("vfat"));
        assert_eq!(t("/media/user/big/x").as_deref(), Some("fuse.fusefat"));
        assert_eq!(
            t("/media/user/bigger").as_deref(),
            Some("ext4"),
            "not a prefix by component"
        );
        assert_eq!(t("/tmp").as_deref(), Some("tmpfs"));
    }

    #[test]
    fn fat_is_the_only_file_system_whose_largest_file_a_bundle_meets() {
        assert_eq!(max_file_of("vfat"), Some(4 * 1024 * 1024 * 1024 - 1));
        assert_eq!(max_file_of("msdos"), Some(FAT_MAX_FILE));
        assert_eq!(max_file_of("fuse.fusefat"), Some(FUSEFAT_MAX_FILE));
        for other in ["exfat", "ntfs3", "ext4", "tmpfs", "fuseblk", "something"] {
            assert_eq!(max_file_of(other), None, "{other}");
        }
    }

    #[test]
    fn errors_name_their_fault() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(fault_of(&os(28)), Some(Fault::Full)); // ENOSPC
        assert_eq!(fault_of(&os(30)), Some(Fault::ReadOnly)); // EROFS
        assert_eq!(fault_of(&os(27)), Some(Fault::FileTooLarge)); // EFBIG
        assert_eq!(fault_of(&os(5)), Some(Fault::Gone)); // EIO
        assert_eq!(fault_of(&os(107)), Some(Fault::Gone)); // ENOTCONN
        assert_eq!(fault_of(&os(13)), None); // EACCES
        assert_eq!(fault_of(&io::Error::other("x")), None);
    }

    #[test]
    fn the_drive_of_a_temporary_folder_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let d = drive(dir.path()).unwrap();
        assert!(!d.read_only);
        assert!(d.fs_type.is_some(), "{d:?}");
    }
}
