//! The organisation, as the window shows it: HQ creates one, and hands its profile and a
//! single-use invitation to each monitor on a USB stick; a monitor joins by choosing those
//! files. Both see the keys to compare by phone. HQ lists the devices it trusts and revokes
//! them.

use std::path::{Path, PathBuf};

use serde::Serialize;
use vigil_crypto::sign::grouped_hex;
use vigil_store::{DeviceTrust, OrgProfile, StoreError, Vault};

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
    /// A monitor's enrolment (with an invitation from HQ), if it has one: without it, HQ keeps
    /// this device's bundles in quarantine until a person accepts them.
    pub enrolment: Option<EnrolmentView>,
}

/// A monitor's enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct EnrolmentView {
    /// The name HQ's invitation gave this device.
    pub name: String,
    /// When it enrolled (RFC 3339).
    pub enrolled_at: String,
}

/// A device in HQ's register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DeviceRow {
    /// Its id.
    pub device: String,
    /// Its key, in groups of four hex digits.
    pub device_key: String,
    /// Its name.
    pub name: String,
    /// `enrolled` (with an invitation) or `accepted` (by a person, from quarantine).
    pub trust: String,
    /// When it enrolled (RFC 3339, its own clock), if it did.
    pub enrolled_at: Option<String>,
    /// When HQ last received something new from it (RFC 3339).
    pub last_seen: String,
    /// When it was revoked (RFC 3339).
    pub revoked_at: Option<String>,
}

/// An invitation not used yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct InvitationRow {
    /// The name it gives the device.
    pub name: String,
    /// Until when it may be used (RFC 3339).
    pub expires_at: String,
    /// Whether that time has passed.
    pub expired: bool,
}

/// HQ's devices and pending invitations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DevicesView {
    /// The devices HQ trusts, by name.
    pub devices: Vec<DeviceRow>,
    /// Invitations no device has used yet.
    pub invitations: Vec<InvitationRow>,
    /// The invitation file just written.
    pub invitation_path: Option<String>,
}

fn devices_view(v: &Vault) -> Result<DevicesView, AppError> {
    v.org_keys()?;
    let now = v.now();
    Ok(DevicesView {
        devices: v
            .devices()?
            .into_iter()
            .map(|d| DeviceRow {
                device: d.device.to_string(),
                device_key: grouped_hex(&d.sign_pk),
                name: d.name,
                trust: match d.trust {
                    DeviceTrust::Enrolled => "enrolled",
                    DeviceTrust::Accepted => "accepted",
                }
                .into(),
                enrolled_at: d.enrolled_at.map(|t| t.to_rfc3339()),
                last_seen: d.last_seen.to_rfc3339(),
                revoked_at: d.revoked_at.map(|t| t.to_rfc3339()),
            })
            .collect(),
        invitations: v
            .pending_invitations()?
            .into_iter()
            .map(|i| InvitationRow {
                name: i.name,
                expires_at: i.expires_at.to_rfc3339(),
                expired: i.expires_at < now,
            })
            .collect(),
        invitation_path: None,
    })
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
        enrolment: v.enrolment()?.map(|e| EnrolmentView {
            name: e.name,
            enrolled_at: e.enrolled_at.to_rfc3339(),
        }),
    })
}

/// A file name for `name`'s profile in `folder` that does not exist yet:
/// `<name> - organisation profile.vigil-org`, then ` (2)`, ` (3)`...
fn profile_file(folder: &Path, name: &str) -> PathBuf {
    new_file(folder, name, "organisation profile", "vigil-org")
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

/// A name for a file in `folder` that does not exist yet: `<name> - <what>.<ext>`, then
/// ` (2)`, ` (3)`...
fn new_file(folder: &Path, name: &str, what: &str, ext: &str) -> PathBuf {
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
        let path = folder.join(format!("{base} - {what}{suffix}.{ext}"));
        if !path.exists() {
            return path;
        }
        n += 1;
    }
}

