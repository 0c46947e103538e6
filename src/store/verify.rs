//! `verify`: re-check everything from the append-only files, without secret keys
//! (and, in deep mode, with identities: every envelope, commitment and plaintext).
//!
//! Every failed check becomes a [`Finding`](crate::core::report::Finding); the
//! verifier goes on after a finding so that one report lists all of them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufReader, Read};

use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::crypto::{self, Identities};
use crate::core::hash::Digest;
use crate::core::held::{HeldCheckpoint, HeldLogs};
use crate::core::merkle::{self, TreeSize};
use crate::core::record::{Payload, Record};
use crate::core::report::{Check, Report, Subject};
use crate::store::archive::Archive;
use crate::store::blobs::{self, Blobs, Listed};
use crate::store::extract::HashingReader;
use crate::store::logfile::Frame;
use crate::store::mirror;
use crate::store::verify_records::{Scanned, FLAT_LISTED};
use crate::store::StoreError;

/// What to verify.
#[derive(Default)]
pub struct VerifyOptions<'a> {
    /// Decrypt every envelope and blob and check every commitment.
    pub deep: Option<&'a Identities>,
    /// Checkpoints of this log held outside the archive (by a partner, a
    /// witness), opened with [`Archive::open_since_checkpoint`]: the archive
    /// must hold each one's tree, and its latest checkpoint must extend it.
    pub since: &'a [Checkpoint],
    /// Check the contents of only this many document blobs, chosen at random
    /// (`--sample N`); every blob's existence and size is still checked.
    pub sample: Option<u64>,
    /// Check the ledger only (checkpoints, records, index, configuration,
    /// the evidence kept for received documents), not blobs or witness
    /// state: what a writing command checks
    /// before it appends or signs (FORMAT.md §4.14, "never sign what was
    /// not checked").
    pub ledger_only: bool,
    /// Records below this index are taken as signed and authorized as their
    /// replay says, without checking the Ed25519 signature (everything else,
    /// their bytes against `ledger/tree` included, is checked): set by a
    /// writer's pre-write check to the size its earlier check covered, and
    /// never beyond the latest checkpoint. 0 for `verify`.
    pub trust_signatures_below: u64,
}

/// Progress hooks for long verifications.
pub trait VerifyObserver {
    fn phase(&mut self, _name: &str, _total: u64) {}
    fn advance(&mut self, _n: u64) {}
}

/// An observer that observes nothing.
pub struct Quiet;
impl VerifyObserver for Quiet {}

/// The right edge of a Merkle tree being built leaf by leaf (RFC 9162 §2.1.2
/// stack): O(log n) memory, the root at any point.
#[derive(Default)]
pub(crate) struct Frontier {
    stack: Vec<(u32, Digest)>,
}

impl Frontier {
    /// Pushes a leaf and calls `made(level, hash)` for every node that
    /// completes, in the order appends create them (the post-order of
    /// `ledger/tree`, FORMAT.md §7.2.2): the leaf itself at level 0, then each
    /// parent up.
    pub(crate) fn push_with(&mut self, leaf: Digest, mut made: impl FnMut(u32, &Digest)) {
        made(0, &leaf);
        self.stack.push((0, leaf));
        while self.stack.len() >= 2 {
            let (h1, right) = self.stack[self.stack.len() - 1];
            let (h0, left) = self.stack[self.stack.len() - 2];
            if h0 != h1 {
                break;
            }
            self.stack.truncate(self.stack.len() - 2);
            let parent = merkle::node_hash(&left, &right);
            made(h0 + 1, &parent);
            self.stack.push((h0 + 1, parent));
        }
    }
    pub(crate) fn root(&self) -> Digest {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => merkle::empty_root(),
            Some(&(_, last)) => it.fold(last, |acc, (_, left)| merkle::node_hash(left, &acc)),
        }
    }
}

/// A blob some record references, with what the record says of it.
pub(crate) struct BlobRef {
    pub(crate) index: u64,
    pub(crate) size: u64,
    /// A document's ciphertext (kept in the document store), not an envelope or note.
    pub(crate) doc: bool,
}

