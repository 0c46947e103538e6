//! Proof verification with no access to the tree: RFC 9162 §2.1.3.2
//! (inclusion) and §2.1.4.2 (consistency), with the edge-case policies of
//! this project, and raw-byte entry points that check hash lengths first.
//!
//! Byte layout specified in `docs/FORMAT.md` §9.5–9.7.

use crate::core::hash::Digest;

use super::error::{HashRole, MerkleError};
use super::hash::{empty_root, node_hash};
use super::shape::{consistency_proof_len, inclusion_proof_len};
use super::types::{LeafIndex, TreeSize};

/// The root that an inclusion proof leads to: the loop of RFC 9162
/// §2.1.3.2 steps 1-4, with the `sn == 0` length checks of steps 4 and 5.
///
/// Errors: [`MerkleError::IndexOutOfRange`] if `index >= size` (step 1);
/// [`MerkleError::ProofTooLong`] if elements remain once `sn` is 0 (step 4);
/// [`MerkleError::ProofTooShort`] if `sn` is not 0 at the end (step 5).
/// Comparing the result with the expected root is left to the caller
/// (see [`verify_inclusion`]).
pub fn root_from_inclusion(
    index: LeafIndex,
    size: TreeSize,
    leaf: &Digest,
    proof: &[Digest],
) -> Result<Digest, MerkleError> {
    let (index_raw, size_raw) = (index.get(), size.get());
    if index_raw >= size_raw {
        return Err(MerkleError::IndexOutOfRange {
            index: index_raw,
            size: size_raw,
        });
    }
    // Both are Some: index < size was just checked.
    let expected = inclusion_proof_len(index, size).unwrap_or(0);
    let mut fn_ = index_raw;
    let mut sn = size_raw - 1;
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(MerkleError::ProofTooLong {
                expected,
                actual: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(MerkleError::ProofTooShort {
            expected,
            actual: proof.len(),
        });
    }
    Ok(r)
}

/// Verifies that `leaf` (a leaf *hash*, `SHA-256(0x00 || data)`) is leaf
/// number `index` of the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2). `proof` is ordered leaf to root.
///
/// Policy: `index >= size` is rejected ([`MerkleError::IndexOutOfRange`];
/// this covers every proof against the empty tree). A proof of the wrong
/// length is rejected with [`MerkleError::ProofTooShort`] or
/// [`MerkleError::ProofTooLong`], a wrong hash with
/// [`MerkleError::RootMismatch`]. The root comparison is constant-time.
///
/// The proof binds the leaf, the index and the root, but the size only
/// through the shape of the path: `(index 0, size 3)` and `(index 0,
/// size 4)` hash alike. Take `size` and `root` from one signed checkpoint.
pub fn verify_inclusion(
    index: LeafIndex,
    size: TreeSize,
    leaf: &Digest,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), MerkleError> {
    let computed = root_from_inclusion(index, size, leaf, proof)?;
    if computed == *root {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch)
    }
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix
/// of the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
/// `proof` is in the order of RFC 9162 §2.1.4.1 (as produced by
/// [`consistency_proof`](super::consistency_proof)).
///
/// Policies, checked in this order:
/// 1. `old > new`: rejected, [`MerkleError::SizeOrder`].
/// 2. `old == 0` (C2SP tlog-witness: "the empty tree is consistent with any
///    tree"): valid iff the proof is empty ([`MerkleError::ProofTooLong`]
///    otherwise) and `old_root` is the empty-tree root `SHA-256("")`
///    ([`MerkleError::OldRootMismatch`] otherwise; no tree of size 0 has any
///    other root). `new_root` is not constrained when `new > 0`.
/// 3. `old == new`: valid iff the proof is empty
///    ([`MerkleError::ProofTooLong`]) and the roots are equal
///    ([`MerkleError::SameSizeDifferentRoots`], a fork).
/// 4. `0 < old < new` with an empty proof: rejected,
///    [`MerkleError::EmptyProof`] (RFC step 1).
/// 5. Otherwise the RFC algorithm: the old root is prepended when `old` is
///    a power of two (step 2); a proof that runs past `sn == 0` is
///    [`MerkleError::ProofTooLong`], one that ends before is
///    [`MerkleError::ProofTooShort`]; then `fr` must equal `old_root`
///    ([`MerkleError::OldRootMismatch`]) and `sr` must equal `new_root`
///    ([`MerkleError::NewRootMismatch`]). The RFC checks the roots before
///    `sn`; the outcome is the same, only the reported variant differs.
pub fn verify_consistency(
    old: TreeSize,
    new: TreeSize,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> Result<(), MerkleError> {
    let (old_raw, new_raw) = (old.get(), new.get());
    if old_raw > new_raw {
        return Err(MerkleError::SizeOrder {
            old: old_raw,
            new: new_raw,
        });
    }
    if old_raw == 0 || old_raw == new_raw {
        if !proof.is_empty() {
            return Err(MerkleError::ProofTooLong {
                expected: 0,
                actual: proof.len(),
            });
        }
        if old_raw == 0 && *old_root != empty_root() {
            return Err(MerkleError::OldRootMismatch);
        }
        if old_raw == new_raw && *old_root != *new_root {
            return Err(MerkleError::SameSizeDifferentRoots { size: old_raw });
        }
        return Ok(());
    }
    // Step 1.
    if proof.is_empty() {
        return Err(MerkleError::EmptyProof {
            old: old_raw,
            new: new_raw,
        });
    }
    // Both are Some: 0 < old < new.
    let expected = consistency_proof_len(old, new).unwrap_or(0);
    let too_long = MerkleError::ProofTooLong {
        expected,
        actual: proof.len(),
    };
    // Step 2, without copying: the path is `[old_root] ++ proof` or `proof`.
    let (first, rest): (&Digest, &[Digest]) = if old_raw.is_power_of_two() {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some((f, r)) => (f, r),
            None => {
                return Err(MerkleError::EmptyProof {
                    old: old_raw,
                    new: new_raw,
                })
            }
        }
    };
    // Steps 3-4.
    let mut fn_ = old_raw - 1;
    let mut sn = new_raw - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let mut fr = *first;
    let mut sr = *first;
    // Step 6.
    for c in rest {
        if sn == 0 {
            return Err(too_long);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(MerkleError::ProofTooShort {
            expected,
            actual: proof.len(),
        });
    }
    if fr != *old_root {
        return Err(MerkleError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(MerkleError::NewRootMismatch);
    }
    Ok(())
}

/// Parses a raw hash, or reports its role and length.
fn digest(bytes: &[u8], role: HashRole) -> Result<Digest, MerkleError> {
    Digest::from_slice(bytes).ok_or(MerkleError::WrongHashLength {
        role,
        len: bytes.len(),
    })
}

/// Parses every raw proof element, or reports the first wrong length.
fn digests<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<Digest>, MerkleError> {
    proof
        .iter()
        .enumerate()
        .map(|(i, p)| digest(p.as_ref(), HashRole::ProofElement(i)))
        .collect()
}

/// [`verify_inclusion`] over raw bytes, for hashes that come from outside
/// (JSON, HTTP, test vectors).
///
/// Every input hash must be exactly 32 bytes, checked **before** anything
/// else (in the order leaf, root, proof elements), and reported as
/// [`MerkleError::WrongHashLength`]. Without this check two empty strings
/// would compare equal and a one-leaf "proof" with empty leaf and root would
/// pass (transparency-dev/merkle `single-entry/empty-root-and-leaf`).
pub fn verify_inclusion_bytes<P: AsRef<[u8]>>(
    index: LeafIndex,
    size: TreeSize,
    leaf: &[u8],
    proof: &[P],
    root: &[u8],
) -> Result<(), MerkleError> {
    let leaf = digest(leaf, HashRole::Leaf)?;
    let root = digest(root, HashRole::Root)?;
    let proof = digests(proof)?;
    verify_inclusion(index, size, &leaf, &proof, &root)
}

/// [`verify_consistency`] over raw bytes.
///
/// Every input hash must be exactly 32 bytes, checked **before** anything
/// else (in the order old root, new root, proof elements), including when
/// `old == new` or `old == 0`, and reported as
/// [`MerkleError::WrongHashLength`]. (transparency-dev/merkle skips the
/// check when the sizes are equal; this project does not.)
pub fn verify_consistency_bytes<P: AsRef<[u8]>>(
    old: TreeSize,
    new: TreeSize,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[P],
) -> Result<(), MerkleError> {
    let old_root = digest(old_root, HashRole::OldRoot)?;
    let new_root = digest(new_root, HashRole::NewRoot)?;
    let proof = digests(proof)?;
    verify_consistency(old, new, &old_root, &new_root, &proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::merkle::{leaf_hash, MemoryTree};

    /// RFC 9162 §2.1.5 worked example: 7 leaves a..f, j.
    #[test]
    fn rfc_worked_example() {
        let leaves: Vec<Digest> = (0u8..7).map(|i| leaf_hash(&[i])).collect();
        let [a, b, c, d, e, f, j] = [0, 1, 2, 3, 4, 5, 6].map(|i| leaves[i]);
        let (g, h, i) = (node_hash(&a, &b), node_hash(&c, &d), node_hash(&e, &f));
        let (k, l) = (node_hash(&g, &h), node_hash(&i, &j));
        let root = node_hash(&k, &l);
        let t = MemoryTree::from_leaf_hashes(leaves.iter().copied());
        assert_eq!(t.root(), root);
        let s = TreeSize(7);
        let cases = [
            (0, vec![b, h, l]),
            (3, vec![c, g, l]),
            (4, vec![f, j, k]),
            (6, vec![i, k]),
        ];
        for (idx, want) in cases {
            let got = t.inclusion_proof(LeafIndex(idx), s).unwrap();
            assert_eq!(got, want, "leaf {idx}");
            verify_inclusion(LeafIndex(idx), s, &leaves[idx as usize], &got, &root).unwrap();
        }
        let cons = [(3, vec![c, d, g, l]), (4, vec![l]), (6, vec![i, j, k])];
        for (old, want) in cons {
            let got = t.consistency_proof(TreeSize(old), s).unwrap();
            assert_eq!(got, want, "from {old}");
            let old_root = t.root_at(TreeSize(old)).unwrap();
            verify_consistency(TreeSize(old), s, &old_root, &root, &got).unwrap();
        }
    }

    #[test]
    fn edge_policies() {
        let t: MemoryTree = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        let r5 = t.root();
        let e = empty_root();
        // old == 0: empty proof and the empty root.
        assert_eq!(
            verify_consistency(TreeSize(0), TreeSize(5), &e, &r5, &[]),
            Ok(())
        );
        assert_eq!(
            verify_consistency(TreeSize(0), TreeSize(5), &r5, &r5, &[]),
            Err(MerkleError::OldRootMismatch)
        );
        assert_eq!(
            verify_consistency(TreeSize(0), TreeSize(5), &e, &r5, &[r5]),
            Err(MerkleError::ProofTooLong {
                expected: 0,
                actual: 1
            })
        );
        assert_eq!(
            verify_consistency(TreeSize(0), TreeSize(0), &e, &e, &[]),
            Ok(())
        );
        // old == new.
        assert_eq!(
            verify_consistency(TreeSize(5), TreeSize(5), &r5, &r5, &[]),
            Ok(())
        );
        assert_eq!(
            verify_consistency(TreeSize(5), TreeSize(5), &r5, &e, &[]),
            Err(MerkleError::SameSizeDifferentRoots { size: 5 })
        );
        // old > new.
        assert_eq!(
            verify_consistency(TreeSize(6), TreeSize(5), &r5, &r5, &[]),
            Err(MerkleError::SizeOrder { old: 6, new: 5 })
        );
        // 0 < old < new, empty proof.
        let r4 = t.root_at(TreeSize(4)).unwrap();
        assert_eq!(
            verify_consistency(TreeSize(4), TreeSize(5), &r4, &r5, &[]),
            Err(MerkleError::EmptyProof { old: 4, new: 5 })
        );
        // Inclusion against the empty tree.
        assert_eq!(
            verify_inclusion(LeafIndex(0), TreeSize(0), &e, &[], &e),
            Err(MerkleError::IndexOutOfRange { index: 0, size: 0 })
        );
        // Raw lengths are checked before the sizes.
        assert_eq!(
            verify_inclusion_bytes::<&[u8]>(LeafIndex(0), TreeSize(1), b"", &[], b""),
            Err(MerkleError::WrongHashLength {
                role: HashRole::Leaf,
                len: 0
            })
        );
        assert_eq!(
            verify_consistency_bytes(
                TreeSize(1),
                TreeSize(1),
                r5.as_bytes(),
                r5.as_bytes(),
                &[[0u8; 31]]
            ),
            Err(MerkleError::WrongHashLength {
                role: HashRole::ProofElement(0),
                len: 31
            })
        );
    }
}
