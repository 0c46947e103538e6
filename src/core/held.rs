//! Checkpoints of other outlets' logs that an archive holds, and the split
//! views they prove (FORMAT.md §10.4, "Checkpoints already held").
//!
//! Every hop of a chain of custody carries one checkpoint of its log, signed
//! by the log key, and the records proven included in it. Two such
//! checkpoints of one log (the same origin and the same public key) cannot
//! both be true when
//!
//! * they have the same size and different roots, or
//! * they prove different records at the same index (whatever their sizes:
//!   a log never changes a record once it is in the tree).
//!
//! Two checkpoints of different sizes that share no proven index may still
//! disagree; that needs a consistency proof, which a bundle does not carry,
//! so nothing is concluded from them here (a mirror of the log settles it:
//! [`crate::store::ops::mirror::check_hops`]).
//!
//! Everything here is pure: the caller says where each checkpoint is held
//! (`source`, for messages) and which of them to compare.

use std::collections::HashMap;

use crate::core::bundle::CheckedHop;
use crate::core::hash::Digest;
use crate::core::keys::{VerifierKey, ED25519_KEY_LEN};

/// One log: its origin and its public key (not only the 4-byte key ID,
/// which another key could be made to share).
type LogId = (String, [u8; ED25519_KEY_LEN]);

/// A checkpoint of a log, validly signed by its key, and the records it was
/// shown to include.
#[derive(Clone, Debug)]
pub struct HeldCheckpoint {
    pub origin: String,
    pub key: VerifierKey,
    pub size: u64,
    pub root: Digest,
    /// `(index, leaf hash)` of each record proven included in it.
    pub leaves: Vec<(u64, Digest)>,
    /// Where it is held, as a message names it ("record 7, hop 1").
    pub source: String,
}

impl HeldCheckpoint {
    /// The checkpoint of a hop as [`crate::core::bundle::check_evidence`]
    /// checked it: only if its signature verified, with the records that
    /// passed every check (their inclusion proofs among them).
    pub fn of_hop(hop: &CheckedHop, source: String) -> Option<HeldCheckpoint> {
        let (Some(size), Some(root), Some(key)) = (
            hop.checkpoint_size,
            hop.checkpoint_root,
            hop.log_key.clone(),
        ) else {
            return None;
        };
        Some(HeldCheckpoint {
            origin: hop.origin.clone(),
            key,
            size,
            root,
            leaves: hop
                .events
                .iter()
                .filter(|e| e.verified)
                .map(|e| (e.index, e.leaf_hash))
                .collect(),
            source,
        })
    }

    fn log(&self) -> LogId {
        (self.origin.clone(), self.key.public_bytes())
    }
}

/// Two held checkpoints of one log that cannot both be true.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitView {
    pub origin: String,
    /// Where the checkpoint just added is held.
    pub here: String,
    /// Where the earlier one is held.
    pub there: String,
    /// What disagrees, in words ("both are at size 9 with different roots …").
    pub reason: String,
}

/// A leaf hash held for one index: (leaf hash, size of the checkpoint that
/// proves it, where that checkpoint is held).
type HeldLeaf = (Digest, u64, String);

/// The checkpoints held so far, by log; see the module docs. Every distinct
/// root of a size and leaf of an index is kept (an archive may already hold
/// two histories: a new checkpoint is compared with both).
#[derive(Default)]
pub struct HeldLogs {
    /// (log, size) -> every distinct (root, first source)
    roots: HashMap<(LogId, u64), Vec<(Digest, String)>>,
    /// (log, index) -> every distinct (leaf hash, checkpoint size, first source)
    leaves: HashMap<(LogId, u64), Vec<HeldLeaf>>,
}

