//! Findings of `verify`: verification is data, not an error.
//!
//! A failed check is a [`Finding`] naming the entry, the check and the reason;
//! the CLI prints the list and maps "any finding" to exit code 1.

use serde::Serialize;

/// Which check produced a finding. The names are stable: they appear in `--json`
/// output and are listed in docs/SECURITY.md ("Verification findings").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Check {
    /// The configuration names a bad log key or origin, or `custody.toml`
    /// disagrees with the latest `config` record (FORMAT.md §7.4).
    Config,
    /// A frame of the record file cannot be read (torn, bad length).
    RecordFrame,
    /// A record does not decode canonically.
    RecordDecode,
    /// A record's index is not its position in the log.
    RecordIndex,
    /// A record names another log origin.
    RecordOrigin,
    /// A record's signature does not verify, or it is signed by an unknown key.
    RecordSignature,
    /// The database disagrees with the append-only files (leaf hash, offsets, size).
    IndexMismatch,
    /// A checkpoint cannot be parsed or its signature does not verify.
    CheckpointSignature,
    /// A checkpoint's root is not the Merkle root of the records.
    CheckpointRoot,
    /// A checkpoint is not consistent with the previous one (or sizes go backwards).
    CheckpointConsistency,
    /// Records exist that no checkpoint covers yet.
    CheckpointMissing,
    /// A blob that a record references does not exist.
    BlobMissing,
    /// A blob's SHA-256 does not match its name, or its size differs from the record.
    BlobHash,
    /// A blob exists that no record references.
    BlobUnreferenced,
    /// (deep) The metadata envelope does not decrypt or parse.
    MetadataDecrypt,
    /// (deep) The envelope's opening does not match the record's commitment.
    Commitment,
    /// (deep) The blob does not decrypt, or its plaintext does not match the opening.
    Content,
    /// A bundle or an evidence file is structurally wrong (missing record, bad key).
    BundleFormat,
    /// A record is not proven included in the checkpoint it comes with.
    InclusionProof,
    /// A log key in a chain of custody is not in the verifier's trust store.
    UntrustedLog,
    /// A hop of a chain of custody does not link to the previous one (wrong
    /// share, checkpoint, evidence digest or document).
    HopLink,
    /// A bundle's payload or envelope is not the one its share record names.
    PayloadDigest,
    /// The evidence kept for a received document is missing or altered.
    Evidence,
    /// A record is signed by an actor whose key was revoked or replaced before it.
    ActorRevoked,
    /// A record is signed by an actor whose role may not sign its kind.
    ActorRole,
    /// An actor record is inconsistent (duplicate name, key in use, unknown actor).
    ActorChange,
    /// A record names a document that is not an earlier document of this log
    /// with that commitment.
    DocumentRef,
    /// A `rekey` names a blob that no earlier record names, or that was
    /// replaced before (FORMAT.md §4.17).
    RekeyRef,
    /// A `rewrap` does not carry out its grant: not a grant to an active
    /// actor, another signer, another file than the grant's document's, or
    /// other recipients than the file's and the one it adds (FORMAT.md §4.19).
    Rewrap,
    /// A derived document's parent is missing, not a document, or another document.
    LineageParent,
    /// (audit) A publication candidate lacks an approval the archive requires.
    ApprovalMissing,
    /// (audit) A document was decrypted by an actor it was never shared with.
    AccessUnshared,
    /// (audit) A gap in custody: a derivation by an actor who never held the parent,
    /// or a record dated before the one it follows.
    CustodyGap,
    /// A stored witness cosignature does not verify, or names no checkpoint.
    Cosignature,
    /// A checkpoint's cosignatures do not satisfy the witness policy (the
    /// archive's latest checkpoint, or one a bundle or trace carries).
    WitnessQuorum,
    /// This archive's witness state (`witness/config.toml`, `witness/history`)
    /// is damaged: a cosigned note that does not open with the witnessed
    /// log's key, a log the configuration does not list, sizes that go back.
    WitnessState,
    /// (`verify --since-checkpoint`) The archive is older than, or diverges
    /// from, a checkpoint of its log held outside it.
    Rollback,
    /// (`mirror`) A published hash tile or entry bundle is missing, malformed,
    /// or does not hash to the tile above it (FORMAT.md §13).
    Tile,
    /// A document record lists recipients other than those of the
    /// configuration record in force (FORMAT.md §4.15).
    Recipients,
    /// (deep) A record's sealed details (FORMAT.md §5.4) do not decrypt or
    /// parse, or disagree with the record (an actor's key ID).
    Sealed,
    /// A `grant` names no actor of the log, or one revoked before it
    /// (FORMAT.md §4.12).
    GrantActor,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Config => "config",
            Check::RecordFrame => "record_frame",
            Check::RecordDecode => "record_decode",
            Check::RecordIndex => "record_index",
            Check::RecordOrigin => "record_origin",
            Check::RecordSignature => "record_signature",
            Check::IndexMismatch => "index_mismatch",
            Check::CheckpointSignature => "checkpoint_signature",
            Check::CheckpointRoot => "checkpoint_root",
            Check::CheckpointConsistency => "checkpoint_consistency",
            Check::CheckpointMissing => "checkpoint_missing",
            Check::BlobMissing => "blob_missing",
            Check::BlobHash => "blob_hash",
            Check::BlobUnreferenced => "blob_unreferenced",
            Check::MetadataDecrypt => "metadata_decrypt",
            Check::Commitment => "commitment",
            Check::Content => "content",
            Check::BundleFormat => "bundle_format",
            Check::InclusionProof => "inclusion_proof",
            Check::UntrustedLog => "untrusted_log",
            Check::HopLink => "hop_link",
            Check::PayloadDigest => "payload_digest",
            Check::Evidence => "evidence",
            Check::ActorRevoked => "actor_revoked",
            Check::ActorRole => "actor_role",
            Check::ActorChange => "actor_change",
            Check::DocumentRef => "document_ref",
            Check::RekeyRef => "rekey_ref",
            Check::Rewrap => "rewrap",
            Check::LineageParent => "lineage_parent",
            Check::ApprovalMissing => "approval_missing",
            Check::AccessUnshared => "access_unshared",
            Check::CustodyGap => "custody_gap",
            Check::Cosignature => "cosignature",
            Check::WitnessQuorum => "witness_quorum",
            Check::WitnessState => "witness_state",
            Check::Rollback => "rollback",
            Check::Tile => "tile",
            Check::Recipients => "recipients",
            Check::Sealed => "sealed",
            Check::GrantActor => "grant_actor",
        }
    }
}

