//! The C2SP tlog-tiles layout of a log (FORMAT.md §13; tlog-tiles v0.1.0):
//! tile paths, which tiles a tree size has, hash tiles built from the tree's
//! nodes, entry bundles, a [`NodeSource`] over tiles (roots and proofs from
//! published tiles), and the checks a mirror makes on fetched tiles.
//!
//! Pure code: the caller reads and writes the files.
//!
//! A tile at level `L`, index `N` holds the hashes `node(8·L, 256·N + i)`
//! (FORMAT.md §9.4) for `i` below its width: the roots of the perfect
//! subtrees of `256^L` leaves. A tree of size `s` has `floor(s / 256^L)` such
//! hashes at level `L`: `floor(/256)` full tiles of 256, then one partial
//! tile of the remainder (if not zero). Entry bundles hold the leaves' data
//! (a ledger record, FORMAT.md §4) in the same groups of 256 as level 0.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::core::hash::Digest;
use crate::core::merkle::{leaf_hash, node_hash, NodeSource, TreeError};

/// Hashes per full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;
/// Tile height: each tile level spans 8 Merkle levels.
pub const TILE_HEIGHT: u8 = 8;
/// Bytes of one hash in a tile.
pub const HASH_LEN: usize = 32;
/// Bytes of a full hash tile.
pub const FULL_TILE_BYTES: usize = HASH_LEN * TILE_WIDTH as usize;
/// Largest entry a bundle can hold (its length is a big-endian u16).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;
/// Largest entry bundle: 256 entries of the largest size.
pub const MAX_BUNDLE_BYTES: usize = TILE_WIDTH as usize * (2 + MAX_ENTRY_LEN);
/// Highest tile level (level 63 would need 2^504 leaves; 8 levels cover u64).
pub const MAX_LEVEL: u8 = 63;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hashes of Merkle level `8·L`.
    Hash(u8),
    /// An entry bundle (the leaves' data, level 0).
    Entries,
}

/// One tile: kind, index `N`, width `W` (1..=256; 256 is a full tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub kind: TileKind,
    pub index: u64,
    pub width: u16,
}

/// Why tile bytes or a tile path were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    #[error("not a tile path: {0}")]
    BadPath(String),
    #[error("hash tile {path} is {got} bytes, not {want}")]
    TileLength {
        path: String,
        got: usize,
        want: usize,
    },
    #[error("entry bundle {path}: {why}")]
    Bundle { path: String, why: String },
    #[error("an entry of {0} bytes does not fit an entry bundle (at most 65,535)")]
    EntryTooLong(usize),
    #[error("hash {i} of tile {path} is not the hash of {below}")]
    HashMismatch { path: String, i: u64, below: String },
    #[error("the tile {0} is needed but was not supplied")]
    Missing(String),
}

impl TileId {
    /// A full or partial tile at `index` with `width` in 1..=256.
    pub fn new(kind: TileKind, index: u64, width: u16) -> TileId {
        debug_assert!((1..=TILE_WIDTH as u16).contains(&width));
        TileId { kind, index, width }
    }

    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The path of the tile below the location's root (tlog-tiles):
    /// `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let head = match self.kind {
            TileKind::Hash(l) => format!("tile/{l}/"),
            TileKind::Entries => "tile/entries/".to_string(),
        };
        let mut p = head + &encode_index(self.index);
        if !self.is_full() {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Parses a path written by [`TileId::path`]; strict (the one canonical
    /// spelling of each tile, no `.p/256`, no leading zeros beyond the groups).
    pub fn parse_path(p: &str) -> Result<TileId, TileError> {
        let bad = || TileError::BadPath(p.chars().take(200).collect());
        let rest = p.strip_prefix("tile/").ok_or_else(bad)?;
        let (kind, rest) = if let Some(r) = rest.strip_prefix("entries/") {
            (TileKind::Entries, r)
        } else {
            let (l, r) = rest.split_once('/').ok_or_else(bad)?;
            let level: u8 = canonical_decimal(l)
                .filter(|v| *v <= u64::from(MAX_LEVEL))
                .ok_or_else(bad)? as u8;
            (TileKind::Hash(level), r)
        };
        let (n, width) = match rest.split_once(".p/") {
            None => (rest, TILE_WIDTH as u16),
            Some((n, w)) => {
                let w = canonical_decimal(w)
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or_else(bad)?;
                (n, w as u16)
            }
        };
        let index = decode_index(n).ok_or_else(bad)?;
        Ok(TileId { kind, index, width })
    }

    /// Hashes (or entries) before this tile at its level.
    pub fn first(&self) -> u64 {
        self.index * TILE_WIDTH
    }
}

fn canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

/// A tile index in tlog-tiles path form: 3-digit groups, all but the last
/// prefixed with `x` (1234067 → `x001/x234/067`).
pub fn encode_index(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// Inverse of [`encode_index`]; `None` for any other spelling.
pub fn decode_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() > 7 {
        return None;
    }
    let mut n: u64 = 0;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let digits = if last { *part } else { part.strip_prefix('x')? };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let d: u64 = digits.parse().ok()?;
        n = n.checked_mul(1000)?.checked_add(d)?;
    }
    // A leading group of 000 is not canonical (except for the single "000").
    if parts.len() > 1 && parts[0] == "x000" {
        return None;
    }
    Some(n)
}