impl Archive {
    /// Opens a checkpoint of this log held outside the archive, for
    /// [`VerifyOptions::since`]: `bytes` is a signed note as `custody
    /// checkpoint` prints it (cosignature lines are carried, not checked); it
    /// must name this archive's origin and carry a valid signature by its log
    /// key. `what` names it in errors (the file's path).
    pub fn open_since_checkpoint(
        &self,
        bytes: &[u8],
        what: &str,
    ) -> Result<Checkpoint, StoreError> {
        let origin = &self.config().origin;
        let parsed = SignedCheckpoint::parse(bytes).map_err(|e| {
            StoreError::Input(format!("{what} is not a signed checkpoint note: {e}"))
        })?;
        if parsed.checkpoint().origin != *origin {
            return Err(StoreError::Input(format!(
                "{what} is a checkpoint of the log {:?}, not of this archive's log {origin:?}",
                parsed.checkpoint().origin
            )));
        }
        let opened = SignedCheckpoint::open(bytes, self.log_key(), &[]).map_err(|e| {
            StoreError::Input(format!(
                "{what} is not signed by this archive's log key {}: {e}",
                self.log_key()
            ))
        })?;
        Ok(opened.checkpoint)
    }

    /// Verifies the archive; see the module docs. Errors only when the check
    /// itself cannot run (I/O on the archive, a database that cannot be read).
    pub fn verify(
        &self,
        opts: &VerifyOptions<'_>,
        obs: &mut dyn VerifyObserver,
    ) -> Result<Report, StoreError> {
        let mut rep = Report {
            deep: opts.deep.is_some(),
            ..Report::default()
        };
        let origin = self.config().origin.clone();
        let log_key = self.log_key().clone();

        // 1. Checkpoints from the append-only file, cross-checked with the index.
        let mut cps: BTreeMap<u64, Digest> = BTreeMap::new();
        let mut file_cps: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut last_size: Option<u64> = None;
        for f in self.checkpoint_file().scan(0)? {
            match f? {
                Frame::Complete { offset, body } => {
                    rep.coverage.checkpoints += 1;
                    match SignedCheckpoint::open(&body, &log_key, &[]) {
                        Err(e) => rep.add(
                            Subject::Archive,
                            Check::CheckpointSignature,
                            format!("checkpoint at offset {offset} of ledger/checkpoints: {e}"),
                        ),
                        Ok(o) => {
                            let c = o.checkpoint;
                            if c.origin != origin {
                                rep.add(
                                    Subject::Checkpoint(c.size),
                                    Check::CheckpointSignature,
                                    format!(
                                        "origin is {:?}, the archive's is {origin:?}",
                                        c.origin
                                    ),
                                );
                            }
                            if let Some(prev) = last_size {
                                if c.size <= prev {
                                    rep.add(
                                        Subject::Checkpoint(c.size),
                                        Check::CheckpointConsistency,
                                        format!("tree size goes from {prev} back to {}", c.size),
                                    );
                                }
                            }
                            last_size = Some(c.size);
                            cps.insert(c.size, c.root);
                            file_cps.push((c.size, body));
                        }
                    }
                }
                Frame::Torn { offset } | Frame::Oversized { offset, .. } => rep.add(
                    Subject::Archive,
                    Check::CheckpointSignature,
                    format!("ledger/checkpoints is damaged at offset {offset}"),
                ),
            }
        }
        let db_cps = self.checkpoints()?;
        if db_cps != file_cps {
            rep.add(
                Subject::Archive,
                Check::IndexMismatch,
                format!(
                    "the database lists {} checkpoints that differ from the {} in ledger/checkpoints",
                    db_cps.len(),
                    file_cps.len()
                ),
            );
        }

        // 2. Records: decode, index, origin, signature, cross-check, Merkle roots.
        let db_size = self.size()?;
        obs.phase("records", db_size);
        let mut roots: BTreeMap<u64, Digest> = BTreeMap::new();
        // The sizes whose roots the scan keeps: every checkpoint's, and every
        // outside checkpoint's (only the size matters to the scan).
        let mut at_sizes = cps.clone();
        for c in opts.since {
            at_sizes.entry(c.size).or_insert(c.root);
        }
        if at_sizes.contains_key(&0) {
            roots.insert(0, merkle::empty_root());
        }
        let scanned = self.scan_records(
            opts.deep.is_some(),
            opts.trust_signatures_below,
            &at_sizes,
            &mut roots,
            &mut rep,
            obs,
        )?;
        let Scanned {
            n,
            refs,
            links,
            ingests,
            sealed,
            doc_findings,
            flat: scanned_flat,
        } = scanned;
        rep.coverage.records = n;
        for (i, check, reason) in doc_findings {
            rep.add(Subject::Record(i), check, reason);
        }
        // Received documents: the kept evidence is intact and links to the record.
        // And no two of them hold checkpoints of one log that cannot both be
        // true, nor one that a mirrored log contradicts (FORMAT.md §10.4).
        let mut held = HeldLogs::default();
        for (i, r) in links {
            let hops = match self.check_receive_link(&r) {
                Ok(h) => h,
                Err(reason) => {
                    rep.add(Subject::Record(i), Check::Evidence, reason);
                    continue;
                }
            };
            for (n, h) in hops.iter().enumerate() {
                let Some(cp) = HeldCheckpoint::of_hop(h, format!("record {i}")) else {
                    continue;
                };
                for s in held.add(&cp) {
                    rep.add(
                        Subject::Record(i),
                        Check::CheckpointConsistency,
                        format!(
                            "{} and {} hold checkpoints of {} that cannot both be true (hop {} of the evidence): {}: the log showed two histories (a split view)",
                            s.there, s.here, s.origin, n + 1, s.reason
                        ),
                    );
                }
            }
            match mirror::check_hops(self.root(), &hops) {
                Ok((_, diverging)) => {
                    for f in diverging {
                        rep.add(
                            Subject::Record(i),
                            f.check,
                            format!("kept evidence, {}", f.reason),
                        );
                    }
                }
                // A mirror that cannot be read says nothing about the
                // evidence; verifying the mirror is `custody mirror`'s.
                Err(e) => rep.add(
                    Subject::Record(i),
                    Check::CheckpointConsistency,
                    format!("kept evidence could not be compared with the mirror of its log: {e}; run `custody mirror` again"),
                ),
            }
        }
        if n != db_size {
            rep.add(
                Subject::Archive,
                Check::IndexMismatch,
                format!("the database counts {db_size} records, ledger/records holds {n}"),
            );
        }
        if scanned_flat.found > FLAT_LISTED {
            rep.add(
                Subject::Archive,
                Check::IndexMismatch,
                format!(
                    "{} more entries of ledger/index and ledger/tree differ from the records (not listed)",
                    scanned_flat.found - FLAT_LISTED
                ),
            );
        }
        for reason in &scanned_flat.lengths {
            rep.add(Subject::Archive, Check::IndexMismatch, reason.clone());
        }
        if let Some(reason) = self.checkpoint_file_mismatch()? {
            rep.add(Subject::Archive, Check::IndexMismatch, reason);
        }
        for (&size, root) in &cps {
            match roots.get(&size) {
                None => rep.add(
                    Subject::Checkpoint(size),
                    Check::CheckpointRoot,
                    format!("covers {size} records but the log holds {n}"),
                ),
                Some(r) if r != root => rep.add(
                    Subject::Checkpoint(size),
                    Check::CheckpointRoot,
                    format!("root {} differs from the records' root {}", root, r),
                ),
                Some(_) => {}
            }
        }
        // Consistency of consecutive checkpoints, proven from the stored
        // nodes, as far as those matched the records: with a damaged
        // ledger/tree a failing proof would say nothing about the checkpoints
        // (the damage is reported above, and each root against the records).
        let sizes: Vec<u64> = if scanned_flat.found == 0 {
            cps.keys().copied().collect()
        } else {
            Vec::new()
        };
        for w in sizes.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b > db_size.min(n) {
                break;
            }
            let ok = merkle::consistency_proof(self.flat(), TreeSize(a), TreeSize(b))
                .ok()
                .map(|p| {
                    merkle::verify_consistency(TreeSize(a), TreeSize(b), &cps[&a], &cps[&b], &p)
                        .is_ok()
                });
            if ok != Some(true) {
                rep.add(
                    Subject::Checkpoint(b),
                    Check::CheckpointConsistency,
                    format!("no valid consistency proof from size {a} to {b}"),
                );
            }
        }
        let nodes_ok = scanned_flat.found == 0 && db_size == n;
        for c in opts.since {
            if let Some(reason) = since_mismatch(self, c, n, &roots, &cps, nodes_ok) {
                rep.add(Subject::Checkpoint(c.size), Check::Rollback, reason);
            }
        }
        match cps.keys().next_back() {
            Some(&last) if last >= n => {}
            last => {
                // Records `from` to `n - 1` (inclusive ranges in text).
                let from = last.copied().unwrap_or(0);
                let to = n.saturating_sub(1).max(from);
                let which = if from == to {
                    format!("record {from} is")
                } else {
                    format!("records {from}..={to} are")
                };
                rep.add(
                    Subject::Archive,
                    Check::CheckpointMissing,
                    format!(
                        "{which} not covered by any checkpoint; run `custody checkpoint --sign`"
                    ),
                )
            }
        }

