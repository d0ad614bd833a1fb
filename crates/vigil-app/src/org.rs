//! The organisation, as the window shows it: HQ creates one and hands its profile to monitors
//! on a USB stick; a monitor joins by choosing that file. Both see the keys to compare by phone.

use std::path::{Path, PathBuf};

use serde::Serialize;
use vigil_crypto::sign::grouped_hex;
use vigil_store::{OrgProfile, StoreError, Vault};

use crate::{AppError, Session};

/// The largest file accepted as an org profile (a real one is about 1 KiB).
const MAX_PROFILE: u64 = 1024 * 1024;

/// This vault's place in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    /// Not in an organisation yet: it can create one (HQ) or join one (monitor).
    None,
    /// A monitor's vault: it exports bundles to the organisation's HQ.
    Member,
    /// The organisation's HQ vault: it holds the readers' keys and imports bundles.
    Hq,
}

/// What the organisation dialog shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct OrgView {
    /// This vault's role.
    pub role: OrgRole,
    /// The organisation's name.
    pub name: Option<String>,
    /// Its id.
    pub org_id: Option<String>,
    /// The organisation's signing key, in groups of four hex digits, for a monitor to compare
    /// with HQ's by phone before trusting a profile.
    pub org_key: Option<String>,
    /// How many HQ readers every bundle is encrypted to.
    pub readers: u32,
    /// This device's id.
    pub device_id: String,
    /// This device's signing key, in groups of four hex digits: `vigil verify` at HQ prints the
    /// same key for every bundle this device made.
    pub device_key: String,
    /// The profile file just written (after creating or saving one).
    pub profile_path: Option<String>,
    /// After joining: `joined`, `unchanged` (it was already this profile) or `updated`.
    pub joined: Option<String>,
}

fn view(v: &Vault) -> Result<OrgView, AppError> {
    let profile = v.org_profile()?;
    let role = match &profile {
        None => OrgRole::None,
        Some(_) => match v.org_keys() {
            Ok(_) => OrgRole::Hq,
            Err(StoreError::NotHq) => OrgRole::Member,
            Err(e) => return Err(e.into()),
        },
    };
    let device = v.device_public();
    Ok(OrgView {
        role,
        name: profile.as_ref().map(|p| p.name.clone()),
        org_id: profile.as_ref().map(|p| p.org_id.to_string()),
        org_key: profile.as_ref().map(|p| grouped_hex(&p.org_sign_pk)),
        readers: profile.as_ref().map_or(0, |p| p.hq_recipients.len() as u32),
        device_id: v.device().to_string(),
        device_key: grouped_hex(&device.sign_pk),
        profile_path: None,
        joined: None,
    })
}

/// A file name for `name`'s profile in `folder` that does not exist yet:
/// `<name> - organisation profile.vigil-org`, then ` (2)`, ` (3)`...
fn profile_file(folder: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let safe = safe.trim();
    let base = if safe.is_empty() { "Vigil" } else { safe };
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!(" ({n})")
        };
        let path = folder.join(format!("{base} - organisation profile{suffix}.vigil-org"));
        if !path.exists() {
            return path;
        }
        n += 1;
    }
}

fn require_folder(folder: &Path) -> Result<(), AppError> {
    if folder.is_dir() {
        Ok(())
    } else {
        Err(AppError::io(&format!(
            "{} is not a folder",
            folder.display()
        )))
    }
}

/// Writes `profile` into `folder` (temporary name, fsync, rename) and says where.
fn write_profile(folder: &Path, profile: &OrgProfile) -> Result<String, AppError> {
    let path = profile_file(folder, &profile.name);
    vigil_store::write_atomic(&path, profile.to_json_pretty().as_bytes())?;
    Ok(path.display().to_string())
}

impl Session {
    /// The organisation this vault belongs to, and this device's keys.
    pub fn org(&self) -> Result<OrgView, AppError> {
        self.with_vault(view)
    }

    /// Creates an organisation with this vault as its HQ (`readers` reader identities, 1–16),
    /// and writes its profile into `folder` for monitors to join.
    pub fn create_org(&self, name: &str, readers: u32, folder: &Path) -> Result<OrgView, AppError> {
        require_folder(folder)?;
        if !(1..=16).contains(&readers) {
            return Err(AppError::invalid_field(
                "readers",
                "invalid",
                "between 1 and 16 HQ readers".into(),
            ));
        }
        self.with_vault_mut(|v| {
            let profile = v.create_org(name, readers as usize)?;
            let path = write_profile(folder, &profile)?;
            Ok(OrgView {
                profile_path: Some(path),
                ..view(v)?
            })
        })
    }

    /// Writes the organisation's profile into `folder` again, to hand to more monitors.
    pub fn save_org_profile(&self, folder: &Path) -> Result<OrgView, AppError> {
        require_folder(folder)?;
        self.with_vault(|v| {
            let profile = v.org_profile()?.ok_or(StoreError::NoOrganisation)?;
            let path = write_profile(folder, &profile)?;
            Ok(OrgView {
                profile_path: Some(path),
                ..view(v)?
            })
        })
    }

