//! Appending leaves: the nodes a new leaf completes ([`append_nodes`]), and
//! an [`Overlay`] that lets a store append many leaves before it writes any.
//!
//! Byte layout specified in `docs/FORMAT.md` §9.4.

use std::collections::BTreeMap;

use crate::core::hash::Digest;

use super::error::TreeError;
use super::hash::node_hash;
use super::source::NodeSource;
use super::types::{LeafIndex, TreeSize};

/// A stored node: `(level, index, hash)`, addressed as in [`NodeSource`].
pub type NodeEntry = (u8, u64, Digest);

/// Every node that becomes complete when leaf `leaf_index` (with leaf hash
/// `leaf_hash`) is appended to a tree holding leaves `0..leaf_index`.
///
/// Returns `(0, leaf_index, leaf_hash)` first, then, for as long as the
/// index at the current level is odd, the parent that combines the stored
/// left sibling `(level, index - 1)` with the node just made:
/// `(level + 1, index / 2, node_hash(left, right))`. That is the RFC 9162
/// §2.1.2 stack merge (one merge per trailing 1 bit of `leaf_index`), with
/// the stack kept in the store. Reads exactly `trailing_ones(leaf_index)`
/// nodes; returns at most 64 entries, in increasing level.
///
/// Errors: [`TreeError::AppendPosition`] if the source knows its size and it
/// is not `leaf_index`; [`TreeError::TreeFull`] at `u64::MAX` (the new size
/// would not fit); source errors.
pub fn append_nodes<S: NodeSource + ?Sized>(
    src: &S,
    leaf_index: LeafIndex,
    leaf_hash: Digest,
) -> Result<Vec<NodeEntry>, TreeError<S::Error>> {
    let i = leaf_index.get();
    if i == u64::MAX {
        return Err(TreeError::TreeFull);
    }
    if let Some(stored) = src.stored_leaves().map_err(TreeError::Source)? {
        if stored != i {
            return Err(TreeError::AppendPosition {
                expected: stored,
                got: i,
            });
        }
    }
    let mut out = Vec::with_capacity(1 + i.trailing_ones() as usize);
    out.push((0u8, i, leaf_hash));
    let (mut level, mut index, mut hash) = (0u8, i, leaf_hash);
    while index & 1 == 1 {
        let left = src.node(level, index - 1).map_err(TreeError::Source)?;
        hash = node_hash(&left, &hash);
        level += 1;
        index >>= 1;
        out.push((level, index, hash));
    }
    Ok(out)
}

/// Nodes of pending appends layered over a [`NodeSource`].
///
/// A store that appends a batch of leaves in one transaction cannot read
/// back the nodes it has not written yet; the overlay answers reads from its
/// pending nodes first and falls back to the base source. After the batch,
/// [`Overlay::into_nodes`] gives every node to write.
///
/// Invariant: the base holds exactly `base_size` leaves (with all their
/// nodes), and the pending map holds exactly the nodes that leaves
/// `base_size..size()` completed.
pub struct Overlay<'a, S: NodeSource + ?Sized> {
    base: &'a S,
    base_size: u64,
    size: u64,
    pending: BTreeMap<(u8, u64), Digest>,
}

impl<'a, S: NodeSource + ?Sized> Overlay<'a, S> {
    /// An overlay with no pending nodes over `base`, which holds `base_size`
    /// leaves. `base_size` is trusted (the store reads it in the same
    /// transaction); a wrong value surfaces as a missing node or wrong hashes.
    pub fn new(base: &'a S, base_size: TreeSize) -> Self {
        Overlay {
            base,
            base_size: base_size.get(),
            size: base_size.get(),
            pending: BTreeMap::new(),
        }
    }

    /// Appends one leaf hash at index [`Overlay::size`]; returns its index.
    /// O(log n) reads, of the base or of pending nodes.
    pub fn push(&mut self, leaf_hash: Digest) -> Result<LeafIndex, TreeError<S::Error>> {
        let index = LeafIndex(self.size);
        let nodes = append_nodes(&*self, index, leaf_hash)?;
        for (level, i, h) in nodes {
            self.pending.insert((level, i), h);
        }
        self.size += 1;
        Ok(index)
    }

    /// Number of leaves including the pending ones.
    pub fn size(&self) -> TreeSize {
        TreeSize(self.size)
    }

    /// Number of leaves in the base source.
    pub fn base_size(&self) -> TreeSize {
        TreeSize(self.base_size)
    }

    /// The pending nodes, ordered by `(level, index)`.
    pub fn nodes(&self) -> impl Iterator<Item = NodeEntry> + '_ {
        self.pending.iter().map(|(&(l, i), &h)| (l, i, h))
    }

    /// Consumes the overlay; the pending nodes ordered by `(level, index)`.
    pub fn into_nodes(self) -> Vec<NodeEntry> {
        self.pending
            .into_iter()
            .map(|((l, i), h)| (l, i, h))
            .collect()
    }
}

impl<S: NodeSource + ?Sized> NodeSource for Overlay<'_, S> {
    type Error = S::Error;

    fn node(&self, level: u8, index: u64) -> Result<Digest, Self::Error> {
        match self.pending.get(&(level, index)) {
            Some(h) => Ok(*h),
            None => self.base.node(level, index),
        }
    }

    fn stored_leaves(&self) -> Result<Option<u64>, Self::Error> {
        Ok(Some(self.size))
    }
}
