//! The process itself: no core dumps, so that a crash never writes keys, passphrases or
//! decrypted records to disk; and the pages that hold keys and passphrases locked in memory,
//! so that they are never written to swap.

/// Forbids core dumps of this process: the core size limit becomes 0 (soft and hard, so it
/// cannot be raised again) and, on Linux, the process is made non-dumpable, which also keeps
/// other programs of the same user from attaching a debugger or reading its memory through
/// `/proc`. Call it first thing in `main`, before any secret exists.
pub fn forbid_core_dumps() -> std::io::Result<()> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    Ok(())
}

/// Locks the memory pages that hold `bytes` (a key or a passphrase) into RAM, so that the
/// kernel never writes them to swap. Where the system refuses (the locked-memory limit is
/// reached, or the platform has no `mlock`), the bytes stay where they are, unlocked: the
/// secret is still wiped on drop. The pages are not unlocked afterwards: a page may hold
/// other secrets still in use, and the allocator reuses the few small pages keys live in.
pub(crate) fn lock_in_memory(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    #[cfg(unix)]
    {
        // SAFETY: mlock only changes how the kernel treats the pages that contain the range;
        // it neither reads nor writes the memory, and the range is a live borrow.
        #[allow(unsafe_code)]
        let _ = unsafe { rustix::mm::mlock(bytes.as_ptr().cast_mut().cast(), bytes.len()) };
    }
}
