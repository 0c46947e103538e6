//! Actors and roles (FORMAT.md §4.7, §4.14): who may sign which record at
//! each point of the log.
//!
//! The state is rebuilt by replaying the log's `actor` and `config` records
//! in order; a record is authorized against the state *before* it. Until the
//! log's first `config` record (archives made before separation of duties, and the first record of
//! a new archive, which adds its first administrator) the log key (the
//! archive's owner) may sign every kind except `approve` and `config`; from
//! that record on the log key signs checkpoints only and every record is an
//! actor's (separation of duties, FORMAT.md §4.14).

use std::collections::{BTreeMap, HashMap};

use crate::core::findings::Check;
use crate::core::keys::{KeyId, SigAlg, VerifierKey};
use crate::core::record::{
    ActorAction, ActorChange, ArchiveConfig, GrantTo, Kind, Payload, Record, Role,
};

/// Roles allowed to sign each kind of record (FORMAT.md §4.14): each kind's
/// `SIGNERS`, in its file under `src/core/record/`.
pub fn allowed_roles(kind: Kind) -> &'static [Role] {
    kind.allowed_roles()
}

/// May the owner (the log key) sign this kind in a log not yet configured
/// (before its first `config` record)? Never `approve` (a person's
/// judgement) nor `config` (an administrator's): each kind's
/// `OWNER_MAY_SIGN`.
pub fn owner_may_sign(kind: Kind) -> bool {
    kind.owner_may_sign()
}

/// Does applying this record change who may sign what (an `actor` or a
/// `config` record)? Such records are replayed in log order.
pub fn changes_state(rec: &Record) -> bool {
    rec.body.payload.kind().changes_state()
}

/// Who signed a record, once authorized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// The log key.
    Owner,
    /// An actor, with the role they held when they signed.
    Actor { name: String, role: Role },
}

impl Signer {
    pub fn name(&self) -> &str {
        match self {
            Signer::Owner => "owner",
            Signer::Actor { name, .. } => name,
        }
    }
    pub fn role(&self) -> &'static str {
        match self {
            Signer::Owner => "owner",
            Signer::Actor { role, .. } => role.as_str(),
        }
    }
}

/// How a record's authorization is decided (see [`Actors::plan`]).
#[derive(Clone, Debug)]
pub enum AuthPlan {
    /// Decided without any signature check.
    Decided(Result<Signer, AuthError>),
    /// One signature check (FORMAT.md §4.3) by `key`: if it holds the
    /// outcome is `if_valid`, otherwise [`AuthError::BadSignature`].
    Check {
        key: ed25519_dalek::VerifyingKey,
        if_valid: Result<Signer, AuthError>,
    },
    /// Call [`Actors::authorize`] (and apply) in log order: `actor` records,
    /// and signer key IDs shared by several keys.
    Inline,
}

/// Why a record is not authorized.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("signed by key ID {0}, which is neither the log key nor the key of an actor added before this record")]
    UnknownSigner(KeyId),
    #[error("the Ed25519 signature does not verify")]
    BadSignature,
    #[error("signed by {actor}'s key, which was revoked at record {at}")]
    Revoked { actor: String, at: u64 },
    #[error("signed by {actor}'s old key, which was replaced at record {at}")]
    Rotated { actor: String, at: u64 },
    #[error("{who} may not sign {kind} records (allowed: {allowed})")]
    Role {
        who: String,
        kind: &'static str,
        allowed: String,
    },
    #[error("signed by the log key, which signs only checkpoints since the archive's configuration record {since}: {kind} records must be signed by an actor's key")]
    LogKeyRetired { kind: &'static str, since: u64 },
    #[error("{0}")]
    BadChange(String),
}

impl AuthError {
    /// The verification check a failure is reported under.
    pub fn check(&self) -> Check {
        match self {
            AuthError::UnknownSigner(_) | AuthError::BadSignature => Check::RecordSignature,
            AuthError::Revoked { .. } | AuthError::Rotated { .. } => Check::ActorRevoked,
            AuthError::Role { .. } | AuthError::LogKeyRetired { .. } => Check::ActorRole,
            AuthError::BadChange(_) => Check::ActorChange,
        }
    }
}

#[derive(Clone, Debug)]
enum KeyStatus {
    Active,
    Revoked(u64),
    Rotated(u64),
}

