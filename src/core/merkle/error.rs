//! Error types of the Merkle module: verification failures ([`MerkleError`])
//! and failures of proof generation over a node store ([`TreeError`]).

use std::fmt;

/// Which hash of a verification input had the wrong length (raw-byte entry
/// points only; typed [`Digest`](crate::core::hash::Digest)s are always 32
/// bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashRole {
    /// The leaf hash of an inclusion proof.
    Leaf,
    /// The root of an inclusion proof.
    Root,
    /// The root of the older tree in a consistency proof.
    OldRoot,
    /// The root of the newer tree in a consistency proof.
    NewRoot,
    /// Element `i` (0-based, in the order given) of a proof.
    ProofElement(usize),
}

impl fmt::Display for HashRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashRole::Leaf => f.write_str("leaf hash"),
            HashRole::Root => f.write_str("root hash"),
            HashRole::OldRoot => f.write_str("old root hash"),
            HashRole::NewRoot => f.write_str("new root hash"),
            HashRole::ProofElement(i) => write!(f, "proof element {i}"),
        }
    }
}

/// Why an inclusion or consistency proof did not verify.
///
/// Every variant is a definite rejection; none means "could not decide".
/// Tests assert the exact variant, so each failure mode has its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// The leaf index is not below the tree size (RFC 9162 §2.1.3.2 step 1).
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },

    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder { old: u64, new: u64 },

    /// A consistency proof between `0 < old < new` was empty
    /// (RFC 9162 §2.1.4.2 step 1).
    #[error("empty consistency proof from size {old} to size {new}")]
    EmptyProof { old: u64, new: u64 },

    /// The proof has fewer hashes than the sizes require.
    #[error("proof has {actual} hashes but {expected} are required")]
    ProofTooShort { expected: usize, actual: usize },

    /// The proof has more hashes than the sizes allow (this includes any
    /// non-empty proof where an empty one is required).
    #[error("proof has {actual} hashes but only {expected} are allowed")]
    ProofTooLong { expected: usize, actual: usize },

    /// The root computed from an inclusion proof differs from the claimed
    /// root.
    #[error("the inclusion proof leads to a different root")]
    RootMismatch,

    /// The old root computed from a consistency proof differs from the
    /// claimed old root (for old size 0: the old root is not `SHA-256("")`).
    #[error("the consistency proof does not lead to the old root")]
    OldRootMismatch,

    /// The new root computed from a consistency proof differs from the
    /// claimed new root.
    #[error("the consistency proof does not lead to the new root")]
    NewRootMismatch,

    /// Two trees of the same size have different roots. Between honest
    /// copies of one log this cannot happen: it is evidence of a fork.
    #[error("two trees of size {size} have different roots")]
    SameSizeDifferentRoots { size: u64 },

    /// A raw hash input was not 32 bytes (checked before any hashing).
    #[error("{role} is {len} bytes, expected 32")]
    WrongHashLength { role: HashRole, len: usize },
}

/// Why a root or proof could not be produced from a
/// [`NodeSource`](super::NodeSource).
///
/// `E` is the source's own error (I/O, a missing node, a corrupt record).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError<E> {
    /// Reading a stored node failed.
    #[error("reading a stored Merkle node failed")]
    Source(#[source] E),

    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },

    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder { old: u64, new: u64 },

    /// The requested size exceeds the number of leaves the source holds.
    #[error("tree size {size} exceeds the {stored} leaves stored")]
    SizeBeyondStored { size: u64, stored: u64 },

    /// A leaf range that is empty, or whose start is not a multiple of the
    /// smallest power of two at least its length (see
    /// [`subtree_hash`](super::subtree_hash)).
    #[error("leaf range {start}..{end} is not a subtree")]
    InvalidRange { start: u64, end: u64 },

    /// An append at `got` when the source holds `expected` leaves.
    #[error("append at leaf index {got} but the tree holds {expected} leaves")]
    AppendPosition { expected: u64, got: u64 },

    /// The tree already holds `u64::MAX` leaves; no index is left.
    #[error("the tree is full (u64::MAX leaves)")]
    TreeFull,
}

/// The error of [`MemoryTree`](super::MemoryTree) (and a convenient error for
/// other in-memory sources): no node is stored at this address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no Merkle node stored at level {level}, index {index}")]
pub struct NodeNotFound {
    pub level: u8,
    pub index: u64,
}
