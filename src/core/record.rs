//! Ledger records: the canonical bytes that are signed and become Merkle leaves.
//!
//! The layout is specified byte for byte in `docs/FORMAT.md` §4. The decoder is
//! strict: it rejects unknown versions and kinds, short input, trailing bytes,
//! non-UTF-8 or non-canonical origins, and recipient lists that are not sorted
//! and duplicate-free, so that every accepted record has exactly one encoding.

use ed25519_dalek::VerifyingKey;

use crate::core::domain_tags;
use crate::core::hash::Digest;
use crate::core::keys::{KeyId, SignerKey};

/// Record format version 1: every kind (FORMAT.md §4.2).
pub const RECORD_VERSION: u8 = 1;
/// Record format version 2: the `share`, `actor`, `access` and `grant`
/// layouts that name no person and no partner (FORMAT.md §4.16). Writers use
/// it for those kinds; version 1 records of them keep verifying.
pub const RECORD_VERSION_SEALED: u8 = 2;
/// Ed25519 signature length.
pub const SIGNATURE_LEN: usize = 64;
/// Upper bound on an encoded record (fits a tlog-tiles entry bundle, FORMAT.md §4.1).
pub const MAX_RECORD_LEN: usize = 65_535;
/// Upper bound on the origin string inside a record.
pub const MAX_ORIGIN_LEN: usize = 255;

/// What a record is about. Byte values are fixed by FORMAT.md §4.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// A document entered the archive.
    Ingest = 1,
    /// A document was sent to a partner outlet as a bundle (FORMAT.md §4.5).
    Share = 2,
    /// A document arrived from a partner outlet's bundle (FORMAT.md §4.6).
    Receive = 3,
    /// An actor was added, revoked or given a new key (FORMAT.md §4.7).
    Actor = 4,
    /// A document was decrypted (FORMAT.md §4.8).
    Access = 5,
    /// A document derived from others entered the archive (FORMAT.md §4.9).
    Derive = 6,
    /// A note about a document (FORMAT.md §4.10).
    Annotate = 7,
    /// An approval of a document (FORMAT.md §4.11).
    Approve = 8,
    /// An actor was given access to a document (FORMAT.md §4.12).
    Grant = 9,
    /// A document was audited (FORMAT.md §4.13).
    Audit = 10,
    /// The archive's configuration: recipients, approvals, policies (FORMAT.md §4.15).
    Config = 11,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Ingest),
            2 => Some(Kind::Share),
            3 => Some(Kind::Receive),
            4 => Some(Kind::Actor),
            5 => Some(Kind::Access),
            6 => Some(Kind::Derive),
            7 => Some(Kind::Annotate),
            8 => Some(Kind::Approve),
            9 => Some(Kind::Grant),
            10 => Some(Kind::Audit),
            11 => Some(Kind::Config),
            _ => None,
        }
    }
    /// Whether the kind has a version 2 layout, which seals the names of
    /// people or partners (FORMAT.md §4.16).
    pub fn has_sealed_version(self) -> bool {
        match self {
            Kind::Share
            | Kind::Actor
            | Kind::Access
            | Kind::Grant
            | Kind::Config
            | Kind::Receive => true,
            Kind::Ingest | Kind::Derive | Kind::Annotate | Kind::Approve | Kind::Audit => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ingest => "ingest",
            Kind::Share => "share",
            Kind::Receive => "receive",
            Kind::Actor => "actor",
            Kind::Access => "access",
            Kind::Derive => "derive",
            Kind::Annotate => "annotate",
            Kind::Approve => "approve",
            Kind::Grant => "grant",
            Kind::Audit => "audit",
            Kind::Config => "config",
        }
    }
}

/// Fields of an `ingest` record (FORMAT.md §4.4).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Ingest {
    /// SHA-256 of the stored age ciphertext: the blob's content address.
    pub blob: Digest,
    /// Length in bytes of the stored ciphertext.
    pub blob_size: u64,
    /// Salted commitment to the plaintext SHA-256 (FORMAT.md §5.1).
    pub commitment: Digest,
    /// SHA-256 of the age-encrypted metadata envelope (also a blob).
    pub meta: Digest,
    /// Length in bytes of the encrypted metadata envelope.
    pub meta_size: u64,
    /// Fingerprints of the age recipients both blobs are encrypted to, sorted ascending.
    pub recipients: Vec<Digest>,
}

/// Fields of a `share` record (FORMAT.md §4.5): which document left the
/// archive, in which bundle, to whom.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Share {
    /// Index of the record that brought the document into this log
    /// (an `ingest`, a `receive` or a `derive`: FORMAT.md §4.5).
    pub document: u64,
    /// The document's content commitment (equal to that record's).
    pub commitment: Digest,
    /// SHA-256 of the bundle's payload: the document re-encrypted to the partner.
    pub payload: Digest,
    /// Length in bytes of that payload.
    pub payload_size: u64,
    /// SHA-256 of the bundle's encrypted share envelope.
    pub envelope: Digest,
    /// Version 1: fingerprints of the partner's age recipients, sorted
    /// ascending. Empty in version 2.
    pub recipients: Vec<Digest>,
    /// Version 2: the partner's recipients, sealed (FORMAT.md §4.16, §5.4).
    pub sealed: Option<Sealed>,
}

/// Details a record keeps about people and partners, sealed: an age file
/// encrypted to the archive's recipients and stored as a blob of the archive
/// (FORMAT.md §5.4). The record holds only its digest and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Sealed {
    /// SHA-256 of the age file (its blob address).
    pub digest: Digest,
    /// Its length in bytes.
    pub size: u64,
}

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

/// A role an actor holds (FORMAT.md §4.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Journalist = 1,
    Editor = 2,
    Legal = 3,
    Admin = 4,
}

impl Role {
    pub fn from_byte(b: u8) -> Option<Role> {
        Some(match b {
            1 => Role::Journalist,
            2 => Role::Editor,
            3 => Role::Legal,
            4 => Role::Admin,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Journalist => "journalist",
            Role::Editor => "editor",
            Role::Legal => "legal",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Journalist, Role::Editor, Role::Legal, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
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

/// What a derived document is, relative to its parents (FORMAT.md §4.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    Translation = 1,
    Redaction = 2,
    Excerpt = 3,
    Ocr = 4,
    Conversion = 5,
}

impl Relation {
    pub fn from_byte(b: u8) -> Option<Relation> {
        Some(match b {
            1 => Relation::Translation,
            2 => Relation::Redaction,
            3 => Relation::Excerpt,
            4 => Relation::Ocr,
            5 => Relation::Conversion,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Translation => "translation",
            Relation::Redaction => "redaction",
            Relation::Excerpt => "excerpt",
            Relation::Ocr => "ocr",
            Relation::Conversion => "conversion",
        }
    }
    pub fn parse(s: &str) -> Option<Relation> {
        (1..=5)
            .filter_map(Relation::from_byte)
            .find(|r| r.as_str() == s)
    }
}

/// A reference to a document of this log: its arrival index and commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DocRef {
    pub document: u64,
    pub commitment: Digest,
}

/// Fields of a `derive` record (FORMAT.md §4.9).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Derive {
    /// The new document as stored (as in `ingest`).
    #[serde(flatten)]
    pub stored: Ingest,
    pub relation: Relation,
    /// 1 to 16 parents, strictly ascending by index.
    pub parents: Vec<DocRef>,
}

/// Fields of an `access` record (FORMAT.md §4.8).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    #[serde(flatten)]
    pub about: DocRef,
    /// Version 1: why the document was decrypted (at most 1,024 bytes, in
    /// clear). Empty in version 2.
    pub reason: String,
    /// Version 2: the reason, sealed (FORMAT.md §4.16).
    pub sealed: Option<Sealed>,
}

/// Fields of an `annotate` record (FORMAT.md §4.10).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Annotate {
    #[serde(flatten)]
    pub about: DocRef,
    /// SHA-256 of the age-encrypted note (a blob).
    pub note: Digest,
    pub note_size: u64,
}

/// What an approval is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Publication = 1,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        "publication"
    }
}

/// Fields of an `approve` record (FORMAT.md §4.11).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Approve {
    #[serde(flatten)]
    pub about: DocRef,
    pub purpose: Purpose,
}

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

