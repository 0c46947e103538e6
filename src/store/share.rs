//! Custody between outlets on disk: `share`, `bundle refresh`, `verify-bundle`,
//! `receive` and `trace` (FORMAT.md §4.5, §4.6, §10).
//!
//! Plaintext never touches a disk here: sharing decrypts the stored blob and
//! re-encrypts it to the partner in one stream; receiving decrypts the payload
//! and re-encrypts it to this archive's recipients in one stream.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use zeroize::Zeroizing;

use crate::core::bundle::{
    self, check_evidence, BundleHead, CheckedHop, Evidence, EvidenceCheck, Hop, ShareEnvelope,
    Trust,
};
use crate::core::crypto::{self, CryptoError, Identities, RecipientKey};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::meta::{self, Metadata};
use crate::core::record::{Ingest, Link, Payload, Receive, Record, RecordBody, Share};
use crate::core::report::{Check, Finding, Subject};
use crate::core::time;
use crate::core::tlog_proof::TlogProof;
use crate::store::archive::Archive;
use crate::store::blobs::{self, SealedBlob};
use crate::store::db::DigestKind;
use crate::store::extract::HashingReader;
use crate::store::ingest::{dedup_key, dedup_tag};
use crate::store::{io_err, StoreError};

/// Directory (under the archive root) of kept evidence files (FORMAT.md §7.5).
pub const EVIDENCE_DIR: &str = "evidence";

/// A writer that hashes everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
            len: 0,
        }
    }
    pub fn finish(self) -> (W, Digest, u64) {
        (
            self.inner,
            Digest(sha2::Digest::finalize(self.hasher).into()),
            self.len,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What `share` did.
#[derive(Clone, Debug, Serialize)]
pub struct Shared {
    /// Index of the new `share` record.
    pub index: u64,
    /// Index of the record that brought the document into this log.
    pub document: u64,
    pub bundle: PathBuf,
    pub bundle_size: u64,
    pub document_size: u64,
    pub payload: Digest,
    pub recipients: Vec<Digest>,
    pub checkpoint_size: u64,
    pub cosignatures: usize,
    pub records: usize,
    pub hops: usize,
}

/// What `bundle refresh` did.
#[derive(Clone, Debug, Serialize)]
pub struct Refreshed {
    pub bundle: PathBuf,
    pub old_checkpoint_size: Option<u64>,
    pub checkpoint_size: u64,
    pub cosignatures: usize,
}

/// The outcome of checking a bundle file.
#[derive(Clone, Debug, Serialize)]
pub struct BundleReport {
    pub bundle: PathBuf,
    pub bundle_size: u64,
    pub payload_size: u64,
    /// The chain of custody, one hop per ledger, oldest first.
    pub hops: Vec<CheckedHop>,
    pub commitment: Option<Digest>,
    /// Whether the payload was decrypted and checked against the commitment.
    pub decrypted: bool,
    /// From the decrypted envelope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub findings: Vec<Finding>,
}

impl BundleReport {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
    pub fn has(&self, c: Check) -> bool {
        self.findings.iter().any(|f| f.check == c)
    }
}

/// What `receive` stored.
#[derive(Clone, Debug, Serialize)]
pub struct Received {
    pub index: u64,
    pub name: String,
    pub size: u64,
    pub sha256: Digest,
    pub blob: Digest,
    pub deduplicated: bool,
    pub from: Link,
    pub evidence: Digest,
    pub hops: usize,
    pub checkpoint_size: u64,
}

/// `receive` either stores the document or refuses with the report.
#[derive(Debug)]
pub enum ReceiveOutcome {
    Received(Received),
    Refused(BundleReport),
}

/// The chain of custody of one document across outlets.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub commitment: Digest,
    /// The record that brought the document into this archive.
    pub document: u64,
    pub hops: Vec<CheckedHop>,
    pub findings: Vec<Finding>,
}

/// A bundle file opened for reading: its head, and where its payload starts.
struct OpenBundle {
    path: PathBuf,
    file: File,
    head: BundleHead,
    offset: u64,
    len: u64,
}

fn open_bundle(path: &Path) -> Result<OpenBundle, StoreError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let len = file.metadata().map_err(|e| io_err(path, e))?.len();
    let head = bundle::read_head(&mut BufReader::new(&file))?;
    let offset = head.encoded_len();
    match (offset.checked_add(head.payload_len)).map(|end| end.cmp(&len)) {
        Some(std::cmp::Ordering::Equal) => {}
        Some(std::cmp::Ordering::Greater) | None => {
            return Err(bundle::BundleError::Truncated("payload").into())
        }
        Some(std::cmp::Ordering::Less) => {
            return Err(bundle::BundleError::Malformed(format!(
                "{} bytes after the payload",
                len - offset - head.payload_len
            ))
            .into())
        }
    }
    Ok(OpenBundle {
        path: path.to_path_buf(),
        file,
        head,
        offset,
        len,
    })
}

