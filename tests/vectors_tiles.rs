//! Known-answer tests of `core::tiles` against `tests/data/tlog_tiles.json`
//! (C2SP tlog-tiles: path encoding, the tiles of a tree size, and the bytes
//! of a small log's tile and entry bundle).

use std::collections::HashMap;

use serde_json::Value;

use custody::core::merkle::{self, MemoryTree, TreeSize};
use custody::core::tiles::*;

fn load() -> Value {
    let path = format!("{}/tests/data/tlog_tiles.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn index_encoding() {
    let v = load();
    let cases = v["index_encoding_cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for c in cases {
        let n = c["n"].as_u64().unwrap();
        let want = c["expect"].as_str().unwrap();
        assert_eq!(encode_index(n), want, "{n}");
        assert_eq!(decode_index(want), Some(n), "{want}");
    }
}

/// The older Go sumdb layout puts the tile height in the path; the C2SP
/// parser must not take such a path for one of its own.
#[test]
fn go_sumdb_paths_are_not_c2sp_paths() {
    let v = load();
    for c in v["go_sumdb_variant_paths"]["cases"].as_array().unwrap() {
        let p = c["expect"].as_str().unwrap();
        assert!(TileId::parse_path(p).is_err(), "{p}");
    }
}

#[test]
fn tiles_of_a_tree_size() {
    let v = load();
    for c in v["tree_size_cases"].as_array().unwrap() {
        let size = c["tree_size"].as_u64().unwrap();
        let lv = levels(size);
        let all = new_tiles(0, size);
        let paths: Vec<String> = all.iter().map(TileId::path).collect();
        for t in c["expect_tiles"].as_array().unwrap() {
            let level = t["level"].as_u64().unwrap() as u8;
            let l = lv.iter().find(|l| l.kind == TileKind::Hash(level)).unwrap();
            if let Some(full) = t["full_tiles"].as_u64() {
                assert_eq!(l.full, full, "size {size} level {level}");
                for k in ["first_path", "last_full_path"] {
                    let p = t[k].as_str().unwrap();
                    assert!(paths.iter().any(|q| q == p), "{p} missing for {size}");
                }
            }
            if let Some(p) = t["partial_path"].as_str() {
                assert_eq!(u64::from(l.partial), t["width"].as_u64().unwrap());
                assert!(paths.iter().any(|q| q == p), "{p} missing for {size}");
                let id = TileId::parse_path(p).unwrap();
                assert_eq!(id.path(), p);
            }
        }
        // No level beyond those listed.
        let listed: std::collections::BTreeSet<u64> = c["expect_tiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["level"].as_u64().unwrap())
            .collect();
        assert_eq!(lv.len(), listed.len(), "size {size}");
        let b = bundles(size);
        let eb = &c["expect_entry_bundles"];
        assert_eq!(b.full, eb["full"].as_u64().unwrap());
        match eb["partial_path"].as_str() {
            None => assert_eq!(b.partial, 0),
            Some(p) => assert!(paths.iter().any(|q| q == p), "{p}"),
        }
        // Every tile is counted once.
        let want = lv
            .iter()
            .map(|l| l.full + u64::from(l.partial > 0))
            .sum::<u64>()
            + b.full
            + u64::from(b.partial > 0);
        assert_eq!(all.len() as u64, want);
    }
}

struct Files(HashMap<TileId, Vec<u8>>);

impl TileReader for &Files {
    type Error = std::convert::Infallible;
    fn read_tile(&self, id: TileId) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.0.get(&id).cloned())
    }
}

#[test]
fn derived_small_log_bytes_and_root() {
    let v = load();
    let d = &v["derived_small_log"];
    let size = d["tree_size"].as_u64().unwrap();
    let files: HashMap<String, Vec<u8>> = d["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), hex::decode(v.as_str().unwrap()).unwrap()))
        .collect();
    let root = d["expect_root_hex"].as_str().unwrap();
    // Exactly the files the size implies.
    let mut want: Vec<String> = new_tiles(0, size).iter().map(TileId::path).collect();
    want.sort();
    let mut have: Vec<String> = files.keys().cloned().collect();
    have.sort();
    assert_eq!(want, have);

    let bid = TileId::parse_path("tile/entries/000.p/8").unwrap();
    let entries = parse_bundle(bid, &files["tile/entries/000.p/8"]).unwrap();
    assert_eq!(
        encode_bundle(&entries).unwrap(),
        files["tile/entries/000.p/8"]
    );
    let mut tree = MemoryTree::new();
    for e in &entries {
        tree.push_data(e);
    }
    let tid = TileId::parse_path("tile/0/000.p/8").unwrap();
    assert_eq!(
        build_hash_tile(&tree, tid).unwrap(),
        files["tile/0/000.p/8"]
    );
    let hashes = parse_hash_tile(tid, &files["tile/0/000.p/8"]).unwrap();
    check_entries(bid, &entries, &hashes).unwrap();

    let by_id = Files(
        files
            .iter()
            .map(|(k, v)| (TileId::parse_path(k).unwrap(), v.clone()))
            .collect(),
    );
    let nodes = TileNodes::new(&by_id, size);
    assert_eq!(
        merkle::root(&nodes, TreeSize(size)).unwrap().to_string(),
        root
    );
    assert_eq!(tree.root().to_string(), root);

    // One flipped byte in the bundle or the tile is caught.
    let mut bad = files["tile/entries/000.p/8"].clone();
    *bad.last_mut().unwrap() ^= 1;
    let bad_entries = parse_bundle(bid, &bad).unwrap();
    assert!(matches!(
        check_entries(bid, &bad_entries, &hashes),
        Err(TileError::HashMismatch { i: 7, .. })
    ));
    let mut bad_tile = files["tile/0/000.p/8"].clone();
    bad_tile[0] ^= 1;
    assert_eq!(
        parse_hash_tile(tid, &bad_tile[..bad_tile.len() - 1]),
        Err(TileError::TileLength {
            path: tid.path(),
            got: 255,
            want: 256
        })
    );
    let mut f2 = by_id.0.clone();
    f2.insert(tid, bad_tile);
    let f2 = Files(f2);
    let nodes = TileNodes::new(&f2, size);
    assert_ne!(
        merkle::root(&nodes, TreeSize(size)).unwrap().to_string(),
        root
    );
}
