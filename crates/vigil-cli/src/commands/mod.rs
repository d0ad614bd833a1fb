//! What each command does, one file per group: the vault itself, incidents and their running
//! log, attachments, sealing, exchange (bundles), the organisation and quarantine.

pub(crate) mod attach;
pub(crate) mod exchange;
pub(crate) mod incident;
pub(crate) mod org;
pub(crate) mod quarantine;
pub(crate) mod seal;
pub(crate) mod sync;
pub(crate) mod vault;

use std::path::PathBuf;
use std::sync::Arc;

use vigil_model::IncidentId;
use vigil_store::{SystemClock, Vault};

use crate::cli::{Cli, Command};
use crate::error::{Failure, usage};
use crate::output::Printer;
use crate::passphrase::Passphrases;

/// What every command is given: the vault folder, where its passphrase comes from, and how to
/// print.
pub(crate) struct Ctx {
    /// The vault folder.
    pub(crate) dir: PathBuf,
    /// Where passphrases come from.
    pub(crate) pass: Passphrases,
    /// How to print (people or `--json`).
    pub(crate) out: Printer,
    /// The clock a vault is opened with.
    pub(crate) clock: Arc<SystemClock>,
}

impl Ctx {
    /// Opens the vault, asking for (or reading) its passphrase.
    pub(crate) fn open(&self) -> Result<Vault, Failure> {
        let p = self.pass.existing()?;
        Ok(Vault::open(&self.dir, &p, self.clock.clone())?)
    }

    /// Whether `--json` was given.
    pub(crate) fn json(&self) -> bool {
        self.out.json
    }
}

/// Runs one command line.
pub(crate) fn run(cli: Cli) -> Result<(), Failure> {
    let dir = match cli.vault {
        Some(d) => d,
        None => default_vault()?,
    };
    let ctx = Ctx {
        dir,
        pass: Passphrases {
            file: cli.passphrase_file,
        },
        out: Printer { json: cli.json },
        clock: Arc::new(SystemClock),
    };
    match cli.command {
        Command::Init { kdf } => vault::init(&ctx, kdf),
        Command::Demo { kdf } => vault::demo(&ctx, kdf),
        Command::Passwd {
            new_passphrase_file,
        } => vault::passwd(&ctx, new_passphrase_file),
        Command::New { fields } => incident::new(&ctx, fields),
        Command::Rekey {
            new_passphrase_file,
            keep_passphrase,
        } => vault::rekey(&ctx, new_passphrase_file, keep_passphrase),
        Command::Wipe { yes } => vault::wipe(&ctx, yes),
        Command::Duress { action } => vault::duress(&ctx, action),
        Command::Log {
            id,
            text,
            flag,
            corrects,
            happened_at,
        } => incident::log(
            &ctx,
            &id,
            text.as_deref(),
            flag,
            corrects.as_deref(),
            happened_at.as_deref(),
        ),
        Command::List {
            status,
            limit,
            offset,
        } => incident::list(&ctx, status.as_deref(), limit, offset),
        Command::Show { id } => incident::show(&ctx, &id),
        Command::Search { query, limit } => incident::search(&ctx, &query, limit),
        Command::Attach {
            id,
            file,
            media_type,
        } => attach::attach(&ctx, &id, &file, media_type),
        Command::Extract {
            attachment_id,
            file,
        } => attach::extract(&ctx, &attachment_id, &file),
        Command::Seal { id } => seal::seal(&ctx, &id),
        Command::Amend { id, fields } => seal::amend(&ctx, &id, fields),
        Command::History { id } => seal::history(&ctx, &id),
        Command::Export {
            to,
            ids,
            unsent,
            all,
            pad,
            max_file_size,
        } => exchange::export(&ctx, &to, &ids, (unsent, all), pad, max_file_size),
        Command::Import { file } => exchange::import(&ctx, &file),
        Command::Verify { file } => exchange::verify(&ctx, &file),
        Command::Sync {
            proxy,
            item_revisions,
            free_delivered,
            watch: false,
            ..
        } => sync::sync(
            &ctx,
            vigil_sync::Options {
                proxy,
                item_revisions,
                free_delivered,
            },
        ),
        Command::Sync {
            proxy,
            item_revisions,
            free_delivered,
            watch: true,
            interval,
            probe_min,
            probe_max,
        } => sync::watch(
            &ctx,
            vigil_sync::Options {
                proxy,
                item_revisions,
                free_delivered,
            },
            interval,
            probe_min,
            probe_max,
        ),
        Command::Status { id } => sync::status(&ctx, id.as_deref()),
        Command::Org { action } => org::run(action, &ctx.out, || ctx.open()),
        Command::Quarantine { action } => quarantine::run(action, &ctx.out, || ctx.open()),
    }
}

fn default_vault() -> Result<PathBuf, Failure> {
    dirs::data_dir()
        .map(|d| d.join("vigil").join("vault"))
        .ok_or_else(|| usage("no data directory on this system; pass --vault DIR"))
}

/// An incident id from the command line.
pub(crate) fn parse_incident_id(s: &str) -> Result<IncidentId, Failure> {
    s.parse()
        .map_err(|_| usage(format!("'{s}' is not an incident id (expected a UUID)")))
}
