//! The per-user trust store: named log and witness keys, so partners do not
//! pass vkeys on every command, and partners' age recipients under the
//! partners' names, so that `share` names the partner it sends to
//! (`docs/FORMAT.md` §11.5, §5.4).
//!
//! Location: `$CUSTODY_TRUST_STORE`, else `$XDG_CONFIG_HOME/custody/trust.toml`,
//! else `$HOME/.config/custody/trust.toml`. A missing file is an empty store.
//! Writes are atomic (temp file, fsync, rename, fsync of the directory).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::crypto::RecipientKey;
use crate::core::hash::Digest;
use crate::core::keys::{SigAlg, VerifierKey};
use crate::core::record::valid_actor_name;
use crate::store::StoreError;

/// Largest trust store file accepted (FORMAT.md §11.5).
const MAX_TRUST_FILE: u64 = 1 << 20;

/// What a trusted key is for, derived from its algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustKind {
    /// A log key (Ed25519, alg `0x01`): signs checkpoints and records.
    Log,
    /// A witness key (`cosignature/v1`, alg `0x04`): cosigns checkpoints.
    Witness,
}

impl TrustKind {
    /// The kind of a vkey, or `None` for an algorithm we do not trust keys of.
    pub fn of(key: &VerifierKey) -> Option<TrustKind> {
        // SigAlg is non_exhaustive: a future algorithm is not trusted here.
        #[allow(unreachable_patterns)]
        match key.alg() {
            SigAlg::Ed25519 => Some(TrustKind::Log),
            SigAlg::CosignatureV1 => Some(TrustKind::Witness),
            _ => None,
        }
    }
}

/// One named key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    pub name: String,
    pub kind: TrustKind,
    pub vkey: VerifierKey,
}

/// A partner's age recipient under the partner's name (FORMAT.md §11.5):
/// `share` to it records that name, sealed (§5.4). A partner with several
/// recipients has one entry for each, with one name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerRecipient {
    /// The partner's name: 1 to 64 of `a-z 0-9 . _ -` (FORMAT.md §4.7).
    pub name: String,
    /// The recipient's canonical text (FORMAT.md §5.3).
    pub recipient: String,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "key")]
    keys: Vec<TrustedKey>,
    #[serde(default, rename = "recipient", skip_serializing_if = "Vec::is_empty")]
    recipients: Vec<PartnerRecipient>,
}

/// The trust store's contents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustStore {
    keys: Vec<TrustedKey>,
    /// Partners' recipients, with each one's fingerprint (§5.3).
    recipients: Vec<(PartnerRecipient, Digest)>,
}

