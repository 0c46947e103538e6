//! The archive's actors (FORMAT.md §4.7, §4.14): replaying `actor` records,
//! choosing who signs new records, and refusing what their role may not do
//! before anything is written.

use crate::core::actors::{Actors, AuthError, Signer};
use crate::core::crypto::{fingerprints, RecipientKey};
use crate::core::keys::{SignerKey, VerifierKey};
use crate::core::record::{
    actor_key_id, ActorAction, ActorChange, ArchiveConfig, Payload, Record, Role, SealedActor,
};
use crate::core::sealed::{Details, SEALED_VERSION};
use crate::store::archive::Archive;
use crate::store::files::blobs::SealedBlob;
use crate::store::files::db::{actor_index_tag, DigestKind};
use crate::store::StoreError;

fn refused(e: AuthError) -> StoreError {
    StoreError::NotAuthorized(e.to_string())
}

/// What an actor record's sealed details say besides the key's name
/// (FORMAT.md §5.4): the name (an `add`), the reason (a `revoke`) and the
/// person's own age recipient (version 2, an `add` or a `rotate`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ActorSealed<'a> {
    pub name: &'a str,
    pub reason: &'a str,
    pub recipient: Option<&'a RecipientKey>,
}

impl<'a> ActorSealed<'a> {
    /// An `add`'s details: the name alone.
    pub fn named(name: &'a str) -> Self {
        ActorSealed {
            name,
            ..Self::default()
        }
    }
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

    /// The actor and config records that are authorized and consistent, in
    /// log order: those [`Archive::actors_at`] applies (`verify` reports the
    /// others).
    pub fn authorized_actor_records(&self) -> Result<Vec<Record>, StoreError> {
        let mut a = Actors::default();
        let mut out = Vec::new();
        for r in self.actor_records()? {
            if a.authorize(&r, &self.log_key).is_ok() && a.apply(&r, &self.log_key).is_ok() {
                out.push(r);
            }
        }
        Ok(out)
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
        // The ID the ledger knows the key by (FORMAT.md §4.16).
        self.actor = Some((key, s.clone(), a.key.key_id()));
        Ok(s)
    }

    /// Who signs new records.
    pub fn signer(&self) -> Signer {
        self.actor
            .as_ref()
            .map_or(Signer::Owner, |(_, s, _)| s.clone())
    }

    /// Refuses a new record the current signer may not make.
    pub(crate) fn authorize_new(&self, actors: &Actors, p: &Payload) -> Result<(), StoreError> {
        actors.may_sign(&self.signer(), p.kind()).map_err(refused)?;
        if let Payload::Actor(c) = p {
            actors.check_change(c, &self.log_key).map_err(refused)?;
            // No one could add actors or change the configuration again.
            let admins = actors
                .all()
                .filter(|a| a.role == Role::Admin && a.revoked.is_none())
                .count();
            if c.action == ActorAction::Revoke && c.role == Role::Admin && admins <= 1 {
                return Err(StoreError::NotAuthorized(format!(
                    "{} is the last administrator: add another admin first (`custody actor add NAME VKEY --role admin`)",
                    c.name
                )));
            }
        }
        Ok(())
    }

    /// Appends an `actor` record (add, revoke or rotate) with its sealed
    /// details and signs a checkpoint.
    pub fn change_actor(
        &mut self,
        (change, details): (ActorChange, SealedBlob),
        log: &SignerKey,
    ) -> Result<Record, StoreError> {
        self.check_signer(log)?;
        let r = self
            .commit_records(
                vec![self.new_record(Payload::Actor(change))],
                vec![details],
                Vec::new(),
                log,
            )?
            .remove(0);
        self.sign_checkpoint(log)?;
        Ok(r)
    }

