//! Sharing a document with a partner outlet (FORMAT.md §4.5, §10): the
//! `share` record, the bundle, and `refresh-bundle`; the document's custody
//! events and the evidence kept for received documents.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::core::bundle::{self, BundleHead, CheckedHop, Evidence, Hop, ShareEnvelope};
use crate::core::crypto::{self, CryptoError, Identities, RecipientKey};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::meta::Metadata;
use crate::core::record::{Ingest, Payload, Receive, Record, Sealed, Share};
use crate::core::sealed::Details;
use crate::core::tlog_proof::TlogProof;
use crate::store::archive::Archive;
use crate::store::files::blobs::SealedBlob;
use crate::store::files::db::DigestKind;
use crate::store::files::layout::{EVIDENCE_DIR, PENDING_DIR};
use crate::store::files::outfile::{self, create_private};
use crate::store::ops::bundle_file::{open_bundle, write_bundle, HashingWriter};
use crate::store::ops::extract::HashingReader;
use crate::store::{files::fault, io_err, is_output_error, unmarked, OutputSide, StoreError};

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
    /// The partner's name this archive recorded (sealed, FORMAT.md §5.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    pub checkpoint_size: u64,
    pub cosignatures: usize,
    pub records: usize,
    pub hops: usize,
    /// This run completed a share an earlier run was interrupted in after
    /// appending its record (FORMAT.md §7.8): `index` is that record.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub completed: bool,
    /// The pending share's marker, kept until the share is reported
    /// ([`Archive::share_reported`]): a run killed while it reports is
    /// completed by its re-run, not made twice (FORMAT.md §7.8).
    #[serde(skip)]
    pub pending: Option<String>,
}