/// Writes a secret file that must not exist yet (mode 0600, fsynced).
fn write_secret_new(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AppError::io(&format!("{}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| AppError::io(&format!("{}: {e}", path.display())))
}

/// Reads a small file a person chose (a profile, an invitation).
fn read_small(path: &Path, what: impl Fn(String) -> StoreError) -> Result<Vec<u8>, AppError> {
    let size = std::fs::metadata(path)
        .map_err(|e| AppError::io(&format!("{}: {e}", path.display())))?
        .len();
    if size > MAX_PROFILE {
        return Err(what(format!(
            "{} is {size} bytes, far larger than it should be",
            path.display()
        ))
        .into());
    }
    std::fs::read(path).map_err(|e| AppError::io(&format!("{}: {e}", path.display())))
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

    /// Joins the organisation whose signed profile is the file at `path`, enrolling with the
    /// invitation file at `invitation` if one is given (both checked before anything changes).
    pub fn join_org(&self, path: &Path, invitation: Option<&Path>) -> Result<OrgView, AppError> {
        let text = String::from_utf8(read_small(path, StoreError::BadProfile)?)
            .map_err(|_| StoreError::BadProfile("this file is not text".into()))?;
        let invitation = invitation
            .map(|p| {
                read_small(p, |d| {
                    vigil_ledger::LedgerError::malformed("the invitation", d).into()
                })
            })
            .transpose()?;
        self.with_vault_mut(|v| {
            let outcome = match &invitation {
                Some(bytes) => v.join_and_enrol(&text, bytes)?.1,
                None => v.join_org(&text)?.1,
            };
            let joined = serde_json::to_value(outcome)
                .ok()
                .and_then(|o| o.as_str().map(str::to_owned));
            Ok(OrgView { joined, ..view(v)? })
        })
    }

    /// HQ writes a single-use invitation for one device, named `name`, valid for `days` days,
    /// into `folder` (a USB stick to hand over in person). It never writes over a file.
    pub fn invite_device(
        &self,
        name: &str,
        days: u32,
        folder: &Path,
    ) -> Result<DevicesView, AppError> {
        require_folder(folder)?;
        self.with_vault_mut(|v| {
            let invitation = v.issue_invitation(name, days)?;
            let path = new_file(folder, name, "invitation", "vigil-invite");
            write_secret_new(&path, &invitation.expose_file_bytes())?;
            Ok(DevicesView {
                invitation_path: Some(path.display().to_string()),
                ..devices_view(v)?
            })
        })
    }

    /// HQ's devices and the invitations not used yet.
    pub fn devices(&self) -> Result<DevicesView, AppError> {
        self.with_vault(devices_view)
    }

    /// HQ revokes a device (its id, or the start of its key).
    pub fn revoke_device(&self, device: &str) -> Result<DevicesView, AppError> {
        self.with_vault_mut(|v| {
            v.revoke_device(device)?;
            devices_view(v)
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

        let joined = monitor.join_org(&profile, None).unwrap();
        assert_eq!(joined.role, OrgRole::Member);
        assert_eq!(joined.joined.as_deref(), Some("joined"));
        assert_eq!(joined.name.as_deref(), Some("Бишкекский центр"));
        assert_eq!(joined.org_key, created.org_key);
        assert_eq!(joined.org_id, created.org_id);
        assert_ne!(joined.device_key, created.device_key);
        let again = monitor.join_org(&profile, None).unwrap();
        assert_eq!(again.joined.as_deref(), Some("unchanged"));

        // HQ can write the profile again for more monitors; it never overwrites a file.
        let second = hq.save_org_profile(&usb).unwrap();
        assert_ne!(second.profile_path, created.profile_path);
        assert_eq!(
            std::fs::read(second.profile_path.unwrap()).unwrap(),
            std::fs::read(&profile).unwrap()
        );
    }

    /// HQ writes an invitation to a stick; the monitor joins and enrols with it; HQ lists the
    /// device once its first bundle arrives, and revokes it.
    #[test]
    fn hq_invites_a_monitor_enrols_and_hq_can_revoke_it() {
        let tmp = tempfile::tempdir().unwrap();
        let usb = tmp.path().join("usb");
        std::fs::create_dir(&usb).unwrap();
        let hq = session(&tmp.path().join("hq"));
        let monitor = session(&tmp.path().join("monitor"));
        assert_eq!(
            hq.invite_device("Aigul's laptop", 14, &usb)
                .unwrap_err()
                .code,
            "no_organisation"
        );
        let profile = PathBuf::from(hq.create_org("HQ", 1, &usb).unwrap().profile_path.unwrap());
        let invited = hq.invite_device("Aigul's laptop", 14, &usb).unwrap();
        let file = PathBuf::from(invited.invitation_path.clone().unwrap());
        assert_eq!(file.parent(), Some(usb.as_path()));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = hq.invite_device("Aigul's laptop", 14, &usb).unwrap();
        assert_ne!(
            again.invitation_path, invited.invitation_path,
            "never over a file"
        );
        assert_eq!(again.invitations.len(), 2);
        assert!(again.devices.is_empty());
        assert_eq!(
            hq.invite_device(" ", 14, &usb).unwrap_err().code,
            "record_malformed"
        );
        assert_eq!(hq.invite_device("x", 0, &usb).unwrap_err().code, "invalid");

        // A file that is not an invitation is refused, and nothing changes.
        assert_eq!(
            monitor.join_org(&profile, Some(&profile)).unwrap_err().code,
            "record_malformed"
        );
        assert_eq!(monitor.org().unwrap().role, OrgRole::None);
        let joined = monitor.join_org(&profile, Some(&file)).unwrap();
        assert_eq!(joined.role, OrgRole::Member);
        assert_eq!(joined.enrolment.as_ref().unwrap().name, "Aigul's laptop");
        assert_eq!(monitor.org().unwrap().enrolment, joined.enrolment);

        let incident = monitor.new_incident("Meeting broken up").unwrap();
        monitor.seal(&incident.id.to_string()).unwrap();
        let bundle = monitor.export_unsent(&usb, &mut |_, _, _| {}).unwrap().path;
        let imported = hq
            .import_bundle(Path::new(&bundle), &mut |_, _| {})
            .unwrap();
        assert_eq!(
            (imported.applied, imported.quarantined.is_none()),
            (1, true)
        );
        let devices = hq.devices().unwrap();
        assert_eq!(devices.devices.len(), 1);
        assert_eq!(devices.invitations.len(), 1, "one invitation is used now");
        let d = &devices.devices[0];
        assert_eq!(
            (d.name.as_str(), d.trust.as_str()),
            ("Aigul's laptop", "enrolled")
        );
        assert_eq!(d.device_key, joined.device_key);
        assert_eq!(d.revoked_at, None);
        let revoked = hq.revoke_device(&d.device).unwrap();
        assert!(revoked.devices[0].revoked_at.is_some());
        assert_eq!(monitor.devices().unwrap_err().code, "not_hq");
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
            assert_eq!(
                monitor.join_org(&path, None).unwrap_err().code,
                code,
                "{name}"
            );
        }
        assert_eq!(
            monitor
                .join_org(&tmp.path().join("missing"), None)
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
        assert_eq!(
            monitor.join_org(&forged, None).unwrap_err().code,
            "bad_signature"
        );
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
