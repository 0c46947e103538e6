//! Share bundles and the evidence a receiving outlet keeps (FORMAT.md §10).
//!
//! A bundle carries one document from one outlet to another: the evidence of
//! its custody so far (per ledger it went through, a *hop*: the log's verifier
//! key and one C2SP tlog-proof per record, each carrying the record in its
//! `extra` line and the same signed checkpoint), then the share envelope and
//! the payload, both age-encrypted to the receiving outlet.
//!
//! Everything here is pure: [`Evidence::parse`] and [`read_head`] are strict
//! and bounded (a hostile bundle cannot make them allocate without limit),
//! and [`check_evidence`] turns every failed check into a [`Finding`].

use std::collections::HashMap;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::core::actors::{Actors, Signer};
use crate::core::checkpoint::{Checkpoint, OpenedCheckpoint, SignedCheckpoint, WitnessCosignature};
use crate::core::findings::{Check, Finding, Subject};
use crate::core::hash::Digest;
use crate::core::keys::{KeyId, SigAlg, VerifierKey};
use crate::core::merkle::{self, LeafIndex, TreeSize};
use crate::core::record::{Kind, Payload, Receive, Record, Share};
use crate::core::tlog_proof::TlogProof;

/// First bytes of a bundle file (FORMAT.md §10.1).
pub const BUNDLE_MAGIC: &[u8] = b"custody-bundle/v1\n";
/// First bytes of an evidence file (FORMAT.md §10.2).
pub const EVIDENCE_MAGIC: &[u8] = b"custody-evidence/v1\n";
/// First bytes of evidence that carries a derived document's lineage
/// (FORMAT.md §10.2, version 2).
pub const EVIDENCE_MAGIC_V2: &[u8] = b"custody-evidence/v2\n";
/// At most this many parents per derived document (as a `derive` record).
pub const MAX_PARENTS: usize = 16;
/// At most this many derivations deep a lineage is carried.
pub const MAX_LINEAGE_DEPTH: usize = 16;
/// At most this many chains (the document's and every ancestor's) in one
/// evidence.
pub const MAX_CHAINS: usize = 256;
/// At most this many bytes hashed to check the links of one evidence: over
/// its chains, (hops − 1) × the chain's encoded length (each `receive` hop
/// commits to the encoding of the hops before it, FORMAT.md §10.2).
pub const MAX_LINK_BYTES: u64 = 256 << 20;
/// At most this many ledgers in one chain of custody.
pub const MAX_HOPS: usize = 64;
/// At most this many records per hop.
pub const MAX_ENTRIES: usize = 4096;
/// Largest tlog-proof accepted (a record is at most 64 KiB, 87 KiB in base64).
pub const MAX_ENTRY_LEN: usize = 256 << 10;
/// Largest verifier key line accepted.
pub const MAX_VKEY_LEN: usize = 1024;
/// Largest evidence section accepted.
pub const MAX_EVIDENCE_LEN: usize = 64 << 20;
/// Largest encrypted share envelope accepted.
pub const MAX_ENVELOPE_LEN: usize = (1 << 20) + 4096;
/// Largest plaintext share envelope accepted.
pub const MAX_ENVELOPE_PLAINTEXT: usize = 1 << 20;
/// Version of the share envelope JSON.
pub const ENVELOPE_VERSION: u32 = 1;

/// Why bundle or evidence bytes could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("not a custody bundle (it does not start with \"custody-bundle/v1\")")]
    NotABundle,
    #[error("custody bundle of an unsupported format version ({0:?})")]
    UnsupportedVersion(String),
    #[error("not a custody evidence file")]
    NotEvidence,
    #[error("bundle is truncated ({0})")]
    Truncated(&'static str),
    #[error("bundle declares {what} of {len} bytes, over the limit of {max}")]
    TooLarge {
        what: &'static str,
        len: u64,
        max: u64,
    },
    #[error("bundle is malformed: {0}")]
    Malformed(String),
    #[error("reading the bundle: {0}")]
    Io(#[from] io::Error),
}

/// The records one ledger contributes to a chain of custody.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    /// The log's C2SP verifier key, as text.
    pub vkey: String,
    /// One tlog-proof per record (FORMAT.md §8.1 form), verbatim, in log order.
    pub entries: Vec<Vec<u8>>,
}

/// The chain of custody of one document: one hop per ledger, oldest first;
/// for a document derived in the first hop's log, the chains of custody of
/// its parents (FORMAT.md §10.2, version 2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub hops: Vec<Hop>,
    /// One chain per parent of the first hop's `derive` record, in the
    /// record's order; each ends in that log. Empty: version 1 encoding.
    pub parents: Vec<Evidence>,
}

fn take<R: Read>(r: &mut R, n: usize, what: &'static str) -> Result<Vec<u8>, BundleError> {
    let mut v = Vec::new();
    r.take(n as u64).read_to_end(&mut v)?;
    if v.len() != n {
        return Err(BundleError::Truncated(what));
    }
    Ok(v)
}

fn be<const N: usize, R: Read>(r: &mut R, what: &'static str) -> Result<[u8; N], BundleError> {
    let mut a = [0u8; N];
    r.read_exact(&mut a).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => BundleError::Truncated(what),
        _ => BundleError::Io(e),
    })?;
    Ok(a)
}

fn bounded(len: u64, max: usize, what: &'static str) -> Result<usize, BundleError> {
    if len > max as u64 {
        return Err(BundleError::TooLarge {
            what,
            len,
            max: max as u64,
        });
    }
    Ok(len as usize)
}

fn check_magic<R: Read>(r: &mut R, magic: &[u8], not: BundleError) -> Result<(), BundleError> {
    let got = take(r, magic.len(), "magic").map_err(|_| not)?;
    if got == magic {
        return Ok(());
    }
    // Same family, another version: say so rather than "not a bundle".
    let family = &magic[..magic.len() - 3];
    if got.starts_with(family) {
        let v = String::from_utf8_lossy(&got[family.len()..])
            .trim()
            .to_string();
        return Err(BundleError::UnsupportedVersion(v));
    }
    Err(match magic {
        BUNDLE_MAGIC => BundleError::NotABundle,
        _ => BundleError::NotEvidence,
    })
}

