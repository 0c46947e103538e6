//! Receiving a document from a partner outlet (FORMAT.md §4.6, §10.4, §10.5)
//! and tracing its chain of custody across outlets.

use std::fs;
use std::io::{self, BufWriter};
use std::path::Path;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::core::bundle::{
    check_evidence, CheckedHop, CheckedLineage, Evidence, ShareEnvelope, Trust,
};
use crate::core::crypto::{self, Identities};
use crate::core::findings::{Check, Finding, Subject};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::meta::{self, Metadata};
use crate::core::record::{Ingest, Link, Payload, PolicySource, Receive, ReceivePolicy, Share};
use crate::store::archive::Archive;
use crate::store::files::blobs::{self, SealedBlob};
use crate::store::files::db::DigestKind;
use crate::store::files::layout::EVIDENCE_DIR;
use crate::store::files::remote::RemoteError;
use crate::store::ops::bundle_file::{
    add, check_keyless, check_opening, decrypt_envelope, envelope_finding, open_bundle,
    payload_pass, BundleReport, OpenBundle,
};
use crate::store::ops::held::{self, HeldCheck};
use crate::store::ops::ingest::dedup_tag;
use crate::store::{io_err, StoreError};

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
    /// The custody of the parents, for a derived document (FORMAT.md §10.4
    /// step 8), however many outlets and derivations deep.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<CheckedLineage>,
    /// A derived document whose parents' custody its evidence does not carry.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lineage_not_carried: bool,
    pub findings: Vec<Finding>,
}

impl Trace {
    /// Every hop: the document's, then its ancestors'.
    pub fn all_hops(&self) -> Vec<CheckedHop> {
        crate::core::bundle::all_hops(&self.hops, &self.lineage)
    }
}

/// A bundle that passed every check `receive` makes before it writes.
struct Incoming {
    bundle: OpenBundle,
    rep: BundleReport,
    /// The sender's share record, and its leaf hash.
    share: Share,
    leaf: Digest,
    /// The share envelope, opened.
    env: ShareEnvelope,
}

/// A received document's content as stored in this archive.
struct StoredDocument {
    blob: Digest,
    blob_size: u64,
    deduplicated: bool,
    /// The blob written for it (none when deduplicated).
    sealed: Vec<SealedBlob>,
    /// Its deduplication entry, if its blob was written.
    dedup: Vec<(usize, Digest, Digest)>,
}

/// The link of a `receive` record to the sender's share of leaf hash `leaf`
/// (FORMAT.md §4.6), from the sender's hop (the last) as checked.
fn sender_link(rep: &BundleReport, leaf: Digest) -> Option<Link> {
    let h = rep.hops.last()?;
    Some(Link {
        origin: h.origin.clone(),
        key_id: h.key_id?,
        index: h.events.last()?.index,
        leaf_hash: leaf,
        checkpoint_size: h.checkpoint_size?,
        checkpoint_root: h.checkpoint_root?,
    })
}

impl Archive {
    /// The witness policy the next `receive` applies and records
    /// (FORMAT.md §4.16): where it came from, and its encoded text.
    pub fn set_receive_policy(&mut self, source: PolicySource, policy: Option<&str>) {
        self.receive_policy = Some(ReceivePolicy {
            source,
            digest: policy.map_or(Digest([0; 32]), |t| Digest::of(t.as_bytes())),
        });
    }

    /// The `receive` record that came with the share of leaf hash `leaf`.
    fn received_as(&self, leaf: &Digest) -> Result<Option<u64>, StoreError> {
        Ok(self
            .db
            .records_with(leaf, DigestKind::Received)?
            .first()
            .copied())
    }

