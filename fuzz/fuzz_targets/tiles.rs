//! The tlog-tiles parsers a mirror runs on fetched objects (FORMAT.md §13):
//! the first byte picks a tile width (1..=256); the rest is parsed as an
//! entry bundle, as a hash tile and (if UTF-8) as a tile path. Never panics
//! or allocates without bound; every parser is strict, so what it accepts
//! re-encodes to exactly the input; and a [`TileNodes`] over an accepted
//! hash tile answers node reads without panicking.
#![no_main]

use custody::core::merkle::{self, TreeSize};
use custody::core::tiles::*;
use libfuzzer_sys::fuzz_target;

struct One(TileId, Vec<u8>);

impl TileReader for &One {
    type Error = ();
    fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, ()> {
        Ok((id == self.0).then(|| self.1.clone()))
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else {
        return;
    };
    let width = u16::from(w) + 1;
    let bundle = TileId::new(TileKind::Entries, 0, width);
    if let Ok(entries) = parse_bundle(bundle, rest) {
        assert_eq!(entries.len(), usize::from(width));
        assert_eq!(encode_bundle(&entries).unwrap(), rest, "encode(parse(b)) == b");
    }
    let tile = TileId::new(TileKind::Hash(0), 0, width);
    if let Ok(hashes) = parse_hash_tile(tile, rest) {
        let again: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
        assert_eq!(again, rest);
        let one = One(tile, rest.to_vec());
        let nodes = TileNodes::new(&one, u64::from(width));
        let _ = merkle::root(&nodes, TreeSize(u64::from(width)));
        let _ = merkle::consistency_proof(&nodes, TreeSize(1), TreeSize(u64::from(width)));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(id) = TileId::parse_path(s) {
            assert_eq!(id.path(), s, "path(parse(p)) == p");
        }
        if let Some(n) = decode_index(s) {
            assert_eq!(encode_index(n), s);
        }
    }
});