        match self.config_disagreement() {
            Ok(Some(reason)) => rep.add(Subject::Archive, Check::Config, reason),
            Ok(None) => {}
            // The index files cannot locate the actor and config records:
            // that damage is reported above; there is nothing to compare.
            Err(_) if rep.findings.iter().any(|f| f.check == Check::IndexMismatch) => {}
            Err(e) => rep.add(
                Subject::Archive,
                Check::Config,
                format!("custody.toml could not be compared with the configuration record: {e}"),
            ),
        }
        if opts.ledger_only {
            return Ok(rep);
        }
        self.check_witness_state(&mut rep)?;

        // 3. Blobs: every referenced one exists and hashes to its name; no
        // strays. Document blobs may be on an object store (FORMAT.md §7.7);
        // envelopes and notes are always in `blobs/`.
        let remote = !self.docs.is_local();
        let local = self.docs_listed(&Blobs::Local(self.blob_store().clone()))?;
        let docs = if remote {
            Some(self.docs_listed(&self.docs)?)
        } else {
            None
        };
        let doc_listed = docs.as_ref().unwrap_or(&local);
        // `--sample N`: N referenced document blobs, chosen with OS randomness.
        let chosen: Option<HashSet<Digest>> = match opts.sample {
            None => None,
            Some(k) => {
                let mut cands: Vec<Digest> = doc_listed
                    .iter()
                    .filter_map(|l| l.digest)
                    .filter(|d| refs.get(d).is_some_and(|r| r.doc))
                    .collect();
                cands.sort();
                cands.dedup();
                let picked = sample(&mut cands, k)?;
                rep.sampled = Some(picked.clone());
                Some(picked.into_iter().collect())
            }
        };
        // Sampling covers document blobs only; envelopes and notes (local,
        // small) and unreferenced local files are always hashed.
        let is_doc = |l: &Listed| {
            l.digest
                .is_some_and(|d| refs.get(&d).is_some_and(|r| r.doc))
        };
        let hashed = |l: &Listed, in_docs: bool| match &chosen {
            Some(c) if in_docs && is_doc(l) => l.digest.is_some_and(|d| c.contains(&d)),
            _ => true,
        };
        let total: u64 = local
            .iter()
            .filter(|l| hashed(l, !remote))
            .map(|l| l.len)
            .chain(
                docs.iter()
                    .flatten()
                    .filter(|l| hashed(l, true) && l.digest.is_some_and(|d| refs.contains_key(&d)))
                    .map(|l| l.len),
            )
            .sum();
        obs.phase("blobs", total);
        let mut present_local: HashMap<Digest, u64> = HashMap::new();
        let mut present_docs: HashMap<Digest, u64> = HashMap::new();
        let local_store = Blobs::Local(self.blob_store().clone());
        self.check_listed(
            &local_store,
            &local,
            &refs,
            &|l| hashed(l, !remote),
            &mut present_local,
            &mut rep,
            obs,
        )?;
        if let Some(docs) = &docs {
            self.check_listed(
                &self.docs,
                docs,
                &refs,
                &|l| hashed(l, true),
                &mut present_docs,
                &mut rep,
                obs,
            )?;
        } else {
            present_docs = present_local.clone();
        }
        let present_of = |r: &BlobRef| if r.doc { &present_docs } else { &present_local };
        let mut missing: Vec<(&Digest, &BlobRef)> = refs
            .iter()
            .filter(|(d, r)| !present_of(r).contains_key(d))
            .collect();
        missing.sort_by_key(|(_, r)| r.index);
        for (d, r) in missing {
            rep.add(
                Subject::Record(r.index),
                Check::BlobMissing,
                if r.doc && remote {
                    format!("blob {d} does not exist in {}", self.docs.label())
                } else {
                    format!("blob {d} does not exist")
                },
            );
        }
        for (d, r) in &refs {
            if let Some(&len) = present_of(r).get(d) {
                if len != r.size {
                    rep.add(
                        Subject::Record(r.index),
                        Check::BlobHash,
                        format!("blob {d} is {len} bytes, the record says {}", r.size),
                    );
                }
            }
        }
        let present_meta = &present_local;