#[derive(Clone, Debug)]
struct KeyEntry {
    actor: String,
    key: VerifierKey,
    status: KeyStatus,
}

/// An actor as of some point of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorInfo {
    pub name: String,
    pub role: Role,
    pub key: VerifierKey,
    /// Index of the record that added the actor.
    pub added: u64,
    /// Index of the record that revoked the actor, if any.
    pub revoked: Option<u64>,
    /// Added by a version 2 record (FORMAT.md §4.16): `name` is the label
    /// `#N`.
    pub sealed: bool,
    /// The current key's name is sealed (added or rotated to by a version 2
    /// record): `key` checks signatures but is no vkey to print.
    pub key_sealed: bool,
}

/// The actors of one log, replayed up to some record.
#[derive(Clone, Debug, Default)]
pub struct Actors {
    actors: BTreeMap<String, ActorInfo>,
    /// The name (or label) of the actor added by each record.
    by_added: BTreeMap<u64, String>,
    keys: HashMap<KeyId, Vec<KeyEntry>>,
    /// The latest authorized `config` record: its index and content.
    config: Option<(u64, ArchiveConfig)>,
    /// Index of the first `config` record: from it on the log key signs no record.
    configured_at: Option<u64>,
    /// Each compartment's latest authorized record: its index and members
    /// (FORMAT.md §4.18).
    compartments: BTreeMap<u16, (u64, Vec<crate::core::hash::Digest>)>,
}

fn actor_key(c: &ActorChange) -> Result<VerifierKey, AuthError> {
    if !crate::core::record::valid_actor_key(&c.key) {
        return Err(AuthError::BadChange(format!(
            "{}: the key is not the canonical encoding of an Ed25519 point that is not of small order (§4.7)",
            c.name
        )));
    }
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&c.key)
        .map_err(|_| AuthError::BadChange(format!("{}: not an Ed25519 public key", c.name)))?;
    match &c.sealed {
        Some(x) => VerifierKey::stated(&c.name, x.key_id, vk),
        None => VerifierKey::new(&c.key_name, SigAlg::Ed25519, vk),
    }
    .map_err(|e| AuthError::BadChange(format!("{}: {e}", c.name)))
}

impl Actors {
    /// Every actor ever added, by name.
    pub fn all(&self) -> impl Iterator<Item = &ActorInfo> {
        self.actors.values()
    }

    /// The actor who holds or held a key with this ID (current or past keys).
    pub fn name_of(&self, key_id: KeyId) -> Option<&str> {
        self.keys.get(&key_id)?.first().map(|e| e.actor.as_str())
    }

    /// One actor by name, or by label `#N` (the index of the record that
    /// added it, FORMAT.md §4.16).
    pub fn get(&self, name: &str) -> Option<&ActorInfo> {
        self.actors.get(name).or_else(|| {
            let n: u64 = name.strip_prefix('#')?.parse().ok()?;
            self.actors.get(self.by_added.get(&n)?)
        })
    }

    /// The actor added by record `index`.
    pub fn added_by(&self, index: u64) -> Option<&ActorInfo> {
        self.actors.get(self.by_added.get(&index)?)
    }

    /// The actor a `grant` record names.
    pub fn grantee(&self, to: &GrantTo) -> Option<&ActorInfo> {
        match to {
            GrantTo::Name(n) => self.actors.get(n),
            GrantTo::Added(i) => self.added_by(*i),
        }
    }

    /// The name under which this state knows the actor a change is about:
    /// a version 2 change names the actor by the record that added it.
    fn subject(&self, c: &ActorChange) -> String {
        match (&c.sealed, c.action) {
            (Some(x), ActorAction::Revoke | ActorAction::Rotate) => self
                .by_added
                .get(&x.actor)
                .cloned()
                .unwrap_or_else(|| c.name.clone()),
            (Some(_), ActorAction::Add) | (None, _) => c.name.clone(),
        }
    }

    /// The active actor holding `key`, if any.
    /// Matched by the key's bytes: a key added by a version 2 record has
    /// its ID under [`crate::core::record::ACTOR_KEY_NAME`], not its own name.
    pub fn by_key(&self, key: &VerifierKey) -> Option<&ActorInfo> {
        self.keys.values().flatten().find_map(|e| {
            (matches!(e.status, KeyStatus::Active) && e.key.public_bytes() == key.public_bytes())
                .then(|| self.actors.get(&e.actor))
                .flatten()
        })
    }

