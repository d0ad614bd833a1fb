//! `vigil init`, `vigil demo` and `vigil passwd`: the vault itself.

use std::path::PathBuf;
use std::sync::Arc;

use vigil_store::Vault;

use super::Ctx;
use crate::cli::KdfArg;
use crate::demo;
use crate::error::Failure;
use crate::passphrase::Passphrases;

/// Creates a new, empty vault.
pub(crate) fn init(ctx: &Ctx, kdf: KdfArg) -> Result<(), Failure> {
    let p = Passphrases::new_one(ctx.pass.file.as_deref())?;
    let vault = Vault::create(&ctx.dir, &p, kdf.choice(), ctx.clock.clone())?;
    let device = vault.device();
    vault.close()?;
    ctx.out.created_vault(&ctx.dir, &device.to_string());
    Ok(())
}

/// Creates a demo vault with the sample incident.
pub(crate) fn demo(ctx: &Ctx, kdf: KdfArg) -> Result<(), Failure> {
    let p = Passphrases::new_one(ctx.pass.file.as_deref())?;
    let demo_clock = Arc::new(vigil_store::FixedClock::new(demo::start_time()));
    let mut vault = Vault::create(&ctx.dir, &p, kdf.choice(), demo_clock.clone())?;
    let id = demo::populate(&mut vault, &demo_clock)?;
    vault.close()?;
    ctx.out.id("incident", &id.to_string());
    Ok(())
}

/// Changes the vault's passphrase.
pub(crate) fn passwd(ctx: &Ctx, new_passphrase_file: Option<PathBuf>) -> Result<(), Failure> {
    let old = ctx.pass.existing()?;
    let new = Passphrases::new_one(new_passphrase_file.as_deref())?;
    Vault::change_passphrase(&ctx.dir, &old, &new)?;
    ctx.out.message("passphrase changed");
    Ok(())
}