/// Fields of an `audit` record (FORMAT.md §4.13).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditDone {
    #[serde(flatten)]
    pub about: DocRef,
    /// SHA-256 of the audit report's JSON (FORMAT.md §12).
    pub report: Digest,
    /// Number of findings the audit reported (0 = clean).
    pub findings: u32,
}

/// Fields of a `config` record (FORMAT.md §4.15): what the archive encrypts
/// to and requires, as the administrators signed it. `custody.toml` is a
/// cache of the latest one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ArchiveConfig {
    /// Fingerprints (FORMAT.md §5.3) of the recipients every new blob is
    /// encrypted to, strictly ascending.
    pub recipients: Vec<Digest>,
    /// Roles whose approval a document needs before publication, strictly ascending.
    pub approvals: Vec<Role>,
    /// C2SP tlog-policy text that partners' bundles must meet (empty: none).
    pub partner_policy: String,
    /// C2SP tlog-policy text that this log's own checkpoints must meet (empty: none).
    pub own_policy: String,
    /// Version 2: the archive's deduplication secret, sealed to the
    /// recipients above (FORMAT.md §4.16, §7.3).
    pub sealed: Option<Sealed>,
}

/// Longest policy text in a `config` record (FORMAT.md §4.15).
pub const MAX_POLICY_LEN: usize = 16_384;

/// The signed part of a record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RecordBody {
    /// Position of this record in the log (0-based); equals its Merkle leaf index.
    pub index: u64,
    /// Milliseconds since the Unix epoch, UTC, when the record was made.
    pub time_ms: u64,
    /// The log origin this record belongs to (the checkpoint origin line).
    pub origin: String,
    /// C2SP key ID of the Ed25519 key that signed it.
    pub signer: KeyId,
    /// Kind-specific payload.
    pub payload: Payload,
}

/// Kind-specific part of a record body.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Payload {
    Ingest(Ingest),
    Share(Share),
    Receive(Receive),
    Actor(ActorChange),
    Access(Access),
    Derive(Derive),
    Annotate(Annotate),
    Approve(Approve),
    Grant(Grant),
    Audit(AuditDone),
    Config(ArchiveConfig),
}

impl ActorChange {
    /// [`Payload::summary`] of an `actor` record.
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
}

impl ArchiveConfig {
    /// [`Payload::summary`] of a `config` record.
    fn summary(&self) -> String {
        let c = self;
        format!(
            "configuration: {} recipient(s) [{}], approvals by {}, partner policy {}, own policy {}",
            c.recipients.len(),
            c.recipients
                .iter()
                .map(|r| r.to_hex()[..8].to_string())
                .collect::<Vec<_>>()
                .join(" "),
            if c.approvals.is_empty() {
                "nobody".to_string()
            } else {
                c.approvals.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("+")
            },
            policy_summary(&c.partner_policy),
            policy_summary(&c.own_policy),
        )
    }
}

impl Payload {
    /// One line for people: what this record says, without anything secret.
    pub fn summary(&self) -> String {
        let short = |d: &Digest| d.to_hex()[..12].to_string();
        match self {
            Payload::Ingest(i) => format!("blob {}…, {} bytes", short(&i.blob), i.blob_size),
            Payload::Share(s) if s.sealed.is_some() => format!(
                "document {} to a partner (recipients sealed), payload {}…",
                s.document,
                short(&s.payload)
            ),
            Payload::Share(s) => format!(
                "document {} to {} recipient(s) [{}], payload {}…",
                s.document,
                s.recipients.len(),
                s.recipients
                    .iter()
                    .map(|r| r.to_hex()[..8].to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                short(&s.payload)
            ),
            Payload::Receive(r) => format!(
                "from {} record {} (checkpoint {}), blob {}…",
                r.from.origin,
                r.from.index,
                r.from.checkpoint_size,
                short(&r.stored.blob)
            ),
            Payload::Actor(a) => a.summary(),
            Payload::Access(a) if a.sealed.is_some() => {
                format!("decrypted document {} (reason sealed)", a.about.document)
            }
            Payload::Access(a) => format!("decrypted document {}: {}", a.about.document, a.reason),
            Payload::Derive(d) => format!(
                "{} of document(s) {}",
                d.relation.as_str(),
                d.parents
                    .iter()
                    .map(|p| p.document.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Payload::Annotate(a) => format!("note on document {} (encrypted)", a.about.document),
            Payload::Approve(a) => format!(
                "approved document {} for {}",
                a.about.document,
                a.purpose.as_str()
            ),
            Payload::Grant(g) => match &g.actor {
                GrantTo::Name(n) => format!("gave {n} access to document {}", g.about.document),
                GrantTo::Added(a) => format!(
                    "gave {} access to document {}",
                    ActorChange::label(*a),
                    g.about.document
                ),
            },
            Payload::Audit(a) => format!(
                "audited document {}: {} finding(s), report {}…",
                a.about.document,
                a.findings,
                short(&a.report)
            ),
            Payload::Config(c) => c.summary(),
        }
    }

    /// The sealed details this payload names (a blob of the archive,
    /// FORMAT.md §5.4), if any.
    pub fn sealed(&self) -> Option<&Sealed> {
        match self {
            Payload::Share(s) => s.sealed.as_ref(),
            Payload::Actor(a) => a.sealed.as_ref().map(|x| &x.details),
            Payload::Access(a) => a.sealed.as_ref(),
            Payload::Config(c) => c.sealed.as_ref(),
            Payload::Ingest(_)
            | Payload::Receive(_)
            | Payload::Derive(_)
            | Payload::Annotate(_)
            | Payload::Approve(_)
            | Payload::Grant(_)
            | Payload::Audit(_) => None,
        }
    }

    /// The record format version this payload is encoded with (FORMAT.md
    /// §4.2, §4.16).
    pub fn version(&self) -> u8 {
        let sealed = match self {
            Payload::Share(s) => s.sealed.is_some(),
            Payload::Actor(a) => a.sealed.is_some(),
            Payload::Access(a) => a.sealed.is_some(),
            Payload::Grant(g) => matches!(g.actor, GrantTo::Added(_)),
            Payload::Config(c) => c.sealed.is_some(),
            Payload::Receive(r) => r.policy.is_some(),
            Payload::Ingest(_)
            | Payload::Derive(_)
            | Payload::Annotate(_)
            | Payload::Approve(_)
            | Payload::Audit(_) => false,
        };
        if sealed {
            RECORD_VERSION_SEALED
        } else {
            RECORD_VERSION
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Payload::Ingest(_) => Kind::Ingest,
            Payload::Share(_) => Kind::Share,
            Payload::Receive(_) => Kind::Receive,
            Payload::Actor(_) => Kind::Actor,
            Payload::Access(_) => Kind::Access,
            Payload::Derive(_) => Kind::Derive,
            Payload::Annotate(_) => Kind::Annotate,
            Payload::Approve(_) => Kind::Approve,
            Payload::Grant(_) => Kind::Grant,
            Payload::Audit(_) => Kind::Audit,
            Payload::Config(_) => Kind::Config,
        }
    }
}

/// A decoded record: body, signature, and the exact bytes it was decoded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub body: RecordBody,
    pub signature: [u8; SIGNATURE_LEN],
    bytes: Vec<u8>,
}

/// Why record bytes were rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    #[error("record is truncated ({0} bytes short)")]
    Truncated(usize),
    #[error("record has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("unknown record format version {0}")]
    UnknownVersion(u8),
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("record is {0} bytes, over the {MAX_RECORD_LEN}-byte limit")]
    TooLong(usize),
    #[error("origin is empty, too long or not valid UTF-8 without control characters")]
    BadOrigin,
    #[error("recipient fingerprints are missing, unsorted or duplicated")]
    BadRecipients,
    #[error("an actor or key name is empty, too long or has characters outside a-z 0-9 . _ -")]
    BadName,
    #[error("a text field is too long, not UTF-8 or has control characters")]
    BadText,
    #[error("unknown role, action, relation or purpose byte {0}")]
    BadEnum(u8),
    #[error("parents are missing, more than 16, or not strictly ascending")]
    BadParents,
    #[error("roles are not strictly ascending")]
    BadRoles,
    #[error("an actor reference is not an earlier record (or, for an add, not the record itself)")]
    BadActor,
    #[error("an actor record that is not a revocation has a reason (FORMAT.md §4.7)")]
    ReasonNotRevoke,
}