    /// The latest configuration record (index, content), if the log has one.
    pub fn config(&self) -> Option<(u64, &ArchiveConfig)> {
        self.config.as_ref().map(|(i, c)| (*i, c))
    }

    /// The recipient sets a document may be encrypted to at this point
    /// (FORMAT.md §4.15, §4.18): the configuration's (`None`), and each
    /// compartment's members (the escrow among them). Empty before the
    /// first `config` record.
    pub fn recipient_sets(&self) -> Vec<(Option<u16>, Vec<crate::core::hash::Digest>)> {
        let Some((_, c)) = &self.config else {
            return Vec::new();
        };
        let mut out = vec![(None, c.recipients.clone())];
        for (id, (_, members)) in &self.compartments {
            out.push((Some(*id), members.clone()));
        }
        out
    }

    /// Whether a document or rekey record may list `fps` at this point
    /// (FORMAT.md §4.15, §4.18): they are the configuration's or a
    /// compartment's in force. `None` before the first `config` record.
    pub fn allows_recipients(&self, fps: &[crate::core::hash::Digest]) -> Option<bool> {
        let (_, c) = self.config.as_ref()?;
        Some(c.recipients == fps || self.compartments.values().any(|(_, m)| m == fps))
    }

    /// Whether `fps` (strictly ascending) are a set in force (the
    /// configuration's or a compartment's) and, beyond it, only fingerprints
    /// of `granted`: a file a grant added recipients to (FORMAT.md §4.19).
    /// `None` before the first `config` record.
    pub fn allows_recipients_with(
        &self,
        fps: &[crate::core::hash::Digest],
        granted: &[crate::core::hash::Digest],
    ) -> Option<bool> {
        if granted.is_empty() {
            return self.allows_recipients(fps);
        }
        let (_, c) = self.config.as_ref()?;
        let fits = |set: &[crate::core::hash::Digest]| {
            set.iter().all(|f| fps.binary_search(f).is_ok())
                && fps
                    .iter()
                    .all(|f| set.binary_search(f).is_ok() || granted.contains(f))
        };
        Some(fits(&c.recipients) || self.compartments.values().any(|(_, m)| fits(m)))
    }

    /// Compartment `id`'s latest record and members (FORMAT.md §4.18).
    pub fn compartment(&self, id: u16) -> Option<(u64, &[crate::core::hash::Digest])> {
        self.compartments.get(&id).map(|(i, m)| (*i, m.as_slice()))
    }

    /// The compartments' numbers, ascending.
    pub fn compartment_ids(&self) -> Vec<u16> {
        self.compartments.keys().copied().collect()
    }

    /// Index of the log's first `config` record: from it on every record is
    /// signed by an actor (FORMAT.md §4.14). `None` for a log made before separation of duties.
    pub fn configured_at(&self) -> Option<u64> {
        self.configured_at
    }

    /// Who may sign `kind`, given who they are (for refusing before writing).
    pub fn may_sign(&self, signer: &Signer, kind: Kind) -> Result<(), AuthError> {
        if let (Signer::Owner, Some(since)) = (signer, self.configured_at) {
            return Err(AuthError::LogKeyRetired {
                kind: kind.as_str(),
                since,
            });
        }
        let ok = match signer {
            Signer::Owner => owner_may_sign(kind),
            Signer::Actor { role, .. } => allowed_roles(kind).contains(role),
        };
        if ok {
            return Ok(());
        }
        let mut allowed: Vec<&str> = allowed_roles(kind).iter().map(|r| r.as_str()).collect();
        if owner_may_sign(kind) && self.configured_at.is_none() {
            allowed.push("the log key");
        }
        Err(AuthError::Role {
            who: match signer {
                Signer::Owner => "the log key (owner)".into(),
                Signer::Actor { name, role } => format!("{name} ({})", role.as_str()),
            },
            kind: kind.as_str(),
            allowed: allowed.join(", "),
        })
    }