        // 4. Deep: decrypt every envelope and document, check every commitment.
        if let Some(ids) = opts.deep {
            obs.phase("decrypt", ingests.len() as u64);
            let mut opened_any = false;
            let mut wrong_key = 0usize;
            let mut envelopes = crate::store::extract::EnvelopeCache::default();
            for rec in &ingests {
                let i = rec.body.index;
                let Some(ing) = rec.document() else { continue };
                if !present_meta.contains_key(&ing.meta) || !present_docs.contains_key(&ing.blob) {
                    continue; // already reported as missing
                }
                if chosen.as_ref().is_some_and(|c| !c.contains(&ing.blob)) {
                    continue; // not in the sample
                }
                let m = match self.metadata_cached(rec, ids, &mut envelopes) {
                    Ok(m) => {
                        opened_any = true;
                        m
                    }
                    Err(StoreError::Decrypt {
                        source: crypto::CryptoError::NoMatchingKeys,
                        ..
                    }) if !opened_any => {
                        // Either this identity is not one of the archive's
                        // recipients, or the envelope was re-encrypted to someone
                        // else; decided after the loop.
                        wrong_key += 1;
                        rep.add(
                            Subject::Record(i),
                            Check::MetadataDecrypt,
                            "no given identity can decrypt the envelope",
                        );
                        continue;
                    }
                    Err(StoreError::ContentMismatch(r)) => {
                        rep.add(Subject::Record(i), Check::Commitment, r);
                        continue;
                    }
                    Err(e) => {
                        rep.add(Subject::Record(i), Check::MetadataDecrypt, e.to_string());
                        continue;
                    }
                };
                let mut hr = HashingReader::new(self.docs.open(&ing.blob)?);
                match crypto::decrypt_all(ids, BufReader::new(&mut hr), io::sink(), &mut |_| {}) {
                    Err(e) => rep.add(
                        Subject::Record(i),
                        Check::Content,
                        format!("document does not decrypt: {e}"),
                    ),
                    Ok((_, sha, len)) => {
                        rep.coverage.decrypted += 1;
                        if sha != m.sha256 || len != m.size {
                            rep.add(
                                Subject::Record(i),
                                Check::Content,
                                "decrypted document does not match the committed digest",
                            );
                        }
                    }
                }
                obs.advance(1);
            }
            self.check_sealed(&sealed, ids, &present_local, &mut rep);
            if !opened_any && wrong_key > 0 && wrong_key == ingests.len() {
                return Err(StoreError::Decrypt {
                    what: "every metadata envelope (is this identity a recipient of this archive?)"
                        .into(),
                    source: crypto::CryptoError::NoMatchingKeys,
                });
            }
        }
        Ok(rep)
    }
}

