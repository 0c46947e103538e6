//! `verify`: re-check everything from the append-only files, without secret keys
//! (and, in deep mode, with identities: every envelope, commitment and plaintext).
//!
//! Every failed check becomes a [`Finding`](crate::core::findings::Finding); the
//! verifier goes on after a finding so that one report lists all of them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufReader, Read};

use crate::core::bundle::CheckedHop;
use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::crypto::{self, Identities};
use crate::core::findings::{Check, Report, Subject};
use crate::core::hash::Digest;
use crate::core::held::{HeldCheckpoint, HeldLogs};
use crate::core::merkle::{self, TreeSize};
use crate::core::meta::Metadata;
use crate::core::record::{Payload, Receive, Record};
use crate::store::archive::Archive;
use crate::store::files::blobs::{self, Blobs, Listed};
use crate::store::files::logfile::Frame;
use crate::store::ops::extract::{EnvelopeCache, HashingReader};
use crate::store::ops::mirror;
use crate::store::ops::verify_records::{self, BlobRef, FlatChecked, Scanned, FLAT_LISTED};
pub use crate::store::ops::verify_records::{Quiet, VerifyObserver};
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

impl Archive {
    /// The findings of a ledger-only pass a write may not go on with.
    pub(crate) fn ledger_findings(
        &mut self,
    ) -> Result<Vec<crate::core::findings::Finding>, StoreError> {
        // Signatures an earlier check verified, in records a checkpoint
        // covers (the log key signs only over checked records), are not
        // verified again; everything else is, every record's bytes included.
        let covered = self.db.latest_checkpoint()?.map_or(0, |(s, _)| s);
        let opts = VerifyOptions {
            deep: None,
            since: &[],
            sample: None,
            ledger_only: true,
            trust_signatures_below: self.db.signatures_checked()?.min(covered),
        };
        let rep = self.verify(&opts, &mut Quiet)?;
        Ok(rep
            .findings
            .into_iter()
            // A ledger-only pass reads no blob: `checkpoint_missing` is
            // the one finding a write may go on with.
            .filter(|f| f.check != crate::core::findings::Check::CheckpointMissing)
            .collect())
    }

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
        let mut pass = Pass::new(self, opts, obs);
        // 1. Checkpoints from the append-only file, cross-checked with the index.
        pass.check_checkpoint_file()?;
        // 2. Records: decode, index, origin, signature, cross-check, Merkle roots.
        let mut scanned = pass.scan_records()?;
        pass.check_received(std::mem::take(&mut scanned.links));
        pass.check_flat_files()?;
        pass.check_checkpoint_roots();
        pass.check_checkpoint_chain();
        pass.check_since();
        pass.check_covered();
        pass.check_config();
        if opts.ledger_only {
            return Ok(pass.rep);
        }
        self.check_witness_state(&mut pass.rep)?;
        // 3. Blobs: every referenced one exists and hashes to its name; no strays.
        let present = pass.check_blobs(&scanned.refs)?;
        // 4. Deep: decrypt every envelope and document, check every commitment.
        if let Some(ids) = opts.deep {
            pass.check_deep(ids, &scanned, &present)?;
        }
        Ok(pass.rep)
    }
}

impl Archive {
    /// (deep) The recipient each rewrap added is one that the grantee's own
    /// actor records name (FORMAT.md §4.19, §5.4), where `ids` opens them.
    fn check_rewrap_recipients(
        &self,
        rewraps: &[(u64, Digest, String)],
        ids: &Identities,
        rep: &mut Report,
    ) -> Result<(), StoreError> {
        if rewraps.is_empty() {
            return Ok(());
        }
        let people = self.actor_recipients(ids)?;
        for (i, added, who) in rewraps {
            if people.unopened.contains(who) {
                continue; // the actor's details are a `sealed` finding or closed to `ids`
            }
            let theirs = people.recipients.get(who).is_some_and(|rs| {
                rs.iter().any(|r| {
                    crypto::RecipientKey::parse(r).is_ok_and(|k| k.fingerprint() == *added)
                })
            });
            if !theirs {
                rep.add(
                    Subject::Record(*i),
                    Check::Rewrap,
                    format!(
                        "adds recipient [{}], which is not one that {who}'s actor records name as theirs",
                        &added.to_hex()[..8]
                    ),
                );
            }
        }
        Ok(())
    }

