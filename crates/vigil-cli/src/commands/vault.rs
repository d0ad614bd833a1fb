//! `vigil init`, `demo`, `passwd`, `rekey`, `duress` and `wipe`: the vault itself.

use std::path::PathBuf;
use std::sync::Arc;

use vigil_store::Vault;

use super::Ctx;
use crate::cli::{DuressAction, KdfArg};
use crate::demo;
use crate::error::{Failure, usage};
use crate::passphrase::Passphrases;
use crate::typed;

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

/// Gives the vault a fresh database key and a key header under a new (or the same) passphrase.
pub(crate) fn rekey(
    ctx: &Ctx,
    new_passphrase_file: Option<PathBuf>,
    keep_passphrase: bool,
) -> Result<(), Failure> {
    let p = ctx.pass.existing()?;
    if keep_passphrase {
        Vault::rekey(&ctx.dir, &p, &p)?;
    } else {
        let new = Passphrases::new_one(new_passphrase_file.as_deref())?;
        Vault::rekey(&ctx.dir, &p, &new)?;
    }
    ctx.out.message(
        "the vault has a new key: an old copy of its key header opens nothing written from now on",
    );
    Ok(())
}

/// Sets, removes or reports the duress passphrase of the vault that the passphrase opens.
pub(crate) fn duress(ctx: &Ctx, action: DuressAction) -> Result<(), Failure> {
    let vault = ctx.open()?;
    match action {
        DuressAction::Set {
            duress_passphrase_file,
            destroy_real,
        } => {
            if duress_passphrase_file.is_none() {
                eprintln!("The duress passphrase, to give up under coercion:");
            }
            let duress = Passphrases::new_one(duress_passphrase_file.as_deref())?;
            vault.set_duress(&duress, destroy_real)?;
            ctx.out.message(if destroy_real {
                "duress passphrase set: it opens the decoy vault and destroys this vault's key"
            } else {
                "duress passphrase set: it opens the decoy vault"
            });
        }
        DuressAction::Remove => {
            vault.remove_duress()?;
            ctx.out
                .message("duress passphrase removed; its decoy vault was destroyed");
        }
        DuressAction::Status => ctx.out.message(if vault.has_duress() {
            "a duress passphrase is set"
        } else {
            "no duress passphrase is set"
        }),
    }
    vault.close()?;
    Ok(())
}

/// Quick delete: the key first, then the files; asks first unless `yes`.
pub(crate) fn wipe(ctx: &Ctx, yes: bool) -> Result<(), Failure> {
    if !Vault::exists(&ctx.dir) {
        return Err(usage(format!(
            "{} holds no Vigil vault (no key header vault.key); nothing was removed",
            ctx.dir.display()
        )));
    }
    if !yes {
        if !typed::interactive() {
            return Err(usage(
                "wipe asks before it destroys the vault; give --yes when no one can answer",
            ));
        }
        eprintln!(
            "This destroys the vault at {} for good: nothing in it can be opened again, by \
             anyone. Records not yet sent to HQ are lost.",
            ctx.dir.display()
        );
        let answer = typed::next_line("Type WIPE to go on: ")?.unwrap_or_default();
        if answer.trim() != "WIPE" {
            return Err(usage("not wiped: the answer was not WIPE"));
        }
    }
    let report = Vault::wipe(&ctx.dir)?;
    ctx.out.wiped(&ctx.dir, &report);
    Ok(())
}
