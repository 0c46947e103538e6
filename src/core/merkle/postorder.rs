//! Post-order positions of stored nodes: where node `(level, index)` sits in
//! a flat, append-only sequence of every stored node, in the order appends
//! create them (`docs/FORMAT.md` §7.2.2, `ledger/tree`; §9.4 for the nodes).
//!
//! Appending leaf `j` creates `(0, j)` and then one parent per trailing 1 bit
//! of `j`, in increasing level ([`append_nodes`](super::append_nodes)). Laying
//! the nodes out in that order gives every node a fixed position that depends
//! only on `(level, index)`, so the sequence can be appended to and read at
//! random without any other index:
//!
//! ```text
//! nodes(n)         = sum over l >= 0 of floor(n / 2^l) = 2n - popcount(n)
//! j                = (index + 1) * 2^level - 1     (the last leaf under the node)
//! position(l, i)   = nodes(j) + l
//! ```
//!
//! `nodes(j)` nodes exist before leaf `j` is appended, and `(l, i)` is the
//! `l`-th node that appending `j` creates. The sequence for a tree of size
//! `n` is exactly positions `0..nodes(n)`, so a store that holds `n` leaves
//! holds exactly `nodes(n)` entries.
//!
//! Pure arithmetic: no I/O.

/// The number of stored nodes of a tree of `size` leaves: `2·size −
/// popcount(size)` (`floor(size / 2^l)` at each level `l`). A `u128`, since
/// it exceeds `u64::MAX` for sizes above 2^63.
pub fn stored_nodes(size: u64) -> u128 {
    2 * u128::from(size) - u128::from(size.count_ones())
}

/// The post-order position of stored node `(level, index)`, or `None` if
/// no tree of at most `u64::MAX` leaves has that node (`level > 63`, or
/// `(index + 1)·2^level` does not fit in 64 bits).
///
/// Node `(level, index)` exists in a tree of size `n` iff
/// `(index + 1)·2^level <= n`, i.e. iff `position(level, index) <
/// stored_nodes(n)`.
pub fn node_position(level: u8, index: u64) -> Option<u128> {
    if level > 63 {
        return None;
    }
    // (index + 1)·2^level leaves are needed; a tree has at most u64::MAX.
    let end = (u128::from(index) + 1) << level;
    if end > u128::from(u64::MAX) {
        return None;
    }
    Some(stored_nodes((end - 1) as u64) + u128::from(level))
}

/// The nodes leaf `leaf` creates when appended, in post-order:
/// `(0, leaf)`, `(1, leaf >> 1)`, … up to level `trailing_ones(leaf)`.
pub fn created_by(leaf: u64) -> impl Iterator<Item = (u8, u64)> {
    (0..=leaf.trailing_ones() as u8).map(move |l| (l, leaf >> l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::Digest;
    use crate::core::merkle::{append_nodes, LeafIndex, MemoryTree};

    #[test]
    fn positions_are_the_creation_order() {
        let mut tree = MemoryTree::new();
        let mut pos = 0u128;
        for j in 0..1000u64 {
            let leaf = Digest::from_slice(&[j as u8; 32]).unwrap();
            let made = append_nodes(&tree, LeafIndex(j), leaf).unwrap();
            let expect: Vec<(u8, u64)> = created_by(j).collect();
            let got: Vec<(u8, u64)> = made.iter().map(|&(l, i, _)| (l, i)).collect();
            assert_eq!(got, expect, "leaf {j}");
            for (l, i, _) in made {
                assert_eq!(node_position(l, i), Some(pos), "node ({l}, {i})");
                pos += 1;
            }
            tree.push(leaf);
            assert_eq!(stored_nodes(j + 1), pos, "size {}", j + 1);
        }
    }

    #[test]
    fn existence_matches_position_bound() {
        for n in 0..200u64 {
            for l in 0..9u8 {
                for i in 0..200u64 {
                    let exists = (i + 1) << l <= n;
                    let below = node_position(l, i).unwrap() < stored_nodes(n);
                    assert_eq!(exists, below, "n {n} node ({l}, {i})");
                }
            }
        }
    }

    #[test]
    fn extremes() {
        assert_eq!(stored_nodes(0), 0);
        assert_eq!(stored_nodes(u64::MAX), 2 * u128::from(u64::MAX) - 64);
        assert_eq!(node_position(0, 0), Some(0));
        assert_eq!(node_position(64, 0), None);
        assert_eq!(node_position(0, u64::MAX), None);
        assert_eq!(node_position(63, 1), None);
        // The last node of the largest tree: leaf 2^64 - 2 at level 0.
        assert_eq!(
            node_position(0, u64::MAX - 1),
            Some(stored_nodes(u64::MAX - 1))
        );
        assert_eq!(node_position(63, 0), Some(stored_nodes((1 << 63) - 1) + 63));
    }
}
