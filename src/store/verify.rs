//! `verify`: re-check everything from the append-only files, without secret keys
//! (and, in deep mode, with identities: every envelope, commitment and plaintext).
//!
//! Every failed check becomes a [`Finding`](crate::core::report::Finding); the
//! verifier goes on after a finding so that one report lists all of them.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader};

use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::crypto::{self, Identities};
use crate::core::hash::Digest;
use crate::core::merkle::{self, TreeSize};
use crate::core::report::{Check, Report, Subject};
use crate::store::archive::Archive;
use crate::store::blobs;
use crate::store::extract::HashingReader;
use crate::store::logfile::Frame;
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
        let scanned =
            self.scan_records(opts.deep.is_some(), &at_sizes, &mut roots, &mut rep, obs)?;
        let Scanned {
            n,
            refs,
            links,
            ingests,
            doc_findings,
            flat: scanned_flat,
        } = scanned;
        rep.coverage.records = n;
        for (i, check, reason) in doc_findings {
            rep.add(Subject::Record(i), check, reason);
        }
        // Received documents: the kept evidence is intact and links to the record.
        for (i, r) in links {
            if let Err(reason) = self.check_receive_link(&r) {
                rep.add(Subject::Record(i), Check::Evidence, reason);
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
            last => rep.add(
                Subject::Archive,
                Check::CheckpointMissing,
                format!(
                    "records {}..{} are not covered by any checkpoint; run `custody checkpoint --sign`",
                    last.copied().unwrap_or(0),
                    n
                ),
            ),
        }

        self.check_witness_state(&mut rep)?;

        // 3. Blobs: every referenced one exists and hashes to its name; no strays.
        let listed = self.blob_store().list()?;
        obs.phase("blobs", listed.iter().map(|(_, _, l)| l).sum());
        let mut present: HashMap<Digest, u64> = HashMap::new();
        for (path, d, len) in &listed {
            rep.coverage.blobs += 1;
            rep.coverage.blob_bytes += len;
            let name = path
                .file_name()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let Some(d) = d else {
                rep.add(
                    Subject::Blob(name),
                    Check::BlobUnreferenced,
                    "a file in the blob store that is not named by a digest",
                );
                continue;
            };
            let (actual, alen) =
                blobs::hash_file(path).map_err(|e| StoreError::Io(path.clone(), e))?;
            obs.advance(*len);
            present.insert(*d, alen);
            match refs.get(d) {
                Some(r) if actual != *d => rep.add(
                    Subject::Blob(d.to_hex()),
                    Check::BlobHash,
                    format!(
                        "content hashes to {actual} (referenced by record {})",
                        r.index
                    ),
                ),
                Some(_) => {}
                // Nothing depends on a blob no record names; one whose contents
                // do not match its name is what a crash during a batched
                // ingest can leave (FORMAT.md §7.1), so it is said, not doubled.
                None => rep.add(
                    Subject::Blob(d.to_hex()),
                    Check::BlobUnreferenced,
                    if actual == *d {
                        "no record references this blob (left by an interrupted ingest?)"
                            .to_string()
                    } else {
                        format!(
                            "no record references this blob, and its content hashes to {actual} (a write cut short by a crash, or tampering); nothing depends on it"
                        )
                    },
                ),
            }
        }
        let mut missing: Vec<(&Digest, &BlobRef)> = refs
            .iter()
            .filter(|(d, _)| !present.contains_key(d))
            .collect();
        missing.sort_by_key(|(_, r)| r.index);
        for (d, r) in missing {
            rep.add(
                Subject::Record(r.index),
                Check::BlobMissing,
                format!("blob {d} does not exist"),
            );
        }
        for (d, r) in &refs {
            if let Some(&len) = present.get(d) {
                if len != r.size {
                    rep.add(
                        Subject::Record(r.index),
                        Check::BlobHash,
                        format!("blob {d} is {len} bytes, the record says {}", r.size),
                    );
                }
            }
        }

        // 4. Deep: decrypt every envelope and document, check every commitment.
        if let Some(ids) = opts.deep {
            obs.phase("decrypt", ingests.len() as u64);
            let mut opened_any = false;
            let mut wrong_key = 0usize;
            let mut envelopes = crate::store::extract::EnvelopeCache::default();
            for rec in &ingests {
                let i = rec.body.index;
                let Some(ing) = rec.document() else { continue };
                if !present.contains_key(&ing.meta) || !present.contains_key(&ing.blob) {
                    continue; // already reported as missing
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
                let path = self.blob_store().path(&ing.blob);
                let file = File::open(&path).map_err(|e| StoreError::Io(path.clone(), e))?;
                let mut hr = HashingReader::new(file);
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