/// What a share records of its partner besides the recipients, sealed
/// (FORMAT.md §5.4, share details version 2): the name this archive knows
/// the partner by and a note. The note also goes to the partner, in the
/// share envelope (§10.3); the name does not.
#[derive(Clone, Debug, Default)]
pub struct ShareLabel {
    pub partner: Option<String>,
    pub note: Option<String>,
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
    /// itself for an `ingest`, `receive` or `derive`, the document it names
    /// for a record about one (`share`, `access`, `annotate`, `approve`,
    /// `grant`, `audit`). An actor or config record is about no document:
    /// [`StoreError::NotADocument`].
    pub fn document_of(&self, rec: Record) -> Result<Record, StoreError> {
        if rec.document().is_some() {
            return Ok(rec);
        }
        let Some(about) = rec.about() else {
            return Err(StoreError::NotADocument {
                index: rec.body.index,
                kind: rec.body.payload.kind().as_str(),
            });
        };
        let d = self.record(about)?;
        if d.document().is_none() {
            return Err(StoreError::Corrupt(format!(
                "{} record {} names record {about} which holds no document",
                rec.body.payload.kind().as_str(),
                rec.body.index
            )));
        }
        Ok(d)
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
        let c = crate::store::ops::held::check_own_keys(&ev);
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
            Ok(bundle::all_hops(&c.hops, &c.lineage))
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

    /// The chain of custody of the document `intro` (its arrival record)
    /// before this log's hop (FORMAT.md §10.2): the kept evidence of a
    /// received document; for a document derived here, the chain of each
    /// parent, ending with its arrival in this log, proven against the
    /// checkpoint (`size`, `note`) that this log's hop will carry, however
    /// many outlets and derivations deep.
    pub(crate) fn evidence_before(
        &self,
        intro: &Record,
        size: u64,
        note: &[u8],
    ) -> Result<Evidence, StoreError> {
        let mut ev = self.prior_evidence(intro)?;
        if let Payload::Derive(d) = &intro.body.payload {
            for p in &d.parents {
                let parent = self.record(p.document)?;
                let mut chain = self.evidence_before(&parent, size, note)?;
                chain
                    .hops
                    .push(self.hop(std::slice::from_ref(&parent), size, note)?);
                ev.parents.push(chain);
            }
        }
        Ok(ev)
    }

    /// Refuses, before anything is written, to share a document whose
    /// lineage a bundle cannot carry (FORMAT.md §10.2: at most 16
    /// derivations deep, 256 chains): (depth, chains) of `intro`'s lineage.
    pub(crate) fn check_lineage_shape(&self, intro: &Record) -> Result<(usize, usize), StoreError> {
        let (depth, chains) = self.lineage_shape(intro, 0)?;
        if depth > bundle::MAX_LINEAGE_DEPTH || chains > bundle::MAX_CHAINS {
            return Err(StoreError::Input(format!(
                "record {}'s lineage is {depth} derivations deep with {chains} chains of custody; a bundle carries at most {} and {}: share an ancestor, or derive from fewer generations",
                intro.body.index,
                bundle::MAX_LINEAGE_DEPTH,
                bundle::MAX_CHAINS
            )));
        }
        Ok((depth, chains))
    }

    fn lineage_shape(&self, intro: &Record, level: usize) -> Result<(usize, usize), StoreError> {
        if level > bundle::MAX_LINEAGE_DEPTH {
            // Deeper than any bundle carries: stop counting.
            return Ok((level, 1));
        }
        let (mut depth, mut chains) = match intro.receive() {
            Some(r) => {
                let ev = self.evidence(r)?;
                (ev.depth(), ev.chains())
            }
            None => (0, 1),
        };
        if let Payload::Derive(d) = &intro.body.payload {
            for p in &d.parents {
                let (pd, pc) = self.lineage_shape(&self.record(p.document)?, level + 1)?;
                depth = depth.max(pd + 1);
                chains += pc;
            }
        }
        Ok((depth, chains))
    }

    /// Shares the document of record `index` with `to` (FORMAT.md §10.1):
    /// re-encrypts it to them into `pending/` in the archive, records the
    /// pending share there (FORMAT.md §7.8), appends and signs a `share`
    /// record, signs a checkpoint covering it, and writes the bundle durably
    /// to `out` (unnamed until complete). A share of the same document to
    /// the same recipients that an earlier run left pending after its record
    /// was appended is completed instead: its bundle is written from what
    /// was kept, and no second record is appended.
    #[allow(clippy::too_many_arguments)]
    pub fn share(
        &mut self,
        index: u64,
        to: &[RecipientKey],
        ids: &Identities,
        signer: &SignerKey,
        label: ShareLabel,
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
        // What is sealed is checked before anything is written (FORMAT.md §5.4).
        let details = Details::new_share(
            to.iter().map(|r| r.canonical()).collect(),
            label.partner,
            label.note,
        );
        details
            .check()
            .map_err(|e| StoreError::Input(format!("{e}; nothing was written")))?;
        let intro = self.document_of(self.record(index)?)?;
        let recipients = crypto::fingerprints(to);
        if let Some((p, intent, rec)) = self.pending_share_of(&intro, &recipients, ids)? {
            if let Some(done) =
                self.complete_share(&p, &intent, rec, &intro, ids, signer, out, force)?
            {
                return Ok(done);
            }
        }
        if out.exists() && !force {
            return Err(StoreError::OutputExists(out.to_path_buf()));
        }
        // The kept evidence of a received document is read (and checked)
        // first, and a lineage too deep for a bundle refused.
        self.check_lineage_shape(&intro)?;
        let seal_to = self.share_details_recipients(&intro)?;
        let meta = self.metadata(&intro, ids)?;
        let doc = intro
            .document()
            .ok_or_else(|| StoreError::Internal("no document".into()))?
            .clone();
        // 1. The payload: the stored ciphertext, decrypted and re-encrypted in
        // one stream into the archive's pending/ (ciphertext only; removed
        // below if anything fails before the pending share is recorded).
        let id = outfile::random_hex()?;
        let pending = self.root.join(PENDING_DIR);
        fs::create_dir_all(&pending).map_err(|e| io_err(&pending, e))?;
        let s = NewShare {
            tmp: payload_path(&pending, &id),
            id,
            pending,
            intro,
            doc,
            meta,
            to,
            recipients,
            out,
        };
        let (payload, payload_size) = self.share_payload(&s, ids, progress)?;
        // 2. The envelope: the opening and the file name, encrypted to the partner.
        let (envelope, sealed, sealed_blob) = self.share_envelope(&s, &details, &seal_to)?;
        // 3. The pending share, durable before the record (FORMAT.md §7.8):
        // from here on a failed or killed run is completed by the next share
        // of this document to these recipients if its record was appended,
        // and undone by the next open of the archive if not.
        let p = self.record_pending_share(&s, &envelope, payload, payload_size)?;
        // 4. The share record, durable.
        let rec = self.append_share(&s, &p, sealed, sealed_blob, signer)?;
        // 5. A checkpoint covering it, the bundle, and the pending share removed.
        let mut done = self.finish_share(
            &p,
            envelope,
            rec,
            &s.intro,
            &s.recipients,
            s.meta.size,
            signer,
            out,
            force,
        )?;
        done.partner = details.share().and_then(|(_, p, _)| p).map(str::to_string);
        Ok(done)
    }

    /// The partner's name the sealed details of share record `rec` give,
    /// if `ids` opens them (FORMAT.md §5.4).
    pub fn share_partner(&self, rec: &Record, ids: &Identities) -> Option<String> {
        let s = rec.share()?.sealed.as_ref()?;
        let d = self.open_sealed(s, ids).ok()?;
        d.share().and_then(|(_, p, _)| p).map(str::to_string)
    }

    /// Step 1 of a share: the payload, the document's stored ciphertext
    /// decrypted and re-encrypted to the partner in one stream into
    /// `pending/`, checked against its address and commitment, and synced.
    /// Its digest and length; removed if anything fails.
    fn share_payload(
        &self,
        s: &NewShare<'_>,
        ids: &Identities,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(Digest, u64), StoreError> {
        let (tmp, m, doc, index) = (&s.tmp, &s.meta, &s.doc, s.intro.body.index);
        let cleanup = |e: StoreError| s.cleanup(e);
        let tmpf = create_private(tmp).map_err(cleanup)?;
        // Streamed from where the blob is kept (FORMAT.md §7.7), as a rekey left it (§4.17).
        let (blob_digest, _) = self
            .current_blob(doc.blob, doc.blob_size)
            .map_err(cleanup)?;
        let blob_path = std::path::PathBuf::from(self.docs.label())
            .join(crate::store::files::blobs::object_name(&blob_digest));
        let blob = self.docs.open(&blob_digest).map_err(cleanup)?;
        let mut hashing = HashingReader::new(blob);
        let enc = {
            let r = crypto::decrypt_from(ids, BufReader::with_capacity(1 << 20, &mut hashing))
                .map_err(|e| {
                    cleanup(StoreError::Decrypt {
                        what: format!("the document of record {index}"),
                        source: e,
                    })
                })?;
            crypto::encrypt_all(
                r,
                s.to,
                HashingWriter::new(BufWriter::with_capacity(
                    1 << 20,
                    OutputSide(fault::Writer::new(tmpf, tmp)),
                )),
                m.size,
                progress,
            )
            .map_err(|e| cleanup(reencrypt_error(tmp, index, e)))?
        };
        io::copy(&mut hashing, &mut io::sink()).map_err(|e| cleanup(io_err(&blob_path, e)))?;
        if hashing.digest() != blob_digest || enc.sha256 != m.sha256 || enc.len != m.size {
            return Err(cleanup(StoreError::ContentMismatch(format!(
                "the document of record {index} does not match its address or commitment; nothing was shared"
            ))));
        }
        let (w, payload_digest, payload_len) = enc.out.finish();
        let f = w
            .into_inner()
            .map_err(|e| cleanup(io_err(tmp, unmarked(e.into_error()))))?
            .0
            .into_inner();
        fault::sync_all(&f, tmp).map_err(|e| cleanup(io_err(tmp, e)))?;
        drop(f);
        Ok((payload_digest, payload_len))
    }

    /// Whom a share's sealed details are encrypted to (FORMAT.md §5.4,
    /// §4.18): the document's compartment's recipients, for a document in
    /// one (the details may hold a note about it), else the archive's.
    fn share_details_recipients(&self, intro: &Record) -> Result<Vec<RecipientKey>, StoreError> {
        match self.document_compartment(intro)? {
            Some(id) => self.compartment_keys(id),
            None => Ok(self.recipients.clone()),
        }
    }

    /// Step 2 of a share: the envelope (FORMAT.md §10.3), the opening, the
    /// file name and the note encrypted to the partner, and `details` (the
    /// partner's recipients, name and the note) sealed to `seal_to`
    /// (FORMAT.md §4.16, §5.4). The payload is removed if either fails.
    fn share_envelope(
        &self,
        s: &NewShare<'_>,
        details: &Details,
        seal_to: &[RecipientKey],
    ) -> Result<(Vec<u8>, Sealed, SealedBlob), StoreError> {
        let note = details.share().and_then(|(_, _, n)| n).map(str::to_string);
        let m = &s.meta;
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
        let envelope = crypto::encrypt_bytes(s.to, &Zeroizing::new(env.to_json()))
            .map_err(|e| s.cleanup(e.into()))?;
        // The partner is sealed, never in clear (FORMAT.md §4.16).
        let (sealed, sealed_blob) = self.seal_to(seal_to, details).map_err(|e| s.cleanup(e))?;
        Ok((envelope, sealed, sealed_blob))
    }

    /// Step 3 of a share: the pending share, its marker written durably
    /// before the record (FORMAT.md §7.8). If that fails, the marker and the
    /// payload are removed.
    fn record_pending_share(
        &self,
        s: &NewShare<'_>,
        envelope: &[u8],
        payload: Digest,
        payload_size: u64,
    ) -> Result<PendingShare, StoreError> {
        let intent = ShareIntent {
            document: s.intro.body.index,
            recipients: s.recipients.clone(),
            output: std::path::absolute(s.out)
                .unwrap_or_else(|_| s.out.to_path_buf())
                .to_string_lossy()
                .into_owned(),
            envelope: base64::engine::general_purpose::STANDARD.encode(envelope),
        };
        let p = PendingShare {
            id: s.id.clone(),
            size: self.size().map_err(|e| s.cleanup(e))?,
            commitment: s.doc.commitment,
            payload,
            payload_size,
            envelope: Digest::of(envelope),
            sealed: crypto::encrypt_bytes(
                &self.recipients,
                &Zeroizing::new(serde_json::to_vec(&intent).unwrap_or_default()),
            )
            .map_err(|e| s.cleanup(e.into()))?,
        };
        let marker = marker_path(&s.pending, &p.id);
        outfile::write_durable(&marker, &p.encode(), None).map_err(|e| {
            // No record yet: undone here (the next open would do it too).
            let _ = fs::remove_file(&marker);
            s.cleanup(e)
        })?;
        Ok(p)
    }

    /// Step 4 of a share: the `share` record (FORMAT.md §4.5) of the pending
    /// share `p`, appended and durable.
    fn append_share(
        &mut self,
        s: &NewShare<'_>,
        p: &PendingShare,
        sealed: Sealed,
        sealed_blob: SealedBlob,
        signer: &SignerKey,
    ) -> Result<Record, StoreError> {
        let body = self.new_record(Payload::Share(Share {
            document: s.intro.body.index,
            commitment: s.doc.commitment,
            payload: p.payload,
            payload_size: p.payload_size,
            envelope: p.envelope,
            recipients: Vec::new(),
            sealed: Some(sealed),
        }));
        Ok(self
            .commit_records(vec![body], vec![sealed_blob], Vec::new(), signer)?
            .remove(0))
    }

    /// The pending share (FORMAT.md §7.8) of `intro`'s document to
    /// `recipients` whose record was appended, with that record. Pending
    /// shares whose record was not appended are undone on open
    /// ([`Archive::settle_pending_shares`]). One of this document that `ids`
    /// cannot open is refused: it might be to the same recipients.
    fn pending_share_of(
        &self,
        intro: &Record,
        recipients: &[Digest],
        ids: &Identities,
    ) -> Result<Option<(PendingShare, ShareIntent, Record)>, StoreError> {
        let Some(c) = intro.commitment() else {
            return Ok(None);
        };
        for p in self.pending_shares()? {
            let Ok(p) = p else { continue };
            if p.commitment != *c {
                continue;
            }
            let Some(rec) = self.pending_share_record(&p)? else {
                continue;
            };
            let intent = p.intent(ids).map_err(|e| {
                StoreError::Input(format!(
                    "an interrupted share of this document (record {}) is pending in {}, and this identity cannot open it ({e}); give an identity of the archive's current recipients to complete it",
                    rec.body.index,
                    marker_path(&self.root.join(PENDING_DIR), &p.id).display()
                ))
            })?;
            if intent.document == intro.body.index && intent.recipients == recipients {
                return Ok(Some((p, intent, rec)));
            }
        }
        Ok(None)
    }

    /// Completes an interrupted share: its bundle, from the payload and
    /// envelope kept, to `out` (or nothing to do if the interrupted run
    /// wrote it, to `out` or where it was asked to). `None` when that share
    /// was finished (its payload removed after its bundle was written) and
    /// its bundle is at neither place: this is a new share, and the marker
    /// is removed.
    #[allow(clippy::too_many_arguments)]
    fn complete_share(
        &mut self,
        p: &PendingShare,
        intent: &ShareIntent,
        rec: Record,
        intro: &Record,
        ids: &Identities,
        signer: &SignerKey,
        out: &Path,
        force: bool,
    ) -> Result<Option<Shared>, StoreError> {
        let envelope = base64::engine::general_purpose::STANDARD
            .decode(&intent.envelope)
            .ok()
            .filter(|e| Digest::of(e) == p.envelope)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the pending share of record {} holds another envelope than its record names",
                    rec.body.index
                ))
            })?;
        let m = self.metadata(intro, ids)?;
        // The payload is removed only once the bundle is written (§7.8): a
        // finished share is reported done if its bundle is at the output
        // given or where it was asked to (a re-run with another -o is not a
        // second share); if it is at neither, this is a new share.
        let finished = !payload_path(&self.root.join(PENDING_DIR), &p.id).is_file();
        let places: [&Path; 2] = [out, Path::new(&intent.output)];
        for written in places {
            if let Some(mut done) = bundle_of(written, p) {
                self.remove_pending_payload(&p.id);
                done.index = rec.body.index;
                done.document = intro.body.index;
                done.document_size = m.size;
                done.recipients = intent.recipients.clone();
                done.partner = self.share_partner(&rec, ids);
                done.completed = true;
                done.pending = Some(p.id.clone());
                return Ok(Some(done));
            }
        }
        if finished {
            self.remove_pending_share(&p.id);
            return Ok(None);
        }
        if out.exists() && !force {
            return Err(StoreError::OutputExists(out.to_path_buf()));
        }
        let partner = self.share_partner(&rec, ids);
        let mut s = self.finish_share(
            p,
            envelope,
            rec,
            intro,
            &intent.recipients,
            m.size,
            signer,
            out,
            force,
        )?;
        s.completed = true;
        s.partner = partner;
        Ok(Some(s))
    }

    /// Signs a checkpoint covering the share record `rec` (unless one does),
    /// writes the bundle from the pending share `p` to `out` and removes `p`.
    #[allow(clippy::too_many_arguments)]
    fn finish_share(
        &mut self,
        p: &PendingShare,
        envelope: Vec<u8>,
        rec: Record,
        intro: &Record,
        recipients: &[Digest],
        document_size: u64,
        signer: &SignerKey,
        out: &Path,
        force: bool,
    ) -> Result<Shared, StoreError> {
        self.sign_checkpoint(signer)?;
        let (size, note) = self.bundle_checkpoint()?;
        let events: Vec<Record> = self
            .document_events(intro)?
            .into_iter()
            .filter(|r| r.body.index <= rec.body.index)
            .collect();
        let mut evidence = self.evidence_before(intro, size, &note)?;
        evidence.hops.push(self.hop(&events, size, &note)?);
        let head = BundleHead {
            evidence,
            envelope,
            payload_len: p.payload_size,
        };
        let path = payload_path(&self.root.join(PENDING_DIR), &p.id);
        let mut payload = File::open(&path).map_err(|e| io_err(&path, e))?;
        let bundle_size = write_bundle(
            out,
            &head,
            &mut payload,
            Some(p.payload),
            force,
            Some(&self.root),
        )?;
        self.remove_pending_payload(&p.id);
        Ok(Shared {
            index: rec.body.index,
            document: intro.body.index,
            bundle: out.to_path_buf(),
            bundle_size,
            document_size,
            payload: p.payload,
            recipients: recipients.to_vec(),
            partner: None,
            checkpoint_size: size,
            cosignatures: cosignature_count(&note),
            records: events.len(),
            hops: head.evidence.hops.len(),
            completed: false,
            pending: Some(p.id.clone()),
        })
    }

    /// Every pending share in `pending/` (a marker that does not parse: its id).
    fn pending_shares(&self) -> Result<Vec<Result<PendingShare, String>>, StoreError> {
        let dir = self.root.join(PENDING_DIR);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir, e)),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(|e| io_err(&dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_prefix(PENDING_SHARE) else {
                continue;
            };
            if id.contains('.') {
                continue; // a payload
            }
            let mut bytes = Vec::new();
            File::open(e.path())
                .and_then(|f| f.take(MAX_MARKER_LEN).read_to_end(&mut bytes))
                .map_err(|err| io_err(&e.path(), err))?;
            out.push(PendingShare::parse(id, &bytes).ok_or_else(|| id.to_string()));
        }
        out.sort_by(|a, b| {
            let id = |p: &Result<PendingShare, String>| match p {
                Ok(p) => p.id.clone(),
                Err(id) => id.clone(),
            };
            id(a).cmp(&id(b))
        });
        Ok(out)
    }

    /// The `share` record a pending share was made for, if it was appended:
    /// a share record after the size the marker names, of its document,
    /// naming its payload and envelope.
    fn pending_share_record(&self, p: &PendingShare) -> Result<Option<Record>, StoreError> {
        for i in self
            .db()
            .records_with(&p.commitment, DigestKind::Commitment)?
        {
            if i < p.size {
                continue;
            }
            let r = self.record(i)?;
            if r.share().is_some_and(|s| {
                s.payload == p.payload
                    && s.payload_size == p.payload_size
                    && s.envelope == p.envelope
            }) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Removes a pending share's payload, once its bundle is written: the
    /// marker alone says the share is finished but perhaps not reported.
    fn remove_pending_payload(&self, id: &str) {
        let dir = self.root.join(PENDING_DIR);
        let _ = fs::remove_file(payload_path(&dir, id));
    }

    /// Removes the marker of a share once its result is reported (printed):
    /// before, a re-run completes it (FORMAT.md §7.8, step 7).
    pub fn share_reported(&self, s: &Shared) {
        if let Some(id) = &s.pending {
            self.remove_pending_share(id);
        }
    }

    /// Removes a pending share: its marker, then its payload.
    fn remove_pending_share(&self, id: &str) {
        let dir = self.root.join(PENDING_DIR);
        let _ = fs::remove_file(marker_path(&dir, id));
        let _ = fs::remove_file(payload_path(&dir, id));
        let _ = fs::remove_dir(&dir);
    }

    /// On open (FORMAT.md §7.8): undoes every pending share whose record was
    /// never appended (its marker and payload removed), and removes payloads
    /// without a marker. Pending shares whose record was appended are kept
    /// for the next share of that document to those recipients. Nothing is
    /// done in an archive that refuses writes.
    pub(crate) fn settle_pending_shares(&self) -> Result<(), StoreError> {
        if self.ensure_writable().is_err() {
            return Ok(());
        }
        let dir = self.root.join(PENDING_DIR);
        let mut kept = std::collections::HashSet::new();
        for p in self.pending_shares()? {
            match p {
                Ok(p) if self.pending_share_record(&p)?.is_some() => {
                    kept.insert(p.id);
                }
                Ok(p) => self.remove_pending_share(&p.id),
                Err(id) => self.remove_pending_share(&id),
            }
        }
        let Ok(rd) = fs::read_dir(&dir) else {
            return Ok(());
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name
                .strip_prefix(PENDING_SHARE)
                .and_then(|n| n.strip_suffix(PAYLOAD_EXT))
            {
                if !kept.contains(id) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(())
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
        if evidence.hops.is_empty() {
            // The document was derived here: its parents' chains end in
            // this log and carry its checkpoint too (FORMAT.md §10.2).
            if let Some(intro) = records.iter().find(|r| r.commitment().is_some()) {
                evidence.parents = self.evidence_before(intro, size, &note)?.parents;
            }
        }
        evidence.hops.push(self.hop(&records, size, &note)?);
        let head = BundleHead {
            evidence,
            envelope: b.head.envelope.clone(),
            payload_len: b.head.payload_len,
        };
        let dest = out.unwrap_or(path);
        let mut payload = b.payload()?;
        write_bundle(dest, &head, &mut payload, None, true, Some(&self.root))?;
        Ok(Refreshed {
            bundle: dest.to_path_buf(),
            old_checkpoint_size: old_size,
            old_cosignatures,
            checkpoint_size: size,
            cosignatures: cosignature_count(&note),
        })
    }
}

/// Prefix, in `pending/`, of a pending share's marker (`share-<id>`) and
/// payload (`share-<id>.payload`), FORMAT.md §7.8.
const PENDING_SHARE: &str = "share-";
const PAYLOAD_EXT: &str = ".payload";
/// First line of a pending share's marker.
const MARKER_MAGIC: &str = "custody pending share v1";
/// A marker is a few hundred bytes and an envelope (at most ~1 MiB), sealed.
const MAX_MARKER_LEN: u64 = 4 << 20;

fn marker_path(pending: &Path, id: &str) -> PathBuf {
    pending.join(format!("{PENDING_SHARE}{id}"))
}

fn payload_path(pending: &Path, id: &str) -> PathBuf {
    pending.join(format!("{PENDING_SHARE}{id}{PAYLOAD_EXT}"))
}

/// A new share on its way to its record (FORMAT.md §10.1, §7.8): the
/// document, the partner, and where its payload is made.
struct NewShare<'a> {
    /// The document's arrival record, what it stores and its metadata.
    intro: Record,
    doc: Ingest,
    meta: Metadata,
    /// The partner's recipients, and their fingerprints.
    to: &'a [RecipientKey],
    recipients: Vec<Digest>,
    /// The output asked for.
    out: &'a Path,
    /// The pending share's id, `pending/`, and the payload's path there.
    id: String,
    pending: PathBuf,
    tmp: PathBuf,
}

impl NewShare<'_> {
    /// Removes the payload (and `pending/` if that leaves it empty), as
    /// every failure before the pending share is recorded does; returns `e`.
    fn cleanup(&self, e: StoreError) -> StoreError {
        let _ = fs::remove_file(&self.tmp);
        let _ = fs::remove_dir(&self.pending);
        e
    }
}

/// Why the document could not be re-encrypted into the payload at `tmp`:
/// that disk when writing failed, else the document of record `index`.
fn reencrypt_error(tmp: &Path, index: u64, e: CryptoError) -> StoreError {
    match e {
        // Writing the payload failed: that disk, not the document.
        CryptoError::Io(io) if is_output_error(&io) => io_err(tmp, unmarked(io)),
        CryptoError::Io(io) => StoreError::ContentMismatch(format!(
            "the document of record {index} does not decrypt: {io}"
        )),
        other => other.into(),
    }
}

/// A share between its pending marker and its bundle (FORMAT.md §7.8). In
/// clear only what its record will show anyway; the rest sealed to the
/// archive's recipients.
struct PendingShare {
    id: String,
    /// The log's size before the record.
    size: u64,
    commitment: Digest,
    payload: Digest,
    payload_size: u64,
    /// SHA-256 of the envelope.
    envelope: Digest,
    /// [`ShareIntent`] as JSON, encrypted to the archive's recipients.
    sealed: Vec<u8>,
}

/// The sealed part of a pending share.
#[derive(Serialize, serde::Deserialize)]
struct ShareIntent {
    /// The document's arrival record.
    document: u64,
    /// Fingerprints of the partner's recipients, sorted.
    recipients: Vec<Digest>,
    /// The output asked for (absolute).
    output: String,
    /// The envelope (base64).
    envelope: String,
}

impl PendingShare {
    fn encode(&self) -> Vec<u8> {
        let mut v = format!(
            "{MARKER_MAGIC}\nsize {}\ncommitment {}\npayload {}\npayload_size {}\nenvelope {}\n\n",
            self.size, self.commitment, self.payload, self.payload_size, self.envelope
        )
        .into_bytes();
        v.extend_from_slice(&self.sealed);
        v
    }

    fn parse(id: &str, bytes: &[u8]) -> Option<PendingShare> {
        let end = bytes.windows(2).position(|w| w == b"\n\n")?;
        let head = std::str::from_utf8(&bytes[..end]).ok()?;
        let mut lines = head.lines();
        if lines.next()? != MARKER_MAGIC {
            return None;
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .map(str::to_string)
        };
        let p = PendingShare {
            id: id.to_string(),
            size: field("size")?.parse().ok()?,
            commitment: Digest::from_hex(&field("commitment")?)?,
            payload: Digest::from_hex(&field("payload")?)?,
            payload_size: field("payload_size")?.parse().ok()?,
            envelope: Digest::from_hex(&field("envelope")?)?,
            sealed: bytes[end + 2..].to_vec(),
        };
        (lines.next().is_none() && !p.id.is_empty()).then_some(p)
    }

    fn intent(&self, ids: &Identities) -> Result<ShareIntent, String> {
        let plain = crypto::decrypt_bytes(ids, &self.sealed, MAX_MARKER_LEN as usize)
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&plain).map_err(|e| e.to_string())
    }
}

