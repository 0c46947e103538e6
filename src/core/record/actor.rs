//! The `actor` record: an actor was added, revoked or given a new key
//! (FORMAT.md §4.7; version 2, naming no one, §4.16).

use super::{check_text, encode_str16, encode_str8, valid_actor_name, Ingest, Kind, KindDef};
use super::{Reader, RecordError, Role, Sealed};
use crate::core::hash::Digest;
use crate::core::keys::KeyId;

/// The key name under which a key added or rotated to by a version 2
/// `actor` record has its key ID (FORMAT.md §4.16): one for every actor, so
/// that the ID says nothing of the key's own name.
pub const ACTOR_KEY_NAME: &str = "custody-actor";

/// The key ID of an actor's key in version 2 records (FORMAT.md §4.16):
/// `KeyId(ACTOR_KEY_NAME, 0x01, key)`. Records the key signs carry it.
pub fn actor_key_id(key: &[u8; 32]) -> KeyId {
    KeyId::compute(ACTOR_KEY_NAME, 0x01, key)
}

/// Is `key` a valid actor key (FORMAT.md §4.7): the canonical encoding
/// (RFC 8032 §5.1.2: y below p, no sign bit for x = 0) of a point on the
/// curve (§5.1.3) that is not of small order? `actor add` and `rotate`
/// refuse another key, and a verifier reports it as `actor_change`.
pub fn valid_actor_key(key: &[u8; 32]) -> bool {
    let c = curve25519_dalek::edwards::CompressedEdwardsY(*key);
    c.decompress()
        .is_some_and(|p| p.compress().to_bytes() == *key && !p.is_small_order())
}

/// The version 2 fields of an `actor` record (FORMAT.md §4.16): who the
/// actor is, without a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SealedActor {
    /// Index of the `actor` record that added the actor (for `add`, the
    /// record's own index): the actor's identity in the log.
    pub actor: u64,
    /// The key ID records signed by `key` carry: [`actor_key_id`] (not
    /// encoded: derived from `key`, FORMAT.md §4.16).
    pub key_id: KeyId,
    /// The actor's name, the key's name and the reason, sealed.
    pub details: Sealed,
}

/// What an `actor` record does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorAction {
    /// A new actor with a role and a key.
    Add = 1,
    /// The actor's key stops being valid from this record on.
    Revoke = 2,
    /// The actor's key is replaced by a new one (the old one stops being valid).
    Rotate = 3,
}

/// Fields of an `actor` record (FORMAT.md §4.7).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ActorChange {
    pub action: ActorAction,
    /// The actor's name in this archive (1 to 64 of `a-z 0-9 . _ -`).
    pub name: String,
    /// The role (for `add`); for `revoke` and `rotate` the actor's current role.
    pub role: Role,
    /// C2SP key name of the actor's key (`add`: the key; `rotate`: the new key;
    /// `revoke`: the revoked key).
    pub key_name: String,
    /// Ed25519 public key, 32 bytes.
    pub key: [u8; 32],
    /// Why (revocations); empty otherwise. At most 1,024 bytes.
    pub reason: String,
    /// Version 2: the name, key name and reason are sealed; `name` is then
    /// the actor's label `#N` (N = `sealed.actor`), `key_name` and `reason`
    /// are empty.
    pub sealed: Option<SealedActor>,
}

impl ActorChange {
    /// The label of a version 2 actor: `#` and the index of the record that
    /// added it (never a valid version 1 name).
    pub fn label(actor: u64) -> String {
        format!("#{actor}")
    }
}

/// Only a revocation carries a reason (FORMAT.md §4.7): an `add` or a
/// `rotate` with one is not a valid record.
fn check_reason_action(action: ActorAction, reason: &str) -> Result<(), RecordError> {
    if action != ActorAction::Revoke && !reason.is_empty() {
        return Err(RecordError::ReasonNotRevoke);
    }
    Ok(())
}

fn read_action(r: &mut Reader<'_>) -> Result<ActorAction, RecordError> {
    match r.u8()? {
        1 => Ok(ActorAction::Add),
        2 => Ok(ActorAction::Revoke),
        3 => Ok(ActorAction::Rotate),
        b => Err(RecordError::BadEnum(b)),
    }
}

fn read_role(r: &mut Reader<'_>) -> Result<Role, RecordError> {
    let rb = r.u8()?;
    Role::from_byte(rb).ok_or(RecordError::BadEnum(rb))
}

fn read_key(r: &mut Reader<'_>) -> Result<[u8; 32], RecordError> {
    let mut key = [0u8; 32];
    key.copy_from_slice(r.take(32)?);
    Ok(key)
}