/// Why a record signature did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureCheckError {
    #[error("record is signed by key ID {record} but the expected key has ID {expected}")]
    WrongSigner { record: KeyId, expected: KeyId },
    #[error("Ed25519 signature does not verify")]
    Invalid,
}

impl Payload {
    /// The kind's fields after the common header (FORMAT.md §4.5–§4.13,
    /// §4.16 for the sealed layouts).
    fn encode_fields(&self, out: &mut Vec<u8>) {
        match self {
            Payload::Ingest(i) => encode_stored(out, i),
            Payload::Share(s) => {
                out.extend_from_slice(&s.document.to_be_bytes());
                out.extend_from_slice(s.commitment.as_bytes());
                out.extend_from_slice(s.payload.as_bytes());
                out.extend_from_slice(&s.payload_size.to_be_bytes());
                out.extend_from_slice(s.envelope.as_bytes());
                match &s.sealed {
                    Some(x) => encode_sealed(out, x),
                    None => encode_recipients(out, &s.recipients),
                }
            }
            Payload::Receive(r) => encode_receive(out, r),
            Payload::Actor(ActorChange {
                action,
                role,
                key,
                sealed: Some(x),
                ..
            }) => {
                out.push(*action as u8);
                out.push(*role as u8);
                out.extend_from_slice(&x.actor.to_be_bytes());
                out.extend_from_slice(key);
                encode_sealed(out, &x.details);
            }
            Payload::Actor(a) => {
                out.push(a.action as u8);
                encode_str8(out, &a.name);
                out.push(a.role as u8);
                encode_str8(out, &a.key_name);
                out.extend_from_slice(&a.key);
                encode_str16(out, &a.reason);
            }
            Payload::Access(a) => {
                encode_about(out, &a.about);
                match &a.sealed {
                    Some(x) => encode_sealed(out, x),
                    None => encode_str16(out, &a.reason),
                }
            }
            Payload::Derive(d) => {
                encode_stored(out, &d.stored);
                out.push(d.relation as u8);
                out.push(d.parents.len() as u8);
                for p in &d.parents {
                    encode_about(out, p);
                }
            }
            Payload::Annotate(a) => {
                encode_about(out, &a.about);
                out.extend_from_slice(a.note.as_bytes());
                out.extend_from_slice(&a.note_size.to_be_bytes());
            }
            Payload::Approve(a) => {
                encode_about(out, &a.about);
                out.push(a.purpose as u8);
            }
            Payload::Grant(g) => {
                encode_about(out, &g.about);
                match &g.actor {
                    GrantTo::Name(n) => encode_str8(out, n),
                    GrantTo::Added(a) => out.extend_from_slice(&a.to_be_bytes()),
                }
            }
            Payload::Audit(a) => {
                encode_about(out, &a.about);
                out.extend_from_slice(a.report.as_bytes());
                out.extend_from_slice(&a.findings.to_be_bytes());
            }
            Payload::Config(c) => {
                encode_recipients(out, &c.recipients);
                out.push(c.approvals.len() as u8);
                out.extend(c.approvals.iter().map(|r| *r as u8));
                encode_str16(out, &c.partner_policy);
                encode_str16(out, &c.own_policy);
                if let Some(x) = &c.sealed {
                    encode_sealed(out, x);
                }
            }
        }
    }
}

impl RecordBody {
    /// The canonical body bytes (FORMAT.md §4.1–4.4).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(self.payload.version());
        out.push(self.payload.kind() as u8);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        out.push(self.origin.len() as u8);
        out.extend_from_slice(self.origin.as_bytes());
        out.extend_from_slice(&self.signer.0.to_be_bytes());
        self.payload.encode_fields(&mut out);
        out
    }

    /// Puts the body at position `index` of the log. A version 2 actor `add`
    /// names itself: its `actor` field is its own index (FORMAT.md §4.16).
    pub fn place(&mut self, index: u64) {
        self.index = index;
        if let Payload::Actor(a) = &mut self.payload {
            if let (ActorAction::Add, Some(x)) = (a.action, a.sealed.as_mut()) {
                x.actor = index;
                a.name = ActorChange::label(index);
            }
        }
    }

    /// The message an Ed25519 signature covers: domain tag || body (FORMAT.md §4.3).
    pub fn signed_message(body_bytes: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(domain_tags::RECORD_SIGNATURE.len() + body_bytes.len());
        m.extend_from_slice(domain_tags::RECORD_SIGNATURE);
        m.extend_from_slice(body_bytes);
        m
    }

    /// Checks the invariants the encoder relies on (origin length, recipients sorted).
    pub fn validate(&self) -> Result<(), RecordError> {
        if !valid_origin(&self.origin) {
            return Err(RecordError::BadOrigin);
        }
        match &self.payload {
            Payload::Ingest(i) => check_recipients(&i.recipients)?,
            Payload::Share(s) => match s.sealed {
                Some(_) if !s.recipients.is_empty() => return Err(RecordError::BadRecipients),
                Some(_) => {}
                None => check_recipients(&s.recipients)?,
            },
            Payload::Receive(r) => {
                check_recipients(&r.stored.recipients)?;
                if let Some(p) = &r.policy {
                    if (p.source == PolicySource::None) != (p.digest == Digest([0; 32])) {
                        return Err(RecordError::BadEnum(p.source as u8));
                    }
                }
                if !valid_origin(&r.from.origin) {
                    return Err(RecordError::BadOrigin);
                }
            }
            Payload::Actor(a) => match a.sealed {
                Some(x) => {
                    let own = a.action == ActorAction::Add;
                    if a.name != ActorChange::label(x.actor)
                        || x.key_id != actor_key_id(&a.key)
                        || !a.key_name.is_empty()
                        || !a.reason.is_empty()
                        || (own && x.actor != self.index)
                        || (!own && x.actor >= self.index)
                    {
                        return Err(RecordError::BadActor);
                    }
                }
                None => {
                    if !valid_actor_name(&a.name)
                        || !crate::core::keys::is_valid_key_name(&a.key_name)
                    {
                        return Err(RecordError::BadName);
                    }
                    check_text(&a.reason)?;
                    check_reason_action(a.action, &a.reason)?;
                }
            },
            Payload::Access(a) => match a.sealed {
                Some(_) if !a.reason.is_empty() => return Err(RecordError::BadText),
                Some(_) => {}
                None => check_text(&a.reason)?,
            },
            Payload::Derive(d) => {
                check_recipients(&d.stored.recipients)?;
                check_parents(&d.parents)?;
            }
            Payload::Grant(g) => match &g.actor {
                GrantTo::Name(n) if !valid_actor_name(n) => return Err(RecordError::BadName),
                GrantTo::Added(a) if *a >= self.index => return Err(RecordError::BadActor),
                GrantTo::Name(_) | GrantTo::Added(_) => {}
            },
            Payload::Config(c) => {
                check_recipients(&c.recipients)?;
                check_roles(&c.approvals)?;
                check_policy(&c.partner_policy)?;
                check_policy(&c.own_policy)?;
            }
            Payload::Annotate(_) | Payload::Approve(_) | Payload::Audit(_) => {}
        }
        Ok(())
    }

    /// Encodes and signs this body, producing the record (FORMAT.md §4.3).
    pub fn sign(self, key: &SignerKey) -> Result<Record, RecordError> {
        self.validate()?;
        let body = self.encode();
        let signature = key.sign(&Self::signed_message(&body));
        let mut bytes = body;
        bytes.extend_from_slice(&signature);
        if bytes.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLong(bytes.len()));
        }
        Ok(Record {
            body: self,
            signature,
            bytes,
        })
    }
}

/// A `receive` record's fields (FORMAT.md §4.6).
fn encode_receive(out: &mut Vec<u8>, r: &Receive) {
    encode_stored(out, &r.stored);
    let l = &r.from;
    out.push(l.origin.len() as u8);
    out.extend_from_slice(l.origin.as_bytes());
    out.extend_from_slice(&l.key_id.0.to_be_bytes());
    out.extend_from_slice(&l.index.to_be_bytes());
    out.extend_from_slice(l.leaf_hash.as_bytes());
    out.extend_from_slice(&l.checkpoint_size.to_be_bytes());
    out.extend_from_slice(l.checkpoint_root.as_bytes());
    out.extend_from_slice(r.evidence.as_bytes());
    out.extend_from_slice(&r.evidence_size.to_be_bytes());
    if let Some(p) = &r.policy {
        out.push(p.source as u8);
        out.extend_from_slice(p.digest.as_bytes());
    }
}