impl Evidence {
    /// The exact bytes (FORMAT.md §10.2): version 1 without parents (the
    /// bytes custody always wrote), version 2 with them.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len(self.hops.len()));
        self.write_prefix(self.hops.len(), &mut |b| out.extend_from_slice(b));
        out
    }

    /// Length of the encoding of the first `n` hops and the parents.
    fn encoded_len(&self, n: usize) -> usize {
        let hops: usize = self.hops[..n.min(self.hops.len())]
            .iter()
            .map(|h| 4 + h.vkey.len() + h.entries.iter().map(|e| 4 + e.len()).sum::<usize>())
            .sum();
        let parents = match self.parents.is_empty() {
            true => 0,
            false => {
                1 + self
                    .parents
                    .iter()
                    .map(|p| 4 + p.encoded_len(p.hops.len()))
                    .sum::<usize>()
            }
        };
        EVIDENCE_MAGIC.len() + 1 + hops + parents
    }

    /// Writes the encoding of the first `n` hops and the parents to `out`,
    /// piece by piece (nothing is copied whole).
    fn write_prefix(&self, n: usize, out: &mut dyn FnMut(&[u8])) {
        let n = n.min(self.hops.len());
        out(if self.parents.is_empty() {
            EVIDENCE_MAGIC
        } else {
            EVIDENCE_MAGIC_V2
        });
        out(&[n as u8]);
        for h in &self.hops[..n] {
            out(&(h.vkey.len() as u16).to_be_bytes());
            out(h.vkey.as_bytes());
            out(&(h.entries.len() as u16).to_be_bytes());
            for e in &h.entries {
                out(&(e.len() as u32).to_be_bytes());
                out(e);
            }
        }
        if self.parents.is_empty() {
            return;
        }
        out(&[self.parents.len() as u8]);
        for p in &self.parents {
            out(&(p.encoded_len(p.hops.len()) as u32).to_be_bytes());
            p.write_prefix(p.hops.len(), out);
        }
    }

    /// SHA-256 and length of the encoding of `hops[0..n]` with the parents
    /// (what a `receive` record in hop `n` commits to), hashed as it is
    /// written.
    pub fn prefix_digest(&self, n: usize) -> (Digest, u64) {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        self.write_prefix(n, &mut |b| h.update(b));
        (Digest(h.finalize().into()), self.encoded_len(n) as u64)
    }

    /// SHA-256 of [`Evidence::encode`]: what a `receive` record commits to.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.encode())
    }

    /// The evidence of the first `n` hops (with the parents' chains, which
    /// belong to the first hop).
    pub fn prefix(&self, n: usize) -> Evidence {
        Evidence {
            hops: self.hops[..n.min(self.hops.len())].to_vec(),
            parents: self.parents.clone(),
        }
    }

    /// Number of chains: this one and every ancestor's.
    pub fn chains(&self) -> usize {
        1 + self.parents.iter().map(Evidence::chains).sum::<usize>()
    }

    /// How many derivations deep the carried lineage goes (0 without parents).
    pub fn depth(&self) -> usize {
        self.parents
            .iter()
            .map(|p| 1 + p.depth())
            .max()
            .unwrap_or(0)
    }

    /// Checks the limits [`Evidence::parse`] enforces, so that what we write
    /// can be read back.
    pub fn validate(&self) -> Result<(), BundleError> {
        if self.hops.is_empty() || self.hops.len() > MAX_HOPS {
            return Err(BundleError::Malformed(format!(
                "{} hops (1 to {MAX_HOPS} allowed)",
                self.hops.len()
            )));
        }
        for h in &self.hops {
            bounded(h.vkey.len() as u64, MAX_VKEY_LEN, "a verifier key")?;
            if h.entries.is_empty() || h.entries.len() > MAX_ENTRIES {
                return Err(BundleError::Malformed(format!(
                    "{} entries in one hop (1 to {MAX_ENTRIES} allowed)",
                    h.entries.len()
                )));
            }
            for e in &h.entries {
                bounded(e.len() as u64, MAX_ENTRY_LEN, "an entry")?;
            }
        }
        if self.parents.len() > MAX_PARENTS {
            return Err(BundleError::Malformed(format!(
                "{} parents (at most {MAX_PARENTS})",
                self.parents.len()
            )));
        }
        if self.depth() > MAX_LINEAGE_DEPTH || self.chains() > MAX_CHAINS {
            return Err(BundleError::Malformed(format!(
                "a lineage {} derivations deep with {} chains (at most {MAX_LINEAGE_DEPTH} and {MAX_CHAINS})",
                self.depth(),
                self.chains()
            )));
        }
        self.parents.iter().try_for_each(Evidence::validate)?;
        bounded(
            self.encoded_len(self.hops.len()) as u64,
            MAX_EVIDENCE_LEN,
            "evidence",
        )?;
        self.check_link_cost()
    }

    /// Parses evidence bytes strictly (no trailing bytes), version 1 or 2.
    pub fn parse(bytes: &[u8]) -> Result<Evidence, BundleError> {
        bounded(bytes.len() as u64, MAX_EVIDENCE_LEN, "evidence")?;
        let mut chains = 0;
        let ev = Self::parse_nested(bytes, 0, &mut chains)?;
        ev.check_link_cost()?;
        Ok(ev)
    }

    /// The bytes checking its links hashes (FORMAT.md §10.2): over its
    /// chains, (hops − 1) × the chain's encoded length, at most
    /// [`MAX_LINK_BYTES`], so that a crafted evidence cannot make its
    /// verification quadratic.
    fn check_link_cost(&self) -> Result<(), BundleError> {
        fn cost(e: &Evidence) -> u64 {
            (e.hops.len().saturating_sub(1) as u64) * e.encoded_len(e.hops.len()) as u64
                + e.parents.iter().map(cost).sum::<u64>()
        }
        let c = cost(self);
        if c > MAX_LINK_BYTES {
            return Err(BundleError::Malformed(format!(
                "checking its links would hash {c} bytes (at most {MAX_LINK_BYTES}: fewer hops, or smaller chains)"
            )));
        }
        Ok(())
    }

    /// One chain and its parents' (`depth` derivations below the document
    /// shared; `chains` counts every chain read so far).
    fn parse_nested(
        bytes: &[u8],
        depth: usize,
        chains: &mut usize,
    ) -> Result<Evidence, BundleError> {
        *chains += 1;
        if depth > MAX_LINEAGE_DEPTH || *chains > MAX_CHAINS {
            return Err(BundleError::Malformed(format!(
                "the lineage is over {MAX_LINEAGE_DEPTH} derivations deep or {MAX_CHAINS} chains"
            )));
        }
        let mut r = bytes;
        let v2 = Self::read_magic(&mut r)?;
        let hops = Self::read_hops(&mut r)?;
        let mut parents = Vec::new();
        if v2 {
            let [n] = be::<1, _>(&mut r, "parent count")?;
            if n == 0 || n as usize > MAX_PARENTS {
                return Err(BundleError::Malformed(format!(
                    "{n} parents (1 to {MAX_PARENTS} in version 2 evidence)"
                )));
            }
            for _ in 0..n {
                let len = u32::from_be_bytes(be(&mut r, "parent length")?);
                let len = len as usize;
                if len > r.len() {
                    return Err(BundleError::Truncated("parent evidence"));
                }
                let (p, rest) = r.split_at(len);
                parents.push(Self::parse_nested(p, depth + 1, chains)?);
                r = rest;
            }
        }
        if !r.is_empty() {
            return Err(BundleError::Malformed(format!(
                "{} trailing bytes after the evidence",
                r.len()
            )));
        }
        Ok(Evidence { hops, parents })
    }

    /// The magic: `false` for version 1, `true` for version 2.
    fn read_magic(r: &mut &[u8]) -> Result<bool, BundleError> {
        if r.starts_with(EVIDENCE_MAGIC_V2) {
            *r = &r[EVIDENCE_MAGIC_V2.len()..];
            return Ok(true);
        }
        check_magic(r, EVIDENCE_MAGIC, BundleError::NotEvidence)?;
        Ok(false)
    }

    fn read_hops<R: Read>(r: &mut R) -> Result<Vec<Hop>, BundleError> {
        let [n] = be::<1, _>(r, "hop count")?;
        let n = n as usize;
        if n == 0 || n > MAX_HOPS {
            return Err(BundleError::Malformed(format!("{n} hops")));
        }
        let mut hops = Vec::with_capacity(n);
        for _ in 0..n {
            let vlen = u16::from_be_bytes(be(r, "verifier key length")?);
            let vlen = bounded(vlen as u64, MAX_VKEY_LEN, "a verifier key")?;
            let vkey = String::from_utf8(take(r, vlen, "verifier key")?)
                .map_err(|_| BundleError::Malformed("verifier key is not UTF-8".into()))?;
            let count = u16::from_be_bytes(be(r, "entry count")?) as usize;
            if count == 0 || count > MAX_ENTRIES {
                return Err(BundleError::Malformed(format!("{count} entries in a hop")));
            }
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                let len = u32::from_be_bytes(be(r, "entry length")?);
                let len = bounded(len as u64, MAX_ENTRY_LEN, "an entry")?;
                entries.push(take(r, len, "entry")?);
            }
            hops.push(Hop { vkey, entries });
        }
        Ok(hops)
    }
}

