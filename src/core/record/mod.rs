//! Ledger records: the canonical bytes that are signed and become Merkle leaves.
//!
//! The layout is specified byte for byte in `docs/FORMAT.md` §4. The decoder is
//! strict: it rejects unknown versions and kinds, short input, trailing bytes,
//! non-UTF-8 or non-canonical origins, and recipient lists that are not sorted
//! and duplicate-free, so that every accepted record has exactly one encoding.

//!
//! Each kind is defined in one file of this folder (CONTRIBUTING.md,
//! "Adding a record kind"): its fields, encoding and decoding, what signing
//! checks, its one-line summary and who may sign it, as an implementation of
//! `KindDef`. This module keeps the common header, the signature, the
//! strict reader's primitives and the dispatch from [`Kind`] and [`Payload`]
//! to each kind's file: every match over them is exhaustive, so a new kind
//! makes the compiler list what it must define.

use ed25519_dalek::VerifyingKey;

use crate::core::domain_tags;
use crate::core::hash::Digest;
use crate::core::keys::{KeyId, SignerKey};

mod access;
mod actor;
mod annotate;
mod approve;
mod audit;
mod compartment;
mod config;
mod derive;
mod grant;
mod ingest;
mod receive;
mod rekey;
mod rewrap;
mod share;

pub use access::Access;
pub use actor::{
    actor_key_id, valid_actor_key, ActorAction, ActorChange, SealedActor, ACTOR_KEY_NAME,
};
pub use annotate::Annotate;
pub use approve::{Approve, Purpose};
pub use audit::AuditDone;
pub use compartment::Compartment;
pub use config::{ArchiveConfig, MAX_POLICY_LEN};
pub use derive::{Derive, Relation, MAX_PARENTS};
pub use grant::{Grant, GrantTo};
pub use ingest::Ingest;
pub use receive::{Link, PolicySource, Receive, ReceivePolicy};
pub use rekey::Rekey;
pub use rewrap::Rewrap;
pub use share::Share;

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
    /// A blob encrypted again to the recipients in force (FORMAT.md §4.17).
    Rekey = 12,
    /// A compartment's members (FORMAT.md §4.18).
    Compartment = 13,
    /// A grant's recipient added to a document's file (FORMAT.md §4.19).
    Rewrap = 14,
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
            12 => Some(Kind::Rekey),
            13 => Some(Kind::Compartment),
            14 => Some(Kind::Rewrap),
            _ => None,
        }
    }

    /// Whether the kind has a version 2 layout, which seals the names of
    /// people or partners (FORMAT.md §4.16).
    pub fn has_sealed_version(self) -> bool {
        on_kind!(self, K => K::SEALED_VERSION)
    }

    pub fn as_str(self) -> &'static str {
        on_kind!(self, K => K::NAME)
    }

    /// Roles allowed to sign records of this kind (FORMAT.md §4.14).
    pub fn allowed_roles(self) -> &'static [Role] {
        on_kind!(self, K => K::SIGNERS)
    }

    /// May the owner (the log key) sign this kind in a log not yet
    /// configured (before its first `config` record)?
    pub fn owner_may_sign(self) -> bool {
        on_kind!(self, K => K::OWNER_MAY_SIGN)
    }

    /// Does a record of this kind change who may sign what?
    pub fn changes_state(self) -> bool {
        on_kind!(self, K => K::CHANGES_STATE)
    }
}

/// What each record kind defines, in its own file of this folder. The
/// compiler lists every item a new kind's type is missing.
trait KindDef: Sized {
    /// The kind (its byte, FORMAT.md §4.2).
    const KIND: Kind;
    /// Its name in summaries, logs, audits and JSON.
    const NAME: &'static str;
    /// Whether it has a version 2 layout (FORMAT.md §4.16).
    const SEALED_VERSION: bool;
    /// Roles allowed to sign it (FORMAT.md §4.14).
    const SIGNERS: &'static [Role];
    /// May the log key sign it before the log's first `config` record?
    const OWNER_MAY_SIGN: bool;
    /// Does it change who may sign what (replayed in log order)?
    const CHANGES_STATE: bool;