    /// [`held::check_hops`] in this archive: `hops` against its mirrors and
    /// the checkpoints in its kept evidence, naming the `receive` records.
    pub fn check_held(&self, hops: &[CheckedHop]) -> Result<HeldCheck, StoreError> {
        held::check_hops(&self.root, hops, &|leaf| self.received_as(leaf))
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
        let mut inc = match self.check_incoming(path, trust, ids)? {
            Ok(inc) => inc,
            Err(rep) => return Ok(ReceiveOutcome::Refused(rep)),
        };
        // The document: stored again here only if this archive does not hold it yet.
        let Some(stored) = self.store_received(&mut inc, ids, signer, progress)? else {
            return Ok(ReceiveOutcome::Refused(inc.rep));
        };
        let StoredDocument {
            blob,
            blob_size,
            deduplicated,
            mut sealed,
            dedup,
        } = stored;
        // The envelope of this archive: the same opening, so the commitment
        // (the document's identity across outlets) is the same.
        let meta_blob = self.received_meta(&inc.env)?;
        let (meta_digest, meta_size) = (meta_blob.digest, meta_blob.len);
        sealed.push(meta_blob);
        // The evidence, durable before the record that commits to it.
        let (ev_digest, ev_size) = self.keep_evidence(&inc.bundle)?;
        // The sender's hop passed every check, so all of this is present.
        let from = sender_link(&inc.rep, inc.leaf).ok_or_else(|| {
            StoreError::Internal("a verified bundle without its sender's hop".into())
        })?;
        let body = self.new_record(Payload::Receive(Receive {
            stored: Ingest {
                blob,
                blob_size,
                commitment: inc.share.commitment,
                meta: meta_digest,
                meta_size,
                recipients: crypto::fingerprints(&self.recipients),
            },
            from: from.clone(),
            evidence: ev_digest,
            evidence_size: ev_size,
            policy: self.receive_policy,
        }));
        let rec = self
            .commit_records(vec![body], sealed, dedup, signer)?
            .remove(0);
        let cp = self.sign_checkpoint(signer)?;
        Ok(ReceiveOutcome::Received(Received {
            index: rec.body.index,
            name: inc.env.name,
            size: inc.env.size,
            sha256: inc.env.sha256,
            blob,
            deduplicated,
            from,
            evidence: ev_digest,
            hops: inc.rep.hops.len(),
            checkpoint_size: cp.size,
        }))
    }

    /// The checks of `receive` before anything is written: every check
    /// `verify-bundle` runs, in this archive (its mirrors and the checkpoints
    /// it holds included), the share not received before, and the envelope
    /// opening the commitment. `Err` is the report of a failed check.
    fn check_incoming(
        &self,
        path: &Path,
        trust: &Trust<'_>,
        ids: &Identities,
    ) -> Result<Result<Incoming, BundleReport>, StoreError> {
        let b = open_bundle(path)?;
        // Every check `verify-bundle` runs, in this archive (its mirrors and
        // the checkpoints it holds included), before anything is written.
        let received_as = |leaf: &Digest| self.received_as(leaf);
        let (mut rep, share) = check_keyless(&b, trust, Some((&self.root, &received_as)))?;
        let (Some((share, leaf)), true) = (share, rep.findings.is_empty()) else {
            return Ok(Err(rep));
        };
        if let Some(&i) = self.db.records_with(&leaf, DigestKind::Received)?.first() {
            return Err(StoreError::Refused(format!(
                "this bundle's share (leaf hash {leaf}) was already received as record {i}"
            )));
        }
        let env = match decrypt_envelope(&b, ids)? {
            Ok(env) => env,
            Err(why) => {
                envelope_finding(&mut rep.findings, &why);
                return Ok(Err(rep));
            }
        };
        check_opening(&env, rep.commitment, &mut rep.findings);
        if !rep.findings.is_empty() {
            return Ok(Err(rep));
        }
        Ok(Ok(Incoming {
            bundle: b,
            rep,
            share,
            leaf,
            env,
        }))
    }

