//! Roots and proofs computed from stored perfect subtrees (a [`NodeSource`]):
//! RFC 9162 §2.1.1 MTH, §2.1.3.1 PATH and §2.1.4.1 SUBPROOF, each in
//! O(log n) node reads.
//!
//! Byte layout specified in `docs/FORMAT.md` §9.5–9.6.

use crate::core::hash::Digest;

use super::error::TreeError;
use super::hash::{empty_root, node_hash};
use super::shape::{is_subtree, perfect_pieces, split_point};
use super::source::NodeSource;
use super::types::{LeafIndex, TreeSize};

/// Rejects `size` if the source reports fewer stored leaves.
fn check_stored<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<(), TreeError<S::Error>> {
    match src.stored_leaves().map_err(TreeError::Source)? {
        Some(stored) if size > stored => Err(TreeError::SizeBeyondStored { size, stored }),
        _ => Ok(()),
    }
}

/// MTH of a range already known to be a subtree; no stored-size check.
fn range_hash<S: NodeSource + ?Sized>(
    src: &S,
    start: u64,
    end: u64,
) -> Result<Digest, TreeError<S::Error>> {
    if !is_subtree(start, end) {
        return Err(TreeError::InvalidRange { start, end });
    }
    // At most 64 pieces; fold right to left: MTH = H(p0, H(p1, ... pk)).
    let mut pieces: Vec<Digest> = Vec::with_capacity(8);
    for (level, index) in perfect_pieces(start, end) {
        pieces.push(src.node(level, index).map_err(TreeError::Source)?);
    }
    let mut iter = pieces.into_iter().rev();
    let mut acc = iter.next().ok_or(TreeError::InvalidRange { start, end })?;
    for left in iter {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

/// The Merkle Tree Hash of leaves `[start, end)`, `MTH(D[start:end])`
/// (RFC 9162 §2.1.1), from at most 64 node reads (one per set bit of
/// `end - start`).
///
/// The range must be a *subtree*: non-empty, with `start` a multiple of the
/// smallest power of two `>= end - start`. Every range the RFC recursion
/// hashes when proving from a whole tree is one (`[0, n)`, each perfect
/// subtree, each right-edge remainder `[k, n)`); so are the ranges of a
/// C2SP `subtree/v1` signature. Other ranges return
/// [`TreeError::InvalidRange`]: their hash would need nodes the store does
/// not keep.
///
/// The range is split into perfect subtrees, largest first (one per set
/// bit of its length), and their hashes are folded right to left.
pub fn subtree_hash<S: NodeSource + ?Sized>(
    src: &S,
    start: LeafIndex,
    end: LeafIndex,
) -> Result<Digest, TreeError<S::Error>> {
    let (start, end) = (start.get(), end.get());
    if !is_subtree(start, end) {
        return Err(TreeError::InvalidRange { start, end });
    }
    check_stored(src, end)?;
    range_hash(src, start, end)
}

/// The root `MTH(D[0:size])` of the tree of the first `size` leaves
/// (RFC 9162 §2.1.1), from `popcount(size)` node reads. Size 0 gives
/// [`empty_root`] without reading.
pub fn root<S: NodeSource + ?Sized>(
    src: &S,
    size: TreeSize,
) -> Result<Digest, TreeError<S::Error>> {
    let size = size.get();
    if size == 0 {
        return Ok(empty_root());
    }
    check_stored(src, size)?;
    range_hash(src, 0, size)
}

/// The inclusion proof (audit path) of leaf `index` in the tree of the first
/// `size` leaves: `PATH(index, D[0:size])` of RFC 9162 §2.1.3.1 (RFC 6962
/// §2.1.1), ordered leaf to root (the leaf's sibling first).
///
/// Length is [`inclusion_proof_len`](super::inclusion_proof_len); at most
/// `2 * 64` node reads (one per perfect sibling, plus the pieces of at most
/// one right-edge sibling). Errors: `index >= size`
/// ([`TreeError::IndexOutOfRange`]), `size` beyond the stored leaves
/// ([`TreeError::SizeBeyondStored`]), or a source error.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    src: &S,
    index: LeafIndex,
    size: TreeSize,
) -> Result<Vec<Digest>, TreeError<S::Error>> {
    let (m, n) = (index.get(), size.get());
    if m >= n {
        return Err(TreeError::IndexOutOfRange { index: m, size: n });
    }
    check_stored(src, n)?;
    // Walk the RFC recursion from the root down, collecting the sibling at
    // each step; the RFC appends the outer sibling last, so reverse at the end.
    let mut path = Vec::with_capacity(64);
    let (mut lo, mut hi) = (0u64, n);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m - lo < k {
            // PATH(m, D_n) = PATH(m, D[0:k]) : MTH(D[k:n])
            path.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            // PATH(m, D_n) = PATH(m - k, D[k:n]) : MTH(D[0:k])
            path.push(range_hash(src, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof from the tree of the first `old` leaves to the tree
/// of the first `new` leaves: `PROOF(old, D[0:new]) = SUBPROOF(old,
/// D[0:new], true)` of RFC 9162 §2.1.4.1 (RFC 6962 §2.1.2), in RFC order
/// (deepest subtree first). When `old` is a power of two the old root is not
/// included; the verifier prepends it.
///
/// Edge cases (the RFC defines only `0 < old < new`):
/// * `old == new`: the empty proof (the trees must simply be identical);
/// * `old == 0`: the empty proof (the empty tree is a prefix of every tree;
///   C2SP tlog-witness);
/// * `old > new`: [`TreeError::SizeOrder`].
///
/// Length is [`consistency_proof_len`](super::consistency_proof_len); at
/// most `2 * 64` node reads.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    src: &S,
    old: TreeSize,
    new: TreeSize,
) -> Result<Vec<Digest>, TreeError<S::Error>> {
    let (old, new) = (old.get(), new.get());
    if old > new {
        return Err(TreeError::SizeOrder { old, new });
    }
    check_stored(src, new)?;
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let mut proof = Vec::with_capacity(64);
    // SUBPROOF(m, D[lo:hi], b), walked from the top; `m` is relative to `lo`.
    let (mut lo, mut hi, mut m, mut b) = (0u64, new, old, true);
    loop {
        let len = hi - lo;
        if m == len {
            // SUBPROOF(m, D_m, true) = {}; SUBPROOF(m, D_m, false) = {MTH(D_m)}
            if !b {
                proof.push(range_hash(src, lo, hi)?);
            }
            break;
        }
        let k = split_point(len);
        if m <= k {
            // SUBPROOF(m, D_n, b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            proof.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            // SUBPROOF(m, D_n, b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            proof.push(range_hash(src, lo, lo + k)?);
            lo += k;
            m -= k;
            b = false;
        }
    }
    proof.reverse();
    Ok(proof)
}
