//! RFC 6962 §2.1 / RFC 9162 §2.1.1 hashing: domain-separated leaf and node
//! hashes with SHA-256, and the hash of the empty tree.
//!
//! Byte layout specified in `docs/FORMAT.md` §9.2.

use crate::core::hash::Digest;

/// Prefix byte of a leaf hash (RFC 6962 §2.1: `SHA-256(0x00 || d)`).
pub const LEAF_PREFIX: u8 = 0x00;

/// Prefix byte of an interior node hash (RFC 6962 §2.1:
/// `SHA-256(0x01 || left || right)`).
pub const NODE_PREFIX: u8 = 0x01;

/// The leaf hash `MTH({d}) = SHA-256(0x00 || data)` (RFC 6962 §2.1,
/// RFC 9162 §2.1.1).
///
/// The distinct prefixes for leaves and nodes give second-preimage
/// resistance: a node can never be presented as a leaf or the other way.
pub fn leaf_hash(data: &[u8]) -> Digest {
    Digest::of_parts(&[&[LEAF_PREFIX], data])
}

/// The interior node hash `SHA-256(0x01 || left || right)` (RFC 6962 §2.1,
/// RFC 9162 §2.1.1).
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    node_hash_bytes(left.as_bytes(), right.as_bytes())
}

/// [`node_hash`] over children of any length.
///
/// The RFC defines the node hash over whatever bytes the children are;
/// inside a tree they are always 32-byte digests, so use [`node_hash`]
/// there. This form exists for known-answer tests (the transparency-dev
/// hasher vector hashes the 4-byte strings `"N123"` and `"N456"`).
pub fn node_hash_bytes(left: &[u8], right: &[u8]) -> Digest {
    Digest::of_parts(&[&[NODE_PREFIX], left, right])
}

/// The root of the empty tree, `MTH({}) = SHA-256()` (RFC 6962 §2.1,
/// RFC 9162 §2.1.1): `e3b0c442...7852b855`.
pub fn empty_root() -> Digest {
    Digest::of(b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_separate_leaf_and_node() {
        let a = leaf_hash(b"x");
        let b = leaf_hash(b"y");
        let mut concat = Vec::new();
        concat.extend_from_slice(a.as_bytes());
        concat.extend_from_slice(b.as_bytes());
        // The same 64 bytes hashed as a leaf and as a node must differ.
        assert_ne!(leaf_hash(&concat), node_hash(&a, &b));
        assert_eq!(
            node_hash(&a, &b),
            node_hash_bytes(a.as_bytes(), b.as_bytes())
        );
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