    /// (deep) Opens the sealed details of `records` (FORMAT.md §5.4): each
    /// must decrypt, parse, be of its record's kind and, for an actor
    /// record, state the key ID of its key under the sealed key name. A
    /// plugin identity that fails stops the check (an error, not a finding).
    fn check_sealed(
        &self,
        records: &[Record],
        moved: &HashMap<Digest, (Digest, u64)>,
        ids: &Identities,
        present: &HashMap<Digest, u64>,
        rep: &mut Report,
    ) -> Result<(), StoreError> {
        // Names given by sealed `add`s, to find one given twice.
        let mut named: HashMap<String, u64> = HashMap::new();
        for rec in records {
            let Some(s) = rec.sealed() else { continue };
            let (now, _) = verify_records::current_blob(moved, s.digest, s.size);
            if !present.contains_key(&now) {
                continue; // already reported as missing
            }
            let i = rec.body.index;
            let kind = rec.body.payload.kind().as_str();
            let problem = match self.open_sealed(s, ids) {
                Err(e) if plugin_failed(&e) => return Err(e),
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
                    Payload::Compartment(c) => d.check_compartment(c).err().map(|e| e.to_string()),
                    Payload::Share(_) | Payload::Access(_) | Payload::Config(_) => None,
                    Payload::Ingest(_)
                    | Payload::Receive(_)
                    | Payload::Derive(_)
                    | Payload::Annotate(_)
                    | Payload::Approve(_)
                    | Payload::Grant(_)
                    | Payload::Audit(_)
                    | Payload::Rekey(_)
                    | Payload::Rewrap(_) => Some("this kind has no sealed details".into()),
                },
            };
            if let Some(reason) = problem {
                rep.add(Subject::Record(i), Check::Sealed, reason);
            }
        }
        Ok(())
    }

    /// The objects of `store` (FORMAT.md §7.7).
    fn docs_listed(&self, store: &Blobs) -> Result<Vec<Listed>, StoreError> {
        store.list()
    }
}

/// One run of [`Archive::verify`]: the report being written, and what the
/// earlier steps found that later ones need.
struct Pass<'a> {
    arch: &'a Archive,
    opts: &'a VerifyOptions<'a>,
    obs: &'a mut dyn VerifyObserver,
    rep: Report,
    /// The archive's checkpoints (size, root), from `ledger/checkpoints`.
    cps: BTreeMap<u64, Digest>,
    /// The records' roots at the checkpointed sizes and at the outside
    /// checkpoints' ([`VerifyOptions::since`]).
    roots: BTreeMap<u64, Digest>,
    /// Records the database counts.
    db_size: u64,
    /// Records read from `ledger/records`.
    n: u64,
    /// What the cross-check of `ledger/index` and `ledger/tree` found.
    flat: FlatChecked,
}

/// The blobs found in each store by [`Pass::check_blobs`] (address, size),
/// and the document blobs `--sample` chose.
struct Present {
    local: HashMap<Digest, u64>,
    docs: HashMap<Digest, u64>,
    chosen: Option<HashSet<Digest>>,
}

/// What the deep step has learned of the identities given: whether any
/// envelope opened, how many did not before one did, and the last envelope
/// opened.
#[derive(Default)]
struct Decrypting {
    opened_any: bool,
    wrong_key: usize,
    envelopes: EnvelopeCache,
}

impl<'a> Pass<'a> {
    /// A pass over `arch` that has checked nothing yet.
    fn new(
        arch: &'a Archive,
        opts: &'a VerifyOptions<'a>,
        obs: &'a mut dyn VerifyObserver,
    ) -> Self {
        Pass {
            arch,
            opts,
            obs,
            rep: Report {
                deep: opts.deep.is_some(),
                ..Report::default()
            },
            cps: BTreeMap::new(),
            roots: BTreeMap::new(),
            db_size: 0,
            n: 0,
            flat: FlatChecked::default(),
        }
    }

