//! The `grant` record: an actor was given access to a document (FORMAT.md
//! §4.12; version 2, the actor by index, §4.16).

use super::{encode_str8, valid_actor_name, ActorChange, DocRef, Ingest, Kind, KindDef, Reader};
use super::{RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// Fields of a `grant` record (FORMAT.md §4.12).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Grant {
    #[serde(flatten)]
    pub about: DocRef,
    /// The actor given access.
    pub actor: GrantTo,
}

/// Whom a `grant` record gives access to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantTo {
    /// Version 1: the actor's name, in clear.
    Name(String),
    /// Version 2: the index of the `actor` record that added the actor.
    Added(u64),
}

impl KindDef for Grant {
    const KIND: Kind = Kind::Grant;
    const NAME: &'static str = "grant";
    const SEALED_VERSION: bool = true;
    const SIGNERS: &'static [Role] = &[Role::Editor, Role::Admin];
    const OWNER_MAY_SIGN: bool = true;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.12; version 2: the actor's index (§4.16).
    fn encode(&self, out: &mut Vec<u8>) {
        self.about.write(out);
        match &self.actor {
            GrantTo::Name(n) => encode_str8(out, n),
            GrantTo::Added(a) => out.extend_from_slice(&a.to_be_bytes()),
        }
    }
    /// At log position `index`: a version 2 grant names an earlier record.
    fn decode(r: &mut Reader<'_>, v2: bool, index: u64) -> Result<Self, RecordError> {
        let about = r.about()?;
        let actor = if v2 {
            let a = r.u64()?;
            if a >= index {
                return Err(RecordError::BadActor);
            }
            GrantTo::Added(a)
        } else {
            let n = r.str8()?;
            if !valid_actor_name(&n) {
                return Err(RecordError::BadName);
            }
            GrantTo::Name(n)
        };
        Ok(Grant { about, actor })
    }
    fn validate(&self, index: u64) -> Result<(), RecordError> {
        match &self.actor {
            GrantTo::Name(n) if !valid_actor_name(n) => Err(RecordError::BadName),
            GrantTo::Added(a) if *a >= index => Err(RecordError::BadActor),
            GrantTo::Name(_) | GrantTo::Added(_) => Ok(()),
        }
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        match &self.actor {
            GrantTo::Name(n) => format!("gave {n} access to document {}", self.about.document),
            GrantTo::Added(a) => format!(
                "gave {} access to document {}",
                ActorChange::label(*a),
                self.about.document
            ),
        }
    }
    fn is_v2(&self) -> bool {
        matches!(self.actor, GrantTo::Added(_))
    }
    fn sealed(&self) -> Option<&Sealed> {
        None
    }
    fn document(&self) -> Option<&Ingest> {
        None
    }
    fn about(&self) -> Option<u64> {
        Some(self.about.document)
    }
    fn commitment(&self) -> Option<&Digest> {
        Some(&self.about.commitment)
    }
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