impl OpenBundle {
    fn payload(&self) -> Result<io::Take<BufReader<&File>>, StoreError> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(self.offset))
            .map_err(|e| io_err(&self.path, e))?;
        Ok(BufReader::with_capacity(1 << 20, f).take(self.head.payload_len))
    }

    fn report(&self, ev: EvidenceCheck) -> BundleReport {
        BundleReport {
            bundle: self.path.clone(),
            bundle_size: self.len,
            payload_size: self.head.payload_len,
            hops: ev.hops,
            commitment: ev.commitment,
            decrypted: false,
            name: None,
            size: None,
            sha256: None,
            note: None,
            findings: ev.findings,
        }
    }
}

fn add(findings: &mut Vec<Finding>, subject: Subject, check: Check, reason: impl Into<String>) {
    findings.push(Finding {
        subject,
        check,
        reason: reason.into(),
    });
}

/// Checks everything a bundle carries that needs no key: the evidence, and
/// that the envelope is the one the share record names. Returns the report and
/// the share record the bundle was made by (if it has one).
fn check_structure(b: &OpenBundle, trust: &Trust<'_>) -> (BundleReport, Option<(Share, Digest)>) {
    let ev = check_evidence(&b.head.evidence, trust);
    let share = ev.last_share.clone().zip(ev.last_share_leaf);
    let mut rep = b.report(ev);
    match &share {
        None => add(
            &mut rep.findings,
            Subject::Bundle,
            Check::BundleFormat,
            "the bundle's last record is not a share record",
        ),
        Some((s, _)) => {
            if Digest::of(&b.head.envelope) != s.envelope {
                add(
                    &mut rep.findings,
                    Subject::Bundle,
                    Check::PayloadDigest,
                    "the envelope is not the one the share record names",
                );
            }
            if b.head.payload_len != s.payload_size {
                add(
                    &mut rep.findings,
                    Subject::Bundle,
                    Check::PayloadDigest,
                    format!(
                        "the payload is {} bytes, the share record says {}",
                        b.head.payload_len, s.payload_size
                    ),
                );
            }
        }
    }
    (rep, share)
}

fn decrypt_envelope(b: &OpenBundle, ids: &Identities) -> Result<ShareEnvelope, StoreError> {
    let plain = crypto::decrypt_bytes(ids, &b.head.envelope, bundle::MAX_ENVELOPE_PLAINTEXT)
        .map_err(|e| StoreError::Decrypt {
            what: format!(
                "the bundle {} (was it shared with this identity?)",
                b.path.display()
            ),
            source: e,
        })?;
    Ok(ShareEnvelope::from_json(&plain)?)
}