/// Everything in a bundle before the payload (FORMAT.md §10.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleHead {
    pub evidence: Evidence,
    /// The share envelope, age-encrypted to the receiving outlet.
    pub envelope: Vec<u8>,
    /// Length of the payload that follows the head and ends the file.
    pub payload_len: u64,
}

impl BundleHead {
    /// Number of bytes [`write_head`] writes for this head.
    pub fn encoded_len(&self) -> u64 {
        (BUNDLE_MAGIC.len() + 4 + self.evidence.encode().len() + 4 + self.envelope.len() + 8) as u64
    }
}

/// Writes the head of a bundle; the caller then writes exactly
/// `head.payload_len` payload bytes.
pub fn write_head<W: Write>(w: &mut W, head: &BundleHead) -> Result<(), BundleError> {
    head.evidence.validate()?;
    bounded(head.envelope.len() as u64, MAX_ENVELOPE_LEN, "an envelope")?;
    let ev = head.evidence.encode();
    w.write_all(BUNDLE_MAGIC)?;
    w.write_all(&(ev.len() as u32).to_be_bytes())?;
    w.write_all(&ev)?;
    w.write_all(&(head.envelope.len() as u32).to_be_bytes())?;
    w.write_all(&head.envelope)?;
    w.write_all(&head.payload_len.to_be_bytes())?;
    Ok(())
}

/// Reads a bundle head strictly; the reader is left at the first payload byte.
pub fn read_head<R: Read>(r: &mut R) -> Result<BundleHead, BundleError> {
    check_magic(r, BUNDLE_MAGIC, BundleError::NotABundle)?;
    let elen = u32::from_be_bytes(be(r, "evidence length")?);
    let elen = bounded(elen as u64, MAX_EVIDENCE_LEN, "evidence")?;
    let evidence = Evidence::parse(&take(r, elen, "evidence")?)?;
    let vlen = u32::from_be_bytes(be(r, "envelope length")?);
    let vlen = bounded(vlen as u64, MAX_ENVELOPE_LEN, "an envelope")?;
    let envelope = take(r, vlen, "envelope")?;
    let payload_len = u64::from_be_bytes(be(r, "payload length")?);
    Ok(BundleHead {
        evidence,
        envelope,
        payload_len,
    })
}

/// The decrypted share envelope (FORMAT.md §10.3): what the receiving outlet
/// learns about the document besides its bytes, and the commitment's opening.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareEnvelope {
    pub v: u32,
    /// File name (no directories: the sender's folder layout is not shared).
    pub name: String,
    pub media_type: String,
    /// Plaintext length.
    pub size: u64,
    /// SHA-256 of the plaintext (opening, part 1), lowercase hex.
    #[serde(deserialize_with = "crate::core::meta::lower_hex")]
    pub sha256: Digest,
    /// The commitment salt (opening, part 2), lowercase hex.
    #[serde(deserialize_with = "crate::core::meta::lower_hex")]
    pub salt: Digest,
    /// A note from the sender to the partner (a string when present).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::core::meta::present_string"
    )]
    pub note: Option<String>,
}

impl ShareEnvelope {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses strictly (FORMAT.md §10.3: every required member, none
    /// unknown or repeated, no byte order mark, lowercase hex); the name must
    /// be a single safe path component.
    pub fn from_json(bytes: &[u8]) -> Result<ShareEnvelope, BundleError> {
        if bytes.len() > MAX_ENVELOPE_PLAINTEXT {
            return Err(BundleError::Malformed("share envelope too large".into()));
        }
        crate::core::meta::check_json_text(bytes)
            .map_err(|e| BundleError::Malformed(format!("share envelope: {e}")))?;
        let e: ShareEnvelope = serde_json::from_slice(bytes)
            .map_err(|e| BundleError::Malformed(format!("share envelope: {e}")))?;
        if e.v != ENVELOPE_VERSION {
            return Err(BundleError::UnsupportedVersion(format!(
                "share envelope v{}",
                e.v
            )));
        }
        if !safe_file_name(&e.name) {
            return Err(BundleError::Malformed(format!(
                "share envelope names an unsafe file name {:?}",
                e.name
            )));
        }
        Ok(e)
    }

    pub fn commitment(&self) -> Digest {
        crate::core::meta::commitment(&self.salt, &self.sha256)
    }
}

/// A file name that cannot escape a directory: one component, not `.`/`..`,
/// no separators or control characters.
pub fn safe_file_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 255
        && n != "."
        && n != ".."
        && !n.contains(['/', '\\'])
        && !n.chars().any(|c| c.is_control())
}

/// How the verifier decides whether witnesses vouch for a checkpoint.
pub struct Trust<'a> {
    /// Log keys the verifier trusts (alg 0x01; name = origin).
    pub logs: &'a [VerifierKey],
    /// Witness keys whose cosignatures are checked (alg 0x04).
    pub witnesses: &'a [VerifierKey],
    /// The quorum rule, if one is required: given the cosignatures that
    /// verified, is it met, and a description of what was required.
    #[allow(clippy::type_complexity)]
    pub quorum: Option<&'a dyn Fn(&[WitnessCosignature]) -> (bool, String)>,
}

