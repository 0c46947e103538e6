//! Persisted Merkle nodes: `ledger/tree` (FORMAT.md §7.2) as a
//! [`NodeSource`], so roots and proofs cost O(log n) positioned reads, never
//! a rescan of the leaves; and proofs checked against the root they are
//! printed with.

use crate::core::hash::Digest;
use crate::core::merkle::{self, LeafIndex, NodeSource, TreeError, TreeSize};
use crate::store::files::flat_index::FlatIndex;
use crate::store::StoreError;

impl NodeSource for FlatIndex {
    type Error = StoreError;

    fn node(&self, level: u8, index: u64) -> Result<Digest, StoreError> {
        self.read_node(level, index)
    }

    fn stored_leaves(&self) -> Result<Option<u64>, StoreError> {
        Ok(Some(self.size()))
    }
}

/// Flattens a tree error over the store into a store error.
pub fn tree_err(e: TreeError<StoreError>) -> StoreError {
    match e {
        TreeError::Source(s) => s,
        other => StoreError::Internal(other.to_string()),
    }
}

/// The inclusion proof of `leaf` (record `index`) in the tree of `size`
/// records, checked against `root` (RFC 9162 §2.1.3) before it is returned:
/// a damaged `ledger/tree` or `ledger/index` gives an error, never a proof
/// that does not verify.
pub fn checked_inclusion_proof(
    nodes: &FlatIndex,
    index: u64,
    size: u64,
    leaf: &Digest,
    root: &Digest,
) -> Result<Vec<Digest>, StoreError> {
    let proof =
        merkle::inclusion_proof(nodes, LeafIndex(index), TreeSize(size)).map_err(tree_err)?;
    merkle::verify_inclusion(LeafIndex(index), TreeSize(size), leaf, &proof, root).map_err(|e| {
        StoreError::IndexDamaged(format!(
            "the stored Merkle nodes do not prove record {index} in the checkpoint at size {size} ({e})"
        ))
    })?;
    Ok(proof)
}