impl Archive {
    /// (deep) Opens the sealed details of `records` (FORMAT.md §5.4): each
    /// must decrypt, parse, be of its record's kind and, for an actor
    /// record, state the key ID of its key under the sealed key name.
    fn check_sealed(
        &self,
        records: &[Record],
        ids: &Identities,
        present: &HashMap<Digest, u64>,
        rep: &mut Report,
    ) {
        // Names given by sealed `add`s, to find one given twice.
        let mut named: HashMap<String, u64> = HashMap::new();
        for rec in records {
            let Some(s) = rec.sealed() else { continue };
            if !present.contains_key(&s.digest) {
                continue; // already reported as missing
            }
            let i = rec.body.index;
            let kind = rec.body.payload.kind().as_str();
            let problem = match self.open_sealed(s, ids) {
                Err(e) => Some(e.to_string()),
                Ok(d) if d.kind() != kind => {
                    Some(format!("sealed details are {}, not {kind}", d.kind()))
                }
                Ok(d) => match &rec.body.payload {
                    Payload::Actor(c) => d.check_actor(c).err().map(|e| e.to_string()).or_else(|| {
                        let crate::core::sealed::Details::Actor { name, .. } = &d else {
                            return None;
                        };
                        let first = *named.entry(name.clone()).or_insert(i);
                        (!name.is_empty() && first != i).then(|| {
                            format!("names an actor already added by record {first} (a name is never reused, §4.7)")
                        })
                    }),
                    Payload::Share(_) | Payload::Access(_) | Payload::Config(_) => None,
                    Payload::Ingest(_)
                    | Payload::Receive(_)
                    | Payload::Derive(_)
                    | Payload::Annotate(_)
                    | Payload::Approve(_)
                    | Payload::Grant(_)
                    | Payload::Audit(_) => Some("this kind has no sealed details".into()),
                },
            };
            if let Some(reason) = problem {
                rep.add(Subject::Record(i), Check::Sealed, reason);
            }
        }
    }

