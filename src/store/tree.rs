//! Persisted Merkle nodes: the sled database as a [`NodeSource`], so roots and
//! proofs cost O(log n) node reads, never a rescan of the leaves.

use crate::core::hash::Digest;
use crate::core::merkle::{NodeSource, TreeError};
use crate::store::db::Db;
use crate::store::StoreError;

impl NodeSource for Db {
    type Error = StoreError;

    fn node(&self, level: u8, index: u64) -> Result<Digest, StoreError> {
        Db::node(self, level, index)?.ok_or_else(|| {
            StoreError::DatabaseCorrupt(format!(
                "Merkle node (level {level}, index {index}) is missing"
            ))
        })
    }

    fn stored_leaves(&self) -> Result<Option<u64>, StoreError> {
        Ok(Some(self.size()?))
    }
}

/// Flattens a tree error over the store into a store error.
pub fn tree_err(e: TreeError<StoreError>) -> StoreError {
    match e {
        TreeError::Source(s) => s,
        other => StoreError::Internal(other.to_string()),
    }
}