/// What a bundle at `path` already made for the pending share `p` holds
/// (the envelope is `p`'s: it is random, so no other bundle has it).
fn bundle_of(path: &Path, p: &PendingShare) -> Option<Shared> {
    let b = open_bundle(path).ok()?;
    if Digest::of(&b.head.envelope) != p.envelope || b.head.payload_len != p.payload_size {
        return None;
    }
    let last = b.head.evidence.hops.last()?;
    let first = TlogProof::parse(last.entries.first()?).ok()?;
    let note = first.checkpoint_note().as_bytes().to_vec();
    let size = crate::core::checkpoint::SignedCheckpoint::parse(&note)
        .ok()?
        .checkpoint()
        .size;
    let bundle_size = fs::metadata(path).ok()?.len();
    Some(Shared {
        index: 0,
        document: 0,
        bundle: path.to_path_buf(),
        bundle_size,
        document_size: 0,
        payload: p.payload,
        recipients: Vec::new(),
        partner: None,
        checkpoint_size: size,
        cosignatures: cosignature_count(&note),
        records: last.entries.len(),
        hops: b.head.evidence.hops.len(),
        completed: true,
        pending: None,
    })
}

/// Number of signature lines after the log's own in a checkpoint note.
pub(crate) fn cosignature_count(note: &[u8]) -> usize {
    crate::core::note::Note::parse(note)
        .map(|n| n.signatures().len().saturating_sub(1))
        .unwrap_or(0)
}