    /// A version 2 actor change (FORMAT.md §4.16): the record states the
    /// role, the key and its key ID; the name (of an `add`), the key's name
    /// (`add`, `rotate`) and the reason are sealed to the archive's
    /// recipients. `actor` is the index of the record that added the actor
    /// (for an `add`, set when the record is placed); `sealed` is what the
    /// details say besides the key's name.
    pub fn sealed_change(
        &self,
        action: ActorAction,
        actor: u64,
        role: Role,
        key: &VerifierKey,
        sealed: ActorSealed<'_>,
    ) -> Result<(ActorChange, SealedBlob), StoreError> {
        let ActorSealed {
            name,
            reason,
            recipient,
        } = sealed;
        // What a verifier would report (FORMAT.md §4.7) is never written.
        if action != ActorAction::Revoke && !reason.is_empty() {
            return Err(StoreError::Input(
                "only a revoke has a reason; nothing was written".into(),
            ));
        }
        if !crate::core::record::valid_actor_key(&key.public_bytes()) {
            return Err(StoreError::Input(format!(
                "{} is not the canonical encoding of an Ed25519 point that is not of small order; nothing was written",
                key.encode()
            )));
        }
        let details = Details::Actor {
            name: if action == ActorAction::Add {
                name.to_string()
            } else {
                String::new()
            },
            key_name: if action == ActorAction::Revoke {
                String::new()
            } else {
                key.name().to_string()
            },
            reason: reason.to_string(),
            // FORMAT.md §5.4, version 2: the person's own recipient.
            recipient: recipient.map(RecipientKey::canonical),
            v: if recipient.is_some() {
                crate::core::sealed::SEALED_VERSION_RECIPIENT
            } else {
                SEALED_VERSION
            },
        };
        if action == ActorAction::Revoke && recipient.is_some() {
            return Err(StoreError::Input(
                "a revoke names no recipient; nothing was written".into(),
            ));
        }
        let (sealed, blob) = self.seal(&details)?;
        Ok((
            ActorChange {
                action,
                name: ActorChange::label(actor),
                role,
                key_name: String::new(),
                key: key.public_bytes(),
                reason: String::new(),
                sealed: Some(SealedActor {
                    actor,
                    key_id: actor_key_id(&key.public_bytes()),
                    details: sealed,
                }),
            },
            blob,
        ))
    }

    /// The change record for `revoke` or `rotate` of an existing actor
    /// (`name`: a label `#N` or a version 1 name, see [`Archive::actor_by_name`]).
    pub fn actor_change(
        &self,
        action: ActorAction,
        name: &str,
        new_key: Option<&VerifierKey>,
        reason: &str,
        recipient: Option<&RecipientKey>,
    ) -> Result<(ActorChange, SealedBlob), StoreError> {
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
        let sealed = ActorSealed {
            name: "",
            reason,
            recipient,
        };
        self.sealed_change(action, a.added, a.role, key, sealed)
    }

    /// The roles the archive requires to approve a document for publication:
    /// the latest `config` record's (FORMAT.md §4.15); for an archive of
    /// made before separation of duties, which has none, `custody.toml`'s.
    pub fn required_approvals(&self) -> Result<Vec<Role>, StoreError> {
        Ok(match self.ledger_config()? {
            Some((_, c)) => c.approvals,
            None => toml_approvals(&self.config.publication_approvals),
        })
    }

    /// The latest `config` record that was authorized (FORMAT.md §4.15), with
    /// its index; `None` for an archive made before separation of duties.
    pub fn ledger_config(&self) -> Result<Option<(u64, ArchiveConfig)>, StoreError> {
        let a = self.actors_at(self.db.size()?)?;
        Ok(a.config().map(|(i, c)| (i, c.clone())))
    }

    /// The partners' and this log's own witness policies of the latest
    /// `config` record (FORMAT.md §4.15), with its index.
    pub fn archived_policies(&self) -> Result<Option<(u64, String, String)>, StoreError> {
        Ok(self
            .ledger_config()?
            .map(|(i, c)| (i, c.partner_policy, c.own_policy)))
    }

