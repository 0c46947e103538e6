//! The archive's actors (FORMAT.md §4.7, §4.14): replaying `actor` records,
//! choosing who signs new records, and refusing what their role may not do
//! before anything is written.

use crate::core::actors::{Actors, AuthError, Signer};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::record::{ActorAction, ActorChange, Payload, Record, Role};
use crate::store::archive::Archive;
use crate::store::db::DigestKind;
use crate::store::StoreError;

/// The fixed digest under which the database lists `actor` records (FORMAT.md §7.2).
pub fn actor_index_tag() -> Digest {
    Digest::of(crate::core::domain::ACTOR_INDEX)
}

fn refused(e: AuthError) -> StoreError {
    StoreError::NotAuthorized(e.to_string())
}

impl Archive {
    /// Every `actor` record, in log order.
    pub fn actor_records(&self) -> Result<Vec<Record>, StoreError> {
        self.db
            .records_with(&actor_index_tag(), DigestKind::Actor)?
            .into_iter()
            .map(|i| self.record(i))
            .collect()
    }

    /// The actors as of just before record `upto` (records that are not
    /// authorized or not consistent are skipped here; `verify` reports them).
    pub fn actors_at(&self, upto: u64) -> Result<Actors, StoreError> {
        let mut a = Actors::default();
        for r in self.actor_records()? {
            if r.body.index >= upto {
                break;
            }
            if a.authorize(&r, &self.log_key).is_ok() {
                let _ = a.apply(&r, &self.log_key);
            }
        }
        Ok(a)
    }

    /// From now on, new records of this process are signed by `key`, which
    /// must be the current key of an active actor (or the log key itself).
    pub fn set_actor(&mut self, key: SignerKey) -> Result<Signer, StoreError> {
        let v = key.verifier();
        if v.public_bytes() == self.log_key.public_bytes() {
            self.actor = None;
            return Ok(Signer::Owner);
        }
        let actors = self.actors_at(self.db.size()?)?;
        let Some(a) = actors.by_key(&v) else {
            return Err(StoreError::NotAuthorized(format!(
                "the key {} is not the key of an active actor of this archive",
                v.encode()
            )));
        };
        let s = Signer::Actor {
            name: a.name.clone(),
            role: a.role,
        };
        self.actor = Some((key, s.clone()));
        Ok(s)
    }

    /// Who signs new records.
    pub fn signer(&self) -> Signer {
        self.actor
            .as_ref()
            .map_or(Signer::Owner, |(_, s)| s.clone())
    }

    /// Refuses a new record the current signer may not make.
    pub(crate) fn authorize_new(&self, actors: &Actors, p: &Payload) -> Result<(), StoreError> {
        actors.may_sign(&self.signer(), p.kind()).map_err(refused)?;
        if let Payload::Actor(c) = p {
            actors.check_change(c, &self.log_key).map_err(refused)?;
        }
        Ok(())
    }

    /// Appends an `actor` record (add, revoke or rotate) and signs a checkpoint.
    pub fn change_actor(
        &mut self,
        change: ActorChange,
        log: &SignerKey,
    ) -> Result<Record, StoreError> {
        self.check_signer(log)?;
        let r = self
            .commit_records(
                vec![self.new_record(Payload::Actor(change))],
                Vec::new(),
                Vec::new(),
                log,
            )?
            .remove(0);
        self.sign_checkpoint(log)?;
        Ok(r)
    }

    /// The change record for `revoke` or `rotate` of an existing actor.
    pub fn actor_change(
        &self,
        action: ActorAction,
        name: &str,
        new_key: Option<&crate::core::keys::VerifierKey>,
        reason: &str,
    ) -> Result<ActorChange, StoreError> {
        let actors = self.actors_at(self.db.size()?)?;
        let a = actors
            .get(name)
            .filter(|a| a.revoked.is_none())
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "active actor {} (see `custody actor list`)",
                    crate::core::redact::quote(name)
                ))
            })?;
        let key = new_key.unwrap_or(&a.key);
        Ok(ActorChange {
            action,
            name: name.to_string(),
            role: a.role,
            key_name: key.name().to_string(),
            key: key.public_bytes(),
            reason: reason.to_string(),
        })
    }

    /// The roles the archive requires to approve a document for publication.
    pub fn required_approvals(&self) -> Vec<Role> {
        self.config
            .publication_approvals
            .iter()
            .filter_map(|r| Role::parse(r))
            .collect()
    }
}