/// One record of a chain of custody as checked.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub index: u64,
    pub kind: Kind,
    pub time_ms: u64,
    pub signer: KeyId,
    /// Who signed it: `owner` (the log key) or `name (role)` of an actor.
    pub signed_by: String,
    pub leaf_hash: Digest,
    /// True when every check of this record passed.
    pub verified: bool,
    /// For `share` records, the recipient fingerprints; for `receive`, the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Event {
    fn of(
        rec: &Record,
        leaf: Digest,
        signed_by: String,
        verified: bool,
        detail: Option<String>,
    ) -> Event {
        Event {
            index: rec.body.index,
            kind: rec.body.payload.kind(),
            time_ms: rec.body.time_ms,
            signer: rec.body.signer,
            signed_by,
            leaf_hash: leaf,
            verified,
            detail,
        }
    }
}

/// One ledger of a chain of custody as checked.
#[derive(Clone, Debug, Serialize)]
pub struct CheckedHop {
    pub origin: String,
    pub key_id: Option<KeyId>,
    pub trusted: bool,
    pub checkpoint_size: Option<u64>,
    pub checkpoint_root: Option<Digest>,
    /// Names of witnesses whose cosignatures on the checkpoint verified.
    pub cosigned_by: Vec<String>,
    pub events: Vec<Event>,
    /// The log key the hop carries (it signed the checkpoint if
    /// `checkpoint_size` is set).
    #[serde(skip)]
    pub log_key: Option<VerifierKey>,
    /// The signed checkpoint note its entries carry.
    #[serde(skip)]
    pub note: Option<String>,
}

/// The chain of custody of a parent of a derived document, as checked
/// (FORMAT.md §10.4 step 8).
#[derive(Clone, Debug, Serialize)]
pub struct CheckedLineage {
    /// What the child is of this parent: translation, redaction…
    pub relation: String,
    /// The log the child was derived in, and the parent's arrival record there.
    pub origin: String,
    pub document: u64,
    /// The parent's content commitment, as the `derive` record names it.
    pub commitment: Digest,
    /// The parent's custody, oldest first, ending in `origin`.
    pub hops: Vec<CheckedHop>,
    /// The parent's own parents, when it was derived too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<CheckedLineage>,
    /// It was derived, but its parents' custody is not carried.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lineage_not_carried: bool,
}

/// Every hop of a chain and of its lineage: the chain's, then each
/// ancestor's, depth first (what is checked against held checkpoints,
/// FORMAT.md §10.4 steps 5–7).
pub fn all_hops(hops: &[CheckedHop], lineage: &[CheckedLineage]) -> Vec<CheckedHop> {
    fn walk(l: &[CheckedLineage], out: &mut Vec<CheckedHop>) {
        for c in l {
            out.extend(c.hops.iter().cloned());
            walk(&c.lineage, out);
        }
    }
    let mut out = hops.to_vec();
    walk(lineage, &mut out);
    out
}

/// The outcome of [`check_evidence`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct EvidenceCheck {
    pub hops: Vec<CheckedHop>,
    pub findings: Vec<Finding>,
    /// The document's content commitment (from the first record).
    pub commitment: Option<Digest>,
    /// The last record of the last hop, when it is a `share`: the share the
    /// bundle was made by.
    #[serde(skip)]
    pub last_share: Option<Share>,
    /// Leaf hash of that share record.
    #[serde(skip)]
    pub last_share_leaf: Option<Digest>,
    /// The chains of custody of the parents of the first hop's `derive`
    /// record (FORMAT.md §10.4 step 8).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<CheckedLineage>,
    /// The first hop's arrival is a `derive` record whose parents' custody
    /// the evidence does not carry (version 1 evidence).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lineage_not_carried: bool,
    /// The first hop's arrival record.
    #[serde(skip)]
    first_arrival: Option<Record>,
    /// The last hop's arrival record's index.
    #[serde(skip)]
    last_arrival: Option<u64>,
}

impl EvidenceCheck {
    fn add(&mut self, subject: Subject, check: Check, reason: impl Into<String>) {
        self.findings.push(Finding {
            subject,
            check,
            reason: reason.into(),
        });
    }
}

/// `owner`, or `name (role)`.
pub fn signer_label(s: &Signer) -> String {
    match s {
        Signer::Owner => "owner".into(),
        Signer::Actor { name, role } => format!("{name} ({})", role.as_str()),
    }
}

fn entry_subject(log: &str, index: u64) -> Subject {
    Subject::Entry {
        log: log.to_string(),
        index,
    }
}

/// Checks a chain of custody (FORMAT.md §10.4): per hop, the log key is
/// trusted, every record decodes and is signed by it, every tlog-proof carries
/// the same checkpoint, signed by it, and proves its record included; the
/// witness quorum holds if one is required; the hop starts with the
/// document's arrival (`ingest` first, `receive` after) and its other records
/// are `share`s of that document; each `receive` links to a `share` of the
/// previous hop, its checkpoint, and the digest of the evidence before it.
pub fn check_evidence(ev: &Evidence, trust: &Trust<'_>) -> EvidenceCheck {
    check_chain(ev, trust, None)
}

/// [`check_evidence`] of one chain and its lineage; a hop whose signed note
/// is `judged` (a parent's chain ends with the note of its child's first
/// hop, already judged there) is not judged against the quorum again.
fn check_chain(ev: &Evidence, trust: &Trust<'_>, judged: Option<&str>) -> EvidenceCheck {
    let mut out = EvidenceCheck::default();
    let mut prev: Option<PrevHop> = None;
    for (h, hop) in ev.hops.iter().enumerate() {
        let Some(key) = out.hop_key(h, hop) else {
            return out;
        };
        let log = key.name().to_string();
        let trusted = out.log_trusted(&key, trust);
        let mut checked = CheckedHop {
            origin: log.clone(),
            key_id: Some(key.key_id()),
            trusted,
            checkpoint_size: None,
            checkpoint_root: None,
            cosigned_by: Vec::new(),
            events: Vec::new(),
            log_key: Some(key.clone()),
            note: None,
        };
        // The checkpoint: the same signed note, signature lines included,
        // byte for byte in every entry (FORMAT.md §10.2), signed by the log key.
        let proofs = out.hop_proofs(&log, hop);
        let cp = match out.common_note(&log, &proofs) {
            Some(note) => {
                checked.note = Some(note.to_string());
                let unjudged = Trust {
                    quorum: None,
                    ..*trust
                };
                let t = if judged == Some(note) {
                    &unjudged
                } else {
                    trust
                };
                out.open_checkpoint(&mut checked, &key, note, t)
            }
            None => None,
        };
        // The records.
        let mut records = HopRecords::new(ev, h, &key, cp.as_ref(), prev.as_ref());
        for (k, p) in proofs.iter().enumerate() {
            let last_entry = k + 1 == proofs.len();
            let Some(p) = p else { continue };
            if let Some(event) = records.entry(&mut out, k, p, last_entry) {
                checked.events.push(event);
            }
        }
        if h + 1 == ev.hops.len() {
            out.last_arrival = records.intro;
        }
        let shares = records.shares;
        if h + 1 < ev.hops.len() && shares.is_empty() {
            out.add(
                Subject::Log(log.clone()),
                Check::HopLink,
                "this hop has no share record, yet the document went on to another outlet",
            );
        }
        out.hops.push(checked);
        prev = cp.map(|checkpoint| PrevHop {
            key,
            checkpoint,
            shares,
        });
    }
    check_lineage(ev, trust, &mut out);
    out
}

