//! Newtypes for positions in the log: a leaf's index and a tree's size.
//!
//! Both wrap a `u64` (RFC 9162 §2.1 leaves the integer width to the log;
//! 64 bits is what every public log and C2SP checkpoint uses). Keeping them
//! as distinct types stops the classic mistake of passing a size where an
//! index is expected: the two differ by one at the right edge of the tree.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The 0-based position of a leaf in the log.
///
/// Invariant: none on its own; every `u64` is representable. A `LeafIndex`
/// is meaningful only relative to a [`TreeSize`]: leaf `i` exists in a tree
/// of size `n` iff `i < n`. Every function that takes both checks this and
/// reports [`MerkleError::IndexOutOfRange`](super::MerkleError::IndexOutOfRange)
/// (or the [`TreeError`](super::TreeError) equivalent) otherwise.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct LeafIndex(pub u64);

/// The number of leaves in a tree (RFC 9162 `tree_size`).
///
/// Invariant: none on its own; every `u64` is representable, including 0
/// (the empty tree, whose root is `SHA-256("")`). A tree of size `n` holds
/// leaves `0..n`, so the largest valid [`LeafIndex`] is `n - 1`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct TreeSize(pub u64);

impl LeafIndex {
    /// The raw index.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// True iff this leaf exists in a tree of `size` leaves (`index < size`).
    pub const fn is_in(self, size: TreeSize) -> bool {
        self.0 < size.0
    }
}

impl TreeSize {
    /// The empty tree.
    pub const EMPTY: TreeSize = TreeSize(0);

    /// The raw size.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// True iff the tree has no leaves.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl From<u64> for LeafIndex {
    fn from(v: u64) -> Self {
        LeafIndex(v)
    }
}

impl From<u64> for TreeSize {
    fn from(v: u64) -> Self {
        TreeSize(v)
    }
}

impl From<LeafIndex> for u64 {
    fn from(v: LeafIndex) -> Self {
        v.0
    }
}

impl From<TreeSize> for u64 {
    fn from(v: TreeSize) -> Self {
        v.0
    }
}

impl fmt::Display for LeafIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