/// Hashes at tile level `level` in a tree of `size` leaves: `floor(size / 256^level)`.
pub fn hashes_at(size: u64, level: u8) -> u64 {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    if shift >= 64 {
        0
    } else {
        size >> shift
    }
}

/// The tile of `kind` at `index` as a tree of `size` leaves has it: full,
/// partial, or `None` if the tree has no such tile.
pub fn tile_at(size: u64, kind: TileKind, index: u64) -> Option<TileId> {
    let n = match kind {
        TileKind::Hash(l) => hashes_at(size, l),
        TileKind::Entries => size,
    };
    let first = index.checked_mul(TILE_WIDTH)?;
    if first >= n {
        return None;
    }
    let w = (n - first).min(TILE_WIDTH) as u16;
    Some(TileId::new(kind, index, w))
}

/// One level's tiles for a size: `full` full tiles, then a partial one of
/// `partial` hashes if not zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelTiles {
    pub kind: TileKind,
    pub full: u64,
    pub partial: u16,
}

/// Every level of hash tiles a tree of `size` leaves has, lowest first
/// (tlog-tiles: level `L` exists while `floor(size / 256^L) > 0`).
pub fn levels(size: u64) -> Vec<LevelTiles> {
    let mut out = Vec::new();
    let mut l = 0u8;
    loop {
        let n = hashes_at(size, l);
        if n == 0 {
            break;
        }
        out.push(LevelTiles {
            kind: TileKind::Hash(l),
            full: n / TILE_WIDTH,
            partial: (n % TILE_WIDTH) as u16,
        });
        l += 1;
    }
    out
}

/// The entry bundles of a tree of `size` leaves.
pub fn bundles(size: u64) -> LevelTiles {
    LevelTiles {
        kind: TileKind::Entries,
        full: size / TILE_WIDTH,
        partial: (size % TILE_WIDTH) as u16,
    }
}

/// The tiles (hash tiles of every level, then entry bundles) that a tree of
/// `size` has and a tree of `old` (≤ `size`) does not: new full tiles, and
/// partial tiles of a new width. Publishing from `old` to `size` writes
/// exactly these.
pub fn new_tiles(old: u64, size: u64) -> Vec<TileId> {
    new_tiles_iter(old, size).collect()
}

/// [`new_tiles`] lazily, level by level, in increasing index (memory does
/// not grow with the size, whatever a checkpoint claims).
pub fn new_tiles_iter(old: u64, size: u64) -> impl Iterator<Item = TileId> {
    let old = old.min(size);
    let mut lv = levels(size);
    lv.push(bundles(size));
    lv.into_iter().flat_map(move |l| {
        let held = match l.kind {
            TileKind::Hash(level) => hashes_at(old, level),
            TileKind::Entries => old,
        };
        // Tiles fully covered at `old` are unchanged; start at the first
        // tile `old` left partial or did not have.
        let total = l.full + u64::from(l.partial > 0);
        (held / TILE_WIDTH..total).filter_map(move |index| {
            let t = tile_at(size, l.kind, index)?;
            (tile_at(old, l.kind, index) != Some(t)).then_some(t)
        })
    })
}