    /// Step 1: each checkpoint of `ledger/checkpoints` (signature, origin,
    /// growing sizes), then the database's list of them against the file's.
    fn check_checkpoint_file(&mut self) -> Result<(), StoreError> {
        let arch = self.arch;
        let mut file_cps: Vec<(u64, Vec<u8>)> = Vec::new();
        for f in arch.checkpoint_file().scan(0)? {
            match f? {
                Frame::Complete { offset, body } => {
                    self.rep.coverage.checkpoints += 1;
                    match SignedCheckpoint::open(&body, arch.log_key(), &[]) {
                        Err(e) => self.rep.add(
                            Subject::Archive,
                            Check::CheckpointSignature,
                            format!("checkpoint at offset {offset} of ledger/checkpoints: {e}"),
                        ),
                        Ok(o) => {
                            let prev = file_cps.last().map(|&(size, _)| size);
                            self.note_checkpoint(&o.checkpoint, prev);
                            file_cps.push((o.checkpoint.size, body));
                        }
                    }
                }
                Frame::Torn { offset } | Frame::Oversized { offset, .. } => self.rep.add(
                    Subject::Archive,
                    Check::CheckpointSignature,
                    format!("ledger/checkpoints is damaged at offset {offset}"),
                ),
            }
        }
        let db_cps = arch.checkpoints()?;
        if db_cps != file_cps {
            self.rep.add(
                Subject::Archive,
                Check::IndexMismatch,
                format!(
                    "the database lists {} checkpoints that differ from the {} in ledger/checkpoints",
                    db_cps.len(),
                    file_cps.len()
                ),
            );
        }
        Ok(())
    }

    /// A checkpoint of the file whose signature holds: of this archive's
    /// origin, and larger than the one before it (`prev`). Kept in `cps`.
    fn note_checkpoint(&mut self, c: &Checkpoint, prev: Option<u64>) {
        let origin = &self.arch.config().origin;
        if c.origin != *origin {
            self.rep.add(
                Subject::Checkpoint(c.size),
                Check::CheckpointSignature,
                format!("origin is {:?}, the archive's is {origin:?}", c.origin),
            );
        }
        if let Some(prev) = prev {
            if c.size <= prev {
                self.rep.add(
                    Subject::Checkpoint(c.size),
                    Check::CheckpointConsistency,
                    format!("tree size goes from {prev} back to {}", c.size),
                );
            }
        }
        self.cps.insert(c.size, c.root);
    }

    /// Step 2: the record pass ([`Archive::scan_records`]), keeping the
    /// roots at the checkpointed sizes and the outside checkpoints'; its
    /// findings about documents are added after every record's.
    fn scan_records(&mut self) -> Result<Scanned, StoreError> {
        self.db_size = self.arch.size()?;
        self.obs.phase("records", self.db_size);
        // The sizes whose roots the scan keeps: every checkpoint's, and every
        // outside checkpoint's (only the size matters to the scan).
        let mut at_sizes = self.cps.clone();
        for c in self.opts.since {
            at_sizes.entry(c.size).or_insert(c.root);
        }
        if at_sizes.contains_key(&0) {
            self.roots.insert(0, merkle::empty_root());
        }
        let mut scanned = self.arch.scan_records(
            self.opts.deep.is_some(),
            self.opts.trust_signatures_below,
            &at_sizes,
            &mut self.roots,
            &mut self.rep,
            &mut *self.obs,
        )?;
        self.n = scanned.n;
        self.rep.coverage.records = scanned.n;
        for (i, check, reason) in std::mem::take(&mut scanned.doc_findings) {
            self.rep.add(Subject::Record(i), check, reason);
        }
        self.flat = std::mem::take(&mut scanned.flat);
        Ok(scanned)
    }

    /// Received documents: the kept evidence is intact and links to the record.
    /// And no two of them hold checkpoints of one log that cannot both be
    /// true, nor one that a mirrored log contradicts (FORMAT.md §10.4).
    fn check_received(&mut self, links: Vec<(u64, Receive)>) {
        let mut held = HeldLogs::default();
        for (i, r) in links {
            match self.arch.check_receive_link(&r) {
                Ok(hops) => self.check_hops(i, &hops, &mut held),
                Err(reason) => self.rep.add(Subject::Record(i), Check::Evidence, reason),
            }
        }
    }