/// The stored-document fields shared by `ingest` and `receive` (FORMAT.md §4.4).
fn encode_stored(out: &mut Vec<u8>, i: &Ingest) {
    out.extend_from_slice(i.blob.as_bytes());
    out.extend_from_slice(&i.blob_size.to_be_bytes());
    out.extend_from_slice(i.commitment.as_bytes());
    out.extend_from_slice(i.meta.as_bytes());
    out.extend_from_slice(&i.meta_size.to_be_bytes());
    encode_recipients(out, &i.recipients);
}

fn encode_about(out: &mut Vec<u8>, d: &DocRef) {
    out.extend_from_slice(&d.document.to_be_bytes());
    out.extend_from_slice(d.commitment.as_bytes());
}

fn encode_sealed(out: &mut Vec<u8>, s: &Sealed) {
    out.extend_from_slice(s.digest.as_bytes());
    out.extend_from_slice(&s.size.to_be_bytes());
}

fn encode_str8(out: &mut Vec<u8>, s: &str) {
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn encode_str16(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// At most this many bytes of free text (reasons) in a record.
pub const MAX_TEXT_LEN: usize = 1024;
/// At most this many parents of a derived document.
pub const MAX_PARENTS: usize = 16;

/// An actor name: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn valid_actor_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && n.as_bytes()[0].is_ascii_alphanumeric()
}

/// A reason (FORMAT.md §4.7, §4.8): at most [`MAX_TEXT_LEN`] bytes of UTF-8
/// without control characters (Unicode general category Cc: U+0000–U+001F
/// and U+007F–U+009F, exactly what `char::is_control` says) other than the
/// line feed.
fn check_text(t: &str) -> Result<(), RecordError> {
    if t.len() > MAX_TEXT_LEN || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(RecordError::BadText);
    }
    Ok(())
}

/// Only a revocation carries a reason (FORMAT.md §4.7): an `add` or a
/// `rotate` with one is not a valid record.
fn check_reason_action(action: ActorAction, reason: &str) -> Result<(), RecordError> {
    if action != ActorAction::Revoke && !reason.is_empty() {
        return Err(RecordError::ReasonNotRevoke);
    }
    Ok(())
}

fn check_roles(r: &[Role]) -> Result<(), RecordError> {
    if r.windows(2).any(|w| w[0] >= w[1]) {
        return Err(RecordError::BadRoles);
    }
    Ok(())
}

/// A policy text: at most [`MAX_POLICY_LEN`] bytes of UTF-8 with no control
/// characters but line feeds (FORMAT.md §4.15).
fn check_policy(t: &str) -> Result<(), RecordError> {
    if t.len() > MAX_POLICY_LEN || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(RecordError::BadText);
    }
    Ok(())
}

fn policy_summary(t: &str) -> String {
    if t.is_empty() {
        "none".into()
    } else {
        format!("{}…", &Digest::of(t.as_bytes()).to_hex()[..8])
    }
}

fn check_parents(p: &[DocRef]) -> Result<(), RecordError> {
    if p.is_empty() || p.len() > MAX_PARENTS || p.windows(2).any(|w| w[0].document >= w[1].document)
    {
        return Err(RecordError::BadParents);
    }
    Ok(())
}

fn encode_recipients(out: &mut Vec<u8>, recipients: &[Digest]) {
    out.push(recipients.len() as u8);
    for r in recipients {
        out.extend_from_slice(r.as_bytes());
    }
}

fn valid_origin(o: &str) -> bool {
    !o.is_empty() && o.len() <= MAX_ORIGIN_LEN && !o.chars().any(|c| c.is_control())
}

fn check_recipients(r: &[Digest]) -> Result<(), RecordError> {
    if r.is_empty() || r.len() > 255 || r.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(RecordError::BadRecipients);
    }
    Ok(())
}

