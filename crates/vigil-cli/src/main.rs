//! `vigil`: everything the Vigil app does, from a terminal or a script.
//!
//! Exit codes: 0 ok; 1 usage or validation error; 2 wrong passphrase; 3 damaged or unreadable
//! vault; 4 a bundle was kept in quarantine (nothing applied: a person must decide). With
//! `--json` every command that prints data prints JSON objects with an `id` field.

mod demo;
mod org;
mod output;
mod quarantine;

use std::fs::{self, File};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use vigil_crypto::Passphrase;
use vigil_crypto::kdf::KdfParams;
use vigil_model::{AttachmentId, Incident, IncidentDraft, IncidentId, IncidentStatus};
use vigil_store::{KdfChoice, ListQuery, StoreError, SystemClock, Vault};

#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about = "Record human-rights incidents in an encrypted local vault"
)]
struct Cli {
    /// The vault folder (default: the platform data directory, e.g. ~/.local/share/vigil/vault).
    #[arg(long, global = true, env = "VIGIL_VAULT", value_name = "DIR")]
    vault: Option<PathBuf>,
    /// Read the passphrase from the first line of FILE ('-' = standard input) instead of asking.
    #[arg(long, global = true, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KdfArg {
    /// Calibrate the key derivation on this machine towards 0.5-1 s per unlock.
    Calibrate,
    /// The minimum parameters (Argon2id m=64 MiB, t=3, p=4): for slow machines and tests.
    Minimum,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new, empty vault.
    Init {
        /// How expensive unlocking is made.
        #[arg(long, value_enum, default_value = "calibrate")]
        kdf: KdfArg,
    },
    /// Create an incident and print its id.
    New {
        #[command(flatten)]
        fields: ReportFields,
    },
    /// Append an entry to an incident's running log. TEXT '-' reads one entry per line from
    /// standard input, committing each and printing its id as soon as it is on disk.
    Log {
        /// The incident.
        id: String,
        /// The entry text, or '-' for standard input.
        text: String,
        /// Flag the entry as a key moment.
        #[arg(long)]
        flag: bool,
    },
    /// Attach a file to an incident (stored encrypted, streamed).
    Attach {
        /// The incident.
        id: String,
        /// The file.
        file: PathBuf,
        /// Media type (default: guessed from the file name).
        #[arg(long)]
        media_type: Option<String>,
    },
    /// Write an attachment's original bytes to FILE (after checking them).
    Extract {
        /// The attachment.
        attachment_id: String,
        /// Where to write it (must not exist).
        file: PathBuf,
    },
    /// List incidents, newest first.
    List {
        /// Only drafts or only sealed incidents.
        #[arg(long)]
        status: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Skip this many.
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// Show an incident with its running log and attachments.
    Show {
        /// The incident.
        id: String,
    },
    /// Where a sealed record has been: its revisions (signatures checked again) and every
    /// device's custody events for it (created, sealed, exported, imported).
    History {
        /// The incident.
        id: String,
    },
    /// Full-text search over incidents, parties and running logs.
    Search {
        /// Words to look for (the last one may be a prefix).
        query: String,
        /// How many results.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Change the vault passphrase.
    Passwd {
        /// Read the new passphrase from FILE instead of asking.
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Seal an incident: a signed revision, chained to this device's previous ones; the
    /// incident can no longer be changed in place. Sealing it again records an amendment with
    /// what was added since (running-log entries, attachments).
    Seal {
        /// The incident.
        id: String,
    },
    /// Amend a sealed incident: a new signed revision with changed fields that names the one it
    /// amends; nothing sealed before is changed.
    Amend {
        /// The incident.
        id: String,
        #[command(flatten)]
        fields: ReportFields,
    },
    /// Write sealed revisions, their attachments and the custody log to one encrypted bundle
    /// that only the organisation's HQ (and this device) can open.
    Export {
        /// The bundle file to write (e.g. on a USB stick); replaced only once complete.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Incidents to export (all their sealed revisions).
        ids: Vec<String>,
        /// Every revision not yet exported.
        #[arg(long, conflicts_with_all = ["ids", "all"])]
        unsent: bool,
        /// Every revision.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Import a bundle: verified completely, then applied all or nothing; importing it again
    /// changes nothing.
    Import {
        /// The bundle file.
        file: PathBuf,
    },
    /// Say what a bundle proves: who signed it, which revisions, which attachments match. FILE
    /// is a bundle (opened with this vault's keys) or a folder where a bundle was extracted
    /// with `age -d` and `tar -x` (needs no vault).
    Verify {
        /// The bundle, or the extracted folder.
        file: PathBuf,
    },
    /// The organisation this vault belongs to: create it (HQ), join it (a monitor), invite and
    /// list devices, revoke them, hand an incident to another device.
    Org {
        #[command(subcommand)]
        action: org::OrgCommand,
    },
    /// Bundles HQ keeps unapplied because it cannot trust their device yet: list them, accept
    /// them once a person compared the device's key, or drop them.
    Quarantine {
        #[command(subcommand)]
        action: quarantine::QuarantineCommand,
    },
    /// Create a demo vault with a sample incident (Bishkek, 23 May 2019).
    Demo {
        /// How expensive unlocking is made.
        #[arg(long, value_enum, default_value = "calibrate")]
        kdf: KdfArg,
    },
}

/// The report fields `new` and `amend` take.
#[derive(Debug, clap::Args)]
struct ReportFields {
    /// Title.
    #[arg(long)]
    title: Option<String>,
    /// Summary.
    #[arg(long)]
    summary: Option<String>,
    /// The whole report from a JSON file (see docs); --title and --summary override it.
    #[arg(long, value_name = "FILE.json")]
    from: Option<PathBuf>,
}

impl ReportFields {
    fn is_empty(&self) -> bool {
        self.title.is_none() && self.summary.is_none() && self.from.is_none()
    }

    /// `base` as these fields say: the file's report (keeping `base`'s id and creation
    /// time), then the title and summary given.
    fn apply(self, base: Incident) -> Result<Incident, Failure> {
        let mut incident = match self.from {
            Some(path) => {
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let draft = IncidentDraft::from_json(&text)
                    .map_err(|e| usage(format!("{}: {e}", path.display())))?;
                draft.into_incident(base.id, base.created_at)
            }
            None => base,
        };
        if let Some(t) = self.title {
            incident.title = t;
        }
        if let Some(s) = self.summary {
            incident.summary = s;
        }
        Ok(incident)
    }
}

/// An error with the exit code it maps to.
pub(crate) struct Failure {
    code: u8,
    kind: String,
    message: String,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::WrongPassphrase => 2,
            e if e.is_damage() => 3,
            _ => 1,
        };
        Failure {
            code,
            kind: e.code().into(),
            message: e.to_string(),
        }
    }
}

impl From<vigil_exchange::ExchangeError> for Failure {
    fn from(e: vigil_exchange::ExchangeError) -> Self {
        match e {
            vigil_exchange::ExchangeError::Store(s) if !e_is_bad(&s) => s.into(),
            // A bad bundle is bad input (exit 1); the vault itself is untouched.
            other => Failure {
                code: 1,
                kind: other.code().into(),
                message: other.to_string(),
            },
        }
    }
}

/// A vault error that is about what was offered, not about the vault.
fn e_is_bad(s: &StoreError) -> bool {
    matches!(
        s,
        StoreError::RevisionConflict { .. }
            | StoreError::DeviceKeyConflict { .. }
            | StoreError::MissingAttachment { .. }
            | StoreError::Ledger(_)
    )
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<StoreError>() {
            Ok(se) => se.into(),
            Err(e) => Failure {
                code: 1,
                kind: "usage".into(),
                message: format!("{e:#}"),
            },
        }
    }
}

pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        kind: "usage".into(),
        message: message.into(),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json {
                let v = serde_json::json!({ "error": { "code": f.kind, "message": f.message } });
                eprintln!("{v}");
            } else {
                eprintln!("vigil: error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

fn default_vault() -> Result<PathBuf, Failure> {
    dirs::data_dir()
        .map(|d| d.join("vigil").join("vault"))
        .ok_or_else(|| usage("no data directory on this system; pass --vault DIR"))
}

/// Reads passphrases from a file, standard input or the terminal.
struct Passphrases {
    file: Option<PathBuf>,
}

impl Passphrases {
    fn read_line_from(path: &Path) -> Result<Passphrase, Failure> {
        let mut line = String::new();
        if path == Path::new("-") {
            std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                usage(format!(
                    "cannot read the passphrase from standard input: {e}"
                ))
            })?;
        } else {
            let f = File::open(path).map_err(|e| {
                usage(format!(
                    "cannot read the passphrase file {}: {e}",
                    path.display()
                ))
            })?;
            std::io::BufReader::new(f)
                .read_line(&mut line)
                .map_err(|e| {
                    usage(format!(
                        "cannot read the passphrase file {}: {e}",
                        path.display()
                    ))
                })?;
        }
        let trimmed_len = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(trimmed_len);
        if line.is_empty() {
            return Err(usage("the passphrase is empty"));
        }
        Ok(Passphrase::new(line))
    }

    fn prompt(label: &str) -> Result<Passphrase, Failure> {
        let p = rpassword::prompt_password(label).map_err(|e| {
            usage(format!(
                "cannot ask for the passphrase: {e}; use --passphrase-file"
            ))
        })?;
        if p.is_empty() {
            return Err(usage("the passphrase is empty"));
        }
        Ok(Passphrase::new(p))
    }

    fn existing(&self) -> Result<Passphrase, Failure> {
        match &self.file {
            Some(f) => Self::read_line_from(f),
            None => Self::prompt("Vault passphrase: "),
        }
    }

    fn new_one(file: Option<&Path>) -> Result<Passphrase, Failure> {
        if let Some(f) = file {
            return Self::read_line_from(f);
        }
        eprintln!(
            "Choose a passphrase of several words. If it is lost, nothing in the vault can be recovered."
        );
        let a = Self::prompt("New passphrase: ")?;
        let b = Self::prompt("Repeat it: ")?;
        if a.expose_str() != b.expose_str() {
            return Err(usage("the two passphrases differ; nothing was changed"));
        }
        Ok(a)
    }
}

fn kdf_choice(k: KdfArg) -> KdfChoice {
    match k {
        KdfArg::Calibrate => KdfChoice::Calibrate,
        KdfArg::Minimum => KdfChoice::Params(KdfParams::FLOOR),
    }
}

pub(crate) fn parse_incident_id(s: &str) -> Result<IncidentId, Failure> {
    s.parse()
        .map_err(|_| usage(format!("'{s}' is not an incident id (expected a UUID)")))
}

fn run(cli: Cli) -> Result<(), Failure> {
    let dir = match cli.vault.clone() {
        Some(d) => d,
        None => default_vault()?,
    };
    let pass = Passphrases {
        file: cli.passphrase_file.clone(),
    };
    let out = output::Printer { json: cli.json };
    let clock = Arc::new(SystemClock);
    let open = || -> Result<Vault, Failure> {
        let p = pass.existing()?;
        Ok(Vault::open(&dir, &p, clock.clone())?)
    };
    match cli.command {
        Command::Init { kdf } => {
            let p = Passphrases::new_one(pass.file.as_deref())?;
            let vault = Vault::create(&dir, &p, kdf_choice(kdf), clock.clone())?;
            let device = vault.device();
            vault.close()?;
            out.created_vault(&dir, &device.to_string());
        }
        Command::Demo { kdf } => {
            let p = Passphrases::new_one(pass.file.as_deref())?;
            let demo_clock = Arc::new(vigil_store::FixedClock::new(demo::start_time()));
            let mut vault = Vault::create(&dir, &p, kdf_choice(kdf), demo_clock.clone())?;
            let id = demo::populate(&mut vault, &demo_clock)?;
            vault.close()?;
            out.id("incident", &id.to_string());
        }
        Command::New { fields } => {
            let mut vault = open()?;
            let now = vault.now();
            let incident = fields.apply(Incident::new(IncidentId::new(), String::new(), now))?;
            vault.create_incident(&incident)?;
            vault.close()?;
            out.id("incident", &incident.id.to_string());
        }
        Command::Log { id, text, flag } => {
            let incident = parse_incident_id(&id)?;
            let mut vault = open()?;
            if text == "-" {
                let stdin = std::io::stdin();
                let mut line = String::new();
                let mut stdout = std::io::stdout().lock();
                loop {
                    line.clear();
                    let n = stdin
                        .lock()
                        .read_line(&mut line)
                        .context("cannot read standard input")?;
                    if n == 0 {
                        break;
                    }
                    let entry_text = line.trim_end_matches(['\n', '\r']);
                    if entry_text.trim().is_empty() {
                        continue;
                    }
                    let entry = vault.append_log(incident, entry_text, flag)?;
                    // Printed only once the entry is committed and on disk.
                    out.entry_to(&mut stdout, &entry)
                        .context("cannot write to standard output")?;
                    stdout.flush().context("cannot write to standard output")?;
                }
            } else {
                let entry = vault.append_log(incident, &text, flag)?;
                out.entry_to(&mut std::io::stdout().lock(), &entry)
                    .context("cannot write to standard output")?;
            }
            vault.close()?;
        }
        Command::Attach {
            id,
            file,
            media_type,
        } => {
            let incident = parse_incident_id(&id)?;
            let f = File::open(&file)
                .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                return Err(usage(format!("{} is a folder, not a file", file.display())));
            }
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("attachment")
                .to_owned();
            let media =
                media_type.unwrap_or_else(|| vigil_model::media_type_for_name(&name).to_owned());
            let mut vault = open()?;
            let meta =
                vault.add_attachment(incident, &name, &media, std::io::BufReader::new(f), None)?;
            vault.close()?;
            out.attachment(&meta);
        }
        Command::Extract {
            attachment_id,
            file,
        } => {
            let id: AttachmentId = attachment_id
                .parse()
                .map_err(|_| usage(format!("'{attachment_id}' is not an attachment id")))?;
            if file.exists() {
                return Err(usage(format!(
                    "{} already exists; choose a new file name",
                    file.display()
                )));
            }
            let vault = open()?;
            let meta = extract_atomic(&vault, id, &file)?;
            vault.close()?;
            out.attachment(&meta);
        }
        Command::List {
            status,
            limit,
            offset,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some("draft") => Some(IncidentStatus::Draft),
                Some("sealed") => Some(IncidentStatus::Sealed),
                Some(other) => {
                    return Err(usage(format!(
                        "unknown status '{other}': use draft or sealed"
                    )));
                }
            };
            let vault = open()?;
            let rows = vault.list_incidents(&ListQuery {
                status,
                limit,
                offset,
                ..ListQuery::default()
            })?;
            vault.close()?;
            out.list(&rows);
        }
        Command::Show { id } => {
            let incident = parse_incident_id(&id)?;
            let vault = open()?;
            let inc = vault.incident(incident)?;
            let log = vault.log_entries(incident)?;
            let atts = vault.attachments(incident)?;
            let lineage = vault.lineage(incident)?;
            let lang = output::lang();
            out.show(&inc, &log, &atts, &lineage, vault.thesaurus(), &lang);
            vault.close()?;
        }
        Command::History { id } => {
            let incident = parse_incident_id(&id)?;
            let vault = open()?;
            let title = vault.incident(incident)?.title;
            let p = vault.provenance(incident)?;
            vault.close()?;
            if cli.json {
                println!("{}", serde_json::to_string(&p).unwrap_or_default());
            } else {
                print!("{}", describe_provenance(&title, &p));
            }
        }
        Command::Search { query, limit } => {
            let vault = open()?;
            let hits = vault.search(&query, limit)?;
            vault.close()?;
            out.search(&hits);
        }
        Command::Seal { id } => {
            let incident = parse_incident_id(&id)?;
            let mut vault = open()?;
            let rev = vault.seal_now(incident)?;
            vault.close()?;
            print_revision(&rev, cli.json);
        }
        Command::Amend { id, fields } => {
            if fields.is_empty() {
                return Err(usage(
                    "say what the amendment changes: --title, --summary or --from FILE.json (new \
                     running-log entries and attachments are sealed by `vigil seal ID`)",
                ));
            }
            let incident = parse_incident_id(&id)?;
            let mut vault = open()?;
            let current = vault.incident(incident)?;
            if current.is_sealed() && vault.draft(incident)?.is_some() {
                return Err(usage(
                    "an edit of this report made in the app is waiting to be sealed; seal it \
                     first (Seal amendment in the app, or `vigil seal ID`), then amend",
                ));
            }
            let next = fields.apply(current)?;
            let rev = vault.amend(incident, &next)?;
            vault.close()?;
            print_revision(&rev, cli.json);
        }
        Command::Org { action } => org::run(action, &out, open)?,
        Command::Quarantine { action } => quarantine::run(action, &out, open)?,
        Command::Export {
            to,
            ids,
            unsent,
            all,
        } => {
            let selection = if all {
                vigil_exchange::Selection::All
            } else if unsent || ids.is_empty() {
                vigil_exchange::Selection::Unsent
            } else {
                vigil_exchange::Selection::Incidents(
                    ids.iter()
                        .map(|i| parse_incident_id(i))
                        .collect::<Result<_, _>>()?,
                )
            };
            let mut vault = open()?;
            let mut writing = TerminalProgress::new("Writing the bundle");
            let mut checking = TerminalProgress::new("Reading it back");
            let report = vigil_exchange::export_with_progress(
                &mut vault,
                &selection,
                &to,
                &mut |phase, d, t| match phase {
                    vigil_exchange::ExportPhase::Writing => writing.show(d, t),
                    vigil_exchange::ExportPhase::Checking => {
                        writing.finish("done.");
                        checking.show(d, t)
                    }
                },
            );
            let outcome = if report.is_ok() { "done." } else { "failed." };
            // Still writing when it failed: the writing line says so (it said "done." if the
            // checking had begun).
            writing.finish(outcome);
            checking.finish(if report.is_ok() {
                "verified."
            } else {
                "failed."
            });
            let report = report?;
            vault.close()?;
            if cli.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                println!(
                    "Wrote {} ({} revisions, {} attachments, {} bytes), read back and verified.",
                    report.path.display(),
                    report.revisions,
                    report.attachments,
                    report.bytes
                );
                if report.left > 0 {
                    println!(
                        "{} more revisions did not fit in one bundle: export again to write them.",
                        report.left
                    );
                }
            }
        }
        Command::Import { file } => {
            let mut vault = open()?;
            let mut progress = TerminalProgress::new("Checking the bundle");
            let report = vigil_exchange::import_with_progress(&mut vault, &file, &mut |d, t| {
                progress.show(d, t)
            });
            progress.finish(if report.is_ok() { "done." } else { "refused." });
            let report = report?;
            vault.close()?;
            quarantine::print_import(&report, cli.json);
            if report.quarantined.is_some() {
                return Err(Failure {
                    code: 4,
                    kind: "quarantined".into(),
                    message:
                        "nothing was applied: the bundle is kept in quarantine until a person \
                              accepts or drops it (vigil quarantine list)"
                            .into(),
                });
            }
        }
        Command::Verify { file } => {
            let proof = if file.is_dir() {
                vigil_exchange::verify_extracted(&file)?
            } else {
                let vault = open()?;
                let proof = vigil_exchange::verify_with_vault(&vault, &file)?;
                vault.close()?;
                proof
            };
            if cli.json {
                println!("{}", serde_json::to_string(&proof).unwrap_or_default());
            } else {
                print!("{}", proof.describe());
            }
        }
        Command::Passwd {
            new_passphrase_file,
        } => {
            let old = pass.existing()?;
            let new = Passphrases::new_one(new_passphrase_file.as_deref())?;
            Vault::change_passphrase(&dir, &old, &new)?;
            out.message("passphrase changed");
        }
    }
    Ok(())
}

