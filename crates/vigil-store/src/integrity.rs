//! Checking a vault's sealed history again: every revision and custody event, and every
//! device's chains ([`vigil_ledger::chain`]).

use std::collections::BTreeMap;

use vigil_crypto::sign::DevicePublic;
use vigil_ledger::RevisionId;
use vigil_ledger::chain::{self, Completeness, Link};
use vigil_ledger::custody::CustodyKind;
use vigil_model::{DeviceId, Sha256};

use crate::Vault;
use crate::error::{Result, StoreError};
use crate::rows::known_device;

fn broken(device: DeviceId, detail: String) -> StoreError {
    StoreError::Ledger(vigil_ledger::LedgerError::ChainBroken {
        device: device.to_string(),
        detail,
    })
}

impl Vault {
    /// Checks every sealed revision and custody event in the vault: canonical form, hash and
    /// signature (against the key known for the device), and each device's chains. Chains
    /// signed by this vault's own key must run without a gap from 1, and every `sealed`
    /// custody event of this device must name a stored revision with its hash, so removing the
    /// newest revision is found too. Other devices' chains are checked wherever both ends of a
    /// link are here, since a bundle may carry only part of one.
    pub fn verify_chain(&self) -> Result<()> {
        let own_key = self.keys.public().sign_pk;
        let mut keys: BTreeMap<DeviceId, DevicePublic> = BTreeMap::new();
        let mut key_of = |device: DeviceId| -> Result<DevicePublic> {
            if let Some(k) = keys.get(&device) {
                return Ok(k.clone());
            }
            let k = known_device(&self.conn, device)?
                .ok_or_else(|| broken(device, "the device is not in known_devices".into()))?;
            keys.insert(device, k.clone());
            Ok(k)
        };
        let mut revisions: BTreeMap<DeviceId, Vec<Link>> = BTreeMap::new();
        let mut own_hashes: BTreeMap<RevisionId, Sha256> = BTreeMap::new();
        for rev in self.all_revisions()? {
            let v = rev
                .verify()
                .map_err(|e| broken(rev.device, e.to_string()))?;
            let key = key_of(rev.device)?;
            if v.document().device_keys.sign_pk != key.sign_pk {
                return Err(broken(
                    rev.device,
                    format!("revision {} names another key", rev.id),
                ));
            }
            if rev.device == self.device {
                own_hashes.insert(rev.id, rev.hash);
            }
            revisions.entry(rev.device).or_default().push(Link {
                seq: rev.device_seq,
                prev: rev.prev_hash,
                hash: rev.hash,
            });
        }
        for (device, links) in &revisions {
            let mode = if key_of(*device)?.sign_pk == own_key {
                Completeness::FromFirst
            } else {
                Completeness::WherePresent
            };
            chain::check(*device, "revision", links, mode, |_| {
                Ok::<_, StoreError>(None)
            })?;
        }

        let mut events: BTreeMap<DeviceId, Vec<Link>> = BTreeMap::new();
        for ev in self.custody_log()? {
            let checked =
                vigil_ledger::custody::CustodyEvent::from_signed(ev.bytes.clone(), ev.sig)
                    .map_err(|e| broken(ev.doc.device, e.to_string()))?;
            if checked.hash != ev.hash {
                return Err(broken(
                    ev.doc.device,
                    format!("custody event {} was altered", ev.doc.seq),
                ));
            }
            let d = &checked.doc;
            checked
                .verify(&key_of(d.device)?.sign_pk)
                .map_err(|e| broken(d.device, e.to_string()))?;
            if d.device == self.device && d.event == CustodyKind::Sealed {
                let id: Option<RevisionId> = d.subject.parse().ok();
                let hash: Option<Sha256> = serde_json::from_value(d.details["hash"].clone()).ok();
                if hash.is_none() || id.and_then(|i| own_hashes.get(&i).copied()) != hash {
                    return Err(broken(
                        d.device,
                        format!(
                            "revision {} recorded as sealed is missing or altered",
                            d.subject
                        ),
                    ));
                }
            }
            events.entry(d.device).or_default().push(Link {
                seq: d.seq,
                prev: d.prev,
                hash: checked.hash,
            });
        }
        for (device, links) in &events {
            let mode = if *device == self.device {
                Completeness::FromFirst
            } else {
                Completeness::WherePresent
            };
            chain::check(*device, "custody event", links, mode, |_| {
                Ok::<_, StoreError>(None)
            })?;
        }
        Ok(())
    }
}