/// What a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Subject {
    /// The archive as a whole (config, files).
    Archive,
    /// A record, by log index.
    Record(u64),
    /// A checkpoint, by tree size.
    Checkpoint(u64),
    /// A blob, by its hex content address (or file name if it is not one).
    Blob(String),
    /// A record of another outlet's log, in a bundle or kept evidence.
    Entry { log: String, index: u64 },
    /// Another outlet's log as a whole (its key, its checkpoint).
    Log(String),
    /// A bundle file as a whole (its payload, envelope, layout).
    Bundle,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Archive => f.write_str("archive"),
            Subject::Record(i) => write!(f, "record {i}"),
            Subject::Checkpoint(s) => write!(f, "checkpoint at size {s}"),
            Subject::Blob(b) => write!(f, "blob {b}"),
            Subject::Entry { log, index } => write!(f, "{log} record {index}"),
            Subject::Log(log) => write!(f, "log {log}"),
            Subject::Bundle => f.write_str("bundle"),
        }
    }
}

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub subject: Subject,
    pub check: Check,
    pub reason: String,
}

/// Counters of what a verification looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub records: u64,
    pub checkpoints: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    pub decrypted: u64,
}

/// The outcome of `verify`: what was covered and what failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub deep: bool,
    pub coverage: Coverage,
    pub findings: Vec<Finding>,
    /// With `verify --sample N`: the document blobs whose contents were
    /// checked (every blob's existence and size is checked regardless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled: Option<Vec<crate::core::hash::Digest>>,
}

impl Report {
    pub fn add(&mut self, subject: Subject, check: Check, reason: impl Into<String>) {
        self.findings.push(Finding {
            subject,
            check,
            reason: reason.into(),
        });
    }

    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// Does the report contain a finding of this check (tests assert on these)?
    pub fn has(&self, check: Check) -> bool {
        self.findings.iter().any(|f| f.check == check)
    }
}
