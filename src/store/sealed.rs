//! Sealed details on disk (FORMAT.md §5.4): writing them as blobs encrypted
//! to the archive's recipients, and reading them back with an identity (the
//! names behind actor labels, the reasons, a share's recipients).

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::core::crypto;
use crate::core::hash::Digest;
use crate::core::record::{ActorAction, Payload, Sealed};
use crate::core::sealed::{Details, MAX_SEALED_LEN};
use crate::store::archive::Archive;
use crate::store::blobs::SealedBlob;
use crate::store::StoreError;

impl Archive {
    /// Encrypts `details` to the archive's recipients as a new blob (not yet
    /// durable: hand it to the commit that writes the record naming it).
    pub(crate) fn seal(&self, details: &Details) -> Result<(Sealed, SealedBlob), StoreError> {
        let plain = Zeroizing::new(details.to_json());
        let enc = crypto::encrypt_bytes(&self.recipients, &plain)?;
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
    pub fn open_sealed(
        &self,
        s: &Sealed,
        ids: &crypto::Identities,
    ) -> Result<Details, StoreError> {
        let p = self.blobs.path(&s.digest);
        let data = std::fs::read(&p).map_err(|e| crate::store::io_err(&p, e))?;
        if Digest::of(&data) != s.digest || data.len() as u64 != s.size {
            return Err(StoreError::Corrupt(format!(
                "sealed details {} do not match their digest or length",
                s.digest
            )));
        }
        let plain = crypto::decrypt_bytes(ids, &data, MAX_SEALED_LEN).map_err(|e| {
            StoreError::Decrypt {
                what: format!("the sealed details {}", s.digest),
                source: e,
            }
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
        for r in self.actor_records()? {
            let Payload::Actor(c) = &r.body.payload else {
                continue;
            };
            let (ActorAction::Add, Some(x)) = (c.action, c.sealed) else {
                continue;
            };
            if let Ok(Details::Actor { name, .. }) = self.open_sealed(&x.details, ids) {
                names.insert(c.name.clone(), name);
            }
        }
        Ok(names)
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