/// FORMAT.md §10.4 step 8: the chains of the parents of the first hop's
/// `derive` record, each checked as a chain of its own that ends in the
/// first hop's log, with the first hop's checkpoint, at the parent's
/// arrival record and commitment the `derive` record names.
fn check_lineage(ev: &Evidence, trust: &Trust<'_>, out: &mut EvidenceCheck) {
    let first = out.hops.first().cloned();
    let derive =
        if let Some(Payload::Derive(d)) = out.first_arrival.as_ref().map(|r| &r.body.payload) {
            Some(d.clone())
        } else {
            None
        };
    let subject = match (&first, &out.first_arrival) {
        (Some(h), Some(r)) => entry_subject(&h.origin, r.body.index),
        _ => Subject::Bundle,
    };
    match &derive {
        Some(_) if ev.parents.is_empty() => {
            out.lineage_not_carried = true;
            return;
        }
        Some(d) if d.parents.len() != ev.parents.len() => out.add(
            subject.clone(),
            Check::LineageParent,
            format!(
                "the derive record names {} parent(s) but the evidence carries {} chain(s)",
                d.parents.len(),
                ev.parents.len()
            ),
        ),
        Some(_) => {}
        None if ev.parents.is_empty() => return,
        None => out.add(
            subject.clone(),
            Check::LineageParent,
            "the evidence carries parents' chains but its first record is not a derive record",
        ),
    }
    let judged = first.as_ref().and_then(|h| h.note.as_deref());
    for (j, p) in ev.parents.iter().enumerate() {
        let sub = check_chain(p, trust, judged);
        let link = derive.as_ref().and_then(|d| d.parents.get(j));
        let mut bad = Vec::new();
        let last = sub.hops.last();
        if let (Some(f), Some(l)) = (&first, last) {
            if l.origin != f.origin || l.key_id != f.key_id || l.log_key != f.log_key {
                bad.push(format!(
                    "it ends in log {} but the document was derived in {}",
                    l.origin, f.origin
                ));
            } else if l.note.is_some() && l.note != f.note {
                bad.push(
                    "its last hop carries another checkpoint than the derived document's first hop"
                        .to_string(),
                );
            }
        }
        if let Some(pl) = link {
            if sub.last_arrival != Some(pl.document) {
                bad.push(format!(
                    "it ends at record {} but the derive record names parent record {}",
                    sub.last_arrival.map_or("?".into(), |x| x.to_string()),
                    pl.document
                ));
            }
            if sub.commitment != Some(pl.commitment) {
                bad.push(
                    "its document's commitment is not the parent's the derive record names".into(),
                );
            }
        }
        for b in bad {
            out.add(
                subject.clone(),
                Check::LineageParent,
                format!("parent chain {j}: {b}"),
            );
        }
        let origin = first.as_ref().map_or(String::new(), |h| h.origin.clone());
        for f in &sub.findings {
            let mut f = f.clone();
            f.reason = format!(
                "in the lineage of {origin} record {}: {}",
                link.map_or(0, |l| l.document),
                f.reason
            );
            out.findings.push(f);
        }
        out.lineage.push(CheckedLineage {
            relation: derive
                .as_ref()
                .map_or("?".into(), |d| d.relation.as_str().to_string()),
            origin,
            document: link.map_or(0, |l| l.document),
            commitment: link.map_or(Digest([0; 32]), |l| l.commitment),
            hops: sub.hops,
            lineage: sub.lineage,
            lineage_not_carried: sub.lineage_not_carried,
        });
    }
}

/// The previous hop of a chain, as the next hop's `receive` links to it.
struct PrevHop {
    key: VerifierKey,
    checkpoint: Checkpoint,
    /// Its `share` records: leaf hash to index.
    shares: HashMap<Digest, u64>,
}

impl EvidenceCheck {
    /// The hop's log key (FORMAT.md §10.2): the vkey exactly, no newline or
    /// other byte around it, in its one encoding (the evidence encoding is
    /// canonical), an Ed25519 key. `None` (with its finding) ends the check.
    fn hop_key(&mut self, h: usize, hop: &Hop) -> Option<VerifierKey> {
        match VerifierKey::parse(&hop.vkey) {
            Ok(k) if k.encode() != hop.vkey => {
                self.add(
                    Subject::Log(k.name().to_string()),
                    Check::BundleFormat,
                    format!("hop {h}: the log key is not in its canonical encoding"),
                );
                None
            }
            Ok(k) if k.alg() == SigAlg::Ed25519 => Some(k),
            Ok(k) => {
                self.add(
                    Subject::Log(k.name().to_string()),
                    Check::BundleFormat,
                    format!("hop {h}: the log key is not an Ed25519 (0x01) key"),
                );
                None
            }
            Err(e) => {
                self.add(
                    Subject::Bundle,
                    Check::BundleFormat,
                    format!("hop {h}: the log key does not parse: {e}"),
                );
                None
            }
        }
    }

    /// Whether the hop's log key is one the verifier trusts (a finding if not).
    fn log_trusted(&mut self, key: &VerifierKey, trust: &Trust<'_>) -> bool {
        let log = key.name();
        let trusted = trust
            .logs
            .iter()
            .any(|t| t.matches(key.name(), key.key_id()) && t.public_bytes() == key.public_bytes());
        if !trusted {
            self.add(
                Subject::Log(log.to_string()),
                Check::UntrustedLog,
                format!(
                    "log key {}+{} is not trusted (add it with `custody trust add` or --trust)",
                    log,
                    key.key_id()
                ),
            );
        }
        trusted
    }