/// Streams the payload: hashes the ciphertext; with `ids`, decrypts it and
/// (with `to`) re-encrypts the plaintext into `sink`. Adds findings for a
/// payload that is not the one named, or plaintext that does not open the
/// commitment.
#[allow(clippy::too_many_arguments)]
fn payload_pass<W: Write + Send>(
    b: &OpenBundle,
    share: Option<&Share>,
    env: Option<&ShareEnvelope>,
    ids: Option<&Identities>,
    to: Option<(&[RecipientKey], W)>,
    findings: &mut Vec<Finding>,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<W>, StoreError> {
    let mut hashing = HashingReader::new(b.payload()?);
    let mut out = None;
    let mut plain = None;
    if let (Some(ids), Some(_)) = (ids, env) {
        let dec = crypto::decrypt_from(ids, BufReader::with_capacity(1 << 20, &mut hashing));
        let r = match dec {
            Ok(r) => r,
            Err(e) => {
                add(
                    findings,
                    Subject::Bundle,
                    Check::Content,
                    format!("the payload does not decrypt: {e}"),
                );
                return Ok(None);
            }
        };
        let size = env.map_or(0, |e| e.size);
        match to {
            Some((recipients, sink)) => {
                match crypto::encrypt_all(r, recipients, sink, size, progress) {
                    Ok(enc) => {
                        plain = Some((enc.sha256, enc.len));
                        out = Some(enc.out);
                    }
                    Err(CryptoError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => add(
                        findings,
                        Subject::Bundle,
                        Check::Content,
                        format!("the payload does not decrypt: {e}"),
                    ),
                    Err(CryptoError::Io(e)) => return Err(io_err(&b.path, e)),
                    Err(e) => return Err(e.into()),
                }
            }
            None => {
                let mut h = HashingReader::new(r);
                match io::copy(&mut h, &mut ProgressSink(progress)) {
                    Ok(len) => plain = Some((h.digest(), len)),
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => add(
                        findings,
                        Subject::Bundle,
                        Check::Content,
                        format!("the payload does not decrypt: {e}"),
                    ),
                    Err(e) => return Err(io_err(&b.path, e)),
                }
            }
        }
    }
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| io_err(&b.path, e))?;
    if let Some(s) = share {
        if hashing.digest() != s.payload {
            add(
                findings,
                Subject::Bundle,
                Check::PayloadDigest,
                "the payload's SHA-256 is not the one the share record names",
            );
        }
    }
    if let (Some(e), Some((sha, len))) = (env, plain) {
        if sha != e.sha256 || len != e.size {
            add(
                findings,
                Subject::Bundle,
                Check::Content,
                "the decrypted document does not match the digest in the envelope",
            );
        }
    }
    Ok(out)
}

/// Discards what is written, reporting its length.
struct ProgressSink<'a>(&'a mut dyn FnMut(u64));

impl Write for ProgressSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (self.0)(buf.len() as u64);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Checks the envelope's opening against the chain's commitment.
fn check_opening(env: &ShareEnvelope, commitment: Option<Digest>, findings: &mut Vec<Finding>) {
    if Some(env.commitment()) != commitment {
        add(
            findings,
            Subject::Bundle,
            Check::Commitment,
            "the envelope does not open the document's content commitment",
        );
    }
}

/// Verifies a bundle file offline (`custody verify-bundle`): the evidence,
/// the payload digest, and with `ids` the plaintext against the commitment.
pub fn verify_bundle(
    path: &Path,
    trust: &Trust<'_>,
    ids: Option<&Identities>,
    progress: &mut dyn FnMut(u64),
) -> Result<BundleReport, StoreError> {
    let b = open_bundle(path)?;
    let (mut rep, share) = check_structure(&b, trust);
    let share = share.map(|(s, _)| s);
    let env = match ids {
        Some(ids) => Some(decrypt_envelope(&b, ids)?),
        None => None,
    };
    if let Some(e) = &env {
        check_opening(e, rep.commitment, &mut rep.findings);
        rep.decrypted = true;
        rep.name = Some(e.name.clone());
        rep.size = Some(e.size);
        rep.sha256 = Some(e.sha256);
        rep.note = e.note.clone();
    }
    payload_pass::<io::Sink>(
        &b,
        share.as_ref(),
        env.as_ref(),
        ids,
        None,
        &mut rep.findings,
        progress,
    )?;
    Ok(rep)
}

/// Writes `bytes` to `path` atomically and durably (temp file, fsync, rename,
/// directory fsync).
fn write_durable(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    let tmp = temp_beside(path)?;
    let r = (|| {
        let mut f = create_private(&tmp)?;
        f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
        blobs::sync_dir(&dir)
    })();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_beside(path: &Path) -> Result<PathBuf, StoreError> {
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(parent_dir(path).join(format!(".custody-{}.tmp", hex::encode(rnd))))
}

fn create_private(p: &Path) -> Result<File, StoreError> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(p).map_err(|e| io_err(p, e))
}