    /// What deciding `rec`'s authorization takes at this point: for most
    /// records one signature check by one known key, whose outcome is then
    /// fixed (what [`Actors::authorize`] would return). Lets a verifier check
    /// many signatures in a batch while replaying the state in log order.
    pub fn plan(&self, rec: &Record, log_key: &VerifierKey) -> AuthPlan {
        let kind = rec.body.payload.kind();
        // What changes the state is applied in log order, at once.
        if kind.changes_state() {
            return AuthPlan::Inline;
        }
        let cands = self.keys.get(&rec.body.signer);
        if rec.body.signer == log_key.key_id() {
            return match cands {
                None => AuthPlan::Check {
                    key: *log_key.verifying_key(),
                    if_valid: self.may_sign(&Signer::Owner, kind).map(|_| Signer::Owner),
                },
                Some(_) => AuthPlan::Inline,
            };
        }
        match cands.map(Vec::as_slice) {
            None => AuthPlan::Decided(Err(AuthError::UnknownSigner(rec.body.signer))),
            Some([e]) => AuthPlan::Check {
                key: *e.key.verifying_key(),
                if_valid: self.entry_outcome(e, rec),
            },
            Some(_) => AuthPlan::Inline,
        }
    }

    /// Checks that `rec` is signed by the log key or by an actor whose key is
    /// valid at this point, with a role allowed for its kind.
    pub fn authorize(&self, rec: &Record, log_key: &VerifierKey) -> Result<Signer, AuthError> {
        let kind = rec.body.payload.kind();
        if rec.body.signer == log_key.key_id()
            && rec
                .verify_signature(log_key.verifying_key(), log_key.key_id())
                .is_ok()
        {
            let s = Signer::Owner;
            self.may_sign(&s, kind)?;
            return Ok(s);
        }
        let Some(cands) = self.keys.get(&rec.body.signer) else {
            return Err(if rec.body.signer == log_key.key_id() {
                AuthError::BadSignature
            } else {
                AuthError::UnknownSigner(rec.body.signer)
            });
        };
        let Some(e) = cands.iter().find(|e| {
            rec.verify_signature(e.key.verifying_key(), e.key.key_id())
                .is_ok()
        }) else {
            return Err(AuthError::BadSignature);
        };
        self.entry_outcome(e, rec)
    }

    /// The outcome for a record whose signature verifies with key entry `e`.
    fn entry_outcome(&self, e: &KeyEntry, rec: &Record) -> Result<Signer, AuthError> {
        let kind = rec.body.payload.kind();
        match e.status {
            KeyStatus::Active => {}
            KeyStatus::Revoked(at) => {
                return Err(AuthError::Revoked {
                    actor: e.actor.clone(),
                    at,
                })
            }
            KeyStatus::Rotated(at) => {
                return Err(AuthError::Rotated {
                    actor: e.actor.clone(),
                    at,
                })
            }
        }
        let role = self
            .actors
            .get(&e.actor)
            .map(|a| a.role)
            .ok_or(AuthError::UnknownSigner(rec.body.signer))?;
        let s = Signer::Actor {
            name: e.actor.clone(),
            role,
        };
        self.may_sign(&s, kind)?;
        Ok(s)
    }

    /// Applies an (already authorized) `actor` or `config` record; other
    /// kinds are ignored.
    pub fn apply(&mut self, rec: &Record, log_key: &VerifierKey) -> Result<(), AuthError> {
        let c = match &rec.body.payload {
            Payload::Actor(c) => c,
            Payload::Config(c) => {
                self.configured_at.get_or_insert(rec.body.index);
                self.config = Some((rec.body.index, c.clone()));
                return Ok(());
            }
            Payload::Compartment(c) => {
                // A compartment is part of a configured archive (§4.18).
                if self.config.is_none() {
                    return Err(AuthError::BadChange(format!(
                        "compartment #{}: before the log's first config record (§4.18)",
                        c.id
                    )));
                }
                self.compartments
                    .insert(c.id, (rec.body.index, c.members.clone()));
                return Ok(());
            }
            Payload::Ingest(_)
            | Payload::Share(_)
            | Payload::Receive(_)
            | Payload::Access(_)
            | Payload::Derive(_)
            | Payload::Annotate(_)
            | Payload::Approve(_)
            | Payload::Grant(_)
            | Payload::Audit(_)
            | Payload::Rekey(_)
            | Payload::Rewrap(_) => return Ok(()),
        };
        self.check_change(c, log_key)?;
        let at = rec.body.index;
        let key = actor_key(c)?;
        let name = self.subject(c);
        match c.action {
            ActorAction::Add => {
                self.keys.entry(key.key_id()).or_default().push(KeyEntry {
                    actor: name.clone(),
                    key: key.clone(),
                    status: KeyStatus::Active,
                });
                self.by_added.insert(at, name.clone());
                self.actors.insert(
                    name.clone(),
                    ActorInfo {
                        name,
                        role: c.role,
                        key,
                        added: at,
                        revoked: None,
                        sealed: c.sealed.is_some(),
                        key_sealed: c.sealed.is_some(),
                    },
                );
            }
            ActorAction::Revoke | ActorAction::Rotate => {
                let a = self
                    .actors
                    .get_mut(&name)
                    .ok_or_else(|| AuthError::BadChange(format!("no actor {name}")))?;
                let old = a.key.clone();
                for e in self.keys.get_mut(&old.key_id()).into_iter().flatten() {
                    if e.actor == name && e.key.public_bytes() == old.public_bytes() {
                        e.status = match c.action {
                            ActorAction::Revoke => KeyStatus::Revoked(at),
                            _ => KeyStatus::Rotated(at),
                        };
                    }
                }
                if c.action == ActorAction::Revoke {
                    a.revoked = Some(at);
                } else {
                    a.key = key.clone();
                    a.key_sealed = c.sealed.is_some();
                    self.keys.entry(key.key_id()).or_default().push(KeyEntry {
                        actor: name.clone(),
                        key,
                        status: KeyStatus::Active,
                    });
                }
            }
        }
        Ok(())
    }