/// The partial tiles of a tree of `size` leaves (the last tile of each
/// level and the last bundle, when not full).
pub fn partial_tiles(size: u64) -> Vec<TileId> {
    let mut lv = levels(size);
    lv.push(bundles(size));
    lv.into_iter()
        .filter(|l| l.partial > 0)
        .map(|l| TileId::new(l.kind, l.full, l.partial))
        .collect()
}

/// Is `id` one of [`new_tiles`]`(old, size)`?
pub fn is_new_tile(old: u64, size: u64, id: TileId) -> bool {
    tile_at(size, id.kind, id.index) == Some(id)
        && tile_at(old.min(size), id.kind, id.index) != Some(id)
}

/// Builds hash tile `id` (FORMAT.md §13.2): its `width` hashes
/// `node(8·L, 256·N + i)`, 32 bytes each, concatenated.
pub fn build_hash_tile<S: NodeSource + ?Sized>(
    src: &S,
    id: TileId,
) -> Result<Vec<u8>, TreeError<S::Error>> {
    let TileKind::Hash(l) = id.kind else {
        return Ok(Vec::new());
    };
    let level = l * TILE_HEIGHT;
    let mut out = Vec::with_capacity(HASH_LEN * usize::from(id.width));
    for i in 0..u64::from(id.width) {
        let h = src.node(level, id.first() + i).map_err(TreeError::Source)?;
        out.extend_from_slice(&h.0);
    }
    Ok(out)
}

/// An entry bundle (FORMAT.md §13.3): each entry as a big-endian u16 length
/// and its bytes.
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::new();
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLong(e.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Splits an entry bundle into exactly `id.width` entries; strict: an entry
/// cut short, fewer or more entries, or trailing bytes are refused.
pub fn parse_bundle(id: TileId, bytes: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let bad = |why: String| TileError::Bundle {
        path: id.path(),
        why,
    };
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(bad(format!("{} bytes is too large", bytes.len())));
    }
    let mut rest = bytes;
    let mut out = Vec::with_capacity(usize::from(id.width));
    while !rest.is_empty() {
        if out.len() == usize::from(id.width) {
            return Err(bad(format!(
                "{} bytes follow its {} entries",
                rest.len(),
                id.width
            )));
        }
        if rest.len() < 2 {
            return Err(bad(format!("entry {} has a cut length", out.len())));
        }
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        if rest.len() < n {
            return Err(bad(format!(
                "entry {} says {n} bytes but {} remain",
                out.len(),
                rest.len()
            )));
        }
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    if out.len() != usize::from(id.width) {
        return Err(bad(format!(
            "it holds {} entries, not {}",
            out.len(),
            id.width
        )));
    }
    Ok(out)
}

/// Splits a hash tile into its hashes; its length must be exactly `32·width`.
pub fn parse_hash_tile(id: TileId, bytes: &[u8]) -> Result<Vec<Digest>, TileError> {
    let want = HASH_LEN * usize::from(id.width);
    if bytes.len() != want {
        return Err(TileError::TileLength {
            path: id.path(),
            got: bytes.len(),
            want,
        });
    }
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .map(|c| Digest::from_slice(c).expect("32 bytes"))
        .collect())
}