impl ActorChange {
    /// A version 1 `actor` record's fields (§4.7).
    fn decode_v1(r: &mut Reader<'_>) -> Result<ActorChange, RecordError> {
        let action = read_action(r)?;
        let name = r.str8()?;
        let role = read_role(r)?;
        let key_name = r.str8()?;
        let key = read_key(r)?;
        let reason = r.text16()?;
        if !valid_actor_name(&name) || !crate::core::keys::is_valid_key_name(&key_name) {
            return Err(RecordError::BadName);
        }
        check_reason_action(action, &reason)?;
        Ok(ActorChange {
            action,
            name,
            role,
            key_name,
            key,
            reason,
            sealed: None,
        })
    }

    /// A version 2 `actor` payload (FORMAT.md §4.16) of the record at `index`.
    fn decode_v2(r: &mut Reader<'_>, index: u64) -> Result<ActorChange, RecordError> {
        let action = read_action(r)?;
        let role = read_role(r)?;
        let actor = r.u64()?;
        let key = read_key(r)?;
        let key_id = actor_key_id(&key);
        let details = r.sealed()?;
        let own = action == ActorAction::Add;
        if (own && actor != index) || (!own && actor >= index) {
            return Err(RecordError::BadActor);
        }
        Ok(ActorChange {
            action,
            name: ActorChange::label(actor),
            role,
            key_name: String::new(),
            key,
            reason: String::new(),
            sealed: Some(SealedActor {
                actor,
                key_id,
                details,
            }),
        })
    }
}

impl KindDef for ActorChange {
    const KIND: Kind = Kind::Actor;
    const NAME: &'static str = "actor";
    const SEALED_VERSION: bool = true;
    const SIGNERS: &'static [Role] = &[Role::Admin];
    const OWNER_MAY_SIGN: bool = true;
    const CHANGES_STATE: bool = true;

    /// FORMAT.md §4.7; version 2 (§4.16): the actor's index and the sealed
    /// details instead of the names and the reason.
    fn encode(&self, out: &mut Vec<u8>) {
        match &self.sealed {
            Some(x) => {
                out.push(self.action as u8);
                out.push(self.role as u8);
                out.extend_from_slice(&x.actor.to_be_bytes());
                out.extend_from_slice(&self.key);
                x.details.write(out);
            }
            None => {
                out.push(self.action as u8);
                encode_str8(out, &self.name);
                out.push(self.role as u8);
                encode_str8(out, &self.key_name);
                out.extend_from_slice(&self.key);
                encode_str16(out, &self.reason);
            }
        }
    }
    fn decode(r: &mut Reader<'_>, v2: bool, index: u64) -> Result<Self, RecordError> {
        if v2 {
            ActorChange::decode_v2(r, index)
        } else {
            ActorChange::decode_v1(r)
        }
    }
    fn validate(&self, index: u64) -> Result<(), RecordError> {
        let a = self;
        match a.sealed {
            Some(x) => {
                let own = a.action == ActorAction::Add;
                if a.name != ActorChange::label(x.actor)
                    || x.key_id != actor_key_id(&a.key)
                    || !a.key_name.is_empty()
                    || !a.reason.is_empty()
                    || (own && x.actor != index)
                    || (!own && x.actor >= index)
                {
                    return Err(RecordError::BadActor);
                }
            }
            None => {
                if !valid_actor_name(&a.name) || !crate::core::keys::is_valid_key_name(&a.key_name)
                {
                    return Err(RecordError::BadName);
                }
                check_text(&a.reason)?;
                check_reason_action(a.action, &a.reason)?;
            }
        }
        Ok(())
    }
    /// A version 2 `add` names itself: its `actor` field is its own index
    /// (FORMAT.md §4.16).
    fn place(&mut self, index: u64) {
        if let (ActorAction::Add, Some(x)) = (self.action, self.sealed.as_mut()) {
            x.actor = index;
            self.name = ActorChange::label(index);
        }
    }
    fn summary(&self) -> String {
        let a = self;
        match a.action {
            _ if a.sealed.is_some() => {
                let id = a.sealed.map(|x| x.key_id.to_string()).unwrap_or_default();
                match a.action {
                    ActorAction::Add => {
                        format!(
                            "add {} as {} (key {id}; name sealed)",
                            a.name,
                            a.role.as_str()
                        )
                    }
                    ActorAction::Revoke => format!("revoke {} (reason sealed)", a.name),
                    ActorAction::Rotate => format!("rotate {} to key {id}", a.name),
                }
            }
            ActorAction::Add => format!("add {} as {} ({})", a.name, a.role.as_str(), a.key_name),
            ActorAction::Revoke => format!(
                "revoke {}{}",
                a.name,
                if a.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", a.reason)
                }
            ),
            ActorAction::Rotate => format!("rotate {} to a new key ({})", a.name, a.key_name),
        }
    }
    fn is_v2(&self) -> bool {
        self.sealed.is_some()
    }
    fn sealed(&self) -> Option<&Sealed> {
        self.sealed.as_ref().map(|x| &x.details)
    }
    fn document(&self) -> Option<&Ingest> {
        None
    }
    fn about(&self) -> Option<u64> {
        None
    }
    fn commitment(&self) -> Option<&Digest> {
        None
    }
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
