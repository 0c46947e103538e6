//! The `receive` record: a document arrived from a partner outlet's bundle
//! (FORMAT.md §4.6; version 2 with the witness policy applied, §4.16).

use super::{check_recipients, short, valid_origin, Ingest, Kind, KindDef, Reader};
use super::{RecordError, Role, Sealed};
use crate::core::hash::Digest;
use crate::core::keys::KeyId;

/// Where a received document comes from: one `share` record of another log,
/// proven against one of its checkpoints (FORMAT.md §4.6).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    /// Origin of the sending log.
    pub origin: String,
    /// Key ID of the sending log's verifier key.
    pub key_id: KeyId,
    /// Index of the sender's `share` record in its log.
    pub index: u64,
    /// RFC 6962 leaf hash of that `share` record.
    pub leaf_hash: Digest,
    /// Size of the sender's checkpoint the record was proven against.
    pub checkpoint_size: u64,
    /// Root hash of that checkpoint.
    pub checkpoint_root: Digest,
}

/// Fields of a `receive` record (FORMAT.md §4.6).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Receive {
    /// The document as stored here (same meaning as in an `ingest` record).
    #[serde(flatten)]
    pub stored: Ingest,
    /// The sender's `share` record this document came with.
    pub from: Link,
    /// SHA-256 of the evidence file kept with the archive (FORMAT.md §10.2).
    pub evidence: Digest,
    /// Length in bytes of the evidence file.
    pub evidence_size: u64,
    /// Version 2: the witness policy the bundle was checked against, and
    /// where it came from (FORMAT.md §4.16): an override is on record.
    pub policy: Option<ReceivePolicy>,
}

/// The witness policy a `receive` applied (FORMAT.md §4.16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReceivePolicy {
    pub source: PolicySource,
    /// SHA-256 of the policy's encoded text (§11.6); all zero for `none`.
    pub digest: Digest,
}

/// Where the policy a `receive` applied came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicySource {
    /// No quorum: none given, none configured.
    None = 0,
    /// The archive's partners' policy (the latest `config` record).
    Config = 1,
    /// The command line's (`--witness`, `--quorum`, `--policy`): an override
    /// when a configuration has a partners' policy.
    Command = 2,
}

impl ReceivePolicy {
    /// A policy source other than `none` names a policy, `none` names none
    /// (an all-zero digest).
    fn check(&self) -> Result<(), RecordError> {
        if (self.source == PolicySource::None) != (self.digest == Digest([0; 32])) {
            return Err(RecordError::BadEnum(self.source as u8));
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> Result<ReceivePolicy, RecordError> {
        let source = match r.u8()? {
            0 => PolicySource::None,
            1 => PolicySource::Config,
            2 => PolicySource::Command,
            b => return Err(RecordError::BadEnum(b)),
        };
        let p = ReceivePolicy {
            source,
            digest: r.digest()?,
        };
        p.check()?;
        Ok(p)
    }
}

impl KindDef for Receive {
    const KIND: Kind = Kind::Receive;
    const NAME: &'static str = "receive";
    const SEALED_VERSION: bool = true;
    const SIGNERS: &'static [Role] = &[Role::Journalist, Role::Editor, Role::Admin];
    const OWNER_MAY_SIGN: bool = true;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.6; version 2 adds the policy (§4.16).
    fn encode(&self, out: &mut Vec<u8>) {
        self.stored.write(out);
        let l = &self.from;
        out.push(l.origin.len() as u8);
        out.extend_from_slice(l.origin.as_bytes());
        out.extend_from_slice(&l.key_id.0.to_be_bytes());
        out.extend_from_slice(&l.index.to_be_bytes());
        out.extend_from_slice(l.leaf_hash.as_bytes());
        out.extend_from_slice(&l.checkpoint_size.to_be_bytes());
        out.extend_from_slice(l.checkpoint_root.as_bytes());
        out.extend_from_slice(self.evidence.as_bytes());
        out.extend_from_slice(&self.evidence_size.to_be_bytes());
        if let Some(p) = &self.policy {
            out.push(p.source as u8);
            out.extend_from_slice(p.digest.as_bytes());
        }
    }
    fn decode(r: &mut Reader<'_>, v2: bool, _index: u64) -> Result<Self, RecordError> {
        Ok(Receive {
            stored: Ingest::read(r)?,
            from: Link {
                origin: r.origin()?,
                key_id: KeyId(r.u32()?),
                index: r.u64()?,
                leaf_hash: r.digest()?,
                checkpoint_size: r.u64()?,
                checkpoint_root: r.digest()?,
            },
            evidence: r.digest()?,
            evidence_size: r.u64()?,
            policy: if v2 {
                Some(ReceivePolicy::read(r)?)
            } else {
                None
            },
        })
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        check_recipients(&self.stored.recipients)?;
        if let Some(p) = &self.policy {
            p.check()?;
        }
        if !valid_origin(&self.from.origin) {
            return Err(RecordError::BadOrigin);
        }
        Ok(())
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        format!(
            "from {} record {} (checkpoint {}), blob {}…",
            self.from.origin,
            self.from.index,
            self.from.checkpoint_size,
            short(&self.stored.blob)
        )
    }
    fn is_v2(&self) -> bool {
        self.policy.is_some()
    }
    fn sealed(&self) -> Option<&Sealed> {
        None
    }
    fn document(&self) -> Option<&Ingest> {
        Some(&self.stored)
    }
    fn about(&self) -> Option<u64> {
        None
    }
    fn commitment(&self) -> Option<&Digest> {
        Some(&self.stored.commitment)
    }
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