/// The root of `hashes.len()` (a power of two) consecutive hashes of one
/// level, hashed pairwise up (the perfect subtree they are the leaves of).
pub fn fold_perfect(hashes: &[Digest]) -> Digest {
    debug_assert!(hashes.len().is_power_of_two());
    let mut cur: Vec<Digest> = hashes.to_vec();
    while cur.len() > 1 {
        cur = cur
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    cur[0]
}

/// Checks that each entry's leaf hash is the matching level-0 hash.
/// `entries` and `level0` are the same bundle index's entries and tile.
pub fn check_entries(id: TileId, entries: &[&[u8]], level0: &[Digest]) -> Result<(), TileError> {
    if entries.len() != level0.len() {
        return Err(TileError::Missing(id.path()));
    }
    for (i, (e, h)) in entries.iter().zip(level0).enumerate() {
        if leaf_hash(e) != *h {
            return Err(TileError::HashMismatch {
                path: TileId::new(TileKind::Hash(0), id.index, id.width).path(),
                i: i as u64,
                below: format!("entry {} of {}", i, id.path()),
            });
        }
    }
    Ok(())
}

/// Checks hash `i` of tile `id` (level ≥ 1) against the full tile below it
/// (`below`, level `L-1`, index `256·N + i`): it must be the root of those
/// 256 hashes.
pub fn check_hash_against_below(
    id: TileId,
    i: u64,
    hash: &Digest,
    below: &[Digest],
) -> Result<(), TileError> {
    let TileKind::Hash(l) = id.kind else {
        return Ok(());
    };
    let below_id = TileId::new(TileKind::Hash(l.saturating_sub(1)), id.first() + i, 256);
    if below.len() != TILE_WIDTH as usize || fold_perfect(below) != *hash {
        return Err(TileError::HashMismatch {
            path: id.path(),
            i,
            below: below_id.path(),
        });
    }
    Ok(())
}

/// Where a [`TileNodes`] gets a tile's bytes.
pub trait TileReader {
    type Error;
    /// The bytes of tile `id`, or `None` if it is not there.
    fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// Why a node could not be read from tiles.
#[derive(Debug, thiserror::Error)]
pub enum TileNodeError<E> {
    #[error(transparent)]
    Read(E),
    #[error(transparent)]
    Tile(TileError),
    #[error("node (level {level}, index {index}) is not in a tree of {size} leaves")]
    Beyond { level: u8, index: u64, size: u64 },
}

/// The Merkle nodes of a tree of `size` leaves, read from its tiles (the
/// tlog-tiles proof arithmetic): node `(h, k)` is in the tile of level
/// `T = h / 8` at offset `k·2^r` (`r = h mod 8`), the root of `2^r`
/// consecutive level-`T` hashes. Tiles are read once and kept.
pub struct TileNodes<R: TileReader> {
    reader: R,
    size: u64,
    cache: RefCell<HashMap<TileId, Vec<Digest>>>,
}

impl<R: TileReader> TileNodes<R> {
    pub fn new(reader: R, size: u64) -> Self {
        TileNodes {
            reader,
            size,
            cache: RefCell::new(HashMap::new()),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hashes of tile `id` (as the tree of `size` has it), read once.
    pub fn hashes(&self, id: TileId) -> Result<Vec<Digest>, TileNodeError<R::Error>> {
        if let Some(h) = self.cache.borrow().get(&id) {
            return Ok(h.clone());
        }
        let bytes = self
            .reader
            .read_tile(id)
            .map_err(TileNodeError::Read)?
            .ok_or_else(|| TileNodeError::Tile(TileError::Missing(id.path())))?;
        let h = parse_hash_tile(id, &bytes).map_err(TileNodeError::Tile)?;
        let mut c = self.cache.borrow_mut();
        if c.len() > 4096 {
            c.clear();
        }
        c.insert(id, h.clone());
        Ok(h)
    }
}

impl<R: TileReader> NodeSource for TileNodes<R> {
    type Error = TileNodeError<R::Error>;

    fn node(&self, level: u8, index: u64) -> Result<Digest, Self::Error> {
        let beyond = || TileNodeError::Beyond {
            level,
            index,
            size: self.size,
        };
        let t = level / TILE_HEIGHT;
        let r = level % TILE_HEIGHT;
        let span = 1u64 << r;
        let j = index.checked_mul(span).ok_or_else(beyond)?;
        let id = tile_at(self.size, TileKind::Hash(t), j / TILE_WIDTH).ok_or_else(beyond)?;
        let off = j % TILE_WIDTH;
        if off + span > u64::from(id.width) {
            return Err(beyond());
        }
        let h = self.hashes(id)?;
        Ok(fold_perfect(&h[off as usize..(off + span) as usize]))
    }

    fn stored_leaves(&self) -> Result<Option<u64>, Self::Error> {
        Ok(Some(self.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::merkle::{self, MemoryTree, TreeSize};

    #[test]
    fn index_encoding_round_trips() {
        for n in [0u64, 7, 999, 1000, 1001, 273, 1234067, u64::MAX] {
            let s = encode_index(n);
            assert_eq!(decode_index(&s), Some(n), "{s}");
        }
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
        for bad in [
            "",
            "1",
            "01",
            "0000",
            "x000/001",
            "x01/000",
            "001/002",
            "x1000/000",
            "abc",
        ] {
            assert_eq!(decode_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_round_trip_and_are_strict() {
        for t in [
            TileId::new(TileKind::Hash(0), 0, 256),
            TileId::new(TileKind::Hash(2), 1234067, 17),
            TileId::new(TileKind::Entries, 273, 112),
        ] {
            assert_eq!(TileId::parse_path(&t.path()), Ok(t));
        }
        for bad in [
            "tile/0/000.p/256",
            "tile/0/000.p/0",
            "tile/0/000.p/012",
            "tile/64/000",
            "tile/01/000",
            "tile/entries/x000/001",
            "tiles/0/000",
            "tile/0/000/",
        ] {
            assert!(TileId::parse_path(bad).is_err(), "{bad}");
        }
    }

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push_data(&i.to_be_bytes());
        }
        t
    }

    struct Files(HashMap<TileId, Vec<u8>>);
    impl TileReader for &Files {
        type Error = std::convert::Infallible;
        fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, Self::Error> {
            Ok(self.0.get(&id).cloned())
        }
    }

    fn publish(t: &MemoryTree, size: u64) -> Files {
        let mut f = HashMap::new();
        for id in new_tiles(0, size) {
            if let TileKind::Hash(_) = id.kind {
                f.insert(id, build_hash_tile(t, id).unwrap());
            }
        }
        Files(f)
    }

    #[test]
    fn roots_and_proofs_from_tiles_match_the_tree() {
        for size in [1u64, 2, 255, 256, 257, 511, 512, 65535, 65536, 65537, 70000] {
            let t = tree(size);
            let files = publish(&t, size);
            let nodes = TileNodes::new(&files, size);
            assert_eq!(
                merkle::root(&nodes, TreeSize(size)).unwrap(),
                t.root(),
                "{size}"
            );
            for old in [1, size / 3, size - 1] {
                if old == 0 {
                    continue;
                }
                let p = merkle::consistency_proof(&nodes, TreeSize(old), TreeSize(size)).unwrap();
                let q = t.consistency_proof(TreeSize(old), TreeSize(size)).unwrap();
                assert_eq!(p, q);
            }
        }
    }

    #[test]
    fn new_tiles_are_the_difference() {
        assert_eq!(new_tiles(70000, 70000), vec![]);
        let all = new_tiles(0, 70000);
        assert_eq!(all.len(), 273 + 1 + 1 + 1 + 1 + 273 + 1);
        let inc = new_tiles(70000, 70001);
        let paths: Vec<String> = inc.iter().map(TileId::path).collect();
        assert_eq!(paths, ["tile/0/273.p/113", "tile/entries/273.p/113"]);
        let inc = new_tiles(65535, 65536);
        let paths: Vec<String> = inc.iter().map(TileId::path).collect();
        assert_eq!(
            paths,
            [
                "tile/0/255",
                "tile/1/000",
                "tile/2/000.p/1",
                "tile/entries/255"
            ]
        );
    }

    #[test]
    fn bundles_round_trip_and_are_strict() {
        let id = TileId::new(TileKind::Entries, 0, 3);
        let e: Vec<&[u8]> = vec![b"", b"a", &[7u8; 300]];
        let b = encode_bundle(&e).unwrap();
        assert_eq!(parse_bundle(id, &b).unwrap(), e);
        let mut longer = b.clone();
        longer.push(0);
        assert!(parse_bundle(id, &longer).is_err());
        assert!(parse_bundle(id, &b[..b.len() - 1]).is_err());
        assert!(parse_bundle(TileId::new(TileKind::Entries, 0, 4), &b).is_err());
        assert!(parse_bundle(TileId::new(TileKind::Entries, 0, 2), &b).is_err());
        assert_eq!(
            encode_bundle(&[vec![0u8; 65536]]),
            Err(TileError::EntryTooLong(65536))
        );
    }

    #[test]
    fn a_tile_hash_is_checked_against_the_tile_below() {
        let t = tree(65536);
        let files = publish(&t, 65536);
        let nodes = TileNodes::new(&files, 65536);
        let up = TileId::new(TileKind::Hash(1), 0, 256);
        let l1 = nodes.hashes(up).unwrap();
        let below = nodes
            .hashes(TileId::new(TileKind::Hash(0), 5, 256))
            .unwrap();
        check_hash_against_below(up, 5, &l1[5], &below).unwrap();
        assert!(matches!(
            check_hash_against_below(up, 6, &l1[6], &below),
            Err(TileError::HashMismatch { i: 6, .. })
        ));
    }
}