    /// The hop's entries as tlog-proofs: `None` for one that does not parse
    /// (with its finding).
    fn hop_proofs(&mut self, log: &str, hop: &Hop) -> Vec<Option<TlogProof>> {
        let mut proofs = Vec::with_capacity(hop.entries.len());
        for (k, e) in hop.entries.iter().enumerate() {
            match TlogProof::parse(e) {
                Ok(p) => proofs.push(Some(p)),
                Err(err) => {
                    // FORMAT.md §10.4 step 2: a checkpoint that does not
                    // parse is `checkpoint_signature`, the rest of the proof
                    // `inclusion_proof`.
                    let check = match err {
                        crate::core::tlog_proof::TlogProofError::Checkpoint(_) => {
                            Check::CheckpointSignature
                        }
                        _ => Check::InclusionProof,
                    };
                    self.add(
                        Subject::Log(log.to_string()),
                        check,
                        format!("entry {k} is not a valid tlog-proof: {err}"),
                    );
                    proofs.push(None);
                }
            }
        }
        proofs
    }

    /// The signed note the hop's entries carry: the first entry's, with a
    /// finding for each entry whose note is not byte for byte the same.
    fn common_note<'p>(&mut self, log: &str, proofs: &'p [Option<TlogProof>]) -> Option<&'p str> {
        let mut note: Option<&str> = None;
        for (k, p) in proofs.iter().enumerate() {
            let Some(p) = p else { continue };
            match note {
                None => note = Some(p.checkpoint_note()),
                Some(n) if n == p.checkpoint_note() => {}
                Some(_) => {
                    self.add(
                        Subject::Log(log.to_string()),
                        Check::CheckpointSignature,
                        format!(
                            "the entries of one hop carry different checkpoints: entry {k}'s signed note is not byte for byte the first entry's (signature lines included)"
                        ),
                    );
                }
            }
        }
        note
    }

    /// The hop's checkpoint, if it verifies with the log key and names its
    /// origin; `checked` gets its size, root and the witnesses whose
    /// cosignatures verified, and the quorum is checked if one is required.
    fn open_checkpoint(
        &mut self,
        checked: &mut CheckedHop,
        key: &VerifierKey,
        note: &str,
        trust: &Trust<'_>,
    ) -> Option<Checkpoint> {
        let log = key.name();
        match SignedCheckpoint::open(note.as_bytes(), key, trust.witnesses) {
            Ok(opened) => {
                if !opened.checkpoint.origin_matches_key(key) {
                    self.add(
                        Subject::Checkpoint(opened.checkpoint.size),
                        Check::CheckpointSignature,
                        format!(
                            "checkpoint origin {:?} is not the log key's name {log:?}",
                            opened.checkpoint.origin
                        ),
                    );
                }
                checked.cosigned_by = opened
                    .witness_cosignatures
                    .iter()
                    .map(|w| w.name.clone())
                    .collect();
                if let Some(q) = trust.quorum {
                    self.quorum(log, q, &opened, &checked.cosigned_by);
                }
                checked.checkpoint_size = Some(opened.checkpoint.size);
                checked.checkpoint_root = Some(opened.checkpoint.root);
                Some(opened.checkpoint)
            }
            Err(e) => {
                self.add(
                    Subject::Log(log.to_string()),
                    Check::CheckpointSignature,
                    format!("the checkpoint does not verify with {log}: {e}"),
                );
                None
            }
        }
    }

    /// The witness quorum `q` holds for the checkpoint's cosignatures that
    /// verified (by `cosigned_by`), or a finding.
    fn quorum(
        &mut self,
        log: &str,
        q: &dyn Fn(&[WitnessCosignature]) -> (bool, String),
        opened: &OpenedCheckpoint,
        cosigned_by: &[String],
    ) {
        let (ok, required) = q(&opened.witness_cosignatures);
        if !ok {
            self.add(
                Subject::Log(log.to_string()),
                Check::WitnessQuorum,
                format!(
                    "checkpoint at size {} is cosigned by {} but the policy requires {required}",
                    opened.checkpoint.size,
                    if cosigned_by.is_empty() {
                        "no trusted witness".to_string()
                    } else {
                        cosigned_by.join(", ")
                    }
                ),
            );
        }
    }

    /// The record is about the chain's one document: its content commitment
    /// is the first record's.
    fn same_document(&mut self, subject: &Subject, c: Digest) {
        match self.commitment {
            None => self.commitment = Some(c),
            Some(first) if first != c => self.add(
                subject.clone(),
                Check::HopLink,
                "record is about another document (its content commitment differs)",
            ),
            Some(_) => {}
        }
    }
}

/// Checking the records of one hop, entry by entry, in order.
struct HopRecords<'a> {
    ev: &'a Evidence,
    /// The hop's position in the chain.
    h: usize,
    log: &'a str,
    key: &'a VerifierKey,
    /// The hop's checkpoint, if it verified.
    cp: Option<&'a Checkpoint>,
    prev: Option<&'a PrevHop>,
    /// This hop's `share` records so far: leaf hash to index.
    shares: HashMap<Digest, u64>,
    /// The record that brought the document into this log.
    intro: Option<u64>,
    last_index: Option<u64>,
    /// Who may sign, from the actor records so far.
    actors: Actors,
    /// The records about the document so far.
    doc_entries: usize,
}

impl<'a> HopRecords<'a> {
    /// Nothing checked yet of hop `h`.
    fn new(
        ev: &'a Evidence,
        h: usize,
        key: &'a VerifierKey,
        cp: Option<&'a Checkpoint>,
        prev: Option<&'a PrevHop>,
    ) -> Self {
        HopRecords {
            ev,
            h,
            log: key.name(),
            key,
            cp,
            prev,
            shares: HashMap::new(),
            intro: None,
            last_index: None,
            actors: Actors::default(),
            doc_entries: 0,
        }
    }

    /// Entry `k`'s record: decoded, where its proof says, signed, proven
    /// included and in its place in the chain. `None` when the entry carries
    /// no record that decodes (with the finding).
    fn entry(
        &mut self,
        out: &mut EvidenceCheck,
        k: usize,
        p: &TlogProof,
        last_entry: bool,
    ) -> Option<Event> {
        let Some(bytes) = p.extra() else {
            out.add(
                Subject::Log(self.log.to_string()),
                Check::BundleFormat,
                format!("entry {k} carries no record"),
            );
            return None;
        };
        let rec = match Record::decode(bytes) {
            Ok(r) => r,
            Err(e) => {
                out.add(
                    entry_subject(self.log, p.index()),
                    Check::RecordDecode,
                    e.to_string(),
                );
                return None;
            }
        };
        let subject = entry_subject(self.log, rec.body.index);
        let before = out.findings.len();
        self.check_place(out, &subject, &rec, p);
        let signer = match self.actors.authorize(&rec, self.key) {
            Ok(s) => Some(s),
            Err(e) => {
                out.add(subject.clone(), e.check(), e.to_string());
                None
            }
        };
        let signed_by = signer
            .as_ref()
            .map_or_else(|| "?".to_string(), signer_label);
        let leaf = rec.leaf_hash();
        self.check_inclusion(out, &subject, p, &leaf);
        // Actor records only support the others: they carry the keys of
        // the people who signed them (FORMAT.md §10.2).
        let Some(c) = rec.commitment().copied() else {
            if signer.is_some() {
                if let Err(e) = self.actors.apply(&rec, self.key) {
                    out.add(subject.clone(), e.check(), e.to_string());
                }
            }
            let detail = Some(rec.body.payload.summary());
            let verified = out.findings.len() == before;
            return Some(Event::of(&rec, leaf, signed_by, verified, detail));
        };
        // Commitment: one document throughout the chain.
        out.same_document(&subject, c);
        let detail = self.check_shape(out, &subject, &rec, leaf, last_entry);
        let verified = out.findings.len() == before;
        Some(Event::of(&rec, leaf, signed_by, verified, detail))
    }

