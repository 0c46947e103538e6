//! [`MemoryTree`]: an append-only Merkle tree held in memory, for tests,
//! verifiers that rebuild a tree from its leaves, and bundles.

use crate::core::hash::Digest;

use super::error::{NodeNotFound, TreeError};
use super::hash::{empty_root, leaf_hash, node_hash};
use super::proof;
use super::source::NodeSource;
use super::types::{LeafIndex, TreeSize};

/// Every perfect-subtree hash of a tree, level by level.
///
/// Invariant: `levels[0]` holds the leaf hashes, and for every level `l`,
/// `levels[l].len() == size >> l` and
/// `levels[l + 1][i] == node_hash(levels[l][2i], levels[l][2i + 1])`.
/// Memory is about `2 * size` digests.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Digest>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree of the given leaf hashes, in order.
    pub fn from_leaf_hashes<I: IntoIterator<Item = Digest>>(leaves: I) -> Self {
        let mut t = Self::new();
        t.extend(leaves);
        t
    }

    /// Number of leaves.
    pub fn size(&self) -> TreeSize {
        TreeSize(self.levels.first().map_or(0, |l| l.len() as u64))
    }

    /// Appends a leaf hash and every node it completes (the RFC 9162 §2.1.2
    /// stack merge); returns the new leaf's index. Amortised O(1).
    pub fn push(&mut self, leaf: Digest) -> LeafIndex {
        let index = self.size().get();
        let (mut level, mut i, mut hash) = (0usize, index, leaf);
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            if i & 1 == 0 {
                break;
            }
            // `row` has an even length of at least 2 here: the left sibling
            // was pushed before.
            let left = row[row.len() - 2];
            hash = node_hash(&left, &hash);
            level += 1;
            i >>= 1;
        }
        LeafIndex(index)
    }

    /// Appends the leaf `SHA-256(0x00 || data)`; returns its index.
    pub fn push_data(&mut self, data: &[u8]) -> LeafIndex {
        self.push(leaf_hash(data))
    }

    /// The leaf hash at `index`, if present.
    pub fn leaf(&self, index: LeafIndex) -> Option<Digest> {
        let i = usize::try_from(index.get()).ok()?;
        self.levels.first()?.get(i).copied()
    }

    /// The root of the whole tree (RFC 9162 §2.1.1 MTH): the perfect
    /// subtrees of the right edge, one per set bit of the size, folded right
    /// to left. [`empty_root`] for the empty tree.
    pub fn root(&self) -> Digest {
        let mut acc: Option<Digest> = None;
        // Level by level from the bottom: the last node of a level is a
        // right-edge piece exactly when that bit of the size is set.
        let size = self.size().get();
        for (level, row) in self.levels.iter().enumerate() {
            if (size >> level) & 1 == 1 {
                if let Some(piece) = row.last() {
                    acc = Some(match acc {
                        None => *piece,
                        Some(right) => node_hash(piece, &right),
                    });
                }
            }
        }
        acc.unwrap_or_else(empty_root)
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root_at(&self, size: TreeSize) -> Result<Digest, TreeError<NodeNotFound>> {
        proof::root(self, size)
    }

    /// The inclusion proof of `index` in the tree of the first `size`
    /// leaves (see [`inclusion_proof`](super::inclusion_proof)).
    pub fn inclusion_proof(
        &self,
        index: LeafIndex,
        size: TreeSize,
    ) -> Result<Vec<Digest>, TreeError<NodeNotFound>> {
        proof::inclusion_proof(self, index, size)
    }

    /// The consistency proof from `old` to `new` leaves (see
    /// [`consistency_proof`](super::consistency_proof)).
    pub fn consistency_proof(
        &self,
        old: TreeSize,
        new: TreeSize,
    ) -> Result<Vec<Digest>, TreeError<NodeNotFound>> {
        proof::consistency_proof(self, old, new)
    }
}

impl Extend<Digest> for MemoryTree {
    fn extend<I: IntoIterator<Item = Digest>>(&mut self, iter: I) {
        for leaf in iter {
            self.push(leaf);
        }
    }
}

impl FromIterator<Digest> for MemoryTree {
    fn from_iter<I: IntoIterator<Item = Digest>>(iter: I) -> Self {
        Self::from_leaf_hashes(iter)
    }
}

impl NodeSource for MemoryTree {
    type Error = NodeNotFound;

    fn node(&self, level: u8, index: u64) -> Result<Digest, NodeNotFound> {
        let missing = NodeNotFound { level, index };
        let i = usize::try_from(index).map_err(|_| missing)?;
        self.levels
            .get(usize::from(level))
            .and_then(|row| row.get(i))
            .copied()
            .ok_or(missing)
    }

    fn stored_leaves(&self) -> Result<Option<u64>, NodeNotFound> {
        Ok(Some(self.size().get()))
    }
}
