//! Sealed details on disk (FORMAT.md §5.4): writing them as blobs encrypted
//! to the archive's recipients, and reading them back with an identity (the
//! names behind actor labels, the reasons, a share's recipients).

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::core::crypto::{self, RecipientKey};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::record::{ActorAction, Payload, Sealed};
use crate::core::sealed::{Details, MAX_SEALED_LEN};
use crate::store::archive::Archive;
use crate::store::files::blobs::SealedBlob;
use crate::store::files::dedup_log::DedupKey;
use crate::store::StoreError;

impl Archive {
    /// Identities for the deduplication secret (FORMAT.md §7.3).
    pub fn set_dedup_identities(&mut self, ids: crypto::Identities) {
        self.dedup_ids = Some(ids);
        self.dedup = None;
    }

    /// The deduplication key of this process (FORMAT.md §7.3): the secret
    /// sealed in the latest `config` record, opened with the identities
    /// given; without one that opens it, a random key of this run only; for
    /// an archive whose configuration seals no secret (made before it
    /// existed), the key derived from the log key.
    pub(crate) fn dedup_key(&mut self, log: &SignerKey) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        if let Some(d) = &self.dedup {
            return Ok(d.key.clone());
        }
        let found = self.kept_dedup_key(Some(log), self.dedup_ids.as_ref())?;
        self.decide_dedup(found)
    }

    /// [`Archive::dedup_key`] with `ids` rather than those set before.
    pub(crate) fn dedup_key_with(
        &mut self,
        log: &SignerKey,
        ids: &crypto::Identities,
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        if let Some(d) = &self.dedup {
            return Ok(d.key.clone());
        }
        let found = self.kept_dedup_key(Some(log), Some(ids))?;
        self.decide_dedup(found)
    }

    fn decide_dedup(
        &mut self,
        found: Option<Zeroizing<[u8; 32]>>,
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let d = match found {
            Some(key) => DedupKey { key, keep: true },
            None => {
                let mut key = Zeroizing::new([0u8; 32]);
                getrandom::fill(&mut key[..])
                    .map_err(|e| StoreError::Internal(format!("OS RNG: {e}")))?;
                DedupKey { key, keep: false }
            }
        };
        let key = d.key.clone();
        self.dedup = Some(d);
        Ok(key)
    }

    /// The archive's deduplication key (FORMAT.md §7.3), if `ids` open the
    /// secret sealed in the latest `config` record, or, for an archive whose
    /// configuration seals none, if the log key `log` is given.
    pub(crate) fn kept_dedup_key(
        &self,
        log: Option<&SignerKey>,
        ids: Option<&crypto::Identities>,
    ) -> Result<Option<Zeroizing<[u8; 32]>>, StoreError> {
        match self.ledger_config()?.and_then(|(_, c)| c.sealed) {
            None => Ok(log.map(crate::store::files::dedup_log::legacy_dedup_key)),
            Some(s) => match ids {
                Some(ids) => match self.open_sealed(&s, ids) {
                    Ok(d) => Ok(d.dedup_secret()),
                    Err(StoreError::Decrypt { .. }) => Ok(None),
                    Err(e) => Err(e),
                },
                None => Ok(None),
            },
        }
    }

    /// Could this process open the archive's deduplication secret? (`None`:
    /// not decided yet.)
    pub fn deduplicates(&self) -> Option<bool> {
        self.dedup.as_ref().map(|d| d.keep)
    }

    /// Encrypts `details` to the archive's recipients as a new blob (not yet
    /// durable: hand it to the commit that writes the record naming it).
    pub(crate) fn seal(&self, details: &Details) -> Result<(Sealed, SealedBlob), StoreError> {
        self.seal_to(&self.recipients, details)
    }

    /// [`Archive::seal`] to `recipients` (a `config` record's, which may
    /// differ from those in force before it).
    pub(crate) fn seal_to(
        &self,
        recipients: &[RecipientKey],
        details: &Details,
    ) -> Result<(Sealed, SealedBlob), StoreError> {
        details
            .check()
            .map_err(|e| StoreError::Input(format!("{e}; nothing was written")))?;
        let plain = Zeroizing::new(details.to_json());
        let enc = crypto::encrypt_bytes(recipients, &plain)?;
        let blob = self.blobs.put_bytes(&enc)?;
        Ok((
            Sealed {
                digest: blob.digest,
                size: blob.len,
            },
            blob,
        ))
    }

    /// Decrypts and parses the sealed details a record names.
    pub fn open_sealed(&self, s: &Sealed, ids: &crypto::Identities) -> Result<Details, StoreError> {
        // As a rekey left it (FORMAT.md §4.17).
        let (digest, size) = self.current_blob(s.digest, s.size)?;
        let s = &Sealed { digest, size };
        let p = self.blobs.path(&s.digest);
        // Never more than a sealed file can be: an age header for many
        // recipients and the padded plaintext (FORMAT.md §5.4).
        let most = 2 * MAX_SEALED_LEN as u64;
        let len = std::fs::metadata(&p)
            .map_err(|e| crate::store::io_err(&p, e))?
            .len();
        if s.size > most || len != s.size {
            return Err(StoreError::Corrupt(format!(
                "sealed details {} are {len} bytes (the record says {}, at most {most})",
                s.digest, s.size
            )));
        }
        let data = std::fs::read(&p).map_err(|e| crate::store::io_err(&p, e))?;
        if Digest::of(&data) != s.digest || data.len() as u64 != s.size {
            return Err(StoreError::Corrupt(format!(
                "sealed details {} do not match their digest or length",
                s.digest
            )));
        }
        let plain =
            crypto::decrypt_bytes(ids, &data, MAX_SEALED_LEN).map_err(|e| StoreError::Decrypt {
                what: format!("the sealed details {}", s.digest),
                source: e,
            })?;
        Details::parse(&plain)
            .map_err(|e| StoreError::Corrupt(format!("sealed details {}: {e}", s.digest)))
    }

    /// The names behind the labels of actors added by version 2 records
    /// (`#N` → name), read with `ids`. Details that cannot be opened are
    /// left out (the label stays).
    pub fn actor_names(
        &self,
        ids: &crypto::Identities,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let mut names = BTreeMap::new();
        for r in self.authorized_actor_records()? {
            let Payload::Actor(c) = &r.body.payload else {
                continue;
            };
            let (ActorAction::Add, Some(x)) = (c.action, c.sealed) else {
                continue;
            };
            if let Ok(Details::Actor { name, .. }) = self.open_sealed(&x.details, ids).as_ref() {
                names.insert(c.name.clone(), name.clone());
            }
        }
        Ok(names)
    }

    /// The people's own age recipients (FORMAT.md §5.4, version 2): for
    /// each actor label, every recipient its authorized `add` and `rotate`
    /// records named, oldest first (the last is the current one), and its
    /// name, read with `ids`, and the labels whose details `ids` did not open. A recipient
    /// replaced by a later `rotate` stays listed: the archive may still
    /// encrypt to it.
    pub fn actor_recipients(&self, ids: &crypto::Identities) -> Result<PeopleKeys, StoreError> {
        let mut out = PeopleKeys::default();
        for r in self.authorized_actor_records()? {
            let Payload::Actor(c) = &r.body.payload else {
                continue;
            };
            let Some(x) = c.sealed else {
                continue;
            };
            if c.action == ActorAction::Revoke {
                continue;
            }
            // Details that do not agree with their record (FORMAT.md §5.4)
            // are a `sealed` finding of `verify --deep`, not a recipient.
            match self.open_sealed(&x.details, ids) {
                Ok(d) if d.check_actor(c).is_ok() => {
                    if let Details::Actor { name, .. } = &d {
                        if !name.is_empty() {
                            out.names.insert(c.name.clone(), name.clone());
                        }
                    }
                    if let Some(rc) = d.recipient() {
                        let v = out.recipients.entry(c.name.clone()).or_default();
                        if !v.iter().any(|x| x == rc) {
                            v.push(rc.to_string());
                        }
                    }
                }
                Ok(_) | Err(_) => {
                    out.unopened.insert(c.name.clone());
                }
            }
        }
        Ok(out)
    }

    /// Every person whose authorized actor records named a recipient, by
    /// the recipient's fingerprint (FORMAT.md §5.3), as names where `ids`
    /// opens them (else labels); several people may share one.
    pub fn people_by_recipient(
        &self,
        ids: &crypto::Identities,
    ) -> Result<BTreeMap<crate::core::hash::Digest, Vec<String>>, StoreError> {
        let people = self.actor_recipients(ids)?;
        let mut out: BTreeMap<crate::core::hash::Digest, Vec<String>> = BTreeMap::new();
        for (label, rs) in people.recipients {
            let who = people.names.get(&label).cloned().unwrap_or(label);
            for r in rs {
                if let Ok(k) = crypto::RecipientKey::parse(&r) {
                    out.entry(k.fingerprint()).or_default().push(who.clone());
                }
            }
        }
        Ok(out)
    }

    /// The label (`#N`) or name of the active actor called `name`: a label
    /// or a version 1 name as is; a sealed name through `ids`.
    pub fn actor_by_name(
        &self,
        name: &str,
        ids: Option<&crypto::Identities>,
    ) -> Result<String, StoreError> {
        let actors = self.actors_at(self.db.size()?)?;
        if actors.get(name).is_some() {
            return Ok(name.to_string());
        }
        let quoted = crate::core::redact::quote(name);
        let Some(ids) = ids else {
            return Err(StoreError::NotFound(format!(
                "active actor {quoted}: actors' names are sealed; give their label #N (`custody actor list`) or an identity with -i to use names"
            )));
        };
        let found: Vec<String> = self
            .actor_names(ids)?
            .into_iter()
            .filter(|(_, n)| n == name)
            .map(|(label, _)| label)
            .collect();
        match &found[..] {
            [one] => Ok(one.clone()),
            [] => Err(StoreError::NotFound(format!(
                "active actor {quoted} (see `custody actor list -i IDENTITY`)"
            ))),
            more => Err(StoreError::Input(format!(
                "{quoted} names {} actors ({}): give the label",
                more.len(),
                more.join(", ")
            ))),
        }
    }
}

/// People's own age recipients as the actor records seal them (FORMAT.md
/// §5.4): see [`Archive::actor_recipients`].
#[derive(Debug, Default)]
pub struct PeopleKeys {
    /// Actor label → every recipient named, oldest first.
    pub recipients: BTreeMap<String, Vec<String>>,
    /// Actor label → the name its `add` sealed (read in the same pass).
    pub names: BTreeMap<String, String>,
    /// Actors whose details the identity did not open (or that disagree
    /// with their record).
    pub unopened: std::collections::BTreeSet<String>,
}