    /// The record is the one its proof is for, after the hop's previous
    /// record, and of this log.
    fn check_place(
        &mut self,
        out: &mut EvidenceCheck,
        subject: &Subject,
        rec: &Record,
        p: &TlogProof,
    ) {
        let i = rec.body.index;
        if i != p.index() {
            out.add(
                subject.clone(),
                Check::RecordIndex,
                format!(
                    "the proof is for index {} but the record says {i}",
                    p.index()
                ),
            );
        }
        if self.last_index.is_some_and(|l| l >= i) {
            out.add(
                subject.clone(),
                Check::BundleFormat,
                "records of a hop are not in increasing log order",
            );
        }
        self.last_index = Some(i);
        if rec.body.origin != self.log {
            out.add(
                subject.clone(),
                Check::RecordOrigin,
                format!("record names origin {:?}", rec.body.origin),
            );
        }
    }

    /// The record's proof proves it included in the hop's checkpoint (when
    /// that verified).
    fn check_inclusion(
        &self,
        out: &mut EvidenceCheck,
        subject: &Subject,
        p: &TlogProof,
        leaf: &Digest,
    ) {
        if let Some(c) = self.cp {
            if let Err(e) = merkle::verify_inclusion(
                LeafIndex(p.index()),
                TreeSize(c.size),
                leaf,
                p.hashes(),
                &c.root,
            ) {
                out.add(
                    subject.clone(),
                    Check::InclusionProof,
                    format!(
                        "not proven included in the checkpoint at size {}: {e}",
                        c.size
                    ),
                );
            }
        }
    }

    /// Shape: the document arrives first (`ingest` or `derive` in the first
    /// hop, `receive` after), then it is shared. Returns the event's detail.
    fn check_shape(
        &mut self,
        out: &mut EvidenceCheck,
        subject: &Subject,
        rec: &Record,
        leaf: Digest,
        last_entry: bool,
    ) -> Option<String> {
        let i = rec.body.index;
        let mut detail = None;
        let k = self.doc_entries;
        self.doc_entries += 1;
        match (&rec.body.payload, k, self.h) {
            (Payload::Ingest(_) | Payload::Derive(_), 0, 0) => {
                self.intro = Some(i);
                out.first_arrival = Some(rec.clone());
            }
            (Payload::Receive(r), 0, h) if h > 0 => {
                self.intro = Some(i);
                detail = Some(format!("from {} record {}", r.from.origin, r.from.index));
                if let Some(prev) = self.prev {
                    for b in self.link_mismatches(prev, r) {
                        out.add(subject.clone(), Check::HopLink, b);
                    }
                }
            }
            (Payload::Share(s), k, _) if k > 0 => {
                detail = Some(match s.sealed {
                    Some(_) => "to a partner (recipients sealed)".to_string(),
                    None => format!("to {} recipient(s)", s.recipients.len()),
                });
                self.check_share(out, subject, s, i, leaf, last_entry);
            }
            (p, k, h) => out.add(
                subject.clone(),
                Check::HopLink,
                format!(
                    "a {} record cannot be entry {k} of hop {h}",
                    p.kind().as_str()
                ),
            ),
        }
        detail
    }

    /// A `share` record (index `i`) is of this hop's document; the last
    /// record of the chain is the share the bundle was made by.
    fn check_share(
        &mut self,
        out: &mut EvidenceCheck,
        subject: &Subject,
        s: &Share,
        i: u64,
        leaf: Digest,
        last_entry: bool,
    ) {
        if self.intro != Some(s.document) {
            out.add(
                subject.clone(),
                Check::HopLink,
                format!(
                    "share of record {} but this hop's document is record {}",
                    s.document,
                    self.intro.map_or("?".into(), |x| x.to_string())
                ),
            );
        }
        self.shares.insert(leaf, i);
        if self.h + 1 == self.ev.hops.len() && last_entry {
            out.last_share = Some(s.clone());
            out.last_share_leaf = Some(leaf);
        }
    }

