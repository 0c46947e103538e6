//! Reading and writing bundle files (FORMAT.md §10.1): the strict, bounded
//! head, the streamed payload, and the offline check of `verify-bundle`.
//! Plaintext is only ever streamed from one age file into another (or
//! hashed and dropped), never written to a disk.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::core::bundle::{
    self, check_evidence, BundleHead, CheckedHop, CheckedLineage, EvidenceCheck, ShareEnvelope,
    Trust,
};
use crate::core::crypto::{self, CryptoError, Identities, RecipientKey};
use crate::core::findings::{Check, Finding, Subject};
use crate::core::hash::Digest;
use crate::core::record::Share;
use crate::store::ops::extract::HashingReader;
use crate::store::ops::held::{self, ReceivedAs};
use crate::store::ops::mirror::MirroredHop;
use crate::store::{files::fault, files::outfile, io_err, StoreError};

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

/// The outcome of checking a bundle file.
#[derive(Clone, Debug, Serialize)]
pub struct BundleReport {
    pub bundle: PathBuf,
    pub bundle_size: u64,
    pub payload_size: u64,
    /// The chain of custody, one hop per ledger, oldest first.
    pub hops: Vec<CheckedHop>,
    /// For a derived document, its parents' custody (FORMAT.md §10.4 step 8).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<CheckedLineage>,
    /// A derived document whose parents' custody the bundle does not carry.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lineage_not_carried: bool,
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
    /// Hops whose log the archive mirrors (inside an archive only); printed
    /// beside the report (`mirrored` in `--json`).
    #[serde(skip)]
    pub mirrored: Vec<MirroredHop>,
}

impl BundleReport {
    /// Every hop: the document's, then its ancestors'.
    pub fn all_hops(&self) -> Vec<CheckedHop> {
        bundle::all_hops(&self.hops, &self.lineage)
    }
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
    pub fn has(&self, c: Check) -> bool {
        self.findings.iter().any(|f| f.check == c)
    }
}

/// A bundle file opened for reading: its head, and where its payload starts.
pub(crate) struct OpenBundle {
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) head: BundleHead,
    offset: u64,
    len: u64,
}

/// Opens a bundle (FORMAT.md §10.1): a regular file only, since its payload
/// is read twice and may be large; a pipe, FIFO or device is refused at once
/// (never waited on), and the head's lengths are bounded by [`bundle::read_head`].
pub(crate) fn open_bundle(path: &Path) -> Result<OpenBundle, StoreError> {
    let (file, meta) = crate::store::files::input::open_regular(path, "a bundle")?;
    let len = meta.len();
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
    pub(crate) fn payload(&self) -> Result<io::Take<BufReader<&File>>, StoreError> {
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
            lineage: ev.lineage,
            lineage_not_carried: ev.lineage_not_carried,
            commitment: ev.commitment,
            decrypted: false,
            name: None,
            size: None,
            sha256: None,
            note: None,
            findings: ev.findings,
            mirrored: Vec::new(),
        }
    }
}

pub(crate) fn add(
    findings: &mut Vec<Finding>,
    subject: Subject,
    check: Check,
    reason: impl Into<String>,
) {
    findings.push(Finding {
        subject,
        check,
        reason: reason.into(),
    });
}