    /// Joins the organisation whose signed profile is the file at `path`.
    pub fn join_org(&self, path: &Path) -> Result<OrgView, AppError> {
        let size = std::fs::metadata(path)
            .map_err(|e| AppError::io(&format!("{}: {e}", path.display())))?
            .len();
        if size > MAX_PROFILE {
            return Err(StoreError::BadProfile(format!(
                "{} is {size} bytes, far larger than an organisation profile",
                path.display()
            ))
            .into());
        }
        let bytes =
            std::fs::read(path).map_err(|e| AppError::io(&format!("{}: {e}", path.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| StoreError::BadProfile("this file is not text".into()))?;
        self.with_vault_mut(|v| {
            let (_, outcome) = v.join_org(&text)?;
            let joined = serde_json::to_value(outcome)
                .ok()
                .and_then(|o| o.as_str().map(str::to_owned));
            Ok(OrgView { joined, ..view(v)? })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use vigil_crypto::kdf::KdfParams;
    use vigil_store::{KdfChoice, SystemClock};

    use super::*;

    fn session(dir: &Path) -> Session {
        let s = Session::new(
            dir.to_path_buf(),
            Arc::new(SystemClock),
            KdfChoice::Params(KdfParams::FLOOR),
            None,
        );
        s.create_vault("correct horse battery staple".into())
            .unwrap();
        s
    }

    #[test]
    fn hq_creates_a_monitor_joins_and_both_see_the_same_organisation() {
        let tmp = tempfile::tempdir().unwrap();
        let usb = tmp.path().join("usb");
        std::fs::create_dir(&usb).unwrap();
        let hq = session(&tmp.path().join("hq"));
        let monitor = session(&tmp.path().join("monitor"));
        assert_eq!(hq.org().unwrap().role, OrgRole::None);
        assert_eq!(hq.create_org(" ", 1, &usb).unwrap_err().code, "invalid");
        assert_eq!(hq.create_org("HQ", 0, &usb).unwrap_err().code, "invalid");
        assert_eq!(
            hq.create_org("HQ", 1, &tmp.path().join("no such folder"))
                .unwrap_err()
                .code,
            "io"
        );
        assert_eq!(hq.org().unwrap().role, OrgRole::None, "nothing was created");

        let created = hq.create_org("Бишкекский центр", 2, &usb).unwrap();
        assert_eq!(created.role, OrgRole::Hq);
        assert_eq!(created.readers, 2);
        let profile = PathBuf::from(created.profile_path.clone().unwrap());
        assert_eq!(profile.parent(), Some(usb.as_path()));
        assert_eq!(
            hq.create_org("Again", 1, &usb).unwrap_err().code,
            "already_in_org"
        );

        let joined = monitor.join_org(&profile).unwrap();
        assert_eq!(joined.role, OrgRole::Member);
        assert_eq!(joined.joined.as_deref(), Some("joined"));
        assert_eq!(joined.name.as_deref(), Some("Бишкекский центр"));
        assert_eq!(joined.org_key, created.org_key);
        assert_eq!(joined.org_id, created.org_id);
        assert_ne!(joined.device_key, created.device_key);
        let again = monitor.join_org(&profile).unwrap();
        assert_eq!(again.joined.as_deref(), Some("unchanged"));

        // HQ can write the profile again for more monitors; it never overwrites a file.
        let second = hq.save_org_profile(&usb).unwrap();
        assert_ne!(second.profile_path, created.profile_path);
        assert_eq!(
            std::fs::read(second.profile_path.unwrap()).unwrap(),
            std::fs::read(&profile).unwrap()
        );
    }

    #[test]
    fn bad_profiles_are_refused_and_change_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let monitor = session(&tmp.path().join("monitor"));
        let cases: [(&str, Vec<u8>, &str); 4] = [
            ("binary", vec![0xff, 0xfe, 0x00], "bad_profile"),
            (
                "json",
                b"{\"format\":\"something\"}".to_vec(),
                "bad_profile",
            ),
            ("huge", vec![b' '; 2 * 1024 * 1024], "bad_profile"),
            ("bundle", b"age-encryption.org/v1\n".to_vec(), "bad_profile"),
        ];
        for (name, bytes, code) in cases {
            let path = tmp.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(monitor.join_org(&path).unwrap_err().code, code, "{name}");
        }
        assert_eq!(
            monitor
                .join_org(&tmp.path().join("missing"))
                .unwrap_err()
                .code,
            "io"
        );
        // A profile whose signature does not match its content.
        let hq = session(&tmp.path().join("hq"));
        let created = hq.create_org("HQ", 1, tmp.path()).unwrap();
        let text = std::fs::read_to_string(created.profile_path.unwrap()).unwrap();
        let forged = tmp.path().join("forged");
        std::fs::write(&forged, text.replace("\"HQ\"", "\"Not HQ\"")).unwrap();
        assert_eq!(monitor.join_org(&forged).unwrap_err().code, "bad_signature");
        assert_eq!(monitor.org().unwrap().role, OrgRole::None);
        assert_eq!(
            monitor.save_org_profile(tmp.path()).unwrap_err().code,
            "no_organisation"
        );
    }

    #[test]
    fn profile_files_never_overwrite_and_stay_in_their_folder() {
        let dir = tempfile::tempdir().unwrap();
        let a = profile_file(dir.path(), "Правозащитный центр / HQ");
        assert_eq!(a.parent(), Some(dir.path()));
        assert_eq!(
            a.file_name().unwrap().to_str().unwrap(),
            "Правозащитный центр - HQ - organisation profile.vigil-org"
        );
        std::fs::write(&a, b"x").unwrap();
        let b = profile_file(dir.path(), "Правозащитный центр / HQ");
        assert!(b.to_str().unwrap().ends_with(" (2).vigil-org"));
        let dots = profile_file(dir.path(), "../..");
        assert_eq!(dots.parent(), Some(dir.path()));
    }
}
