//! The RFC 6962 / RFC 9162 Merkle tree of the ledger (SHA-256): hashing,
//! stored-node addressing, proof generation in O(log n) reads, appends, and
//! proof verification.
//!
//! Pure code: no I/O, no paths, no printing. The normative description is
//! the "Merkle tree" section of `docs/FORMAT.md`.
//!
//! * [`leaf_hash`], [`node_hash`], [`empty_root`]: RFC 9162 §2.1.1.
//! * [`NodeSource`]: stored perfect-subtree hashes addressed by
//!   `(level, index)`; [`MemoryTree`] keeps them in memory, the on-disk store
//!   implements the trait too.
//! * [`root`], [`subtree_hash`], [`inclusion_proof`] (§2.1.3.1),
//!   [`consistency_proof`] (§2.1.4.1): from a [`NodeSource`].
//! * [`append_nodes`] and [`Overlay`]: the nodes each appended leaf
//!   completes, singly or in a batch.
//! * [`node_position`], [`stored_nodes`]: where a stored node sits when
//!   every node is kept in one flat file in the order appends create them.
//! * [`verify_inclusion`] (§2.1.3.2), [`verify_consistency`] (§2.1.4.2) and
//!   their `_bytes` forms for untrusted raw input: no tree needed.
//!
//! ```
//! use custody::core::merkle::*;
//!
//! let mut tree = MemoryTree::new();
//! for i in 0u8..7 {
//!     tree.push_data(&[i]);
//! }
//! let (index, size) = (LeafIndex(3), tree.size());
//! let proof = inclusion_proof(&tree, index, size).unwrap();
//! verify_inclusion(index, size, &leaf_hash(&[3]), &proof, &tree.root()).unwrap();
//!
//! let old = TreeSize(4);
//! let old_root = root(&tree, old).unwrap();
//! let proof = consistency_proof(&tree, old, size).unwrap();
//! verify_consistency(old, size, &old_root, &tree.root(), &proof).unwrap();
//! ```
//!
//! Byte layout specified in `docs/FORMAT.md` §9.

mod append;
mod error;
mod frontier;
mod hash;
mod memory;
mod postorder;
mod proof;
mod shape;
mod source;
mod types;
mod verify;

pub use append::{append_nodes, NodeEntry, Overlay};
pub use error::{HashRole, MerkleError, NodeNotFound, TreeError};
pub use frontier::Frontier;
pub use hash::{empty_root, leaf_hash, node_hash, node_hash_bytes, LEAF_PREFIX, NODE_PREFIX};
pub use memory::MemoryTree;
pub use postorder::{created_by, node_position, stored_nodes};
pub use proof::{consistency_proof, inclusion_proof, root, subtree_hash};
pub use shape::{consistency_proof_len, inclusion_proof_len};
pub use source::NodeSource;
pub use types::{LeafIndex, TreeSize};
pub use verify::{
    complete_consistency_proof, judge_consistency, root_from_inclusion, verify_consistency,
    verify_consistency_bytes, verify_inclusion, verify_inclusion_bytes, ProofShows,
};