/// A strict cursor over record bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Each kind's fields (FORMAT.md §4.5–§4.16).
impl Reader<'_> {
    /// The payload of a record of `kind` (FORMAT.md §4.5–§4.13; `v2`: the
    /// sealed layouts of §4.16), at log position `index`.
    fn payload(&mut self, kind: Kind, v2: bool, index: u64) -> Result<Payload, RecordError> {
        Ok(match kind {
            Kind::Ingest => Payload::Ingest(self.stored()?),
            Kind::Share => Payload::Share(self.share(v2)?),
            Kind::Receive => Payload::Receive(self.receive(v2)?),
            Kind::Actor if v2 => Payload::Actor(self.sealed_actor(index)?),
            Kind::Actor => Payload::Actor(self.actor_v1()?),
            Kind::Access => Payload::Access(self.access(v2)?),
            Kind::Derive => Payload::Derive(self.derive()?),
            Kind::Annotate => Payload::Annotate(Annotate {
                about: self.about()?,
                note: self.digest()?,
                note_size: self.u64()?,
            }),
            Kind::Approve => Payload::Approve(self.approve()?),
            Kind::Grant => Payload::Grant(self.grant(v2, index)?),
            Kind::Audit => Payload::Audit(AuditDone {
                about: self.about()?,
                report: self.digest()?,
                findings: self.u32()?,
            }),
            Kind::Config => {
                let mut c = self.config()?;
                if v2 {
                    c.sealed = Some(self.sealed()?);
                }
                Payload::Config(c)
            }
        })
    }

    /// A `share` record's fields (§4.5).
    fn share(&mut self, v2: bool) -> Result<Share, RecordError> {
        let (document, commitment) = (self.u64()?, self.digest()?);
        let (payload, payload_size, envelope) = (self.digest()?, self.u64()?, self.digest()?);
        let (recipients, sealed) = if v2 {
            (Vec::new(), Some(self.sealed()?))
        } else {
            (self.recipients()?, None)
        };
        Ok(Share {
            document,
            commitment,
            payload,
            payload_size,
            envelope,
            recipients,
            sealed,
        })
    }

    /// A `receive` record's fields (§4.6).
    fn receive(&mut self, v2: bool) -> Result<Receive, RecordError> {
        Ok(Receive {
            stored: self.stored()?,
            from: Link {
                origin: self.origin()?,
                key_id: KeyId(self.u32()?),
                index: self.u64()?,
                leaf_hash: self.digest()?,
                checkpoint_size: self.u64()?,
                checkpoint_root: self.digest()?,
            },
            evidence: self.digest()?,
            evidence_size: self.u64()?,
            policy: if v2 {
                Some(self.receive_policy()?)
            } else {
                None
            },
        })
    }

    /// A version 1 `actor` record's fields (§4.7).
    fn actor_v1(&mut self) -> Result<ActorChange, RecordError> {
        let action = self.actor_action()?;
        let name = self.str8()?;
        let rb = self.u8()?;
        let role = Role::from_byte(rb).ok_or(RecordError::BadEnum(rb))?;
        let key_name = self.str8()?;
        let mut key = [0u8; 32];
        key.copy_from_slice(self.take(32)?);
        let reason = self.text16()?;
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

    /// An `access` record's fields (§4.8).
    fn access(&mut self, v2: bool) -> Result<Access, RecordError> {
        let about = self.about()?;
        Ok(if v2 {
            Access {
                about,
                reason: String::new(),
                sealed: Some(self.sealed()?),
            }
        } else {
            Access {
                about,
                reason: self.text16()?,
                sealed: None,
            }
        })
    }

    /// A `derive` record's fields (§4.9).
    fn derive(&mut self) -> Result<Derive, RecordError> {
        let stored = self.stored()?;
        let rb = self.u8()?;
        let relation = Relation::from_byte(rb).ok_or(RecordError::BadEnum(rb))?;
        let n = self.u8()? as usize;
        let mut parents = Vec::with_capacity(n);
        for _ in 0..n {
            parents.push(self.about()?);
        }
        check_parents(&parents)?;
        Ok(Derive {
            stored,
            relation,
            parents,
        })
    }

    /// An `approve` record's fields (§4.11).
    fn approve(&mut self) -> Result<Approve, RecordError> {
        let about = self.about()?;
        let purpose = match self.u8()? {
            1 => Purpose::Publication,
            b => return Err(RecordError::BadEnum(b)),
        };
        Ok(Approve { about, purpose })
    }

    /// A `grant` record's fields (§4.12), at log position `index`.
    fn grant(&mut self, v2: bool, index: u64) -> Result<Grant, RecordError> {
        let about = self.about()?;
        let actor = if v2 {
            let a = self.u64()?;
            if a >= index {
                return Err(RecordError::BadActor);
            }
            GrantTo::Added(a)
        } else {
            let n = self.str8()?;
            if !valid_actor_name(&n) {
                return Err(RecordError::BadName);
            }
            GrantTo::Name(n)
        };
        Ok(Grant { about, actor })
    }
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self.pos.checked_add(n).ok_or(RecordError::Truncated(n))?;
        if end > self.buf.len() {
            return Err(RecordError::Truncated(end - self.buf.len()));
        }
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, RecordError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, RecordError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn digest(&mut self) -> Result<Digest, RecordError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32)?);
        Ok(Digest(a))
    }
    fn origin(&mut self) -> Result<String, RecordError> {
        let len = self.u8()? as usize;
        let origin = std::str::from_utf8(self.take(len)?)
            .map_err(|_| RecordError::BadOrigin)?
            .to_owned();
        if !valid_origin(&origin) {
            return Err(RecordError::BadOrigin);
        }
        Ok(origin)
    }
    fn recipients(&mut self) -> Result<Vec<Digest>, RecordError> {
        let n = self.u8()? as usize;
        let mut recipients = Vec::with_capacity(n);
        for _ in 0..n {
            recipients.push(self.digest()?);
        }
        check_recipients(&recipients)?;
        Ok(recipients)
    }
    fn str8(&mut self) -> Result<String, RecordError> {
        let len = self.u8()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| RecordError::BadName)
    }
    fn text16(&mut self) -> Result<String, RecordError> {
        let mut a = [0u8; 2];
        a.copy_from_slice(self.take(2)?);
        let len = u16::from_be_bytes(a) as usize;
        let t = String::from_utf8(self.take(len)?.to_vec()).map_err(|_| RecordError::BadText)?;
        check_text(&t)?;
        Ok(t)
    }
    fn policy(&mut self) -> Result<String, RecordError> {
        let mut a = [0u8; 2];
        a.copy_from_slice(self.take(2)?);
        let len = u16::from_be_bytes(a) as usize;
        let t = String::from_utf8(self.take(len)?.to_vec()).map_err(|_| RecordError::BadText)?;
        check_policy(&t)?;
        Ok(t)
    }
    fn config(&mut self) -> Result<ArchiveConfig, RecordError> {
        let recipients = self.recipients()?;
        let m = self.u8()? as usize;
        let mut approvals = Vec::with_capacity(m);
        for _ in 0..m {
            let b = self.u8()?;
            approvals.push(Role::from_byte(b).ok_or(RecordError::BadEnum(b))?);
        }
        check_roles(&approvals)?;
        Ok(ArchiveConfig {
            recipients,
            approvals,
            partner_policy: self.policy()?,
            own_policy: self.policy()?,
            sealed: None,
        })
    }
    fn receive_policy(&mut self) -> Result<ReceivePolicy, RecordError> {
        let source = match self.u8()? {
            0 => PolicySource::None,
            1 => PolicySource::Config,
            2 => PolicySource::Command,
            b => return Err(RecordError::BadEnum(b)),
        };
        let digest = self.digest()?;
        if (source == PolicySource::None) != (digest == Digest([0; 32])) {
            return Err(RecordError::BadEnum(source as u8));
        }
        Ok(ReceivePolicy { source, digest })
    }
    fn actor_action(&mut self) -> Result<ActorAction, RecordError> {
        match self.u8()? {
            1 => Ok(ActorAction::Add),
            2 => Ok(ActorAction::Revoke),
            3 => Ok(ActorAction::Rotate),
            b => Err(RecordError::BadEnum(b)),
        }
    }
    /// A version 2 `actor` payload (FORMAT.md §4.16) of the record at `index`.
    fn sealed_actor(&mut self, index: u64) -> Result<ActorChange, RecordError> {
        let action = self.actor_action()?;
        let rb = self.u8()?;
        let role = Role::from_byte(rb).ok_or(RecordError::BadEnum(rb))?;
        let actor = self.u64()?;
        let mut key = [0u8; 32];
        key.copy_from_slice(self.take(32)?);
        let key_id = actor_key_id(&key);
        let details = self.sealed()?;
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
    fn sealed(&mut self) -> Result<Sealed, RecordError> {
        Ok(Sealed {
            digest: self.digest()?,
            size: self.u64()?,
        })
    }
    fn about(&mut self) -> Result<DocRef, RecordError> {
        Ok(DocRef {
            document: self.u64()?,
            commitment: self.digest()?,
        })
    }
    fn stored(&mut self) -> Result<Ingest, RecordError> {
        Ok(Ingest {
            blob: self.digest()?,
            blob_size: self.u64()?,
            commitment: self.digest()?,
            meta: self.digest()?,
            meta_size: self.u64()?,
            recipients: self.recipients()?,
        })
    }
}