/// Writes a bundle: head, then the payload copied from `payload`, durably.
fn write_bundle(out: &Path, head: &BundleHead, payload: &mut dyn Read) -> Result<u64, StoreError> {
    let tmp = temp_beside(out)?;
    let r = (|| {
        let f = create_private(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        bundle::write_head(&mut w, head)?;
        let n = io::copy(payload, &mut w).map_err(|e| io_err(&tmp, e))?;
        if n != head.payload_len {
            return Err(StoreError::Internal(format!(
                "payload is {n} bytes, expected {}",
                head.payload_len
            )));
        }
        let f = w.into_inner().map_err(|e| io_err(&tmp, e.into_error()))?;
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
        let len = f.metadata().map_err(|e| io_err(&tmp, e))?.len();
        fs::rename(&tmp, out).map_err(|e| io_err(out, e))?;
        blobs::sync_dir(&parent_dir(out))?;
        Ok(len)
    })();
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

impl Archive {
    /// The record that brought the document of record `rec` into this log:
    /// itself for an `ingest` or `receive`, the shared one for a `share`.
    pub fn document_of(&self, rec: Record) -> Result<Record, StoreError> {
        match rec.share() {
            Some(s) => {
                let d = self.record(s.document)?;
                if d.document().is_none() {
                    return Err(StoreError::Corrupt(format!(
                        "share record {} names record {} which holds no document",
                        rec.body.index, s.document
                    )));
                }
                Ok(d)
            }
            None => Ok(rec),
        }
    }

    /// The document's arrival record followed by every `share` of it, in log order.
    pub fn document_events(&self, intro: &Record) -> Result<Vec<Record>, StoreError> {
        let mut out = vec![intro.clone()];
        for i in self
            .db
            .records_with(intro.commitment(), DigestKind::Commitment)?
        {
            if i <= intro.body.index {
                continue;
            }
            let r = self.record(i)?;
            if r.share().is_some_and(|s| s.document == intro.body.index) {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn evidence_path(&self, d: &Digest) -> PathBuf {
        self.root.join(EVIDENCE_DIR).join(d.to_hex())
    }

    /// Reads the evidence kept for a `receive` record and checks its digest.
    pub fn evidence(&self, r: &Receive) -> Result<Evidence, StoreError> {
        let p = self.evidence_path(&r.evidence);
        let bytes = fs::read(&p).map_err(|e| io_err(&p, e))?;
        if Digest::of(&bytes) != r.evidence || bytes.len() as u64 != r.evidence_size {
            return Err(StoreError::Corrupt(format!(
                "evidence file {} does not match its digest",
                p.display()
            )));
        }
        Ok(Evidence::parse(&bytes)?)
    }

    /// Checks, without any trusted key, that the evidence kept for a `receive`
    /// record is intact, internally valid (signatures by the keys it carries,
    /// inclusion proofs, links) and ends with the share the record names.
    pub(crate) fn check_receive_link(&self, r: &Receive) -> Result<(), String> {
        let ev = self.evidence(r).map_err(|e| e.to_string())?;
        let keys: Vec<crate::core::keys::VerifierKey> = ev
            .hops
            .iter()
            .filter_map(|h| crate::core::keys::VerifierKey::parse(h.vkey.trim_end()).ok())
            .collect();
        let c = check_evidence(
            &ev,
            &Trust {
                logs: &keys,
                witnesses: &[],
                quorum: None,
            },
        );
        if let Some(f) = c.findings.first() {
            return Err(format!(
                "kept evidence: {}: {}: {}",
                f.subject,
                f.check.as_str(),
                f.reason
            ));
        }
        let last = c.hops.last();
        let ok = c.last_share_leaf == Some(r.from.leaf_hash)
            && c.commitment == Some(r.stored.commitment)
            && last.is_some_and(|h| {
                h.origin == r.from.origin
                    && h.key_id == Some(r.from.key_id)
                    && h.checkpoint_size == Some(r.from.checkpoint_size)
                    && h.checkpoint_root == Some(r.from.checkpoint_root)
                    && h.events.last().map(|e| e.index) == Some(r.from.index)
            });
        if ok {
            Ok(())
        } else {
            Err("the kept evidence does not end with the share, checkpoint and document this record names".into())
        }
    }

    /// This log's hop for `records`: one tlog-proof per record against the
    /// checkpoint at `size` (with every cosignature this archive holds).
    fn hop(&self, records: &[Record], size: u64, note: &[u8]) -> Result<Hop, StoreError> {
        let note = std::str::from_utf8(note)
            .map_err(|_| StoreError::Corrupt("checkpoint is not UTF-8".into()))?;
        let mut entries = Vec::with_capacity(records.len());
        for r in records {
            let p = self.inclusion_proof(r.body.index, Some(size))?;
            let t = TlogProof::new(r.body.index, p.proof, Some(r.bytes().to_vec()), note)
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            entries.push(t.encode().into_bytes());
        }
        Ok(Hop {
            vkey: self.log_key.encode(),
            entries,
        })
    }

    /// The checkpoint a bundle carries: the latest, with its cosignatures.
    fn bundle_checkpoint(&self) -> Result<(u64, Vec<u8>), StoreError> {
        self.latest_checkpoint()?.ok_or(StoreError::NoCheckpoint(0))
    }

    /// The chain of custody before this log's hop: the kept evidence of a
    /// received document, or nothing for one ingested here.
    fn prior_evidence(&self, intro: &Record) -> Result<Evidence, StoreError> {
        match intro.receive() {
            Some(r) => self.evidence(r),
            None => Ok(Evidence::default()),
        }
    }

    /// Shares the document of record `index` with `to` (FORMAT.md §10.1):
    /// re-encrypts it to them into a temporary file beside `out`, appends and
    /// signs a `share` record, signs a checkpoint covering it, and writes the
    /// bundle durably to `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn share(
        &mut self,
        index: u64,
        to: &[RecipientKey],
        ids: &Identities,
        signer: &SignerKey,
        note: Option<String>,
        out: &Path,
        force: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Shared, StoreError> {
        self.ensure_writable()?;
        self.check_signer(signer)?;
        if to.is_empty() {
            return Err(StoreError::Input(
                "share needs at least one --to recipient".into(),
            ));
        }
        if out.exists() && !force {
            return Err(StoreError::OutputExists(out.to_path_buf()));
        }
        let intro = self.document_of(self.record(index)?)?;
        let prior = self.prior_evidence(&intro)?;
        let m = self.metadata(&intro, ids)?;
        let doc = intro
            .document()
            .ok_or_else(|| StoreError::Internal("no document".into()))?
            .clone();
        // 1. The payload: the stored ciphertext, decrypted and re-encrypted in one stream.
        let tmp = temp_beside(out)?;
        let cleanup = |e: StoreError| {
            let _ = fs::remove_file(&tmp);
            e
        };
        let tmpf = create_private(&tmp)?;
        let blob_path = self.blobs.path(&doc.blob);
        let blob = File::open(&blob_path).map_err(|e| cleanup(io_err(&blob_path, e)))?;
        let mut hashing = HashingReader::new(blob);
        let enc = {
            let r = crypto::decrypt_from(ids, BufReader::with_capacity(1 << 20, &mut hashing))
                .map_err(|e| {
                    cleanup(StoreError::Decrypt {
                        what: format!("the document of record {}", intro.body.index),
                        source: e,
                    })
                })?;
            crypto::encrypt_all(
                r,
                to,
                HashingWriter::new(BufWriter::with_capacity(1 << 20, tmpf)),
                m.size,
                progress,
            )
            .map_err(|e| {
                cleanup(match e {
                    CryptoError::Io(io) => StoreError::ContentMismatch(format!(
                        "the document of record {} does not decrypt: {io}",
                        intro.body.index
                    )),
                    other => other.into(),
                })
            })?
        };
        io::copy(&mut hashing, &mut io::sink()).map_err(|e| cleanup(io_err(&blob_path, e)))?;
        if hashing.digest() != doc.blob || enc.sha256 != m.sha256 || enc.len != m.size {
            return Err(cleanup(StoreError::ContentMismatch(format!(
                "the document of record {} does not match its address or commitment; nothing was shared",
                intro.body.index
            ))));
        }
        let (w, payload_digest, payload_len) = enc.out.finish();
        let f = w
            .into_inner()
            .map_err(|e| cleanup(io_err(&tmp, e.into_error())))?;
        f.sync_all().map_err(|e| cleanup(io_err(&tmp, e)))?;
        drop(f);
        // 2. The envelope: the opening and the file name, encrypted to the partner.
        let name = if bundle::safe_file_name(&m.name) {
            m.name.clone()
        } else {
            "document".to_string()
        };
        let env = ShareEnvelope {
            v: bundle::ENVELOPE_VERSION,
            name,
            media_type: m.media_type.clone(),
            size: m.size,
            sha256: m.sha256,
            salt: m.salt,
            note,
        };
        let envelope = crypto::encrypt_bytes(to, &Zeroizing::new(env.to_json()))
            .map_err(|e| cleanup(e.into()))?;
        let recipients = crypto::fingerprints(to);
        // 3. The share record, durable, and a checkpoint covering it.
        let body = RecordBody {
            index: 0,
            time_ms: time::now_ms(),
            origin: self.config.origin.clone(),
            signer: self.log_key.key_id(),
            payload: Payload::Share(Share {
                document: intro.body.index,
                commitment: doc.commitment,
                payload: payload_digest,
                payload_size: payload_len,
                envelope: Digest::of(&envelope),
                recipients: recipients.clone(),
            }),
        };
        let rec = self
            .commit_records(vec![body], Vec::new(), Vec::new(), signer)
            .map_err(cleanup)?
            .remove(0);
        self.sign_checkpoint(signer).map_err(cleanup)?;
        // 4. The bundle.
        let (size, note) = self.bundle_checkpoint().map_err(cleanup)?;
        let events = self.document_events(&intro).map_err(cleanup)?;
        let events: Vec<Record> = events
            .into_iter()
            .filter(|r| r.body.index <= rec.body.index)
            .collect();
        let mut evidence = prior;
        evidence
            .hops
            .push(self.hop(&events, size, &note).map_err(cleanup)?);
        let head = BundleHead {
            evidence,
            envelope,
            payload_len,
        };
        let mut payload = File::open(&tmp).map_err(|e| cleanup(io_err(&tmp, e)))?;
        let bundle_size = write_bundle(out, &head, &mut payload).map_err(cleanup)?;
        let _ = fs::remove_file(&tmp);
        Ok(Shared {
            index: rec.body.index,
            document: intro.body.index,
            bundle: out.to_path_buf(),
            bundle_size,
            document_size: m.size,
            payload: payload_digest,
            recipients,
            checkpoint_size: size,
            cosignatures: cosignature_count(&note),
            records: events.len(),
            hops: head.evidence.hops.len(),
        })
    }

    /// Re-proves the last hop of a bundle this archive made against its
    /// latest checkpoint (with the cosignatures gathered since), keeping the
    /// payload and envelope. Written to `out` (default: in place), atomically.
    pub fn refresh_bundle(&self, path: &Path, out: Option<&Path>) -> Result<Refreshed, StoreError> {
        let b = open_bundle(path)?;
        let mut evidence = b.head.evidence.clone();
        let last = evidence
            .hops
            .pop()
            .ok_or_else(|| StoreError::Internal("empty evidence".into()))?;
        if last.vkey.trim_end() != self.log_key.encode() {
            return Err(StoreError::Input(format!(
                "{} was not made by this archive's log ({}); only the sender can refresh it",
                path.display(),
                self.config.origin
            )));
        }
        let mut records = Vec::with_capacity(last.entries.len());
        let mut old_size = None;
        for e in &last.entries {
            let p =
                TlogProof::parse(e).map_err(|e| StoreError::Input(format!("bundle entry: {e}")))?;
            if old_size.is_none() {
                old_size = crate::core::checkpoint::SignedCheckpoint::parse(
                    p.checkpoint_note().as_bytes(),
                )
                .ok()
                .map(|c| c.checkpoint().size);
            }
            let mine = self.record(p.index())?;
            if Some(mine.bytes()) != p.extra() {
                return Err(StoreError::Input(format!(
                    "record {} in the bundle is not this archive's record {}",
                    p.index(),
                    p.index()
                )));
            }
            records.push(mine);
        }
        let (size, note) = self.bundle_checkpoint()?;
        evidence.hops.push(self.hop(&records, size, &note)?);
        let head = BundleHead {
            evidence,
            envelope: b.head.envelope.clone(),
            payload_len: b.head.payload_len,
        };
        let dest = out.unwrap_or(path);
        let mut payload = b.payload()?;
        write_bundle(dest, &head, &mut payload)?;
        Ok(Refreshed {
            bundle: dest.to_path_buf(),
            old_checkpoint_size: old_size,
            checkpoint_size: size,
            cosignatures: cosignature_count(&note),
        })
    }

    /// Verifies a bundle and, if every check passes, stores its document
    /// re-encrypted to this archive's recipients, keeps its evidence, and
    /// appends a `receive` record linking to the sender's share (FORMAT.md §4.6).
    /// A failed check stores nothing.
    pub fn receive(
        &mut self,
        path: &Path,
        trust: &Trust<'_>,
        ids: &Identities,
        signer: &SignerKey,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ReceiveOutcome, StoreError> {
        self.ensure_writable()?;
        self.check_signer(signer)?;
        let b = open_bundle(path)?;
        let (mut rep, share) = check_structure(&b, trust);
        let (Some((share, leaf)), true) = (share, rep.findings.is_empty()) else {
            return Ok(ReceiveOutcome::Refused(rep));
        };
        if let Some(&i) = self.db.records_with(&leaf, DigestKind::Received)?.first() {
            return Err(StoreError::Refused(format!(
                "this bundle's share (leaf hash {leaf}) was already received as record {i}"
            )));
        }
        let env = decrypt_envelope(&b, ids)?;
        check_opening(&env, rep.commitment, &mut rep.findings);
        if !rep.findings.is_empty() {
            return Ok(ReceiveOutcome::Refused(rep));
        }
        // The document: stored again here only if this archive does not hold it yet.
        let key = dedup_key(signer);
        let tag = dedup_tag(&key, &env.sha256);
        let existing = self.db.dedup(&tag)?.filter(|d| self.blobs.exists(d));
        let mut sealed: Vec<SealedBlob> = Vec::new();
        let (blob, blob_size) = match existing {
            Some(d) => {
                payload_pass::<io::Sink>(
                    &b,
                    Some(&share),
                    Some(&env),
                    Some(ids),
                    None,
                    &mut rep.findings,
                    progress,
                )?;
                let p = self.blobs.path(&d);
                (d, fs::metadata(&p).map_err(|e| io_err(&p, e))?.len())
            }
            None => {
                let w = self.blobs.begin()?;
                let w = payload_pass(
                    &b,
                    Some(&share),
                    Some(&env),
                    Some(ids),
                    Some((&self.recipients[..], BufWriter::with_capacity(1 << 20, w))),
                    &mut rep.findings,
                    progress,
                )?;
                match (w, rep.findings.is_empty()) {
                    (Some(w), true) => {
                        let w = w
                            .into_inner()
                            .map_err(|e| io_err(self.blobs.dir(), e.into_error()))?;
                        let s = self.blobs.seal(w, true)?;
                        let d = (s.digest, s.len);
                        sealed.push(s);
                        d
                    }
                    _ => return Ok(ReceiveOutcome::Refused(rep)),
                }
            }
        };
        if !rep.findings.is_empty() {
            return Ok(ReceiveOutcome::Refused(rep));
        }
        let dedup = if sealed.is_empty() {
            Vec::new()
        } else {
            vec![(tag, blob)]
        };
        // The envelope of this archive: the same opening, so the commitment
        // (the document's identity across outlets) is the same.
        let m = Metadata {
            v: meta::META_VERSION,
            path: env.name.clone(),
            name: env.name.clone(),
            size: env.size,
            sha256: env.sha256,
            salt: env.salt,
            media_type: env.media_type.clone(),
            source: None,
            case: None,
            note: env.note.clone(),
        };
        let menv = crypto::encrypt_bytes(&self.recipients, &Zeroizing::new(m.to_json()))?;
        let meta_blob = self.blobs.put_bytes(&menv)?;
        let (meta_digest, meta_size) = (meta_blob.digest, meta_blob.len);
        sealed.push(meta_blob);
        // The evidence, durable before the record that commits to it.
        let ev_bytes = b.head.evidence.encode();
        let ev_digest = Digest::of(&ev_bytes);
        let dir = self.root.join(EVIDENCE_DIR);
        if !dir.exists() {
            fs::create_dir(&dir).map_err(|e| io_err(&dir, e))?;
            blobs::sync_dir(&self.root)?;
        }
        write_durable(&self.evidence_path(&ev_digest), &ev_bytes)?;
        let last_hop = rep.hops.last().cloned();
        let from = Link {
            origin: last_hop
                .as_ref()
                .map_or_else(String::new, |h| h.origin.clone()),
            key_id: last_hop
                .as_ref()
                .and_then(|h| h.key_id)
                .ok_or_else(|| StoreError::Internal("no sender key".into()))?,
            index: last_hop
                .as_ref()
                .and_then(|h| h.events.last().map(|e| e.index))
                .ok_or_else(|| StoreError::Internal("no share record".into()))?,
            leaf_hash: leaf,
            checkpoint_size: last_hop
                .as_ref()
                .and_then(|h| h.checkpoint_size)
                .ok_or_else(|| StoreError::Internal("no checkpoint".into()))?,
            checkpoint_root: last_hop
                .as_ref()
                .and_then(|h| h.checkpoint_root)
                .ok_or_else(|| StoreError::Internal("no checkpoint".into()))?,
        };
        let body = RecordBody {
            index: 0,
            time_ms: time::now_ms(),
            origin: self.config.origin.clone(),
            signer: self.log_key.key_id(),
            payload: Payload::Receive(Receive {
                stored: Ingest {
                    blob,
                    blob_size,
                    commitment: share.commitment,
                    meta: meta_digest,
                    meta_size,
                    recipients: crypto::fingerprints(&self.recipients),
                },
                from: from.clone(),
                evidence: ev_digest,
                evidence_size: ev_bytes.len() as u64,
            }),
        };
        let rec = self
            .commit_records(vec![body], sealed, dedup, signer)?
            .remove(0);
        let cp = self.sign_checkpoint(signer)?;
        Ok(ReceiveOutcome::Received(Received {
            index: rec.body.index,
            name: env.name,
            size: env.size,
            sha256: env.sha256,
            blob,
            deduplicated: existing.is_some(),
            from,
            evidence: ev_digest,
            hops: rep.hops.len(),
            checkpoint_size: cp.size,
        }))
    }

    /// The chain of custody of the document of record `index`, every hop
    /// re-verified from the kept evidence and this log's own records.
    pub fn trace(&self, index: u64, trust: &Trust<'_>) -> Result<Trace, StoreError> {
        let intro = self.document_of(self.record(index)?)?;
        let mut findings = Vec::new();
        let mut evidence = match self.prior_evidence(&intro) {
            Ok(e) => e,
            Err(e) => {
                add(
                    &mut findings,
                    Subject::Record(intro.body.index),
                    Check::Evidence,
                    e.to_string(),
                );
                Evidence::default()
            }
        };
        let (size, note) = self.bundle_checkpoint()?;
        let events = self.document_events(&intro)?;
        if let Some(r) = events.iter().find(|r| r.body.index >= size) {
            return Err(StoreError::Corrupt(format!(
                "record {} is not covered by a checkpoint yet; run `custody checkpoint --sign`",
                r.body.index
            )));
        }
        evidence.hops.push(self.hop(&events, size, &note)?);
        let mut logs = trust.logs.to_vec();
        logs.push(self.log_key.clone());
        let t = Trust {
            logs: &logs,
            witnesses: trust.witnesses,
            quorum: trust.quorum,
        };
        let ev = check_evidence(&evidence, &t);
        findings.extend(ev.findings);
        Ok(Trace {
            commitment: *intro.commitment(),
            document: intro.body.index,
            hops: ev.hops,
            findings,
        })
    }
}

/// Number of signature lines after the log's own in a checkpoint note.
fn cosignature_count(note: &[u8]) -> usize {
    crate::core::note::Note::parse(note)
        .map(|n| n.signatures().len().saturating_sub(1))
        .unwrap_or(0)
}