    /// The received document's content in this archive (FORMAT.md §7.3):
    /// the blob that already holds it (the payload still checked), or the
    /// payload re-encrypted into the document store. `None` when the payload
    /// fails a check (the findings are in `inc.rep`).
    fn store_received(
        &mut self,
        inc: &mut Incoming,
        ids: &Identities,
        signer: &SignerKey,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Option<StoredDocument>, StoreError> {
        let key = self.dedup_key_with(signer, ids)?;
        let tag = dedup_tag(&key, &inc.env.sha256);
        let existing = self.reusable_blob(&tag)?;
        let mut sealed: Vec<SealedBlob> = Vec::new();
        let (blob, blob_size) = match existing {
            Some((d, len)) => {
                payload_pass::<io::Sink>(
                    &inc.bundle,
                    Some(&inc.share),
                    Some(&inc.env),
                    Some(ids),
                    None,
                    &mut inc.rep.findings,
                    progress,
                )?;
                (d, len)
            }
            None => {
                let Some(s) = self.reencrypt_payload(inc, ids, progress)? else {
                    return Ok(None);
                };
                let d = (s.digest, s.len);
                sealed.push(s);
                d
            }
        };
        if !inc.rep.findings.is_empty() {
            return Ok(None);
        }
        let dedup = if sealed.is_empty() {
            Vec::new()
        } else {
            vec![(0, tag, blob)]
        };
        Ok(Some(StoredDocument {
            blob,
            blob_size,
            deduplicated: existing.is_some(),
            sealed,
            dedup,
        }))
    }

    /// The bundle's payload decrypted and re-encrypted to this archive's
    /// recipients, streamed into the document store: `blobs/` or an upload
    /// (FORMAT.md §7.7). `None` when the payload fails a check.
    fn reencrypt_payload(
        &self,
        inc: &mut Incoming,
        ids: &Identities,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Option<SealedBlob>, StoreError> {
        let w = self.docs.begin()?;
        let w = payload_pass(
            &inc.bundle,
            Some(&inc.share),
            Some(&inc.env),
            Some(ids),
            Some((
                &self.recipients[..],
                BufWriter::with_capacity(1 << 20, w),
                self.blobs.dir(),
            )),
            &mut inc.rep.findings,
            progress,
        )?;
        match (w, inc.rep.findings.is_empty()) {
            (Some(w), true) => {
                let w = w.into_inner().map_err(|e| {
                    let e = crate::store::unmarked(e.into_error());
                    match RemoteError::from_io(&e) {
                        Some(r) => StoreError::Remote(r),
                        None => io_err(self.blobs.dir(), e),
                    }
                })?;
                Ok(Some(self.docs.seal(w, true)?))
            }
            _ => Ok(None),
        }
    }

    /// This archive's metadata envelope of a received document (FORMAT.md
    /// §5.2): the same opening, so the commitment (the document's identity
    /// across outlets) is the same. Written, not yet durable.
    fn received_meta(&self, env: &ShareEnvelope) -> Result<SealedBlob, StoreError> {
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
        self.blobs.put_bytes(&menv)
    }

    /// The bundle's evidence kept in `evidence/` (FORMAT.md §7.5), durable
    /// before the record that commits to it: its digest and size.
    fn keep_evidence(&self, b: &OpenBundle) -> Result<(Digest, u64), StoreError> {
        let ev_bytes = b.head.evidence.encode();
        let ev_digest = Digest::of(&ev_bytes);
        let dir = self.root.join(EVIDENCE_DIR);
        if !dir.exists() {
            fs::create_dir(&dir).map_err(|e| io_err(&dir, e))?;
            blobs::sync_dir(&self.root)?;
        }
        crate::store::files::outfile::write_durable(
            &self.evidence_path(&ev_digest),
            &ev_bytes,
            None,
        )?;
        Ok((ev_digest, ev_bytes.len() as u64))
    }

    /// The chain of custody of the document of record `index`, every hop
    /// re-verified from the kept evidence and this log's own records.
    pub fn trace(&self, index: u64, trust: &Trust<'_>) -> Result<Trace, StoreError> {
        let intro = self.document_of(self.record(index)?)?;
        let mut findings = Vec::new();
        let (size, note) = self.bundle_checkpoint()?;
        let mut evidence = match self.evidence_before(&intro, size, &note) {
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
        let (lineage, lineage_not_carried) = (ev.lineage, ev.lineage_not_carried);
        // A witness policy is about other outlets' logs; this archive's own
        // checkpoints are checked against it by `verify`.
        let own = Subject::Log(self.config.origin.clone());
        findings.extend(
            ev.findings
                .into_iter()
                .filter(|f| !(f.check == Check::WitnessQuorum && f.subject == own)),
        );
        Ok(Trace {
            commitment: intro
                .commitment()
                .copied()
                .ok_or_else(|| StoreError::Internal("a document without commitment".into()))?,
            document: intro.body.index,
            hops: ev.hops,
            lineage,
            lineage_not_carried,
            findings,
        })
    }
}
