//! Index arithmetic on the RFC 9162 tree shape: the split point `k`, the
//! decomposition of a leaf range into stored perfect subtrees, and the exact
//! length of every proof. No hashing happens here.

use super::types::{LeafIndex, TreeSize};

/// The largest power of two strictly smaller than `n`, the split point `k`
/// of RFC 9162 §2.1.1 (`k < n <= 2k`). Requires `n >= 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// True iff `[start, end)` is a subtree: non-empty, and `start` is a multiple
/// of the smallest power of two that is at least `end - start`.
///
/// These are exactly the ranges the RFC 9162 recursion (MTH, PATH, SUBPROOF)
/// ever hashes when it starts from a whole tree `[0, n)`, and exactly the
/// ranges whose MTH can be assembled from stored perfect subtrees alone.
pub(crate) fn is_subtree(start: u64, end: u64) -> bool {
    if start >= end {
        return false;
    }
    match (end - start).checked_next_power_of_two() {
        Some(p) => start.is_multiple_of(p),
        // The length exceeds 2^63, so the alignment is 2^64: only 0 fits.
        None => start == 0,
    }
}

/// The perfect subtrees `(level, index)` that make up the subtree
/// `[start, end)`, from left to right (largest first).
///
/// One piece per set bit of `end - start`. Folding their hashes right to left
/// with the node hash gives MTH of the range, because the RFC split point of
/// a range whose length is not a power of two is always its largest piece.
/// Requires [`is_subtree`]`(start, end)`.
pub(crate) fn perfect_pieces(start: u64, end: u64) -> impl Iterator<Item = (u8, u64)> {
    let len = end.wrapping_sub(start);
    let mut pos = start;
    (0..64u8).rev().filter_map(move |level| {
        if len >> level & 1 == 1 {
            let piece = (level, pos >> level);
            pos = pos.wrapping_add(1u64 << level);
            Some(piece)
        } else {
            None
        }
    })
}

/// The exact number of hashes in the inclusion proof of leaf `index` in a
/// tree of `size` leaves (RFC 9162 §2.1.3.1), or `None` if `index >= size`.
///
/// It is the number of iterations the RFC 9162 §2.1.3.2 loop runs before
/// `sn` reaches 0: a shorter proof fails its final check and a longer one
/// its in-loop check. Useful to bound a decoder before reading a proof.
pub fn inclusion_proof_len(index: LeafIndex, size: TreeSize) -> Option<usize> {
    let (index, size) = (index.get(), size.get());
    if index >= size {
        return None;
    }
    // Levels where the leaf's path and the right edge differ: one sibling
    // each (a perfect subtree, or a right-edge subtree at the first
    // difference). Above that, the path runs along the right edge and needs
    // a left sibling for each 1 bit left in the index.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    Some((inner + border) as usize)
}

/// The exact number of hashes in the consistency proof from `old` to `new`
/// leaves (RFC 9162 §2.1.4.1), or `None` if `old > new`.
///
/// It is 0 when `old == 0` or `old == new` (this module's policy: such
/// proofs must be empty). Otherwise it is the length that the RFC 9162
/// §2.1.4.2 loop accepts.
pub fn consistency_proof_len(old: TreeSize, new: TreeSize) -> Option<usize> {
    let (old, new) = (old.get(), new.get());
    if old > new {
        return None;
    }
    if old == 0 || old == new {
        return Some(0);
    }
    // Steps 3-4 of §2.1.4.2 shift fn = old - 1 and sn = new - 1 right by the
    // trailing ones of fn (= trailing zeros of old). The loop that follows
    // has the same control flow as the inclusion loop, plus the first
    // element; a power-of-two `old` gets its first element (the old root)
    // prepended by the verifier instead of the prover.
    let shift = old.trailing_zeros();
    let fn_ = (old - 1) >> shift;
    let sn = (new - 1) >> shift;
    let rest = inclusion_proof_len(LeafIndex(fn_), TreeSize(sn + 1))?;
    let prepended = usize::from(old.is_power_of_two());
    Some(1 + rest - prepended)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs only the control flow of the RFC 9162 §2.1.3.2 loop and counts
    /// the iterations until `sn` reaches 0.
    fn rfc_loop_len(index: u64, size: u64) -> usize {
        let (mut fn_, mut sn) = (index, size - 1);
        let mut n = 0;
        while sn != 0 {
            if fn_ & 1 == 1 || fn_ == sn {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
            fn_ >>= 1;
            sn >>= 1;
            n += 1;
        }
        n
    }

    #[test]
    fn split_points() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn subtrees_and_pieces() {
        assert!(is_subtree(0, 7));
        assert!(is_subtree(4, 7));
        assert!(is_subtree(8, 13));
        assert!(!is_subtree(2, 7));
        assert!(!is_subtree(4, 4));
        assert!(!is_subtree(5, 4));
        assert!(is_subtree(0, u64::MAX));
        assert!(!is_subtree(1, u64::MAX));
        let p: Vec<_> = perfect_pieces(8, 15).collect();
        assert_eq!(p, vec![(2, 2), (1, 6), (0, 14)]);
        let p: Vec<_> = perfect_pieces(0, 1).collect();
        assert_eq!(p, vec![(0, 0)]);
        let p: Vec<_> = perfect_pieces(0, u64::MAX).collect();
        assert_eq!(p.len(), 64);
        assert_eq!(p[0], (63, 0));
        assert_eq!(p[63], (0, u64::MAX - 1));
    }

    #[test]
    fn inclusion_len_matches_rfc_loop() {
        for size in 1..=130u64 {
            for index in 0..size {
                assert_eq!(
                    inclusion_proof_len(LeafIndex(index), TreeSize(size)),
                    Some(rfc_loop_len(index, size)),
                    "index {index} size {size}"
                );
            }
            assert_eq!(inclusion_proof_len(LeafIndex(size), TreeSize(size)), None);
        }
        assert_eq!(
            inclusion_proof_len(LeafIndex(0), TreeSize(u64::MAX)),
            Some(64)
        );
    }

    #[test]
    fn rfc_worked_example_lengths() {
        // RFC 9162 §2.1.5: 7 leaves.
        let s = TreeSize(7);
        assert_eq!(inclusion_proof_len(LeafIndex(0), s), Some(3));
        assert_eq!(inclusion_proof_len(LeafIndex(3), s), Some(3));
        assert_eq!(inclusion_proof_len(LeafIndex(4), s), Some(3));
        assert_eq!(inclusion_proof_len(LeafIndex(6), s), Some(2));
        assert_eq!(consistency_proof_len(TreeSize(3), s), Some(4));
        assert_eq!(consistency_proof_len(TreeSize(4), s), Some(1));
        assert_eq!(consistency_proof_len(TreeSize(6), s), Some(3));
        assert_eq!(consistency_proof_len(TreeSize(0), s), Some(0));
        assert_eq!(consistency_proof_len(s, s), Some(0));
        assert_eq!(consistency_proof_len(TreeSize(8), s), None);
    }
}
