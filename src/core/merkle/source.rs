//! The [`NodeSource`] trait: read access to stored complete-subtree hashes,
//! addressed by `(level, index)`.

use crate::core::hash::Digest;

/// Read access to the stored hashes of perfect (complete) subtrees.
///
/// # Addressing
///
/// `node(level, index)` is the Merkle Tree Hash (RFC 9162 §2.1.1) of the
/// `2^level` leaves `[index << level, (index + 1) << level)`. Level 0 holds
/// the leaf hashes; `node(l + 1, i) = node_hash(node(l, 2i), node(l, 2i + 1))`.
/// A tree of `n` leaves stores exactly the nodes with
/// `(index + 1) << level <= n`, i.e. `n >> level` nodes at each level; nodes
/// of non-perfect right-edge subtrees are never stored (they change with every
/// append) and are recomputed from perfect ones in O(log n).
///
/// Implementations: [`MemoryTree`](super::MemoryTree) (in memory),
/// [`Overlay`](super::Overlay) (pending appends over another source), and the
/// on-disk store.
pub trait NodeSource {
    /// Error of a read, e.g. an I/O error or a missing node.
    type Error;

    /// Hash of the perfect subtree covering leaves
    /// `[index << level, (index + 1) << level)`.
    fn node(&self, level: u8, index: u64) -> Result<Digest, Self::Error>;

    /// The number of leaves whose nodes are all stored, if the source knows
    /// it cheaply.
    ///
    /// When it returns `Ok(Some(n))`, the functions of this module reject a
    /// size above `n` with
    /// [`TreeError::SizeBeyondStored`](super::TreeError::SizeBeyondStored) and
    /// an append at an index other than `n` with
    /// [`TreeError::AppendPosition`](super::TreeError::AppendPosition) before
    /// reading any node. The default, `Ok(None)`, skips those checks; a
    /// missing node then surfaces as the source's own error.
    fn stored_leaves(&self) -> Result<Option<u64>, Self::Error> {
        Ok(None)
    }
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn node(&self, level: u8, index: u64) -> Result<Digest, Self::Error> {
        (**self).node(level, index)
    }

    fn stored_leaves(&self) -> Result<Option<u64>, Self::Error> {
        (**self).stored_leaves()
    }
}