    /// The objects of `store` (FORMAT.md §7.7).
    fn docs_listed(&self, store: &Blobs) -> Result<Vec<Listed>, StoreError> {
        store.list()
    }

    /// Checks the objects `listed` of `store` against the records' references:
    /// each is named by a digest and referenced (else `blob_unreferenced`,
    /// which also covers uploads left under `incoming/`), and, where `hash`
    /// says so, hashes to its name (streamed). Fills `present` (address, size).
    #[allow(clippy::too_many_arguments)]
    fn check_listed(
        &self,
        store: &Blobs,
        listed: &[Listed],
        refs: &HashMap<Digest, BlobRef>,
        hash: &dyn Fn(&Listed) -> bool,
        present: &mut HashMap<Digest, u64>,
        rep: &mut Report,
        obs: &mut dyn VerifyObserver,
    ) -> Result<(), StoreError> {
        let remote = !store.is_local();
        for l in listed {
            rep.coverage.blobs += 1;
            rep.coverage.blob_bytes += l.len;
            let Some(d) = l.digest else {
                let reason = if l.name.starts_with(&format!("{}/", blobs::INCOMING)) {
                    "an upload left by an interrupted ingest, receive or migrate; `custody gc` removes it"
                } else if remote {
                    "an object in the blob store that is not named by a digest"
                } else {
                    "a file in the blob store that is not named by a digest"
                };
                let name = if remote {
                    l.name.clone()
                } else {
                    l.name.rsplit('/').next().unwrap_or(&l.name).to_string()
                };
                rep.add(Subject::Blob(name), Check::BlobUnreferenced, reason);
                continue;
            };
            present.insert(d, l.len);
            let referenced = refs.get(&d);
            // Unreferenced objects on a store are not downloaded: nothing
            // depends on them and `custody gc` removes them.
            let actual = if hash(l) && (referenced.is_some() || !remote) {
                let rd = store.open(&d)?;
                let (actual, _) = blobs::hash_read(Progress {
                    inner: rd,
                    obs: &mut *obs,
                })
                .map_err(
                    |e| match crate::store::remote::RemoteError::from_io(&e) {
                        Some(r) => StoreError::Remote(r),
                        None => StoreError::Io(store.label().into(), e),
                    },
                )?;
                Some(actual)
            } else {
                None
            };
            match (referenced, actual) {
                (Some(r), Some(actual)) if actual != d => rep.add(
                    Subject::Blob(d.to_hex()),
                    Check::BlobHash,
                    format!(
                        "content hashes to {actual} (referenced by record {}){}",
                        r.index,
                        if remote {
                            format!(", in {}", store.label())
                        } else {
                            String::new()
                        }
                    ),
                ),
                (Some(_), _) => {}
                // Nothing depends on a blob no record names; one whose contents
                // do not match its name is what a crash during a batched
                // ingest can leave (FORMAT.md §7.1), so it is said, not doubled.
                (None, actual) => rep.add(
                    Subject::Blob(d.to_hex()),
                    Check::BlobUnreferenced,
                    match actual {
                        Some(a) if a != d => format!(
                            "no record references this blob, and its content hashes to {a} (a write cut short by a crash, or tampering); nothing depends on it"
                        ),
                        _ => "no record references this blob (left by an interrupted ingest?); `custody gc` removes it"
                            .to_string(),
                    },
                ),
            }
        }
        Ok(())
    }
}