/// Where the trust store lives, from the environment (see the module docs).
pub fn default_path() -> Result<PathBuf, StoreError> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(p) = var("CUSTODY_TRUST_STORE") {
        return Ok(PathBuf::from(p));
    }
    if let Some(x) = var("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(x).join("custody").join("trust.toml"));
    }
    if let Some(h) = var("HOME") {
        return Ok(PathBuf::from(h)
            .join(".config")
            .join("custody")
            .join("trust.toml"));
    }
    Err(StoreError::Input(
        "no trust store location: set CUSTODY_TRUST_STORE or HOME".into(),
    ))
}

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 128 && !n.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl TrustStore {
    /// Loads the store; a missing file is an empty store. Entries are checked:
    /// valid names, unique names and keys, kind matching the key's algorithm.
    pub fn load(path: &Path) -> Result<TrustStore, StoreError> {
        // At most 1 MiB, never waited on (src/store/files/input.rs, FORMAT.md §11.5).
        let Some(bytes) =
            crate::store::files::input::read_input_opt(path, MAX_TRUST_FILE, "a trust store")?
        else {
            return Ok(TrustStore::default());
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| StoreError::TrustStore(path.to_path_buf(), "is not UTF-8 text".into()))?;
        TrustStore::parse(path, &text)
    }

    /// Parses the text of a trust store (FORMAT.md §11.5) with the checks of
    /// [`TrustStore::load`]; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<TrustStore, StoreError> {
        if text.len() as u64 > MAX_TRUST_FILE {
            return Err(StoreError::TrustStore(
                path.to_path_buf(),
                "is too large for a trust store".into(),
            ));
        }
        let f: File = toml::from_str(text).map_err(|e| {
            StoreError::TrustStore(path.to_path_buf(), crate::store::toml_error(text, &e))
        })?;
        let mut s = TrustStore::default();
        for k in f.keys {
            if TrustKind::of(&k.vkey) != Some(k.kind) {
                return Err(StoreError::TrustStore(
                    path.to_path_buf(),
                    format!(
                        "entry {:?}: kind does not match the key's algorithm",
                        k.name
                    ),
                ));
            }
            s.add(&k.name, k.vkey)
                .map_err(|e| StoreError::TrustStore(path.to_path_buf(), e.to_string()))?;
        }
        for r in f.recipients {
            let key = RecipientKey::parse(&r.recipient)
                .ok()
                .filter(|k| k.canonical() == r.recipient)
                .ok_or_else(|| {
                    StoreError::TrustStore(
                        path.to_path_buf(),
                        format!(
                            "recipient entry {:?}: not an age recipient in its canonical text",
                            r.name
                        ),
                    )
                })?;
            s.add_recipient(&r.name, &key)
                .map_err(|e| StoreError::TrustStore(path.to_path_buf(), e.to_string()))?;
        }
        Ok(s)
    }

    /// The file's text, as [`TrustStore::save`] writes it.
    pub fn to_toml(&self) -> Result<String, StoreError> {
        let f = File {
            keys: self.keys.clone(),
            recipients: self.recipients.iter().map(|(r, _)| r.clone()).collect(),
        };
        let text = toml::to_string_pretty(&f).map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(format!(
            "# custody trust store (docs/FORMAT.md §11.5); edit with `custody trust`\n{text}"
        ))
    }

    /// Writes the store atomically (temp file, fsync, rename, directory fsync).
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let text = self.to_toml()?;
        crate::store::ops::witness::write_atomic(path, text.as_bytes())
    }

    /// Adds a key under `name`; refuses a duplicate name or key.
    pub fn add(&mut self, name: &str, vkey: VerifierKey) -> Result<&TrustedKey, StoreError> {
        if !valid_name(name) {
            return Err(StoreError::Input(format!(
                "{} is not a usable trust-store name (no spaces, at most 128 bytes)",
                crate::core::redact::quote(name)
            )));
        }
        let kind = TrustKind::of(&vkey).ok_or_else(|| {
            StoreError::Input(format!(
                "{vkey} is neither a log key (alg 0x01) nor a witness key (alg 0x04)"
            ))
        })?;
        if let Some(k) = self.find(name) {
            return Err(StoreError::Input(format!(
                "the trust store already has a key named {name:?} ({}); remove it first",
                k.vkey
            )));
        }
        if let Some(k) = self
            .keys
            .iter()
            .find(|k| k.vkey.public_bytes() == vkey.public_bytes() && k.kind == kind)
        {
            return Err(StoreError::Input(format!(
                "this key is already trusted as {:?}",
                k.name
            )));
        }
        self.keys.push(TrustedKey {
            name: name.to_string(),
            kind,
            vkey,
        });
        Ok(&self.keys[self.keys.len() - 1])
    }

    /// Adds a partner's recipient under `name` (FORMAT.md §11.5): the name
    /// follows the §4.7 rules (it is sealed in share details, §5.4); a
    /// recipient is listed once, under one name.
    pub fn add_recipient(
        &mut self,
        name: &str,
        key: &RecipientKey,
    ) -> Result<&PartnerRecipient, StoreError> {
        if !valid_actor_name(name) {
            return Err(StoreError::Input(format!(
                "{} is not a usable partner name (1 to 64 of a-z 0-9 . _ -, starting with a letter or digit)",
                crate::core::redact::quote(name)
            )));
        }
        let fp = key.fingerprint();
        if let Some((r, _)) = self.recipients.iter().find(|(_, f)| *f == fp) {
            return Err(StoreError::Input(format!(
                "this recipient is already trusted as partner {:?}; remove it first",
                r.name
            )));
        }
        self.recipients.push((
            PartnerRecipient {
                name: name.to_string(),
                recipient: key.canonical(),
            },
            fp,
        ));
        Ok(&self.recipients[self.recipients.len() - 1].0)
    }

    /// Removes every recipient of the partner `name`.
    pub fn remove_recipients(&mut self, name: &str) -> Result<Vec<PartnerRecipient>, StoreError> {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.recipients)
            .into_iter()
            .partition(|(r, _)| r.name == name);
        self.recipients = kept;
        if gone.is_empty() {
            return Err(StoreError::NotFound(format!(
                "partner recipients named {}",
                crate::core::redact::quote(name)
            )));
        }
        Ok(gone.into_iter().map(|(r, _)| r).collect())
    }

    /// The partners' recipients, in the order added, with their fingerprints.
    pub fn recipients(&self) -> &[(PartnerRecipient, Digest)] {
        &self.recipients
    }

    /// The name of the partner whose recipient has fingerprint `fp`.
    pub fn partner_of(&self, fp: &Digest) -> Option<&str> {
        self.recipients
            .iter()
            .find(|(_, f)| f == fp)
            .map(|(r, _)| r.name.as_str())
    }

    /// Trusted keys of the same kind with the same C2SP key name as `vkey`
    /// (for a log key, its origin) but another key: a rotation, or a second
    /// history of one log.
    pub fn same_name(&self, vkey: &VerifierKey) -> Vec<&TrustedKey> {
        self.keys
            .iter()
            .filter(|k| {
                k.vkey.name() == vkey.name()
                    && k.vkey.public_bytes() != vkey.public_bytes()
                    && Some(k.kind) == TrustKind::of(vkey)
            })
            .collect()
    }

    /// Removes the key named `name`.
    pub fn remove(&mut self, name: &str) -> Result<TrustedKey, StoreError> {
        let i = self
            .keys
            .iter()
            .position(|k| k.name == name)
            .ok_or_else(|| {
                StoreError::NotFound(format!("trusted key {}", crate::core::redact::quote(name)))
            })?;
        Ok(self.keys.remove(i))
    }

    /// The entry named `name`.
    pub fn find(&self, name: &str) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Every entry, in the order added.
    pub fn entries(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// The trusted log keys.
    pub fn log_keys(&self) -> Vec<VerifierKey> {
        self.of_kind(TrustKind::Log)
    }

    /// The trusted witness keys.
    pub fn witness_keys(&self) -> Vec<VerifierKey> {
        self.of_kind(TrustKind::Witness)
    }

    fn of_kind(&self, kind: TrustKind) -> Vec<VerifierKey> {
        self.keys
            .iter()
            .filter(|k| k.kind == kind)
            .map(|k| k.vkey.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::SignerKey;
    use std::fs;

    #[test]
    fn add_save_load_remove() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/trust.toml");
        assert_eq!(TrustStore::load(&p).unwrap(), TrustStore::default());
        let k = SignerKey::from_seed("a.example/log", &[5; 32]).unwrap();
        let mut s = TrustStore::default();
        s.add("a-log", k.verifier()).unwrap();
        s.add("a-witness", k.cosigner_verifier()).unwrap();
        assert!(s.add("a-log", k.cosigner_verifier()).is_err());
        assert!(s.add("again", k.verifier()).is_err());
        assert!(s.add("bad name", k.verifier()).is_err());
        s.save(&p).unwrap();
        let l = TrustStore::load(&p).unwrap();
        assert_eq!(l, s);
        assert_eq!(l.log_keys(), vec![k.verifier()]);
        assert_eq!(l.witness_keys(), vec![k.cosigner_verifier()]);
        assert_eq!(l.find("a-witness").unwrap().kind, TrustKind::Witness);
        let mut l = l;
        l.remove("a-log").unwrap();
        assert!(l.remove("a-log").is_err());
        // A kind that contradicts the key is refused on load.
        let text = fs::read_to_string(&p)
            .unwrap()
            .replace("kind = \"witness\"", "kind = \"log\"");
        fs::write(&p, text).unwrap();
        assert!(matches!(
            TrustStore::load(&p),
            Err(StoreError::TrustStore(..))
        ));
    }

    /// Partners' recipients (FORMAT.md §11.5): under §4.7 names, one entry
    /// per recipient, a recipient once; saved and loaded back; a file
    /// without them is written as before.
    #[test]
    fn partner_recipients() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("trust.toml");
        let k = SignerKey::from_seed("a.example/log", &[5; 32]).unwrap();
        let mut s = TrustStore::default();
        s.add("guardian", k.verifier()).unwrap();
        let plain = s.to_toml().unwrap();
        assert!(!plain.contains("recipient"), "{plain}");
        let r =
            RecipientKey::parse("age1q57velm07v8t9rdss8hs6e8hdzay4j8fsuukgw0yhmm4upsqnszss6tnaq")
                .unwrap();
        s.add_recipient("guardian", &r).unwrap();
        assert!(s.add_recipient("other", &r).is_err(), "a recipient once");
        assert!(s.add_recipient("The Guardian", &r).is_err());
        assert_eq!(s.partner_of(&r.fingerprint()), Some("guardian"));
        s.save(&p).unwrap();
        let l = TrustStore::load(&p).unwrap();
        assert_eq!(l, s);
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.contains("[[recipient]]"), "{text}");
        for bad in [
            text.replace(
                "name = \"guardian\"\nrecipient",
                "name = \"Guardian\"\nrecipient",
            ),
            text.replace("age1q57", "AGE1Q57"),
            format!(
                "{text}\n[[recipient]]\nname = \"again\"\nrecipient = \"{}\"\n",
                r.canonical()
            ),
            text.replace("[[recipient]]\n", "[[recipient]]\nwhy = 1\n"),
        ] {
            assert!(
                matches!(TrustStore::parse(&p, &bad), Err(StoreError::TrustStore(..))),
                "{bad}"
            );
        }
        let mut l = l;
        assert_eq!(l.remove_recipients("guardian").unwrap().len(), 1);
        assert!(l.remove_recipients("guardian").is_err());
        assert!(l.find("guardian").is_some(), "the key stays");
    }

    /// Issue 6: TOML nested 100,000 levels deep (arrays, inline tables,
    /// dotted keys, table headers) is refused fast, as is a file over 1 MiB.
    #[test]
    fn nesting_and_size_are_bounded() {
        use crate::core::testing::{fast, nested};
        let p = Path::new("trust.toml");
        for bad in crate::core::testing::deep_toml() {
            let r = fast("TrustStore::parse", || TrustStore::parse(p, &bad));
            assert!(matches!(r, Err(StoreError::TrustStore(..))), "{r:?}");
        }
        let huge = nested("# ", " ", MAX_TRUST_FILE as usize);
        let r = fast("TrustStore::parse", || TrustStore::parse(p, &huge));
        assert!(matches!(r, Err(StoreError::TrustStore(..))), "{r:?}");
    }
}