    /// The kind's fields after the common header (FORMAT.md §4.4–§4.16).
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads what [`KindDef::encode`] writes, strictly: `v2` for the version
    /// 2 layout, `index` the record's log position.
    fn decode(r: &mut Reader<'_>, v2: bool, index: u64) -> Result<Self, RecordError>;
    /// The invariants the encoder relies on, for a record at `index`.
    fn validate(&self, index: u64) -> Result<(), RecordError>;
    /// Fixes what depends on the record's log position `index`.
    fn place(&mut self, index: u64);
    /// One line for people, without anything secret.
    fn summary(&self) -> String;
    /// Is it encoded with the version 2 layout?
    fn is_v2(&self) -> bool;
    /// The sealed details it names (FORMAT.md §5.4), if any.
    fn sealed(&self) -> Option<&Sealed>;
    /// The document it stores in the archive, if any.
    fn document(&self) -> Option<&Ingest>;
    /// The arrival index of the existing document it is about, if any.
    fn about(&self) -> Option<u64>;
    /// The content commitment of the document it stores or is about.
    fn commitment(&self) -> Option<&Digest>;
    /// The encrypted note blob it names and its size, if any.
    fn note_blob(&self) -> Option<(Digest, u64)>;
}

/// `$e` with `$k` the type that defines kind `$kind`: the one match from a
/// [`Kind`] to its file.
macro_rules! on_kind {
    ($kind:expr, $k:ident => $e:expr) => {
        match $kind {
            Kind::Ingest => {
                type $k = Ingest;
                $e
            }
            Kind::Share => {
                type $k = Share;
                $e
            }
            Kind::Receive => {
                type $k = Receive;
                $e
            }
            Kind::Actor => {
                type $k = ActorChange;
                $e
            }
            Kind::Access => {
                type $k = Access;
                $e
            }
            Kind::Derive => {
                type $k = Derive;
                $e
            }
            Kind::Annotate => {
                type $k = Annotate;
                $e
            }
            Kind::Approve => {
                type $k = Approve;
                $e
            }
            Kind::Grant => {
                type $k = Grant;
                $e
            }
            Kind::Audit => {
                type $k = AuditDone;
                $e
            }
            Kind::Config => {
                type $k = ArchiveConfig;
                $e
            }
            Kind::Rekey => {
                type $k = Rekey;
                $e
            }
            Kind::Compartment => {
                type $k = Compartment;
                $e
            }
            Kind::Rewrap => {
                type $k = Rewrap;
                $e
            }
        }
    };
}
use on_kind;

/// `$e` with `$x` the payload's fields: the one match from a [`Payload`] to
/// its kind's file.
macro_rules! on_payload {
    ($payload:expr, $x:ident => $e:expr) => {
        match $payload {
            Payload::Ingest($x) => $e,
            Payload::Share($x) => $e,
            Payload::Receive($x) => $e,
            Payload::Actor($x) => $e,
            Payload::Access($x) => $e,
            Payload::Derive($x) => $e,
            Payload::Annotate($x) => $e,
            Payload::Approve($x) => $e,
            Payload::Grant($x) => $e,
            Payload::Audit($x) => $e,
            Payload::Config($x) => $e,
            Payload::Rekey($x) => $e,
            Payload::Compartment($x) => $e,
            Payload::Rewrap($x) => $e,
        }
    };
}

/// The kind a payload's type defines.
fn kind_of<K: KindDef>(_: &K) -> Kind {
    K::KIND
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

impl Sealed {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.digest.as_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
    }
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

/// A reference to a document of this log: its arrival index and commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DocRef {
    pub document: u64,
    pub commitment: Digest,
}

impl DocRef {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.document.to_be_bytes());
        out.extend_from_slice(self.commitment.as_bytes());
    }
}

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
    Rekey(Rekey),
    Compartment(Compartment),
    Rewrap(Rewrap),
}

/// The first 12 hex digits of a digest, for summaries.
fn short(d: &Digest) -> String {
    d.to_hex()[..12].to_string()
}

impl Payload {
    /// One line for people: what this record says, without anything secret.
    pub fn summary(&self) -> String {
        on_payload!(self, x => x.summary())
    }

    /// The sealed details this payload names (a blob of the archive,
    /// FORMAT.md §5.4), if any.
    pub fn sealed(&self) -> Option<&Sealed> {
        on_payload!(self, x => x.sealed())
    }

    /// The record format version this payload is encoded with (FORMAT.md
    /// §4.2, §4.16).
    pub fn version(&self) -> u8 {
        if on_payload!(self, x => x.is_v2()) {
            RECORD_VERSION_SEALED
        } else {
            RECORD_VERSION
        }
    }

    pub fn kind(&self) -> Kind {
        on_payload!(self, x => kind_of(x))
    }