    /// The checkpoints the evidence of record `i` holds (`hops`), against
    /// those of the documents received before it (`held`) and the mirrors
    /// of their logs.
    fn check_hops(&mut self, i: u64, hops: &[CheckedHop], held: &mut HeldLogs) {
        for (n, h) in hops.iter().enumerate() {
            let Some(cp) = HeldCheckpoint::of_hop(h, format!("record {i}")) else {
                continue;
            };
            for s in held.add(&cp) {
                self.rep.add(
                    Subject::Record(i),
                    Check::CheckpointConsistency,
                    format!(
                        "{} and {} hold checkpoints of {} that cannot both be true (hop {} of the evidence): {}: the log showed two histories (a split view)",
                        s.there, s.here, s.origin, n + 1, s.reason
                    ),
                );
            }
        }
        match mirror::check_hops(self.arch.root(), hops) {
            Ok((_, diverging)) => {
                for f in diverging {
                    self.rep.add(
                        Subject::Record(i),
                        f.check,
                        format!("kept evidence, {}", f.reason),
                    );
                }
            }
            // A mirror that cannot be read says nothing about the
            // evidence; verifying the mirror is `custody mirror`'s.
            Err(e) => self.rep.add(
                Subject::Record(i),
                Check::CheckpointConsistency,
                format!("kept evidence could not be compared with the mirror of its log: {e}; run `custody mirror` again"),
            ),
        }
    }

    /// The flat-index comparison: the database's count of records,
    /// `ledger/index` and `ledger/tree` (beyond the mismatches listed per
    /// record), and `ledger/checkpoint` with its cosignatures.
    fn check_flat_files(&mut self) -> Result<(), StoreError> {
        let (n, db_size) = (self.n, self.db_size);
        if n != db_size {
            self.rep.add(
                Subject::Archive,
                Check::IndexMismatch,
                format!("the database counts {db_size} records, ledger/records holds {n}"),
            );
        }
        if self.flat.found > FLAT_LISTED {
            self.rep.add(
                Subject::Archive,
                Check::IndexMismatch,
                format!(
                    "{} more entries of ledger/index and ledger/tree differ from the records (not listed)",
                    self.flat.found - FLAT_LISTED
                ),
            );
        }
        for reason in &self.flat.lengths {
            self.rep
                .add(Subject::Archive, Check::IndexMismatch, reason.clone());
        }
        if let Some(reason) = self.arch.checkpoint_file_mismatch()? {
            self.rep.add(Subject::Archive, Check::IndexMismatch, reason);
        }
        Ok(())
    }

    /// Each checkpoint's root against the records' root at its size.
    fn check_checkpoint_roots(&mut self) {
        let n = self.n;
        for (&size, root) in &self.cps {
            match self.roots.get(&size) {
                None => self.rep.add(
                    Subject::Checkpoint(size),
                    Check::CheckpointRoot,
                    format!("covers {size} records but the log holds {n}"),
                ),
                Some(r) if r != root => self.rep.add(
                    Subject::Checkpoint(size),
                    Check::CheckpointRoot,
                    format!("root {} differs from the records' root {}", root, r),
                ),
                Some(_) => {}
            }
        }
    }