/// Checks everything a bundle carries that needs no key: the evidence, and
/// that the envelope is the one the share record names. Returns the report and
/// the share record the bundle was made by (if it has one).
pub(crate) fn check_structure(
    b: &OpenBundle,
    trust: &Trust<'_>,
) -> (BundleReport, Option<(Share, Digest)>) {
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

/// Decrypts and parses the bundle's share envelope (FORMAT.md §10.3).
/// `Err`: no identity decrypts it (exit 2); `Ok(Err(why))`: it decrypts but
/// is not an envelope of §10.3, which is the bundle's defect, reported as a
/// `commitment` finding (exit 1) by [`envelope_finding`].
pub(crate) fn decrypt_envelope(
    b: &OpenBundle,
    ids: &Identities,
) -> Result<Result<ShareEnvelope, String>, StoreError> {
    let plain = crypto::decrypt_bytes(ids, &b.head.envelope, bundle::MAX_ENVELOPE_PLAINTEXT)
        .map_err(|e| StoreError::Decrypt {
            what: format!(
                "the bundle {} (was it shared with this identity?)",
                b.path.display()
            ),
            source: e,
        })?;
    Ok(ShareEnvelope::from_json(&plain).map_err(|e| e.to_string()))
}

/// The finding for an envelope that decrypts but does not parse: it cannot
/// open the commitment (FORMAT.md §10.3, §10.4).
pub(crate) fn envelope_finding(findings: &mut Vec<Finding>, why: &str) {
    let why: Vec<&str> = why.lines().map(str::trim).collect();
    add(
        findings,
        Subject::Bundle,
        Check::Commitment,
        format!("the envelope does not open: {}", why.join(" ")),
    );
}

/// Streams the payload: hashes the ciphertext; with `ids`, decrypts it and
/// (with `to`) re-encrypts the plaintext into `sink`. Adds findings for a
/// payload that is not the one named, or plaintext that does not open the
/// commitment.
#[allow(clippy::too_many_arguments)]
pub(crate) fn payload_pass<W: Write + Send>(
    b: &OpenBundle,
    share: Option<&Share>,
    env: Option<&ShareEnvelope>,
    ids: Option<&Identities>,
    to: Option<(&[RecipientKey], W, &Path)>,
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
            Some((recipients, sink, out_dir)) => {
                match crypto::encrypt_all(r, recipients, sink, size, progress) {
                    Ok(enc) => {
                        plain = Some((enc.sha256, enc.len));
                        out = Some(enc.out);
                    }
                    // The output (this archive's blob store) failed: the archive's disk.
                    Err(CryptoError::Io(e)) if crate::store::is_output_error(&e) => {
                        return Err(io_err(out_dir, crate::store::unmarked(e)))
                    }
                    Err(CryptoError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => add(
                        findings,
                        Subject::Bundle,
                        Check::Content,
                        format!("the payload does not decrypt: {e}"),
                    ),
                    Err(CryptoError::Io(e)) => {
                        // An upload to the archive's object store that failed is the store's.
                        return Err(
                            match crate::store::files::remote::RemoteError::from_io(&e) {
                                Some(r) => StoreError::Remote(r),
                                None => io_err(&b.path, e),
                            },
                        );
                    }
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
pub(crate) fn check_opening(
    env: &ShareEnvelope,
    commitment: Option<Digest>,
    findings: &mut Vec<Finding>,
) {
    if Some(env.commitment()) != commitment {
        add(
            findings,
            Subject::Bundle,
            Check::Commitment,
            "the envelope does not open the document's content commitment",
        );
    }
}

/// The archive a bundle is checked in: its directory, and how to find the
/// `receive` record that kept an evidence file (see [`held::check_hops`]).
pub(crate) type InArchive<'a> = (&'a Path, ReceivedAs<'a>);

/// Every check of a bundle that needs no identity, in the order both
/// `verify-bundle` and `receive` run them: [`check_structure`], then, inside
/// an archive, the hops against its mirrors and the checkpoints it already
/// holds ([`held::check_hops`]). One function, so the two commands cannot
/// check different things.
pub(crate) fn check_keyless(
    b: &OpenBundle,
    trust: &Trust<'_>,
    archive: Option<InArchive<'_>>,
) -> Result<(BundleReport, Option<(Share, Digest)>), StoreError> {
    let (mut rep, share) = check_structure(b, trust);
    if let Some((root, received_as)) = archive {
        let h = held::check_hops(root, &rep.all_hops(), received_as)?;
        rep.findings.extend(h.findings);
        rep.mirrored = h.mirrored;
    }
    Ok((rep, share))
}

/// Verifies a bundle file offline (`custody verify-bundle`): the evidence,
/// the payload digest, and with `ids` the plaintext against the commitment;
/// in an archive (`archive`: its directory), also against its mirrors and the
/// checkpoints of the same logs it holds (FORMAT.md §10.4).
/// Whether the file at `path` starts like evidence (FORMAT.md §10.2), as
/// `custody export` writes it, rather than a bundle.
fn is_evidence_file(path: &Path) -> Result<bool, StoreError> {
    let (file, _) = crate::store::files::input::open_regular(path, "a bundle or evidence")?;
    let mut head = Vec::new();
    file.take(20)
        .read_to_end(&mut head)
        .map_err(|e| io_err(path, e))?;
    Ok(head.starts_with(b"custody-evidence/"))
}

/// `verify-bundle` of an evidence file alone (an export's `evidence`,
/// FORMAT.md §15): §10.4 steps 1–8 and, inside an archive, what it holds of
/// the same logs; there is no envelope or payload, and its last record need
/// not be a share.
fn verify_evidence_file(
    path: &Path,
    trust: &Trust<'_>,
    archive: Option<&Path>,
) -> Result<BundleReport, StoreError> {
    let (file, meta) = crate::store::files::input::open_regular(path, "evidence")?;
    let mut bytes = Vec::new();
    file.take(bundle::MAX_EVIDENCE_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    let ev = bundle::Evidence::parse(&bytes)?;
    let c = check_evidence(&ev, trust);
    let mut rep = BundleReport {
        bundle: path.to_path_buf(),
        bundle_size: meta.len(),
        payload_size: 0,
        hops: c.hops,
        lineage: c.lineage,
        lineage_not_carried: c.lineage_not_carried,
        commitment: c.commitment,
        decrypted: false,
        name: None,
        size: None,
        sha256: None,
        note: None,
        findings: c.findings,
        mirrored: Vec::new(),
    };
    if let Some(root) = archive {
        let no_db: ReceivedAs<'_> = &|_| Ok(None);
        let h = held::check_hops(root, &rep.all_hops(), no_db)?;
        rep.findings.extend(h.findings);
        rep.mirrored = h.mirrored;
    }
    Ok(rep)
}

pub fn verify_bundle(
    path: &Path,
    trust: &Trust<'_>,
    ids: Option<&Identities>,
    archive: Option<&Path>,
    progress: &mut dyn FnMut(u64),
) -> Result<BundleReport, StoreError> {
    if is_evidence_file(path)? {
        return verify_evidence_file(path, trust, archive);
    }
    let b = open_bundle(path)?;
    let no_db: ReceivedAs<'_> = &|_| Ok(None);
    let (mut rep, share) = check_keyless(&b, trust, archive.map(|r| (r, no_db)))?;
    let share = share.map(|(s, _)| s);
    let named = share
        .as_ref()
        .is_some_and(|s| Digest::of(&b.head.envelope) == s.envelope);
    let env = match ids.map(|ids| decrypt_envelope(&b, ids)) {
        None => None,
        Some(Ok(Ok(e))) => Some(e),
        Some(Ok(Err(why))) => {
            envelope_finding(&mut rep.findings, &why);
            None
        }
        // An envelope that is not the one the share names (a payload_digest
        // finding above) was altered: that it does not open says nothing
        // about the identity given.
        Some(Err(e)) if !named => {
            envelope_finding(&mut rep.findings, &e.to_string());
            None
        }
        Some(Err(e)) => return Err(e),
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

/// Writes a bundle to `out`: head, then the payload copied from `payload`,
/// durably, never under its name before it is complete (FORMAT.md §7.8).
/// With `expect`, the payload's SHA-256 must be that, or nothing is written.
/// A file at `out` is replaced only with `replace`. `archive` records a
/// temporary name outside it (see [`outfile::OutFile::create`]).
pub(crate) fn write_bundle(
    out: &Path,
    head: &BundleHead,
    payload: &mut dyn Read,
    expect: Option<Digest>,
    replace: bool,
    archive: Option<&Path>,
) -> Result<u64, StoreError> {
    let mut f = outfile::OutFile::create(out, ".custody-", archive)?;
    let label = f.label().to_path_buf();
    let mut w = BufWriter::with_capacity(1 << 20, fault::Writer::new(f.file_mut(), &label));
    bundle::write_head(&mut w, head)?;
    let mut hashing = HashingReader::new(payload);
    let n = io::copy(&mut hashing, &mut w).map_err(|e| io_err(&label, e))?;
    if n != head.payload_len {
        return Err(StoreError::Internal(format!(
            "payload is {n} bytes, expected {}",
            head.payload_len
        )));
    }
    if expect.is_some_and(|d| d != hashing.digest()) {
        return Err(StoreError::Corrupt(format!(
            "the payload kept for {} does not match the share record; nothing was written",
            out.display()
        )));
    }
    w.into_inner().map_err(|e| io_err(&label, e.into_error()))?;
    f.commit(replace)
}