/// A reader that reports the bytes read through it as verify progress.
struct Progress<'a, R> {
    inner: R,
    obs: &'a mut dyn VerifyObserver,
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.obs.advance(n as u64);
        Ok(n)
    }
}

/// `k` of `items` chosen uniformly at random (a partial Fisher-Yates
/// shuffle seeded from the operating system's randomness), sorted.
fn sample(items: &mut [Digest], k: u64) -> Result<Vec<Digest>, StoreError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| StoreError::Internal(e.to_string()))?;
    // Counter-mode SHA-256 of the seed: unbiased enough by rejection below.
    let mut ctr = 0u64;
    let mut next = || {
        ctr += 1;
        let mut b = seed.to_vec();
        b.extend_from_slice(&ctr.to_be_bytes());
        let d = Digest::of(&b);
        u64::from_be_bytes(d.0[..8].try_into().unwrap_or([0; 8]))
    };
    let k = usize::try_from(k).unwrap_or(usize::MAX).min(items.len());
    for i in 0..k {
        let span = (items.len() - i) as u64;
        // Rejection sampling: uniform in 0..span.
        let zone = u64::MAX - (u64::MAX % span);
        let r = loop {
            let v = next();
            if v < zone {
                break v % span;
            }
        };
        items.swap(i, i + r as usize);
    }
    let mut out = items[..k].to_vec();
    out.sort();
    Ok(out)
}

/// Why the archive does not hold, or does not extend, the outside checkpoint
/// `c` (`verify --since-checkpoint`), if it does not. `n` is the number of
/// records read, `roots` the records' roots at the checkpointed sizes and at
/// `c.size`, `cps` the archive's checkpoints (size, root); `nodes_ok` whether
/// the stored Merkle nodes matched the records (then the consistency of the
/// archive's latest checkpoint with `c` is also proven from them, RFC 9162
/// §2.1.4).
fn since_mismatch(
    arch: &Archive,
    c: &Checkpoint,
    n: u64,
    roots: &BTreeMap<u64, Digest>,
    cps: &BTreeMap<u64, Digest>,
    nodes_ok: bool,
) -> Option<String> {
    if c.size > n {
        return Some(format!(
            "a checkpoint signed by this log's key covers {} records, the archive holds {n}: it was rolled back to an older copy, or lost records",
            c.size
        ));
    }
    match roots.get(&c.size) {
        Some(r) if *r == c.root => {}
        Some(r) => {
            return Some(format!(
                "a checkpoint signed by this log's key has root {} at size {}, the archive's records give {r}: its history was rewritten (a fork)",
                c.root, c.size
            ))
        }
        None => return Some(format!("the records' root at size {} was not computed", c.size)),
    }
    let Some((&latest, latest_root)) = cps.iter().next_back() else {
        return Some("the archive has no checkpoint".into());
    };
    if latest < c.size {
        return Some(format!(
            "the archive's latest checkpoint (size {latest}) is older than a checkpoint signed by this log's key (size {}): its checkpoints were rolled back",
            c.size
        ));
    }
    if nodes_ok && latest > c.size && c.size > 0 {
        let proven = merkle::consistency_proof(arch.flat(), TreeSize(c.size), TreeSize(latest))
            .ok()
            .is_some_and(|p| {
                merkle::verify_consistency(
                    TreeSize(c.size),
                    TreeSize(latest),
                    &c.root,
                    latest_root,
                    &p,
                )
                .is_ok()
            });
        if !proven {
            return Some(format!(
                "no valid consistency proof from the given checkpoint (size {}) to the archive's latest (size {latest})",
                c.size
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_matches_memory_tree() {
        use merkle::NodeSource;
        let mut t = merkle::MemoryTree::new();
        let mut f = Frontier::default();
        assert_eq!(f.root(), merkle::empty_root());
        for i in 0..100u32 {
            let l = merkle::leaf_hash(&i.to_be_bytes());
            t.push(l);
            // The nodes it completes, in post-order (FORMAT.md §7.2.2).
            let mut made = Vec::new();
            f.push_with(l, |level, h| made.push((level as u8, *h)));
            let want: Vec<_> = merkle::created_by(u64::from(i))
                .map(|(level, idx)| (level, t.node(level, idx).unwrap()))
                .collect();
            assert_eq!(made, want, "leaf {i}");
            assert_eq!(f.root(), t.root(), "size {}", i + 1);
        }
    }
}