impl HeldLogs {
    /// Compares `cp` with every checkpoint held so far, then holds it too
    /// (where it adds nothing new, the first one held is kept to be named).
    /// Returns the split views it proves, at most one per earlier source.
    pub fn add(&mut self, cp: &HeldCheckpoint) -> Vec<SplitView> {
        let log = cp.log();
        let mut out: Vec<SplitView> = Vec::new();
        let mut found = |there: &str, reason: String| {
            if !out.iter().any(|s| s.there == there) {
                out.push(SplitView {
                    origin: cp.origin.clone(),
                    here: cp.source.clone(),
                    there: there.to_string(),
                    reason,
                });
            }
        };
        let held = self.roots.entry((log.clone(), cp.size)).or_default();
        for (root, there) in held.iter().filter(|(r, _)| *r != cp.root) {
            found(
                there,
                format!(
                    "both are at size {} with different roots ({} and {root})",
                    cp.size, cp.root
                ),
            );
        }
        if !held.iter().any(|(r, _)| *r == cp.root) {
            held.push((cp.root, cp.source.clone()));
        }
        for &(index, leaf) in &cp.leaves {
            let held = self.leaves.entry((log.clone(), index)).or_default();
            for (other, size, there) in held.iter().filter(|(l, _, _)| *l != leaf) {
                found(
                    there,
                    format!(
                        "record {index} of the log differs between them (leaf hash {leaf} at size {}, {other} at size {size})",
                        cp.size
                    ),
                );
            }
            if !held.iter().any(|(l, _, _)| *l == leaf) {
                held.push((leaf, cp.size, cp.source.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::SignerKey;

    fn key(name: &str) -> VerifierKey {
        SignerKey::generate(name).unwrap().verifier()
    }

    fn cp(
        k: &VerifierKey,
        size: u64,
        root: u8,
        leaves: &[(u64, u8)],
        source: &str,
    ) -> HeldCheckpoint {
        HeldCheckpoint {
            origin: k.name().to_string(),
            key: k.clone(),
            size,
            root: Digest([root; 32]),
            leaves: leaves.iter().map(|&(i, l)| (i, Digest([l; 32]))).collect(),
            source: source.into(),
        }
    }

    #[test]
    fn same_size_different_roots_is_a_split_view() {
        let k = key("a.example/log");
        let mut h = HeldLogs::default();
        assert!(h.add(&cp(&k, 5, 1, &[(4, 9)], "record 1")).is_empty());
        assert!(h.add(&cp(&k, 5, 1, &[(4, 9)], "record 2")).is_empty());
        let s = h.add(&cp(&k, 5, 2, &[(3, 8)], "record 3"));
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].there, "record 1");
        assert_eq!(s[0].here, "record 3");
        assert!(
            s[0].reason.contains("at size 5 with different roots"),
            "{}",
            s[0].reason
        );
    }

    #[test]
    fn one_index_two_records_is_a_split_view_at_any_sizes() {
        let k = key("a.example/log");
        let mut h = HeldLogs::default();
        h.add(&cp(&k, 5, 1, &[(0, 7), (4, 9)], "record 1"));
        // A later, larger checkpoint that keeps record 0: consistent as far as shown.
        assert!(h
            .add(&cp(&k, 9, 3, &[(0, 7), (8, 6)], "record 2"))
            .is_empty());
        let s = h.add(&cp(&k, 7, 4, &[(4, 5)], "record 3"));
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].there, "record 1");
        assert!(
            s[0].reason.contains("record 4 of the log differs"),
            "{}",
            s[0].reason
        );
    }

    #[test]
    fn other_logs_and_other_keys_are_not_compared() {
        let k = key("a.example/log");
        let other = key("a.example/log");
        let b = key("b.example/log");
        let mut h = HeldLogs::default();
        h.add(&cp(&k, 5, 1, &[(4, 9)], "record 1"));
        assert!(h.add(&cp(&other, 5, 2, &[(4, 8)], "record 2")).is_empty());
        assert!(h.add(&cp(&b, 5, 2, &[(4, 8)], "record 3")).is_empty());
    }
}
