//! `vigil-server admin`: what the operator does by hand. The server needs no secret of an
//! organisation: it registers one from its signed profile, and HQ pushes revocations.

use std::fmt::Write as _;
use std::path::Path;

use uuid::Uuid;

use crate::db::{Db, OrgRefused};

/// `org add PROFILE`: registers an organisation, or takes a newer profile signed by the same
/// key. Returns what to print.
pub async fn org_add(db: &Db, profile: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(profile)
        .map_err(|e| anyhow::anyhow!("could not read {}: {e}", profile.display()))?;
    match db.add_org(text).await {
        Ok((p, true)) => Ok(format!(
            "registered organisation {} ({})\n",
            p.name, p.org_id
        )),
        Ok((p, false)) => Ok(format!(
            "organisation {} ({}) was registered already; its profile is updated\n",
            p.name, p.org_id
        )),
        Err(OrgRefused::Invalid(e)) => Err(anyhow::anyhow!(
            "{} is not a genuine organisation profile: {e}; nothing was registered",
            profile.display()
        )),
        Err(e) => Err(anyhow::anyhow!("{e}; nothing was registered")),
    }
}

/// `org list`.
pub async fn org_list(db: &Db) -> anyhow::Result<String> {
    let orgs = db.orgs().await.map_err(|e| anyhow::anyhow!(e.message))?;
    let mut out = String::new();
    if orgs.is_empty() {
        out.push_str(
            "no organisation is registered; add one with `vigil-server admin org add PROFILE`\n",
        );
    }
    for o in orgs {
        let devices = db
            .devices(o.org)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        let _ = writeln!(
            out,
            "{}  {}  {} device{}  registered {}",
            o.org,
            o.profile.name,
            devices.len(),
            if devices.len() == 1 { "" } else { "s" },
            o.added_at
        );
    }
    Ok(out)
}

/// `devices ORG`.
pub async fn devices(db: &Db, org: &str) -> anyhow::Result<String> {
    let org: Uuid = org
        .parse()
        .map_err(|_| anyhow::anyhow!("{org:?} is not an organisation id"))?;
    let e = |e: crate::error::ApiError| anyhow::anyhow!(e.message);
    if db.org(org).await.map_err(e)?.is_none() {
        anyhow::bail!("organisation {org} is not registered with this server");
    }
    let mut out = String::new();
    for d in db.devices(org).await.map_err(e)? {
        let _ = writeln!(
            out,
            "{}  {:<7}  registered {}{}",
            d.device,
            d.role.as_str(),
            d.registered_at,
            d.revoked_at
                .map(|at| format!("  revoked {at}"))
                .unwrap_or_default()
        );
    }
    if out.is_empty() {
        out.push_str("no device has registered yet\n");
    }
    Ok(out)
}

/// `key`: the receipt key's public half, for the organisation's profile.
pub async fn key(db: &Db) -> anyhow::Result<String> {
    let key = db.server_key().await?;
    Ok(format!("{}\n", hex::encode(key.public())))
}