/// A percentage on standard error while a long task runs, when that is a terminal.
struct TerminalProgress {
    what: &'static str,
    tty: bool,
    shown: u64,
}

impl TerminalProgress {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            shown: u64::MAX,
        }
    }

    fn show(&mut self, done: u64, total: u64) {
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if self.tty && pct != self.shown {
            self.shown = pct;
            eprint!("\r{}... {pct:3}%", self.what);
        }
    }

    /// Ends the line with `outcome` (once; nothing if nothing was shown).
    fn finish(&mut self, outcome: &str) {
        if self.tty && self.shown != u64::MAX {
            eprintln!("\r{}... {outcome}", self.what);
        }
        self.shown = u64::MAX;
    }
}

/// A sealed revision: its id, or with --json what identifies and proves it.
fn print_revision(rev: &vigil_store::Revision, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "id": rev.id.to_string(),
                "incident": rev.incident,
                "hash": rev.hash,
                "device": rev.device,
                "device_seq": rev.device_seq,
                "amends": rev.amends.map(|a| a.to_string()),
            })
        );
    } else {
        println!("{}", rev.id);
    }
}

/// A record's provenance for people: what was sealed, by which key, and where it has been.
fn describe_provenance(title: &str, p: &vigil_store::Provenance) -> String {
    let ok = |v: bool| if v { "verified" } else { "DOES NOT VERIFY" };
    let mut s = format!("Incident {} {title:?}\n", p.incident);
    if p.revisions.is_empty() {
        s.push_str("Not sealed: no signed revision yet.\n");
    } else {
        s.push_str("Sealed revisions (signature checked again now):\n");
    }
    if p.heads.len() > 1 {
        s.push_str(&format!(
            "CONFLICT: {} versions amend the same revision and none is chosen; it is shown as \
             revision {} until a person settles it. The versions:\n",
            p.heads.len(),
            p.shown
                .map(|r| r.to_string())
                .unwrap_or_else(|| "(none shared)".into())
        ));
        for h in &p.heads {
            s.push_str(&format!("  {h}\n"));
        }
    }
    for r in &p.revisions {
        s.push_str(&format!(
            "  {} sealed {} by device {} (#{}), sha256 {}: {}\n      device key {}\n",
            r.id,
            r.sealed_at.to_rfc3339(),
            r.device,
            r.device_seq,
            r.hash,
            ok(r.verified),
            vigil_crypto::sign::grouped_hex(&r.device_key),
        ));
        if let Some(a) = r.amends {
            s.push_str(&format!("      amends {a}\n"));
        }
    }
    s.push_str("Custody (each device's signed log):\n");
    for e in &p.events {
        let what = match e.event {
            vigil_store::CustodyKind::Created => "created".to_owned(),
            vigil_store::CustodyKind::Sealed => format!("sealed revision {}", e.subject),
            vigil_store::CustodyKind::Exported => format!("exported in bundle {}", e.subject),
            vigil_store::CustodyKind::Imported => format!("imported from bundle {}", e.subject),
        };
        let place = if e.this_device {
            "this vault".to_owned()
        } else {
            format!("device {}", e.device)
        };
        s.push_str(&format!(
            "  {}  {what}, on {place}: {}\n",
            e.at.to_rfc3339(),
            ok(e.verified)
        ));
    }
    s
}

/// Writes the attachment to a private temporary file beside `dest`, checks it, and only then
/// moves it into place; on any failure nothing is left behind.
fn extract_atomic(
    vault: &Vault,
    id: AttachmentId,
    dest: &Path,
) -> Result<vigil_model::AttachmentMeta, Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".vigil-extract-{}.part", std::process::id()));
    let f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| usage(format!("cannot write in {}: {e}", parent.display())))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let result = vault
        .read_attachment(id, &mut w)
        .map_err(Failure::from)
        .and_then(|meta| {
            let f = w
                .into_inner()
                .map_err(|e| usage(format!("cannot write {}: {e}", dest.display())))?;
            f.sync_all()
                .map_err(|e| usage(format!("cannot write {}: {e}", dest.display())))?;
            fs::rename(&tmp, dest)
                .map_err(|e| usage(format!("cannot write {}: {e}", dest.display())))?;
            Ok(meta)
        });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
