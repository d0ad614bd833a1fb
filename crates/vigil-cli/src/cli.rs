//! The command line: every command and option `vigil` takes (clap definitions only; what each
//! command does is in `commands/`).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use vigil_crypto::kdf::KdfParams;
use vigil_store::KdfChoice;

#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about = "Record human-rights incidents in an encrypted local vault"
)]
pub(crate) struct Cli {
    /// The vault folder (default: the platform data directory, e.g. ~/.local/share/vigil/vault).
    #[arg(long, global = true, env = "VIGIL_VAULT", value_name = "DIR")]
    pub(crate) vault: Option<PathBuf>,
    /// Read the passphrase from the first line of FILE ('-' = standard input) instead of asking.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum KdfArg {
    /// Calibrate the key derivation on this machine towards 0.5-1 s per unlock.
    Calibrate,
    /// The minimum parameters (Argon2id m=64 MiB, t=3, p=4): for slow machines and tests.
    Minimum,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a new, empty vault.
    Init {
        /// How expensive unlocking is made.
        #[arg(long, value_enum, default_value = "calibrate")]
        kdf: KdfArg,
    },
    /// Create an incident and print its id. Without --title or --from, the title (then an
    /// optional summary) is asked for, or read from standard input, one per line.
    New {
        #[command(flatten)]
        fields: ReportFields,
    },
    /// Append to an incident's running log. Without TEXT (or with '-'), entries are typed or
    /// piped in, one per line, each committed and its id printed as soon as it is on disk
    /// (with --corrects or --happened-at, one entry).
    Log {
        /// The incident.
        id: String,
        /// The entry text. Better left out: text on the command line stays in the shell's
        /// history and is visible to other programs while vigil runs.
        text: Option<String>,
        /// Flag the entry as a key moment.
        #[arg(long)]
        flag: bool,
        /// The entry corrects an earlier one, named by its place in the log (as `show` prints
        /// it) or its id. Both are kept; the earlier one is shown struck through.
        #[arg(long, value_name = "ENTRY")]
        corrects: Option<String>,
        /// When it happened, if earlier than now: HH:MM (the latest such time, today or
        /// yesterday) or an RFC 3339 time.
        #[arg(long, value_name = "TIME")]
        happened_at: Option<String>,
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
    /// Change the vault passphrase. The database key stays the same, so an old copy of the
    /// key header still opens the vault with the old passphrase: if a passphrase was seen or
    /// given up, also run `vigil rekey`.
    Passwd {
        /// Read the new passphrase from FILE instead of asking.
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Give the vault a fresh database key and a key header under a new passphrase, so that an
    /// old copy of the key header (with a passphrase that was seen or given up) opens nothing
    /// written from now on: what to do after a checkpoint.
    Rekey {
        /// Read the new passphrase from FILE instead of asking.
        #[arg(long, value_name = "FILE", conflicts_with = "keep_passphrase")]
        new_passphrase_file: Option<PathBuf>,
        /// Keep the current passphrase (only a copy of the key header taken with another
        /// passphrase is then shut out).
        #[arg(long)]
        keep_passphrase: bool,
    },
    /// The duress passphrase: a second passphrase that opens a separate decoy vault (and, when
    /// so set, destroys this vault's key as it does). Off until set; see docs/threat-model.md
    /// for what it protects against and the legal risk of destroying records under coercion.
    Duress {
        #[command(subcommand)]
        action: DuressAction,
    },
    /// Quick delete: destroy the vault's key at once (nothing in it can be opened again, by
    /// anyone, whatever the passphrase), then remove its files. No passphrase needed.
    Wipe {
        /// Do not ask first (for scripts).
        #[arg(long)]
        yes: bool,
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
        /// Pad the bundle to its size bucket (at least 1 MiB, at most about 12 % more), so
        /// that its size tells less about what it carries. HQ needs Vigil with bundle format
        /// 3 to open it.
        #[arg(long)]
        pad: bool,
        /// The largest bundle file to write, such as `100M` or `3900MiB` (K, M, G count 1024;
        /// KB, MB, GB count 1000). Records that do not fit go into further bundles beside it
        /// (`NAME-2.vigil`...). The drive's own limit (FAT32: 4 GiB less one byte) is always
        /// kept.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_file_size: Option<u64>,
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
        action: OrgCommand,
    },
    /// Bundles HQ keeps unapplied because it cannot trust their device yet: list them, accept
    /// them once a person compared the device's key, or drop them.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineCommand,
    },
    /// Sync with the organisation's server: send every sealed revision not yet held there
    /// (checking each receipt against the key the organisation pinned), then receive HQ's
    /// acknowledgements and a newer profile; HQ also imports what monitors sent (checked like a
    /// bundle) and acknowledges it. Exits 0 when everything sealed here is held by the server.
    Sync {
        /// Send everything through this SOCKS5 proxy (Tor: socks5h://127.0.0.1:9050).
        #[arg(long, value_name = "URL")]
        proxy: Option<String>,
        /// Once HQ has acknowledged an attachment, remove its content from this laptop (frees
        /// space; it can then no longer be opened or exported here; HQ holds it).
        #[arg(long)]
        free_delivered: bool,
        /// Revisions per item at most (1 to 500; for tests).
        #[arg(long, hide = true)]
        item_revisions: Option<usize>,
        /// Keep going until stopped (Ctrl+C or SIGTERM, safe at any moment): probe the server
        /// with growing waits while it cannot be reached, sync as soon as it answers, then
        /// again every --interval seconds.
        #[arg(long)]
        watch: bool,
        /// With --watch: seconds between passes while the server answers.
        #[arg(long, default_value_t = 30, requires = "watch")]
        interval: u64,
        /// With --watch: the shortest wait between probes, in seconds (for tests).
        #[arg(long, default_value_t = 1, requires = "watch", hide = true)]
        probe_min: u64,
        /// With --watch: the longest wait between probes, in seconds.
        #[arg(long, default_value_t = 60, requires = "watch")]
        probe_max: u64,
    },
    /// Where records are on their way to HQ: with an incident, that incident (only on this
    /// laptop, sent, held by the server, verified by HQ); without, what is still to send and
    /// the last sync's outcome.
    Status {
        /// The incident.
        id: Option<String>,
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
pub(crate) struct ReportFields {
    /// Title (better left out or given with --from: text on the command line stays in the
    /// shell's history).
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// Summary (as for --title).
    #[arg(long)]
    pub(crate) summary: Option<String>,
    /// The whole report from a JSON file (see docs); --title and --summary override it.
    #[arg(long, value_name = "FILE.json")]
    pub(crate) from: Option<PathBuf>,
}

impl KdfArg {
    /// The key derivation a new vault gets.
    pub(crate) fn choice(self) -> KdfChoice {
        match self {
            KdfArg::Calibrate => KdfChoice::Calibrate,
            KdfArg::Minimum => KdfChoice::Params(KdfParams::FLOOR),
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum OrgCommand {
    /// Create an organisation with this vault as its HQ, and write the signed profile that
    /// monitors join with.
    Create {
        /// The organisation's name.
        #[arg(long)]
        name: String,
        /// Where to write the org profile (must not exist).
        #[arg(long, value_name = "FILE")]
        profile_out: PathBuf,
        /// How many HQ reader identities to make.
        #[arg(long, default_value_t = 1)]
        readers: usize,
    },
    /// Join the organisation of a signed org profile; with --invite, enrol this device with an
    /// invitation from HQ in the same step (HQ keeps the bundles of devices it did not enrol in
    /// quarantine).
    Join {
        /// The org profile file from HQ.
        profile: PathBuf,
        /// The invitation file HQ made for this device (`vigil org invite`).
        #[arg(long, value_name = "FILE")]
        invite: Option<PathBuf>,
    },
    /// HQ only: write a single-use invitation for one device, signed by the organisation. It
    /// is a secret: hand it over in person or on a stick, never over a network.
    Invite {
        /// The device's name, as HQ will list it (e.g. "Aigul's laptop").
        #[arg(long)]
        name: String,
        /// For how many days it may be used.
        #[arg(long, default_value_t = 14)]
        expires: u32,
        /// Where to write it (must not exist; created with mode 0600).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// HQ only: the devices HQ trusts (enrolled or accepted), with their keys to compare by
    /// phone, and the invitations not used yet.
    Devices,
    /// HQ only: revoke a device (its id, or the start of its key): revisions it seals from now
    /// on are refused; what it sealed before stays.
    Revoke {
        /// The device.
        device: String,
    },
    /// HQ only: hand an incident to another registered device, which may then amend it.
    Grant {
        /// The incident.
        incident: String,
        /// The device (its id, or the start of its key).
        device: String,
    },
    /// HQ only: name the organisation's sync server in a new signed version of the profile,
    /// and write it for monitors (they take it with `vigil org join`, or by sync).
    Server {
        /// The server's address: https://host:port (plain http only to 127.0.0.1, for tests).
        #[arg(long)]
        url: String,
        /// The server's TLS certificate (PEM, as given to `vigil-server --tls-cert`): its key is
        /// pinned. Required for https.
        #[arg(long, value_name = "CERT.pem")]
        pin_from: Option<PathBuf>,
        /// The server's receipt key, as `vigil-server admin key` prints it (64 hex digits).
        #[arg(long, value_name = "HEX")]
        receipt_key: String,
        /// Where to write the new profile (must not exist).
        #[arg(long, value_name = "FILE")]
        profile_out: PathBuf,
    },
    /// HQ only: write an HQ reader's age identity, for use with the standard age tool.
    Identity {
        /// Where to write it (must not exist; created with mode 0600).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Which HQ reader (from 1).
        #[arg(long, default_value_t = 1)]
        reader: usize,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum QuarantineCommand {
    /// The bundles kept in quarantine, with why and the device's key to compare by phone.
    List,
    /// A person compared the device's key: import everything it sent, exactly as an import
    /// would (each bundle is still checked, and refused if anything is wrong).
    Accept {
        /// The device: its id, or the start of its key (at least 8 hex digits).
        device: String,
    },
    /// Discard everything a device sent that is in quarantine.
    Drop {
        /// The device: its id, or the start of its key (at least 8 hex digits).
        device: String,
    },
}

/// What `vigil duress` does.
#[derive(Debug, Subcommand)]
pub enum DuressAction {
    /// Set the duress passphrase (asked twice, or read from --duress-passphrase-file). The
    /// decoy it opens starts empty: open it once with the duress passphrase and add a few
    /// ordinary notes. Setting the same duress passphrase again keeps the decoy and changes
    /// only --destroy-real.
    Set {
        /// Read the duress passphrase from FILE instead of asking.
        #[arg(long, value_name = "FILE")]
        duress_passphrase_file: Option<PathBuf>,
        /// Opening the decoy also destroys this vault's key, at once and for good.
        #[arg(long)]
        destroy_real: bool,
    },
    /// Remove the duress passphrase and destroy its decoy vault.
    Remove,
    /// Say whether a duress passphrase is set.
    Status,
}

/// A size such as `4096`, `100K`, `100M`, `3900MiB` or `4GB`: K, M, G (with or without `iB`)
/// count 1024, KB, MB, GB count 1000.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 100M or 3900MiB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => return Err(format!("unknown unit {other:?}: use K, M, G, KB, MB or GB")),
    };
    match n.checked_mul(factor) {
        Some(0) | None => Err(format!("{s:?} is not a usable file size")),
        Some(v) => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_are_read_with_binary_and_decimal_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("100K"), Ok(100 << 10));
        assert_eq!(parse_size("3900MiB"), Ok(3900 << 20));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("2500KB"), Ok(2_500_000));
        assert_eq!(parse_size("4GB"), Ok(4_000_000_000));
        for bad in ["", "0", "M", "12X", "-5M", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }
}
