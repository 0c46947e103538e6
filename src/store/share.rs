//! Sharing a document with a partner outlet (FORMAT.md §4.5, §10): the
//! `share` record, the bundle, and `refresh-bundle`; the document's custody
//! events and the evidence kept for received documents.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};

use serde::Serialize;
use zeroize::Zeroizing;

use crate::core::bundle::{self, BundleHead, CheckedHop, Evidence, Hop, ShareEnvelope};
use crate::core::crypto::{self, CryptoError, Identities, RecipientKey};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::record::{Payload, Receive, Record, Share};
use crate::core::sealed::{Details, SEALED_VERSION};
use crate::core::tlog_proof::TlogProof;
use crate::store::archive::Archive;
use crate::store::bundle_file::{
    create_private, open_bundle, temp_beside, write_bundle, HashingWriter,
};
use crate::store::db::DigestKind;
use crate::store::extract::HashingReader;
use crate::store::{fault, io_err, is_output_error, unmarked, OutputSide, StoreError};

/// Directory (under the archive root) of kept evidence files (FORMAT.md §7.5).
pub const EVIDENCE_DIR: &str = "evidence";

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
    pub old_cosignatures: usize,
    pub checkpoint_size: u64,
    pub cosignatures: usize,
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
            // Actor and config records are about no document.
            None if rec.commitment().is_none() => Err(StoreError::Input(format!(
                "record {} is a {} record, not about a document (see `custody log`)",
                rec.body.index,
                rec.body.payload.kind().as_str()
            ))),
            None => Ok(rec),
        }
    }

    /// The document's arrival record followed by every `share` of it, in log order.
    pub fn document_events(&self, intro: &Record) -> Result<Vec<Record>, StoreError> {
        let mut out = vec![intro.clone()];
        let Some(c) = intro.commitment() else {
            return Ok(out);
        };
        for i in self.db.records_with(c, DigestKind::Commitment)? {
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

    pub(crate) fn evidence_path(&self, d: &Digest) -> PathBuf {
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
    /// Returns its hops as checked.
    pub(crate) fn check_receive_link(&self, r: &Receive) -> Result<Vec<CheckedHop>, String> {
        let ev = self.evidence(r).map_err(|e| e.to_string())?;
        let c = crate::store::held::check_own_keys(&ev);
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
            Ok(c.hops)
        } else {
            Err("the kept evidence does not end with the share, checkpoint and document this record names".into())
        }
    }

    /// `records` with every `actor` and `config` record of the log before
    /// the last of them (FORMAT.md §10.2): a partner replays them to learn
    /// who signed each record, with every revocation and rotation up to that
    /// point. They name no one (version 2 records, §4.16).
    fn with_signers(&self, records: &[Record]) -> Result<Vec<Record>, StoreError> {
        let Some(last) = records.iter().map(|r| r.body.index).max() else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Record> = records.to_vec();
        out.extend(
            self.actor_records()?
                .into_iter()
                .filter(|r| r.body.index < last),
        );
        out.sort_by_key(|r| r.body.index);
        out.dedup_by_key(|r| r.body.index);
        Ok(out)
    }

    /// This log's hop for `records`: one tlog-proof per record (and per
    /// supporting actor record) against the checkpoint at `size` (with every
    /// cosignature this archive holds).
    pub(crate) fn hop(
        &self,
        records: &[Record],
        size: u64,
        note: &[u8],
    ) -> Result<Hop, StoreError> {
        let records = &self.with_signers(records)?;
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
    pub(crate) fn bundle_checkpoint(&self) -> Result<(u64, Vec<u8>), StoreError> {
        self.latest_cosigned_checkpoint()?
            .ok_or(StoreError::NoCheckpoint(0))
    }

    /// The chain of custody before this log's hop: the kept evidence of a
    /// received document, or nothing for one ingested here.
    pub(crate) fn prior_evidence(&self, intro: &Record) -> Result<Evidence, StoreError> {
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
        // Streamed from where the blob is kept (FORMAT.md §7.7).
        let blob_path = std::path::PathBuf::from(self.docs.label())
            .join(crate::store::blobs::object_name(&doc.blob));
        let blob = self.docs.open(&doc.blob).map_err(cleanup)?;
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
                HashingWriter::new(BufWriter::with_capacity(
                    1 << 20,
                    OutputSide(fault::Writer::new(tmpf, &tmp)),
                )),
                m.size,
                progress,
            )
            .map_err(|e| {
                cleanup(match e {
                    // Writing the bundle's temp file failed: that disk, not the document.
                    CryptoError::Io(io) if is_output_error(&io) => io_err(&tmp, unmarked(io)),
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
            .map_err(|e| cleanup(io_err(&tmp, unmarked(e.into_error()))))?
            .0
            .into_inner();
        fault::sync_all(&f, &tmp).map_err(|e| cleanup(io_err(&tmp, e)))?;
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
        // The partner's recipients are sealed to this archive's (FORMAT.md §4.16).
        let (sealed, sealed_blob) = self
            .seal(&Details::Share {
                v: SEALED_VERSION,
                recipients: to.iter().map(|r| r.canonical()).collect(),
            })
            .map_err(cleanup)?;
        // 3. The share record, durable, and a checkpoint covering it.
        let body = self.new_record(Payload::Share(Share {
            document: intro.body.index,
            commitment: doc.commitment,
            payload: payload_digest,
            payload_size: payload_len,
            envelope: Digest::of(&envelope),
            recipients: Vec::new(),
            sealed: Some(sealed),
        }));
        let rec = self
            .commit_records(vec![body], vec![sealed_blob], Vec::new(), signer)
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
        let mut old_cosignatures = 0;
        for e in &last.entries {
            let p =
                TlogProof::parse(e).map_err(|e| StoreError::Input(format!("bundle entry: {e}")))?;
            if old_size.is_none() {
                old_cosignatures = cosignature_count(p.checkpoint_note().as_bytes());
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
            old_cosignatures,
            checkpoint_size: size,
            cosignatures: cosignature_count(&note),
        })
    }
}

/// Number of signature lines after the log's own in a checkpoint note.
pub(crate) fn cosignature_count(note: &[u8]) -> usize {
    crate::core::note::Note::parse(note)
        .map(|n| n.signatures().len().saturating_sub(1))
        .unwrap_or(0)
}