    /// Index of the first `config` record: from there on every record is an
    /// actor's (FORMAT.md §4.14). `None`: an archive made before separation of duties.
    pub fn configured_at(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.actors_at(self.db.size()?)?.configured_at())
    }

    /// Why `custody.toml` disagrees with the latest `config` record, if it
    /// does (FORMAT.md §7.4: the file is a cache of the ledger). Nothing to
    /// compare for an archive made before separation of duties.
    pub(crate) fn config_disagreement(&self) -> Result<Option<String>, StoreError> {
        let Some((at, c)) = self.ledger_config()? else {
            return Ok(None);
        };
        Ok(disagreement(&self.config, &self.recipients, at, &c))
    }

    /// Seals a fresh deduplication secret to `to`, the recipients of the
    /// `config` record `cfg` it goes into (FORMAT.md §4.16, §7.3): each
    /// configuration has its own, which only its recipients can open.
    fn seal_dedup(
        &self,
        to: &[RecipientKey],
        cfg: &mut ArchiveConfig,
    ) -> Result<SealedBlob, StoreError> {
        let details =
            Details::new_config().map_err(|e| StoreError::Internal(format!("OS RNG: {e}")))?;
        let (sealed, blob) = self.seal_to(to, &details)?;
        cfg.sealed = Some(sealed);
        Ok(blob)
    }

    /// The configuration record that `custody.toml`'s recipients and
    /// approvals amount to.
    pub fn config_from_toml(&self) -> ArchiveConfig {
        let mut recipients = fingerprints(&self.recipients);
        recipients.sort();
        recipients.dedup();
        ArchiveConfig {
            recipients,
            approvals: toml_approvals(&self.config.publication_approvals),
            partner_policy: String::new(),
            own_policy: String::new(),
            sealed: None,
        }
    }
}

/// `publication_approvals` of `custody.toml` as the sorted set a `config`
/// record holds (unknown names are refused when the file is read).
pub(crate) fn toml_approvals(names: &[String]) -> Vec<Role> {
    let mut v: Vec<Role> = names.iter().filter_map(|r| Role::parse(r)).collect();
    v.sort();
    v.dedup();
    v
}