    /// Consistency of consecutive checkpoints, proven from the stored
    /// nodes, as far as those matched the records: with a damaged
    /// ledger/tree a failing proof would say nothing about the checkpoints
    /// (the damage is reported above, and each root against the records).
    fn check_checkpoint_chain(&mut self) {
        let sizes: Vec<u64> = if self.flat.found == 0 {
            self.cps.keys().copied().collect()
        } else {
            Vec::new()
        };
        for w in sizes.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b > self.db_size.min(self.n) {
                break;
            }
            let ok = merkle::consistency_proof(self.arch.flat(), TreeSize(a), TreeSize(b))
                .ok()
                .map(|p| {
                    let (ra, rb) = (&self.cps[&a], &self.cps[&b]);
                    merkle::verify_consistency(TreeSize(a), TreeSize(b), ra, rb, &p).is_ok()
                });
            if ok != Some(true) {
                self.rep.add(
                    Subject::Checkpoint(b),
                    Check::CheckpointConsistency,
                    format!("no valid consistency proof from size {a} to {b}"),
                );
            }
        }
    }

    /// `--since-checkpoint`: the archive holds, and its latest checkpoint
    /// extends, each outside checkpoint ([`since_mismatch`]).
    fn check_since(&mut self) {
        let nodes_ok = self.flat.found == 0 && self.db_size == self.n;
        for c in self.opts.since {
            if let Some(reason) =
                since_mismatch(self.arch, c, self.n, &self.roots, &self.cps, nodes_ok)
            {
                self.rep
                    .add(Subject::Checkpoint(c.size), Check::Rollback, reason);
            }
        }
    }

    /// Every record is covered by a checkpoint.
    fn check_covered(&mut self) {
        let n = self.n;
        match self.cps.keys().next_back() {
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
                self.rep.add(
                    Subject::Archive,
                    Check::CheckpointMissing,
                    format!(
                        "{which} not covered by any checkpoint; run `custody checkpoint --sign`"
                    ),
                )
            }
        }
    }

    /// `custody.toml` against the configuration the records put in force.
    fn check_config(&mut self) {
        match self.arch.config_disagreement() {
            Ok(Some(reason)) => self.rep.add(Subject::Archive, Check::Config, reason),
            Ok(None) => {}
            // The index files cannot locate the actor and config records:
            // that damage is reported above; there is nothing to compare.
            Err(_)
                if self
                    .rep
                    .findings
                    .iter()
                    .any(|f| f.check == Check::IndexMismatch) => {}
            Err(e) => self.rep.add(
                Subject::Archive,
                Check::Config,
                format!("custody.toml could not be compared with the configuration record: {e}"),
            ),
        }
    }

    /// Step 3, the blobs listing: every referenced blob exists and hashes
    /// to its name; no strays. Document blobs may be on an object store
    /// (FORMAT.md §7.7); envelopes and notes are always in `blobs/`.
    fn check_blobs(&mut self, refs: &HashMap<Digest, BlobRef>) -> Result<Present, StoreError> {
        let arch = self.arch;
        let remote = !arch.docs.is_local();
        let local_store = Blobs::Local(arch.blob_store().clone());
        let local = arch.docs_listed(&local_store)?;
        let docs = if remote {
            Some(arch.docs_listed(&arch.docs)?)
        } else {
            None
        };
        let chosen = self.choose_sample(docs.as_ref().unwrap_or(&local), refs)?;
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
        self.obs.phase("blobs", total);
        let mut present_local = HashMap::new();
        self.check_listed(
            &local_store,
            &local,
            refs,
            &|l| hashed(l, !remote),
            &mut present_local,
        )?;
        let present_docs = match &docs {
            Some(docs) => {
                let mut present = HashMap::new();
                self.check_listed(&arch.docs, docs, refs, &|l| hashed(l, true), &mut present)?;
                present
            }
            None => present_local.clone(),
        };
        let present = Present {
            local: present_local,
            docs: present_docs,
            chosen,
        };
        self.check_referenced(refs, &present, remote);
        Ok(present)
    }

    /// `--sample N`: N referenced document blobs of those `listed`, chosen
    /// with OS randomness, and noted in the report.
    fn choose_sample(
        &mut self,
        listed: &[Listed],
        refs: &HashMap<Digest, BlobRef>,
    ) -> Result<Option<HashSet<Digest>>, StoreError> {
        let Some(k) = self.opts.sample else {
            return Ok(None);
        };
        let mut cands: Vec<Digest> = listed
            .iter()
            .filter_map(|l| l.digest)
            .filter(|d| refs.get(d).is_some_and(|r| r.doc))
            .collect();
        cands.sort();
        cands.dedup();
        let picked = sample(&mut cands, k)?;
        self.rep.sampled = Some(picked.clone());
        Ok(Some(picked.into_iter().collect()))
    }

    /// Checks the objects `listed` of `store` against the records' references:
    /// each is named by a digest and referenced (else `blob_unreferenced`,
    /// which also covers uploads left under `incoming/`), and, where `hash`
    /// says so, hashes to its name (streamed). Fills `present` (address, size).
    fn check_listed(
        &mut self,
        store: &Blobs,
        listed: &[Listed],
        refs: &HashMap<Digest, BlobRef>,
        hash: &dyn Fn(&Listed) -> bool,
        present: &mut HashMap<Digest, u64>,
    ) -> Result<(), StoreError> {
        let remote = !store.is_local();
        for l in listed {
            self.rep.coverage.blobs += 1;
            self.rep.coverage.blob_bytes += l.len;
            let Some(d) = l.digest else {
                let (name, reason) = unnamed_object(l, remote);
                self.rep
                    .add(Subject::Blob(name), Check::BlobUnreferenced, reason);
                continue;
            };
            present.insert(d, l.len);
            let referenced = refs.get(&d);
            // Unreferenced objects on a store are not downloaded: nothing
            // depends on them and `custody gc` removes them.
            let actual = if hash(l) && (referenced.is_some() || !remote) {
                Some(self.hash_object(store, &d)?)
            } else {
                None
            };
            match (referenced, actual) {
                (Some(r), Some(actual)) if actual != d => self.rep.add(
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
                (None, actual) => self.rep.add(
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

    /// What the object at `d`'s address in `store` hashes to (streamed, its
    /// bytes reported as progress).
    fn hash_object(&mut self, store: &Blobs, d: &Digest) -> Result<Digest, StoreError> {
        let rd = store.open(d)?;
        let (actual, _) = blobs::hash_read(Progress {
            inner: rd,
            obs: &mut *self.obs,
        })
        .map_err(
            |e| match crate::store::files::remote::RemoteError::from_io(&e) {
                Some(r) => StoreError::Remote(r),
                None => StoreError::Io(store.label().into(), e),
            },
        )?;
        Ok(actual)
    }

    /// Every blob the records reference is `present` in its store, with the
    /// length the records give: the missing ones in record order, then the
    /// lengths.
    fn check_referenced(
        &mut self,
        refs: &HashMap<Digest, BlobRef>,
        present: &Present,
        remote: bool,
    ) {
        let present_of = |r: &BlobRef| if r.doc { &present.docs } else { &present.local };
        let mut missing: Vec<(&Digest, &BlobRef)> = refs
            .iter()
            .filter(|(d, r)| !present_of(r).contains_key(d))
            .collect();
        missing.sort_by_key(|(_, r)| r.index);
        for (d, r) in missing {
            self.rep.add(
                Subject::Record(r.index),
                Check::BlobMissing,
                if r.doc && remote {
                    format!("blob {d} does not exist in {}", self.arch.docs.label())
                } else {
                    format!("blob {d} does not exist")
                },
            );
        }
        for (d, r) in refs {
            if let Some(&len) = present_of(r).get(d) {
                if len != r.size {
                    self.rep.add(
                        Subject::Record(r.index),
                        Check::BlobHash,
                        format!("blob {d} is {len} bytes, the record says {}", r.size),
                    );
                }
            }
        }
    }

    /// Step 4, the deep checks: decrypts every envelope and document (those
    /// sampled, with `--sample`) and checks every commitment, then the
    /// sealed details. An error if no given identity opens any envelope.
    fn check_deep(
        &mut self,
        ids: &Identities,
        scanned: &Scanned,
        present: &Present,
    ) -> Result<(), StoreError> {
        let (ingests, moved) = (&scanned.ingests, &scanned.moved);
        self.obs.phase("decrypt", ingests.len() as u64);
        let mut st = Decrypting::default();
        for rec in ingests {
            let Some(ing) = rec.document() else { continue };
            // The files that hold them now, after any rekey (FORMAT.md §4.17).
            let (blob, _) = verify_records::current_blob(moved, ing.blob, ing.blob_size);
            let (meta, _) = verify_records::current_blob(moved, ing.meta, ing.meta_size);
            if !present.local.contains_key(&meta) || !present.docs.contains_key(&blob) {
                continue; // already reported as missing
            }
            if present.chosen.as_ref().is_some_and(|c| !c.contains(&blob)) {
                continue; // not in the sample
            }
            let Some(m) = self.open_metadata(rec, ids, &mut st)? else {
                continue;
            };
            self.check_content(rec.body.index, ids, &blob, &m)?;
            self.obs.advance(1);
        }
        self.arch
            .check_sealed(&scanned.sealed, moved, ids, &present.local, &mut self.rep)?;
        self.arch
            .check_rewrap_recipients(&scanned.rewraps, ids, &mut self.rep)?;
        if !st.opened_any && st.wrong_key > 0 && st.wrong_key == ingests.len() {
            return Err(StoreError::Decrypt {
                what: "every metadata envelope (is this identity a recipient of this archive?)"
                    .into(),
                source: crypto::CryptoError::NoMatchingKeys,
            });
        }
        Ok(())
    }

    /// (deep) The metadata entry of document record `rec`, from its
    /// envelope; `None` once why it does not open is reported; an error if
    /// a plugin identity failed (the check cannot go on).
    fn open_metadata(
        &mut self,
        rec: &Record,
        ids: &Identities,
        st: &mut Decrypting,
    ) -> Result<Option<Metadata>, StoreError> {
        let i = rec.body.index;
        let found = match self.arch.metadata_cached(rec, ids, &mut st.envelopes) {
            Err(e) if plugin_failed(&e) => return Err(e),
            Ok(m) => {
                st.opened_any = true;
                Some(m)
            }
            Err(StoreError::Decrypt {
                source: crypto::CryptoError::NoMatchingKeys,
                ..
            }) if !st.opened_any => {
                // Either this identity is not one of the archive's
                // recipients, or the envelope was re-encrypted to someone
                // else; decided after the loop.
                st.wrong_key += 1;
                self.rep.add(
                    Subject::Record(i),
                    Check::MetadataDecrypt,
                    "no given identity can decrypt the envelope",
                );
                None
            }
            Err(StoreError::ContentMismatch(r)) => {
                self.rep.add(Subject::Record(i), Check::Commitment, r);
                None
            }
            Err(e) => {
                self.rep
                    .add(Subject::Record(i), Check::MetadataDecrypt, e.to_string());
                None
            }
        };
        Ok(found)
    }

    /// (deep) Document `blob` of record `i` decrypts, to the digest and
    /// length its metadata `m` commits to.
    fn check_content(
        &mut self,
        i: u64,
        ids: &Identities,
        blob: &Digest,
        m: &Metadata,
    ) -> Result<(), StoreError> {
        let mut hr = HashingReader::new(self.arch.docs.open(blob)?);
        match crypto::decrypt_all(ids, BufReader::new(&mut hr), io::sink(), &mut |_| {}) {
            Err(e @ crypto::CryptoError::Plugin(_)) => {
                return Err(StoreError::Decrypt {
                    what: format!("the document of record {i}"),
                    source: e,
                })
            }
            Err(e) => self.rep.add(
                Subject::Record(i),
                Check::Content,
                format!("document does not decrypt: {e}"),
            ),
            Ok((_, sha, len)) => {
                self.rep.coverage.decrypted += 1;
                if sha != m.sha256 || len != m.size {
                    self.rep.add(
                        Subject::Record(i),
                        Check::Content,
                        "decrypted document does not match the committed digest",
                    );
                }
            }
        }
        Ok(())
    }
}

/// Did an age plugin (a hardware identity) fail, time out or go missing?
/// Then a deep check cannot go on: an error (exit 2), not a finding.
fn plugin_failed(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Decrypt {
            source: crypto::CryptoError::Plugin(_),
            ..
        } | StoreError::Crypto(crypto::CryptoError::Plugin(_))
    )
}

/// The finding's subject and reason for listed object `l`, not named by a
/// digest: an upload left under `incoming/`, or a stray.
fn unnamed_object(l: &Listed, remote: bool) -> (String, &'static str) {
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
    (name, reason)
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