    /// The links between hops: how a `receive` record fails to name the
    /// previous hop's log, one of its shares, its checkpoint, and the
    /// evidence before this hop.
    fn link_mismatches(&self, prev: &PrevHop, r: &Receive) -> Vec<String> {
        let (pkey, pcp) = (&prev.key, &prev.checkpoint);
        let l = &r.from;
        let mut bad = Vec::new();
        if l.origin != pkey.name() || l.key_id != pkey.key_id() {
            bad.push(format!(
                "it names log {}+{} but the previous hop is {}+{}",
                l.origin,
                l.key_id,
                pkey.name(),
                pkey.key_id()
            ));
        }
        if prev.shares.get(&l.leaf_hash) != Some(&l.index) {
            bad.push(format!(
                "record {} with leaf hash {} is not a share of the previous hop",
                l.index, l.leaf_hash
            ));
        }
        if l.checkpoint_size != pcp.size || l.checkpoint_root != pcp.root {
            bad.push(format!(
                "it was proven against checkpoint {} but the previous hop carries checkpoint {}",
                l.checkpoint_size, pcp.size
            ));
        }
        let (digest, len) = self.ev.prefix_digest(self.h);
        if r.evidence != digest || r.evidence_size != len {
            bad.push("the evidence it commits to is not the previous hops".into());
        }
        bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Evidence {
        Evidence {
            parents: Vec::new(),
            hops: vec![
                Hop {
                    vkey: "a.example/log+01020304+AQ".into(),
                    entries: vec![b"one".to_vec(), b"two".to_vec()],
                },
                Hop {
                    vkey: "b.example/log+01020304+AQ".into(),
                    entries: vec![b"three".to_vec()],
                },
            ],
        }
    }

    #[test]
    fn evidence_round_trips_and_is_strict() {
        let e = ev();
        let b = e.encode();
        assert_eq!(Evidence::parse(&b).unwrap(), e);
        let mut t = b.clone();
        t.push(0);
        assert!(matches!(
            Evidence::parse(&t),
            Err(BundleError::Malformed(_))
        ));
        for cut in 0..b.len() {
            assert!(Evidence::parse(&b[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(e.prefix(1).hops.len(), 1);
        assert_ne!(e.prefix(1).digest(), e.digest());
    }

    #[test]
    fn head_round_trips_and_bounds_lengths() {
        let head = BundleHead {
            evidence: ev(),
            envelope: vec![7; 100],
            payload_len: 5,
        };
        let mut b = Vec::new();
        write_head(&mut b, &head).unwrap();
        assert_eq!(b.len() as u64, head.encoded_len());
        b.extend_from_slice(b"12345");
        let mut r = &b[..];
        assert_eq!(read_head(&mut r).unwrap(), head);
        assert_eq!(r, b"12345");
        // A huge declared evidence length is refused before anything is allocated.
        let mut huge = BUNDLE_MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            read_head(&mut &huge[..]),
            Err(BundleError::TooLarge { .. })
        ));
        let mut v2 = b"custody-bundle/v2\n".to_vec();
        v2.extend_from_slice(&b[BUNDLE_MAGIC.len()..]);
        assert!(matches!(
            read_head(&mut &v2[..]),
            Err(BundleError::UnsupportedVersion(v)) if v == "v2"
        ));
        assert!(matches!(
            read_head(&mut &b"garbage garbage garbage"[..]),
            Err(BundleError::NotABundle)
        ));
        for cut in 0..(head.encoded_len() as usize) {
            assert!(read_head(&mut &b[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn envelope_names_are_single_components() {
        let mut e = ShareEnvelope {
            v: 1,
            name: "memo.pdf".into(),
            media_type: "application/pdf".into(),
            size: 3,
            sha256: Digest([1; 32]),
            salt: Digest([2; 32]),
            note: None,
        };
        assert_eq!(ShareEnvelope::from_json(&e.to_json()).unwrap(), e);
        for bad in ["../x", "/etc/passwd", "..", "a\\b", "", "a\nb"] {
            e.name = bad.into();
            assert!(ShareEnvelope::from_json(&e.to_json()).is_err(), "{bad:?}");
        }
        assert!(ShareEnvelope::from_json(br#"{"v":1,"extra":1}"#).is_err());
    }

    /// Issue 6: every length a bundle or its evidence declares is checked
    /// against its limit before anything of that size is read or allocated;
    /// a length within the limit that the input does not hold is `Truncated`
    /// after reading only what is there.
    #[test]
    fn declared_lengths_are_bounded_before_reading() {
        use crate::core::testing::fast;
        let too_large = |r: Result<BundleHead, BundleError>, want: &str| match r {
            Err(BundleError::TooLarge { what, .. }) => assert_eq!(what, want),
            other => panic!("{want}: {other:?}"),
        };
        let truncated = |r: Result<BundleHead, BundleError>, want: &str| match r {
            Err(BundleError::Truncated(what)) => assert_eq!(what, want),
            other => panic!("{want}: {other:?}"),
        };
        let with_evidence_len = |n: u32| {
            let mut b = BUNDLE_MAGIC.to_vec();
            b.extend_from_slice(&n.to_be_bytes());
            b
        };
        let read = |b: &[u8]| fast("read_head", || read_head(&mut &b[..]));
        too_large(read(&with_evidence_len(u32::MAX)), "evidence");
        truncated(
            read(&with_evidence_len(MAX_EVIDENCE_LEN as u32)),
            "evidence",
        );

        let ev = ev().encode();
        let with_envelope_len = |n: u32| {
            let mut b = with_evidence_len(ev.len() as u32);
            b.extend_from_slice(&ev);
            b.extend_from_slice(&n.to_be_bytes());
            b
        };
        too_large(read(&with_envelope_len(u32::MAX)), "an envelope");
        truncated(
            read(&with_envelope_len(MAX_ENVELOPE_LEN as u32)),
            "envelope",
        );
        // A 100 GB payload is only a number here: the payload is streamed, and
        // the store refuses a declared length the file does not hold.
        let mut b = with_envelope_len(0);
        b.extend_from_slice(&100_000_000_000u64.to_be_bytes());
        assert_eq!(read(&b).unwrap().payload_len, 100_000_000_000);

        // Inside the evidence: hop count, key length, entry count, entry length.
        let parse = |b: &[u8]| fast("Evidence::parse", || Evidence::parse(b));
        let hop = |vkey_len: u16, count: u16, entry_len: Option<u32>| {
            let mut b = EVIDENCE_MAGIC.to_vec();
            b.push(1);
            b.extend_from_slice(&vkey_len.to_be_bytes());
            b.extend(std::iter::repeat_n(
                b'k',
                (vkey_len as usize).min(MAX_VKEY_LEN),
            ));
            b.extend_from_slice(&count.to_be_bytes());
            if let Some(n) = entry_len {
                b.extend_from_slice(&n.to_be_bytes());
            }
            b
        };
        let mut hops = EVIDENCE_MAGIC.to_vec();
        hops.push(u8::MAX);
        assert!(matches!(parse(&hops), Err(BundleError::Malformed(_))));
        assert!(matches!(
            parse(&hop(u16::MAX, 1, None)),
            Err(BundleError::TooLarge {
                what: "a verifier key",
                ..
            })
        ));
        assert!(matches!(
            parse(&hop(8, u16::MAX, None)),
            Err(BundleError::Malformed(_))
        ));
        assert!(matches!(
            parse(&hop(8, MAX_ENTRIES as u16, Some(u32::MAX))),
            Err(BundleError::TooLarge {
                what: "an entry",
                ..
            })
        ));
        assert!(matches!(
            parse(&hop(8, MAX_ENTRIES as u16, Some(MAX_ENTRY_LEN as u32))),
            Err(BundleError::Truncated("entry"))
        ));
    }

    /// Issue 6: the share envelope's JSON parser refuses deep nesting fast
    /// (serde_json's recursion limit), and anything over 1 MiB unread.
    #[test]
    fn share_envelope_nesting_and_size_are_bounded() {
        use crate::core::testing::{fast, nested};
        for bad in [
            nested("", "[", 100_000),
            nested(r#"{"v":1,"note":"#, "[", 100_000),
            nested(r#"{"name":"#, r#"{"a":"#, 100_000),
            " ".repeat(MAX_ENVELOPE_PLAINTEXT + 1),
        ] {
            let r = fast("ShareEnvelope::from_json", || {
                ShareEnvelope::from_json(bad.as_bytes())
            });
            assert!(matches!(r, Err(BundleError::Malformed(_))), "{r:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn readers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = Evidence::parse(&bytes);
            let mut b = BUNDLE_MAGIC.to_vec();
            b.extend_from_slice(&bytes);
            let _ = read_head(&mut &b[..]);
        }
    }
}