    /// A payload of `kind` read from `r` (FORMAT.md §4.4–§4.13; `v2`: the
    /// sealed layouts of §4.16), at log position `index`.
    fn decode(
        r: &mut Reader<'_>,
        kind: Kind,
        v2: bool,
        index: u64,
    ) -> Result<Payload, RecordError> {
        Ok(match kind {
            Kind::Ingest => Payload::Ingest(KindDef::decode(r, v2, index)?),
            Kind::Share => Payload::Share(KindDef::decode(r, v2, index)?),
            Kind::Receive => Payload::Receive(KindDef::decode(r, v2, index)?),
            Kind::Actor => Payload::Actor(KindDef::decode(r, v2, index)?),
            Kind::Access => Payload::Access(KindDef::decode(r, v2, index)?),
            Kind::Derive => Payload::Derive(KindDef::decode(r, v2, index)?),
            Kind::Annotate => Payload::Annotate(KindDef::decode(r, v2, index)?),
            Kind::Approve => Payload::Approve(KindDef::decode(r, v2, index)?),
            Kind::Grant => Payload::Grant(KindDef::decode(r, v2, index)?),
            Kind::Audit => Payload::Audit(KindDef::decode(r, v2, index)?),
            Kind::Config => Payload::Config(KindDef::decode(r, v2, index)?),
            Kind::Rekey => Payload::Rekey(KindDef::decode(r, v2, index)?),
            Kind::Compartment => Payload::Compartment(KindDef::decode(r, v2, index)?),
            Kind::Rewrap => Payload::Rewrap(KindDef::decode(r, v2, index)?),
        })
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
    #[error("a rekey record names the same blob as old and new (FORMAT.md §4.17)")]
    BadRekey,
    #[error("a compartment record is version 2, with a number of at least 1 (FORMAT.md §4.18)")]
    BadCompartment,
    #[error("a rewrap record is version 2, names an earlier grant, and lists its added recipient among its recipients (FORMAT.md §4.19)")]
    BadRewrap,
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
        on_payload!(&self.payload, x => x.encode(&mut out));
        out
    }

    /// Puts the body at position `index` of the log. A version 2 actor `add`
    /// names itself: its `actor` field is its own index (FORMAT.md §4.16).
    pub fn place(&mut self, index: u64) {
        self.index = index;
        on_payload!(&mut self.payload, x => x.place(index));
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
        self.payload.validate(self.index)
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

impl Payload {
    /// The kind's invariants, for a record at `index`.
    fn validate(&self, index: u64) -> Result<(), RecordError> {
        on_payload!(self, x => x.validate(index))
    }
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
        let payload = Payload::decode(&mut r, kind, v2, index)?;
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
        let p = &self.body.payload;
        on_payload!(p, x => x.note_blob())
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
            | Payload::Config(_)
            | Payload::Rekey(_)
            | Payload::Rewrap(_)
            | Payload::Compartment(_) => None,
        }
    }

    /// The document this record stores in the archive (an `ingest`, a
    /// `receive` or a `derive`), if any: its blob, envelope and commitment.
    pub fn document(&self) -> Option<&Ingest> {
        let p = &self.body.payload;
        on_payload!(p, x => x.document())
    }

    /// The document this record is about, for records about an existing
    /// document (share, access, annotate, approve, grant, audit): its arrival
    /// index. `None` for arrivals (ingest, receive, derive) and actor records.
    pub fn about(&self) -> Option<u64> {
        let p = &self.body.payload;
        on_payload!(p, x => KindDef::about(x))
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
            | Payload::Config(_)
            | Payload::Rekey(_)
            | Payload::Rewrap(_)
            | Payload::Compartment(_) => None,
        }
    }

    /// The blob this record puts in another's place, if it is a `rekey`
    /// (FORMAT.md §4.17) or a `rewrap` (§4.19): both replace a blob the log
    /// names by a new file, in the same layout.
    pub fn rekey(&self) -> Option<&Rekey> {
        match &self.body.payload {
            Payload::Rekey(k) => Some(k),
            Payload::Rewrap(w) => Some(&w.blob),
            Payload::Ingest(_)
            | Payload::Share(_)
            | Payload::Receive(_)
            | Payload::Actor(_)
            | Payload::Access(_)
            | Payload::Derive(_)
            | Payload::Annotate(_)
            | Payload::Approve(_)
            | Payload::Grant(_)
            | Payload::Audit(_)
            | Payload::Config(_)
            | Payload::Compartment(_) => None,
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
            | Payload::Config(_)
            | Payload::Rekey(_)
            | Payload::Rewrap(_)
            | Payload::Compartment(_) => None,
        }
    }

    /// The content commitment of the document this record is about (`None`
    /// for actor and config records, which are about no document).
    pub fn commitment(&self) -> Option<&Digest> {
        let p = &self.body.payload;
        on_payload!(p, x => x.commitment())
    }
}

#[cfg(test)]
mod tests;