/// Where `custody.toml` (its recipients and approvals) differs from the
/// `config` record at `at`.
pub(crate) fn disagreement(
    toml: &crate::store::archive::Config,
    recipients: &[crate::core::crypto::RecipientKey],
    at: u64,
    c: &ArchiveConfig,
) -> Option<String> {
    let mut fps = fingerprints(recipients);
    fps.sort();
    fps.dedup();
    if fps != c.recipients {
        let extra = fps.iter().filter(|f| !c.recipients.contains(f)).count();
        let missing = c.recipients.iter().filter(|f| !fps.contains(f)).count();
        return Some(format!(
            "custody.toml lists recipients that the configuration record {at} does not ({extra} more, {missing} missing); only `custody config set` changes them"
        ));
    }
    let approvals = toml_approvals(&toml.publication_approvals);
    if approvals != c.approvals {
        return Some(format!(
            "custody.toml's publication_approvals {:?} differ from the configuration record {at}'s [{}]; only `custody config set` changes them",
            toml.publication_approvals,
            c.approvals
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    None
}

/// `custody.toml` as `config set` will leave it, written before the record
/// (FORMAT.md §7.4): the next open keeps it if the ledger's latest `config`
/// record matches it (a kill after the record), else removes it.
pub const CONFIG_NEXT_FILE: &str = "custody.toml.next";

impl Archive {
    /// Moves an archive to separation of duties (FORMAT.md §4.14): unless
    /// `admin` already holds an admin's key, the log key adds it as the admin
    /// `name` (the last record the log key may sign), then the admin signs
    /// the first `config` record (`custody.toml`'s recipients and approvals),
    /// and the log key signs a checkpoint. Used by `init` and `upgrade`.
    pub fn configure(
        &mut self,
        log: &SignerKey,
        admin: SignerKey,
        name: &str,
    ) -> Result<Record, StoreError> {
        self.check_signer(log)?;
        if let Some(at) = self.configured_at()? {
            return Err(StoreError::Input(format!(
                "the archive is already configured (record {at}); change its configuration with `custody config set`"
            )));
        }
        let v = admin.verifier();
        let actors = self.actors_at(self.db.size()?)?;
        match actors.by_key(&v) {
            Some(a) if a.role == Role::Admin => {}
            Some(a) => {
                return Err(StoreError::NotAuthorized(format!(
                    "the key {} is {}'s, a {}; give an admin's key",
                    v.encode(),
                    a.name,
                    a.role.as_str()
                )))
            }
            None => {
                self.actor = None;
                let (add, details) = self.sealed_change(
                    ActorAction::Add,
                    0,
                    Role::Admin,
                    &v,
                    ActorSealed::named(name),
                )?;
                self.commit_records(
                    vec![self.new_record(Payload::Actor(add))],
                    vec![details],
                    Vec::new(),
                    log,
                )?;
            }
        }
        self.set_actor(admin)?;
        let mut cfg = self.config_from_toml();
        let blob = self.seal_dedup(&self.recipients, &mut cfg)?;
        let r = self
            .commit_records(
                vec![self.new_record(Payload::Config(cfg))],
                vec![blob],
                Vec::new(),
                log,
            )?
            .remove(0);
        self.sign_checkpoint(log)?;
        Ok(r)
    }

    /// Appends a `config` record (signed by the current actor, an admin) and
    /// makes `custody.toml` match it: the file's next state is written first
    /// ([`CONFIG_NEXT_FILE`]), then the record and a checkpoint, then the
    /// file is renamed into place (FORMAT.md §7.4).
    pub fn set_config(
        &mut self,
        mut cfg: ArchiveConfig,
        toml: crate::store::archive::Config,
        log: &SignerKey,
    ) -> Result<Record, StoreError> {
        self.check_signer(log)?;
        let actors = self.actors_at(self.db.size()?)?;
        let to = toml
            .recipients
            .iter()
            .map(|r| RecipientKey::parse(r).map_err(StoreError::from))
            .collect::<Result<Vec<_>, _>>()?;
        let blob = self.seal_dedup(&to, &mut cfg)?;
        let payload = Payload::Config(cfg);
        self.authorize_new(&actors, &payload)?;
        let text =
            toml::to_string_pretty(&toml).map_err(|e| StoreError::Internal(e.to_string()))?;
        let next = self.root.join(CONFIG_NEXT_FILE);
        crate::store::files::outfile::write_durable(&next, text.as_bytes(), None)?;
        let r = match self.commit_records(
            vec![self.new_record(payload)],
            vec![blob],
            Vec::new(),
            log,
        ) {
            Ok(mut v) => v.remove(0),
            Err(e) => {
                let _ = std::fs::remove_file(&next);
                return Err(e);
            }
        };
        self.sign_checkpoint(log)?;
        self.settle_config_next()?;
        Ok(r)
    }

    /// Remembers `path` as the default actor key (`key` in `custody.toml`).
    pub fn remember_actor_key(&mut self, path: std::path::PathBuf) -> Result<(), StoreError> {
        let mut c = self.config.clone();
        c.key = Some(path);
        self.write_config(c)
    }

    /// Writes `c` as `custody.toml` (durably, replacing it whole) and keeps it.
    pub(crate) fn write_config(
        &mut self,
        c: crate::store::archive::Config,
    ) -> Result<(), StoreError> {
        let text = toml::to_string_pretty(&c).map_err(|e| StoreError::Internal(e.to_string()))?;
        let dst = self.root.join(crate::store::archive::CONFIG_FILE);
        crate::store::files::outfile::write_durable(&dst, text.as_bytes(), None)?;
        self.config = c;
        Ok(())
    }

    /// From now on, this process encrypts what it writes to `keys`
    /// (compartment `id`'s, FORMAT.md §4.18) instead of the configuration's
    /// recipients, and keeps no deduplication entry: the index, keyed by a
    /// secret the configuration's recipients open, would tell them what the
    /// compartment holds (§7.3). Called after the archive was checked.
    pub(crate) fn set_write_recipients(
        &mut self,
        id: u16,
        keys: Vec<RecipientKey>,
    ) -> Result<(), StoreError> {
        // A fresh key matches no entry; `keep: false` writes none.
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut key[..]).map_err(|e| StoreError::Internal(format!("OS RNG: {e}")))?;
        self.dedup = Some(crate::store::files::dedup_log::DedupKey { key, keep: false });
        self.recipients = keys;
        self.compartment = Some(id);
        Ok(())
    }

    /// The compartment this process writes documents to, if any.
    pub fn writing_to_compartment(&self) -> Option<u16> {
        self.compartment
    }

    /// Keeps or drops a [`CONFIG_NEXT_FILE`] left by `config set` (on every
    /// open, and at the end of `config set`): kept, by renaming it over
    /// `custody.toml`, if the latest `config` record is what it says.
    pub(crate) fn settle_config_next(&mut self) -> Result<(), StoreError> {
        let next = self.root.join(CONFIG_NEXT_FILE);
        let text = match std::fs::read_to_string(&next) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(crate::store::io_err(&next, e)),
        };
        let parsed = crate::store::archive::parse_config(&next, &text).and_then(|c| {
            let (_, r) = crate::store::archive::parse_config_keys(&self.root, &c)?;
            Ok((c, r))
        });
        // Kept only if it says what the ledger says, and changes nothing else
        // (keys, [blobs], …): `config set` changes recipients and approvals only.
        let same_rest = |c: &crate::store::archive::Config| {
            let mut a = c.clone();
            a.recipients = self.config.recipients.clone();
            a.publication_approvals = self.config.publication_approvals.clone();
            a == self.config
        };
        let keep = match (&parsed, self.ledger_config()?) {
            (Ok((c, r)), Some((at, l))) => disagreement(c, r, at, &l).is_none() && same_rest(c),
            _ => false,
        };
        if keep {
            let (c, r) = parsed.expect("checked above");
            let dst = self.root.join(crate::store::archive::CONFIG_FILE);
            crate::store::files::fault::rename(&next, &dst)
                .map_err(|e| crate::store::io_err(&dst, e))?;
            crate::store::files::blobs::sync_dir(&self.root)?;
            self.config = c;
            self.recipients = r;
        } else {
            std::fs::remove_file(&next).map_err(|e| crate::store::io_err(&next, e))?;
        }
        Ok(())
    }

    /// What a writing command checks before it appends a record or signs a
    /// checkpoint (FORMAT.md §4.14): the whole ledger verifies (frames,
    /// signatures, signers' roles, indices, the index files, checkpoints)
    /// and `custody.toml` agrees with the latest `config` record. Records
    /// that no checkpoint covers yet (an interrupted command's) are thus
    /// checked before any checkpoint covers them. Any finding but
    /// `checkpoint_missing` refuses the write.
    pub fn check_before_write(&mut self) -> Result<(), StoreError> {
        self.ensure_writable()?;
        if self.write_checked {
            return Ok(());
        }
        let mut bad = self.ledger_findings()?;
        // Findings about the index alone (FORMAT.md §7.2): it is rebuilt
        // from the ledger files, once, and the ledger checked again.
        let index_only = |b: &[crate::core::findings::Finding]| {
            !b.is_empty()
                && b.iter()
                    .all(|f| f.check == crate::core::findings::Check::IndexMismatch)
        };
        if index_only(&bad) {
            let f = &bad[0];
            let why = format!("{} {}: {}", f.subject, f.check.as_str(), f.reason);
            self.rebuild_index(why)?;
            bad = self.ledger_findings()?;
        }
        if let Some(f) = bad.first() {
            return Err(StoreError::NotVerified {
                findings: bad.len(),
                first: format!("{} {}: {}", f.subject, f.check.as_str(), f.reason),
                config: f.check == crate::core::findings::Check::Config,
            });
        }
        // This process holds the lock: only its own, checked, writes follow.
        self.write_checked = true;
        let covered = self.db.latest_checkpoint()?.map_or(0, |(s, _)| s);
        self.db.set_signatures_checked(covered)?;
        Ok(())
    }
}
