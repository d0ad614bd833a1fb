//! The process itself: no core dumps, so that a crash never writes keys, passphrases or
//! decrypted records to disk.

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