impl Record {
    /// Decodes record bytes strictly (FORMAT.md §4). Does not check the signature.
    pub fn decode(bytes: &[u8]) -> Result<Record, RecordError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLong(bytes.len()));
        }
        let mut r = Reader { buf: bytes, pos: 0 };
        let version = r.u8()?;
        if version != RECORD_VERSION && version != RECORD_VERSION_SEALED {
            return Err(RecordError::UnknownVersion(version));
        }
        let kind_byte = r.u8()?;
        let kind = Kind::from_byte(kind_byte).ok_or(RecordError::UnknownKind(kind_byte))?;
        let v2 = version == RECORD_VERSION_SEALED;
        if v2 && !kind.has_sealed_version() {
            return Err(RecordError::UnknownVersion(version));
        }
        let index = r.u64()?;
        let time_ms = r.u64()?;
        let origin = r.origin()?;
        let signer = KeyId(r.u32()?);
        let payload = r.payload(kind, v2, index)?;
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(r.take(SIGNATURE_LEN)?);
        if r.pos != bytes.len() {
            return Err(RecordError::TrailingBytes(bytes.len() - r.pos));
        }
        Ok(Record {
            body: RecordBody {
                index,
                time_ms,
                origin,
                signer,
                payload,
            },
            signature,
            bytes: bytes.to_vec(),
        })
    }

    /// The exact encoded bytes: the Merkle leaf data.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The signed body bytes (everything but the trailing signature).
    pub fn body_bytes(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - SIGNATURE_LEN]
    }

    /// RFC 6962 leaf hash of this record: SHA-256(0x00 || bytes).
    pub fn leaf_hash(&self) -> Digest {
        crate::core::merkle::leaf_hash(&self.bytes)
    }

    /// Checks the signer key ID and the Ed25519 signature (FORMAT.md §4.3,
    /// [`crate::core::sigbatch::verify`]).
    pub fn verify_signature(
        &self,
        key: &VerifyingKey,
        key_id: KeyId,
    ) -> Result<(), SignatureCheckError> {
        if self.body.signer != key_id {
            return Err(SignatureCheckError::WrongSigner {
                record: self.body.signer,
                expected: key_id,
            });
        }
        if crate::core::sigbatch::verify_key(
            key,
            &RecordBody::signed_message(self.body_bytes()),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(SignatureCheckError::Invalid)
        }
    }

    /// The encrypted note blob this record names (an `annotate`, FORMAT.md
    /// §4.10) and its size, if any.
    pub fn note_blob(&self) -> Option<(Digest, u64)> {
        match &self.body.payload {
            Payload::Annotate(a) => Some((a.note, a.note_size)),
            // Their blobs, if any, are the sealed details and the document.
            Payload::Ingest(_)
            | Payload::Share(_)
            | Payload::Receive(_)
            | Payload::Actor(_)
            | Payload::Access(_)
            | Payload::Derive(_)
            | Payload::Approve(_)
            | Payload::Grant(_)
            | Payload::Audit(_)
            | Payload::Config(_) => None,
        }
    }

    /// The sealed details this record names (a blob of the archive,
    /// FORMAT.md §5.4), if any.
    pub fn sealed(&self) -> Option<&Sealed> {
        self.body.payload.sealed()
    }

    /// The ingest payload, if this is an ingest record.
    pub fn ingest(&self) -> Option<&Ingest> {
        match &self.body.payload {
            Payload::Ingest(i) => Some(i),
            Payload::Share(_)
            | Payload::Receive(_)
            | Payload::Actor(_)
            | Payload::Access(_)
            | Payload::Derive(_)
            | Payload::Annotate(_)
            | Payload::Approve(_)
            | Payload::Grant(_)
            | Payload::Audit(_)
            | Payload::Config(_) => None,
        }
    }

    /// The document this record stores in the archive (an `ingest`, a
    /// `receive` or a `derive`), if any: its blob, envelope and commitment.
    pub fn document(&self) -> Option<&Ingest> {
        match &self.body.payload {
            Payload::Ingest(i) => Some(i),
            Payload::Receive(r) => Some(&r.stored),
            Payload::Derive(d) => Some(&d.stored),
            Payload::Share(_)
            | Payload::Actor(_)
            | Payload::Access(_)
            | Payload::Annotate(_)
            | Payload::Approve(_)
            | Payload::Grant(_)
            | Payload::Audit(_)
            | Payload::Config(_) => None,
        }
    }

    /// The document this record is about, for records about an existing
    /// document (share, access, annotate, approve, grant, audit): its arrival
    /// index. `None` for arrivals (ingest, receive, derive) and actor records.
    pub fn about(&self) -> Option<u64> {
        match &self.body.payload {
            Payload::Share(s) => Some(s.document),
            Payload::Access(a) => Some(a.about.document),
            Payload::Annotate(a) => Some(a.about.document),
            Payload::Approve(a) => Some(a.about.document),
            Payload::Grant(g) => Some(g.about.document),
            Payload::Audit(a) => Some(a.about.document),
            Payload::Ingest(_)
            | Payload::Receive(_)
            | Payload::Actor(_)
            | Payload::Derive(_)
            | Payload::Config(_) => None,
        }
    }

    /// The share payload, if this is a share record.
    pub fn share(&self) -> Option<&Share> {
        match &self.body.payload {
            Payload::Share(s) => Some(s),
            Payload::Ingest(_)
            | Payload::Receive(_)
            | Payload::Actor(_)
            | Payload::Access(_)
            | Payload::Derive(_)
            | Payload::Annotate(_)
            | Payload::Approve(_)
            | Payload::Grant(_)
            | Payload::Audit(_)
            | Payload::Config(_) => None,
        }
    }

    /// The receive payload, if this is a receive record.
    pub fn receive(&self) -> Option<&Receive> {
        match &self.body.payload {
            Payload::Receive(r) => Some(r),
            Payload::Ingest(_)
            | Payload::Share(_)
            | Payload::Actor(_)
            | Payload::Access(_)
            | Payload::Derive(_)
            | Payload::Annotate(_)
            | Payload::Approve(_)
            | Payload::Grant(_)
            | Payload::Audit(_)
            | Payload::Config(_) => None,
        }
    }

    /// The content commitment of the document this record is about (`None`
    /// for actor and config records, which are about no document).
    pub fn commitment(&self) -> Option<&Digest> {
        match &self.body.payload {
            Payload::Ingest(i) => Some(&i.commitment),
            Payload::Receive(r) => Some(&r.stored.commitment),
            Payload::Derive(d) => Some(&d.stored.commitment),
            Payload::Share(s) => Some(&s.commitment),
            Payload::Access(a) => Some(&a.about.commitment),
            Payload::Annotate(a) => Some(&a.about.commitment),
            Payload::Approve(a) => Some(&a.about.commitment),
            Payload::Grant(g) => Some(&g.about.commitment),
            Payload::Audit(a) => Some(&a.about.commitment),
            Payload::Actor(_) | Payload::Config(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> SignerKey {
        SignerKey::from_seed("example.org/log", &[7u8; 32]).unwrap()
    }

    fn body(recipients: Vec<Digest>) -> RecordBody {
        RecordBody {
            index: 5,
            time_ms: 1_795_000_000_123,
            origin: "example.org/log".into(),
            signer: key().key_id(),
            payload: Payload::Ingest(Ingest {
                blob: Digest([1; 32]),
                blob_size: 1234,
                commitment: Digest([2; 32]),
                meta: Digest([3; 32]),
                meta_size: 321,
                recipients,
            }),
        }
    }

    fn signed() -> Record {
        body(vec![Digest([4; 32]), Digest([9; 32])])
            .sign(&key())
            .unwrap()
    }

    #[test]
    fn round_trip_and_layout() {
        let r = signed();
        let b = r.bytes();
        // FORMAT.md §4.4 size formula: 2+8+8+1+|origin|+4 + 32+8+32+32+8+1+32n + 64.
        assert_eq!(
            b.len(),
            2 + 8 + 8 + 1 + 15 + 4 + 32 + 8 + 32 + 32 + 8 + 1 + 64 + 64
        );
        assert_eq!(&b[..2], &[1, 1]);
        assert_eq!(&b[2..10], &5u64.to_be_bytes());
        assert_eq!(b[18] as usize, "example.org/log".len());
        let d = Record::decode(b).unwrap();
        assert_eq!(d, r);
        let vk = key().verifier();
        d.verify_signature(vk.verifying_key(), vk.key_id()).unwrap();
        assert_eq!(d.leaf_hash(), crate::core::merkle::leaf_hash(b));
    }

    #[test]
    fn strict_decoder_rejects_each_non_canonical_form() {
        let good = signed().bytes().to_vec();
        let mut v = good.clone();
        v[0] = 2;
        assert_eq!(Record::decode(&v), Err(RecordError::UnknownVersion(2)));
        let mut v = good.clone();
        v[1] = 12;
        assert_eq!(Record::decode(&v), Err(RecordError::UnknownKind(12)));
        let mut v = good.clone();
        v[1] = 0;
        assert_eq!(Record::decode(&v), Err(RecordError::UnknownKind(0)));
        let mut v = good.clone();
        v.push(0);
        assert_eq!(Record::decode(&v), Err(RecordError::TrailingBytes(1)));
        assert!(matches!(
            Record::decode(&good[..good.len() - 1]),
            Err(RecordError::Truncated(_))
        ));
        // Origin with a control character.
        let mut v = good.clone();
        v[19] = b'\n';
        assert_eq!(Record::decode(&v), Err(RecordError::BadOrigin));
        // Recipients out of order: swap the two fingerprints.
        let off = 19 + 15 + 4 + 32 + 8 + 32 + 32 + 8 + 1;
        let mut v = good.clone();
        let (a, b) = (v[off..off + 32].to_vec(), v[off + 32..off + 64].to_vec());
        v[off..off + 32].copy_from_slice(&b);
        v[off + 32..off + 64].copy_from_slice(&a);
        assert_eq!(Record::decode(&v), Err(RecordError::BadRecipients));
        // Zero recipients.
        let mut v = good[..off - 1].to_vec();
        v.push(0);
        v.extend_from_slice(&good[good.len() - 64..]);
        assert_eq!(Record::decode(&v), Err(RecordError::BadRecipients));
        assert_eq!(
            Record::decode(&vec![1u8; MAX_RECORD_LEN + 1]),
            Err(RecordError::TooLong(MAX_RECORD_LEN + 1))
        );
    }

    #[test]
    fn signing_refuses_invalid_bodies() {
        assert_eq!(
            body(vec![Digest([9; 32]), Digest([4; 32])]).sign(&key()),
            Err(RecordError::BadRecipients)
        );
        assert_eq!(body(vec![]).sign(&key()), Err(RecordError::BadRecipients));
        let mut b = body(vec![Digest([4; 32])]);
        b.origin = String::new();
        assert_eq!(b.sign(&key()), Err(RecordError::BadOrigin));
    }

    #[test]
    fn tampered_records_fail_signature_with_the_right_error() {
        let r = signed();
        let vk = key().verifier();
        for i in [0usize, 3, 10, 19, 40, 100, r.bytes().len() - 1] {
            let mut v = r.bytes().to_vec();
            v[i] ^= 0x01;
            match Record::decode(&v) {
                Err(_) => {}
                Ok(t) => {
                    let e = t
                        .verify_signature(vk.verifying_key(), vk.key_id())
                        .unwrap_err();
                    if (34..38).contains(&i) {
                        assert!(
                            matches!(e, SignatureCheckError::WrongSigner { .. }),
                            "byte {i}"
                        );
                    } else {
                        assert_eq!(e, SignatureCheckError::Invalid, "byte {i}");
                    }
                }
            }
        }
        let other = SignerKey::from_seed("example.org/log", &[8u8; 32])
            .unwrap()
            .verifier();
        assert!(matches!(
            r.verify_signature(other.verifying_key(), vk.key_id()),
            Err(SignatureCheckError::Invalid)
        ));
    }

    fn share_and_receive_bodies() -> Vec<RecordBody> {
        let share = Payload::Share(Share {
            document: 3,
            commitment: Digest([5; 32]),
            payload: Digest([6; 32]),
            payload_size: 99,
            envelope: Digest([7; 32]),
            recipients: vec![Digest([8; 32])],
            sealed: None,
        });
        let receive = Payload::Receive(Receive {
            stored: Ingest {
                blob: Digest([1; 32]),
                blob_size: 10,
                commitment: Digest([5; 32]),
                meta: Digest([3; 32]),
                meta_size: 11,
                recipients: vec![Digest([4; 32])],
            },
            from: Link {
                origin: "other.example/log".into(),
                key_id: KeyId(0xdeadbeef),
                index: 8,
                leaf_hash: Digest([9; 32]),
                checkpoint_size: 9,
                checkpoint_root: Digest([10; 32]),
            },
            evidence: Digest([11; 32]),
            evidence_size: 1234,
            policy: None,
        });
        [share, receive]
            .into_iter()
            .map(|payload| RecordBody {
                payload,
                ..body(vec![Digest([4; 32])])
            })
            .collect()
    }

    #[test]
    fn share_and_receive_round_trip_with_their_layouts() {
        let bodies = share_and_receive_bodies();
        // FORMAT.md §4.5: 8 + 32 + 32 + 8 + 32 + 1 + 32n.
        let s = bodies[0].clone().sign(&key()).unwrap();
        assert_eq!(s.bytes()[1], 2);
        assert_eq!(
            s.bytes().len(),
            2 + 8 + 8 + 1 + 15 + 4 + 8 + 32 + 32 + 8 + 32 + 1 + 32 + 64
        );
        // FORMAT.md §4.6: stored fields as §4.4, then 1 + |origin| + 4 + 8 + 32 + 8 + 32 + 32 + 8.
        let r = bodies[1].clone().sign(&key()).unwrap();
        assert_eq!(r.bytes()[1], 3);
        assert_eq!(
            r.bytes().len(),
            2 + 8
                + 8
                + 1
                + 15
                + 4
                + (32 + 8 + 32 + 32 + 8 + 1 + 32)
                + (1 + 17 + 4 + 8 + 32 + 8 + 32 + 32 + 8)
                + 64
        );
        for rec in [s, r] {
            let d = Record::decode(rec.bytes()).unwrap();
            assert_eq!(d, rec);
            assert_eq!(d.commitment(), Some(&Digest([5; 32])));
            let vk = key().verifier();
            d.verify_signature(vk.verifying_key(), vk.key_id()).unwrap();
            for cut in 0..rec.bytes().len() {
                assert!(Record::decode(&rec.bytes()[..cut]).is_err());
            }
        }
    }

    #[test]
    fn issue4_kinds_round_trip_and_reject_truncation() {
        let about = DocRef {
            document: 3,
            commitment: Digest([5; 32]),
        };
        let payloads = vec![
            Payload::Actor(ActorChange {
                action: ActorAction::Revoke,
                name: "alice".into(),
                role: Role::Journalist,
                key_name: "example.org/alice".into(),
                key: [9; 32],
                reason: "left the outlet".into(),
                sealed: None,
            }),
            Payload::Access(Access {
                about,
                reason: "fact-check".into(),
                sealed: None,
            }),
            Payload::Derive(Derive {
                stored: Ingest {
                    blob: Digest([1; 32]),
                    blob_size: 10,
                    commitment: Digest([6; 32]),
                    meta: Digest([3; 32]),
                    meta_size: 11,
                    recipients: vec![Digest([4; 32])],
                },
                relation: Relation::Redaction,
                parents: vec![
                    about,
                    DocRef {
                        document: 4,
                        commitment: Digest([7; 32]),
                    },
                ],
            }),
            Payload::Annotate(Annotate {
                about,
                note: Digest([8; 32]),
                note_size: 99,
            }),
            Payload::Approve(Approve {
                about,
                purpose: Purpose::Publication,
            }),
            Payload::Grant(Grant {
                about,
                actor: GrantTo::Name("bob".into()),
            }),
            Payload::Audit(AuditDone {
                about,
                report: Digest([2; 32]),
                findings: 2,
            }),
        ];
        for (n, payload) in payloads.into_iter().enumerate() {
            let b = RecordBody {
                payload,
                ..body(vec![Digest([4; 32])])
            };
            let r = b.sign(&key()).unwrap();
            assert_eq!(r.bytes()[1] as usize, 4 + n, "kind byte");
            let d = Record::decode(r.bytes()).unwrap();
            assert_eq!(d, r);
            for cut in 0..r.bytes().len() {
                assert!(Record::decode(&r.bytes()[..cut]).is_err());
            }
        }
        // Parents out of order, a bad name, an unknown role byte are refused.
        let mut b = body(vec![Digest([4; 32])]);
        b.payload = Payload::Grant(Grant {
            about,
            actor: GrantTo::Name("Bob Smith".into()),
        });
        assert_eq!(b.sign(&key()), Err(RecordError::BadName));
        let mut b = body(vec![Digest([4; 32])]);
        b.payload = Payload::Access(Access {
            about,
            reason: "a\u{7}b".into(),
            sealed: None,
        });
        assert_eq!(b.sign(&key()), Err(RecordError::BadText));
    }

    /// Issue 14 item 6: the version 2 layouts (FORMAT.md §4.16) byte for
    /// byte, their round trip, and what a decoder refuses.
    #[test]
    fn sealed_layouts_name_no_one() {
        let about = DocRef {
            document: 3,
            commitment: Digest([5; 32]),
        };
        let sealed = Sealed {
            digest: Digest([0xaa; 32]),
            size: 0x0102,
        };
        let at = |index: u64, payload: Payload| RecordBody {
            index,
            payload,
            ..body(vec![Digest([4; 32])])
        };
        let header = |b: &RecordBody| 2 + 8 + 8 + 1 + b.origin.len() + 4;
        // actor add: action, role, actor (= its own index), key, sealed.
        let mut add = at(
            9,
            Payload::Actor(ActorChange {
                action: ActorAction::Add,
                name: String::new(),
                role: Role::Editor,
                key_name: String::new(),
                key: [7; 32],
                reason: String::new(),
                sealed: Some(SealedActor {
                    actor: 0,
                    key_id: actor_key_id(&[7; 32]),
                    details: sealed,
                }),
            }),
        );
        add.place(9);
        let enc = add.encode();
        assert_eq!(enc[0], RECORD_VERSION_SEALED);
        let p = &enc[header(&add)..];
        let mut want = vec![1u8, 2];
        want.extend_from_slice(&9u64.to_be_bytes());
        want.extend_from_slice(&[7; 32]);
        want.extend_from_slice(&[0xaa; 32]);
        want.extend_from_slice(&0x0102u64.to_be_bytes());
        assert_eq!(p, &want[..]);
        let r = add.clone().sign(&key()).unwrap();
        let d = Record::decode(r.bytes()).unwrap();
        assert_eq!(d, r);
        assert_eq!(ActorChange::label(9), "#9");
        // The key ID is the key's under the one actor key name, whatever its own name.
        assert_eq!(
            actor_key_id(&[7; 32]),
            KeyId::compute("custody-actor", 0x01, &[7; 32])
        );
        let mut wrong = add.clone();
        if let Payload::Actor(a) = &mut wrong.payload {
            a.sealed.as_mut().unwrap().key_id = KeyId(1);
        }
        assert_eq!(wrong.sign(&key()), Err(RecordError::BadActor));
        // An add that names another record, a revoke that names a later one.
        let mut bytes = r.body_bytes().to_vec();
        bytes[header(&add) + 2 + 7] = 8; // the actor field's last byte: 9 -> 8
        assert_eq!(
            Record::decode(&[&bytes[..], &[0; 64]].concat()),
            Err(RecordError::BadActor)
        );
        // grant, access, share: version 2 layouts.
        let grant = at(
            9,
            Payload::Grant(Grant {
                about,
                actor: GrantTo::Added(4),
            }),
        );
        let access = at(
            9,
            Payload::Access(Access {
                about,
                reason: String::new(),
                sealed: Some(sealed),
            }),
        );
        let share = at(
            9,
            Payload::Share(Share {
                document: 3,
                commitment: Digest([5; 32]),
                payload: Digest([6; 32]),
                payload_size: 99,
                envelope: Digest([7; 32]),
                recipients: Vec::new(),
                sealed: Some(sealed),
            }),
        );
        for (b, payload_len) in [
            (&grant, 8 + 32 + 8),
            (&access, 40 + 40),
            (&share, 8 + 32 + 32 + 8 + 32 + 40),
        ] {
            let r = b.clone().sign(&key()).unwrap();
            assert_eq!(r.bytes()[0], RECORD_VERSION_SEALED);
            assert_eq!(r.bytes().len(), header(b) + payload_len + 64);
            assert_eq!(Record::decode(r.bytes()).unwrap(), r);
            for cut in 0..r.bytes().len() {
                assert!(Record::decode(&r.bytes()[..cut]).is_err());
            }
        }
        // receive, version 2: the policy applied is on record; none means
        // exactly a zero digest.
        for (source, digest, ok) in [
            (PolicySource::Command, Digest([3; 32]), true),
            (PolicySource::None, Digest([0; 32]), true),
            (PolicySource::None, Digest([3; 32]), false),
            (PolicySource::Config, Digest([0; 32]), false),
        ] {
            let Payload::Receive(mut r) = share_and_receive_bodies().remove(1).payload else {
                panic!("the second body is a receive")
            };
            r.policy = Some(ReceivePolicy { source, digest });
            let b = at(9, Payload::Receive(r));
            match b.sign(&key()) {
                Ok(rec) => {
                    assert!(ok);
                    assert_eq!(rec.bytes()[0], RECORD_VERSION_SEALED);
                    assert_eq!(Record::decode(rec.bytes()).unwrap(), rec);
                }
                Err(e) => assert!(!ok, "{e}"),
            }
        }
        // A grant naming a later record; version 2 of a kind that has none.
        let mut g = grant.clone();
        g.payload = Payload::Grant(Grant {
            about,
            actor: GrantTo::Added(9),
        });
        assert_eq!(g.sign(&key()), Err(RecordError::BadActor));
        let mut v = body(vec![Digest([4; 32])])
            .sign(&key())
            .unwrap()
            .bytes()
            .to_vec();
        v[0] = RECORD_VERSION_SEALED;
        assert_eq!(Record::decode(&v), Err(RecordError::UnknownVersion(2)));
        // A version 2 record carries no clear recipient, reason or name.
        let mut x = share.clone();
        if let Payload::Share(s) = &mut x.payload {
            s.recipients = vec![Digest([8; 32])];
        }
        assert_eq!(x.sign(&key()), Err(RecordError::BadRecipients));
    }

    /// Issue 14: the `config` record (FORMAT.md §4.15): its layout byte for
    /// byte, the round trip, and each non-canonical form refused.
    #[test]
    fn config_record_layout_and_strict_decoding() {
        let cfg = ArchiveConfig {
            recipients: vec![Digest([1; 32]), Digest([2; 32])],
            approvals: vec![Role::Editor, Role::Legal],
            partner_policy: "log a+1+AA==\n".into(),
            own_policy: String::new(),
            sealed: None,
        };
        let b = RecordBody {
            payload: Payload::Config(cfg.clone()),
            ..body(vec![Digest([4; 32])])
        };
        let r = b.sign(&key()).unwrap();
        let bytes = r.bytes();
        assert_eq!(bytes[1], 0x0b, "kind byte");
        let origin_len = bytes[18] as usize;
        let p = &bytes[19 + origin_len + 4..bytes.len() - SIGNATURE_LEN];
        let mut want = vec![2u8];
        want.extend([1u8; 32]);
        want.extend([2u8; 32]);
        want.extend([2u8, 2, 3]);
        want.extend(13u16.to_be_bytes());
        want.extend(b"log a+1+AA==\n");
        want.extend(0u16.to_be_bytes());
        assert_eq!(p, &want[..]);
        assert_eq!(Record::decode(bytes).unwrap(), r);
        for cut in 0..bytes.len() {
            assert!(Record::decode(&bytes[..cut]).is_err());
        }
        // Roles out of order or repeated, an unknown role, control characters.
        let at_roles = 19 + origin_len + 4 + 1 + 64;
        for (i, v, want) in [
            (at_roles + 1, 3u8, RecordError::BadRoles),
            (at_roles + 2, 2u8, RecordError::BadRoles),
            (at_roles + 2, 9u8, RecordError::BadEnum(9)),
            (at_roles + 5, 7u8, RecordError::BadText),
        ] {
            let mut x = bytes.to_vec();
            x[i] = v;
            if i == at_roles + 1 {
                x[at_roles + 2] = 2;
            }
            assert_eq!(Record::decode(&x), Err(want), "byte {i} = {v}");
        }
        let mut bad = cfg;
        bad.approvals = vec![Role::Legal, Role::Editor];
        let b = RecordBody {
            payload: Payload::Config(bad),
            ..body(vec![Digest([4; 32])])
        };
        assert_eq!(b.sign(&key()), Err(RecordError::BadRoles));
    }

    /// Issue 6: a record's lengths are at most a u16, and each is checked
    /// against the bytes present; a record over 64 KiB is refused before it
    /// is read; declared sizes (blob, envelope) are numbers, never buffers.
    #[test]
    fn declared_lengths_are_bounded() {
        use crate::core::testing::fast;
        let decode = |b: &[u8]| fast("Record::decode", || Record::decode(b));
        let header = |kind: Kind| {
            let mut b = vec![RECORD_VERSION, kind as u8];
            b.extend_from_slice(&5u64.to_be_bytes());
            b.extend_from_slice(&7u64.to_be_bytes());
            b.push(15);
            b.extend_from_slice(b"example.org/log");
            b.extend_from_slice(&key().key_id().0.to_be_bytes());
            b
        };
        assert_eq!(
            decode(&vec![1; 1 << 20]),
            Err(RecordError::TooLong(1 << 20))
        );
        // 255 recipients declared, none present.
        let mut b = header(Kind::Ingest);
        b.extend_from_slice(&[0; 32 + 8 + 32 + 32 + 8]);
        b.push(u8::MAX);
        assert_eq!(decode(&b), Err(RecordError::Truncated(32)));
        // An actor record whose reason declares 65,535 bytes.
        let mut b = header(Kind::Actor);
        b.push(1);
        b.extend_from_slice(b"\x03bob\x01");
        b.extend_from_slice(b"\x0dbob.example/k");
        b.extend_from_slice(&[9; 32]);
        b.extend_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(decode(&b), Err(RecordError::Truncated(u16::MAX as usize)));
        // 255 parents declared, none present.
        let mut b = header(Kind::Derive);
        b.extend_from_slice(&[0; 32 + 8 + 32 + 32 + 8]);
        b.push(1);
        b.extend_from_slice(&[1; 32]);
        b.push(1);
        b.push(u8::MAX);
        assert_eq!(decode(&b), Err(RecordError::Truncated(8)));
        // A blob and an envelope declared u64::MAX bytes long decode: the
        // sizes are compared with the stored files, never allocated.
        let mut big = body(vec![Digest([4; 32])]);
        if let Payload::Ingest(i) = &mut big.payload {
            i.blob_size = u64::MAX;
            i.meta_size = u64::MAX;
        }
        let rec = big.sign(&key()).unwrap();
        let again = decode(rec.bytes()).unwrap();
        assert_eq!(again.ingest().map(|i| i.blob_size), Some(u64::MAX));
    }

    proptest! {
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Record::decode(&bytes);
        }

        #[test]
        fn decode_encode_is_identity(idx in any::<u64>(), t in any::<u64>(), n in 1usize..5, size in any::<u64>()) {
            let mut recips: Vec<Digest> = (0..n).map(|i| Digest([i as u8 * 3 + 1; 32])).collect();
            recips.sort();
            let mut b = body(recips);
            b.index = idx;
            b.time_ms = t;
            let Payload::Ingest(i) = &mut b.payload else { unreachable!() };
            i.blob_size = size;
            let r = b.sign(&key()).unwrap();
            let d = Record::decode(r.bytes()).unwrap();
            prop_assert_eq!(d.body.encode(), r.body.encode());
            prop_assert_eq!(d.bytes(), r.bytes());
        }
    }
}