    /// Is this change consistent with the state (FORMAT.md §4.7)?
    pub fn check_change(&self, c: &ActorChange, log_key: &VerifierKey) -> Result<(), AuthError> {
        let key = actor_key(c)?;
        let key_in_use = key.public_bytes() == log_key.public_bytes()
            || self
                .keys
                .values()
                .flatten()
                .any(|e| e.key.public_bytes() == key.public_bytes());
        // One key ID, one key: a record's `signer` then names exactly one
        // key of the log (FORMAT.md §4.7).
        let id_in_use = key.key_id() == log_key.key_id() || self.keys.contains_key(&key.key_id());
        let bad = |m: String| Err(AuthError::BadChange(m));
        match (c.action, self.get(&c.name)) {
            (ActorAction::Add, Some(_)) => bad(format!("actor {} already exists", c.name)),
            (ActorAction::Add, None) if key_in_use => bad(format!(
                "the key of {} is already the log key or another actor's key",
                c.name
            )),
            (ActorAction::Add | ActorAction::Rotate, _) if id_in_use => bad(format!(
                "the key of {} has key ID {}, already the ID of the log key or of another key added before (§4.7)",
                c.name,
                key.key_id()
            )),
            (ActorAction::Add, None) => Ok(()),
            (_, None) => bad(format!("no actor {}", c.name)),
            (_, Some(a)) if a.revoked.is_some() => bad(format!("{} is already revoked", c.name)),
            (_, Some(a)) if a.role != c.role => bad(format!(
                "{} is {}, the record says {}",
                c.name,
                a.role.as_str(),
                c.role.as_str()
            )),
            (ActorAction::Revoke, Some(a)) if a.key.public_bytes() != key.public_bytes() => {
                bad(format!("the record does not name {}'s current key", c.name))
            }
            // A version 1 revoke repeats the current key's name too (its
            // key ID is the one the actor's records carry).
            (ActorAction::Revoke, Some(a)) if c.sealed.is_none() && a.key.key_id() != key.key_id() => {
                bad(format!(
                    "the record does not repeat the name of {}'s current key",
                    c.name
                ))
            }
            (ActorAction::Rotate, Some(_)) if key_in_use => {
                bad(format!("the new key of {} is already in use", c.name))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::Digest;
    use crate::core::keys::SignerKey;
    use crate::core::record::{Approve, DocRef, Purpose, RecordBody};

    fn log() -> SignerKey {
        SignerKey::from_seed("example.org/log", &[1; 32]).unwrap()
    }
    fn person(n: u8) -> SignerKey {
        SignerKey::from_seed(&format!("example.org/p{n}"), &[n; 32]).unwrap()
    }
    fn rec(index: u64, signer: &SignerKey, payload: Payload) -> Record {
        RecordBody {
            index,
            time_ms: 1,
            origin: "example.org/log".into(),
            signer: signer.key_id(),
            payload,
        }
        .sign(signer)
        .unwrap()
    }
    fn change(action: ActorAction, name: &str, role: Role, k: &SignerKey) -> Payload {
        Payload::Actor(ActorChange {
            action,
            name: name.into(),
            role,
            key_name: k.name().into(),
            key: k.public_bytes(),
            reason: String::new(),
            sealed: None,
        })
    }
    fn approve() -> Payload {
        Payload::Approve(Approve {
            about: DocRef {
                document: 0,
                commitment: Digest([0; 32]),
            },
            purpose: Purpose::Publication,
        })
    }
    /// What `plan` says, resolved with one signature check (FORMAT.md
    /// §4.3), must be what `authorize` says (the batch verifier relies on it).
    fn planned(a: &Actors, r: &Record) -> Option<Result<Signer, AuthError>> {
        match a.plan(r, &log().verifier()) {
            AuthPlan::Decided(d) => Some(d),
            AuthPlan::Check { key, if_valid } => Some(
                if crate::core::sigbatch::verify_key(
                    &key,
                    &crate::core::record::RecordBody::signed_message(r.body_bytes()),
                    &r.signature,
                ) {
                    if_valid
                } else {
                    Err(AuthError::BadSignature)
                },
            ),
            AuthPlan::Inline => None,
        }
    }

    fn replay(a: &mut Actors, r: &Record) -> Result<Signer, AuthError> {
        if let Some(p) = planned(a, r) {
            assert_eq!(p, a.authorize(r, &log().verifier()), "{r:?}");
        }
        let s = a.authorize(r, &log().verifier())?;
        a.apply(r, &log().verifier())?;
        Ok(s)
    }

    #[test]
    fn roles_revocation_and_rotation() {
        let mut a = Actors::default();
        let (ed, j, j2) = (person(2), person(3), person(4));
        // The owner adds an editor and a journalist.
        replay(
            &mut a,
            &rec(0, &log(), change(ActorAction::Add, "ed", Role::Editor, &ed)),
        )
        .unwrap();
        replay(
            &mut a,
            &rec(
                1,
                &log(),
                change(ActorAction::Add, "jo", Role::Journalist, &j),
            ),
        )
        .unwrap();
        // The editor approves; the journalist and the owner may not.
        assert_eq!(
            replay(&mut a, &rec(2, &ed, approve())).unwrap(),
            Signer::Actor {
                name: "ed".into(),
                role: Role::Editor
            }
        );
        assert!(matches!(
            replay(&mut a, &rec(3, &j, approve())),
            Err(AuthError::Role { .. })
        ));
        assert!(matches!(
            replay(&mut a, &rec(3, &log(), approve())),
            Err(AuthError::Role { .. })
        ));
        // A journalist may not add actors.
        assert!(matches!(
            replay(
                &mut a,
                &rec(
                    3,
                    &j,
                    change(ActorAction::Add, "x", Role::Admin, &person(9))
                )
            ),
            Err(AuthError::Role { .. })
        ));
        // Rotation: the old key stops, the new one works.
        replay(
            &mut a,
            &rec(
                3,
                &log(),
                change(ActorAction::Rotate, "jo", Role::Journalist, &j2),
            ),
        )
        .unwrap();
        let old = rec(
            4,
            &j,
            change(ActorAction::Add, "y", Role::Admin, &person(8)),
        );
        assert_eq!(planned(&a, &old), None); // actor records are replayed inline
        let by_old = rec(4, &j, approve());
        assert_eq!(
            planned(&a, &by_old),
            Some(Err(AuthError::Rotated {
                actor: "jo".into(),
                at: 3
            }))
        );
        assert_eq!(
            a.authorize(&old, &log().verifier()),
            Err(AuthError::Rotated {
                actor: "jo".into(),
                at: 3
            })
        );
        // Revocation.
        replay(
            &mut a,
            &rec(
                4,
                &log(),
                change(ActorAction::Revoke, "ed", Role::Editor, &ed),
            ),
        )
        .unwrap();
        let by_revoked = rec(5, &ed, approve());
        assert_eq!(
            planned(&a, &by_revoked),
            Some(a.authorize(&by_revoked, &log().verifier()))
        );
        let mut spoiled = by_revoked.clone();
        spoiled.signature[40] ^= 1;
        assert_eq!(planned(&a, &spoiled), Some(Err(AuthError::BadSignature)));
        assert_eq!(
            a.authorize(&rec(5, &ed, approve()), &log().verifier()),
            Err(AuthError::Revoked {
                actor: "ed".into(),
                at: 4
            })
        );
        assert_eq!(
            a.authorize(&rec(5, &ed, approve()), &log().verifier())
                .unwrap_err()
                .check(),
            Check::ActorRevoked
        );
        // Unknown key, bad changes.
        assert_eq!(
            a.authorize(&rec(5, &person(7), approve()), &log().verifier()),
            Err(AuthError::UnknownSigner(person(7).key_id()))
        );
        for bad in [
            change(ActorAction::Add, "jo", Role::Journalist, &person(6)),
            change(ActorAction::Add, "z", Role::Journalist, &j2),
            change(ActorAction::Revoke, "ed", Role::Editor, &ed),
            change(ActorAction::Revoke, "nobody", Role::Editor, &ed),
            change(ActorAction::Rotate, "jo", Role::Editor, &person(6)),
        ] {
            let r = rec(6, &log(), bad);
            assert!(
                matches!(replay(&mut a, &r), Err(AuthError::BadChange(_))),
                "{r:?}"
            );
        }
    }

    fn config_payload() -> Payload {
        Payload::Config(crate::core::record::ArchiveConfig {
            recipients: vec![Digest([3; 32])],
            approvals: vec![Role::Editor],
            partner_policy: String::new(),
            own_policy: String::new(),
            sealed: None,
        })
    }

    fn ingest() -> Payload {
        Payload::Ingest(crate::core::record::Ingest {
            blob: Digest([1; 32]),
            blob_size: 1,
            commitment: Digest([2; 32]),
            meta: Digest([3; 32]),
            meta_size: 1,
            recipients: vec![Digest([4; 32])],
        })
    }

    /// Issue 14: from the first `config` record on, the log key signs no
    /// record; only an admin signs `config`, and the log key never does.
    #[test]
    fn the_first_config_record_retires_the_log_key() {
        let mut a = Actors::default();
        let admin = person(5);
        // Before any config: the log key adds the admin, and may ingest.
        replay(
            &mut a,
            &rec(
                0,
                &log(),
                change(ActorAction::Add, "ad", Role::Admin, &admin),
            ),
        )
        .unwrap();
        assert_eq!(
            replay(&mut a, &rec(1, &log(), ingest())).unwrap(),
            Signer::Owner
        );
        // The log key may never sign a config record.
        assert!(matches!(
            replay(&mut a, &rec(2, &log(), config_payload())),
            Err(AuthError::Role { .. })
        ));
        assert_eq!(a.configured_at(), None);
        // The admin configures.
        replay(&mut a, &rec(2, &admin, config_payload())).unwrap();
        assert_eq!(a.configured_at(), Some(2));
        assert_eq!(a.config().unwrap().1.approvals, vec![Role::Editor]);
        // From here the log key signs nothing, whatever the kind.
        for p in [
            ingest(),
            change(ActorAction::Add, "x", Role::Editor, &person(9)),
            config_payload(),
            approve(),
        ] {
            let r = rec(3, &log(), p);
            let e = a.authorize(&r, &log().verifier()).unwrap_err();
            assert_eq!(
                e,
                AuthError::LogKeyRetired {
                    kind: r.body.payload.kind().as_str(),
                    since: 2
                }
            );
            assert_eq!(e.check(), Check::ActorRole);
        }
        // A journalist may not configure; the admin may ingest.
        let j = person(6);
        replay(
            &mut a,
            &rec(
                3,
                &admin,
                change(ActorAction::Add, "jo", Role::Journalist, &j),
            ),
        )
        .unwrap();
        assert!(matches!(
            replay(&mut a, &rec(4, &j, config_payload())),
            Err(AuthError::Role { .. })
        ));
        replay(&mut a, &rec(4, &admin, ingest())).unwrap();
        // A revoked admin's config is refused and changes nothing.
        replay(
            &mut a,
            &rec(
                5,
                &admin,
                change(ActorAction::Revoke, "ad", Role::Admin, &admin),
            ),
        )
        .unwrap();
        assert!(matches!(
            a.authorize(&rec(6, &admin, config_payload()), &log().verifier()),
            Err(AuthError::Revoked { .. })
        ));
        assert_eq!(a.config().unwrap().0, 2);
    }
}
