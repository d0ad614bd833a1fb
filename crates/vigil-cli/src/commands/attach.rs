//! `vigil attach` and `vigil extract`: files in and out of the vault, streamed and checked.

use std::fs::{self, File};
use std::path::Path;

use vigil_model::AttachmentId;
use vigil_store::Vault;

use super::{Ctx, parse_incident_id};
use crate::error::{Failure, usage};

/// Attaches a file to an incident (encrypted, streamed).
pub(crate) fn attach(
    ctx: &Ctx,
    id: &str,
    file: &Path,
    media_type: Option<String>,
) -> Result<(), Failure> {
    let incident = parse_incident_id(id)?;
    let f = File::open(file).map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(usage(format!("{} is a folder, not a file", file.display())));
    }
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("attachment")
        .to_owned();
    let media = media_type.unwrap_or_else(|| vigil_model::media_type_for_name(&name).to_owned());
    let mut vault = ctx.open()?;
    let meta = vault.add_attachment(incident, &name, &media, std::io::BufReader::new(f), None)?;
    vault.close()?;
    ctx.out.attachment(&meta);
    Ok(())
}

/// Writes an attachment's original bytes to a new file, after checking them.
pub(crate) fn extract(ctx: &Ctx, attachment_id: &str, file: &Path) -> Result<(), Failure> {
    let id: AttachmentId = attachment_id
        .parse()
        .map_err(|_| usage(format!("'{attachment_id}' is not an attachment id")))?;
    if file.exists() {
        return Err(usage(format!(
            "{} already exists; choose a new file name",
            file.display()
        )));
    }
    let vault = ctx.open()?;
    let meta = extract_atomic(&vault, id, file)?;
    vault.close()?;
    ctx.out.attachment(&meta);
    Ok(())
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
