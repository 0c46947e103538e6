//! Issue 14, item 1: the deduplication key is an archive secret of its own,
//! sealed in each configuration record to that configuration's recipients
//! (FORMAT.md §7.3, §4.16, §5.4), not derived from the log key. A holder of
//! an identity deduplicates (and could test a plaintext anyway); a writer
//! without one stores the content again and keeps no entry; a holder of the
//! log key computes a key that matches no entry.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use custody::core::crypto::{decrypt_bytes, Identities};
use custody::core::hash::Digest;
use custody::core::keys::SignerKey;
use custody::core::sealed::Details;
use hmac::{KeyInit, Mac};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// The tags of `ledger/dedup` (FORMAT.md §7.3.1: index, tag, blob; 72 bytes each).
fn tags(f: &Fixture) -> Vec<[u8; 32]> {
    let data = fs::read(f.dir.join("ledger/dedup")).unwrap_or_default();
    assert_eq!(data.len() % 72, 0);
    data.chunks(72)
        .map(|e| e[8..40].try_into().unwrap())
        .collect()
}

/// The deduplication secret the `config` record at `index` seals, opened
/// with the fixture's identity the way FORMAT.md §5.4 says.
fn sealed_secret(f: &Fixture, index: u64) -> [u8; 32] {
    let rec = f.show(&index.to_string());
    assert_eq!(rec["kind"], "config", "{rec}");
    let digest = rec["sealed"]["digest"].as_str().unwrap();
    let data = fs::read(f.blob_path(digest)).unwrap();
    assert_eq!(Digest::of(&data).to_hex(), digest);
    let ids = Identities::parse(&fs::read(f.identity()).unwrap()).unwrap();
    let plain = decrypt_bytes(&ids, &data, 1 << 16).unwrap();
    *Details::parse(&plain).unwrap().dedup_secret().unwrap()
}

/// FORMAT.md §7.3: the key archives without a sealed secret use.
fn log_key_dedup_key(f: &Fixture) -> [u8; 32] {
    let log = SignerKey::parse(fs::read_to_string(f.signing_key()).unwrap().trim()).unwrap();
    Digest::of(&log.sign(b"custody/v1/dedup-key\n")).0
}

fn write(f: &Fixture, name: &str, body: &[u8]) -> std::path::PathBuf {
    let p = f.path().join(name);
    fs::write(&p, body).unwrap();
    p
}

#[test]
fn the_secret_is_sealed_to_the_recipients_and_the_log_key_cannot_compute_it() {
    let f = Fixture::new();
    let body = b"the same memo, twice\n";
    let doc = write(&f, "memo.txt", body);
    let first = f.ingest_json(&[s(&doc)]);
    // --again: the same path and content are recorded a second time (without
    // it nothing would be, FORMAT.md §7.3), and the content is not stored twice.
    let again = f.ingest_json(&["--again", s(&doc)]);
    assert_eq!(first[0]["deduplicated"], false, "{first:?}");
    assert_eq!(again[0]["deduplicated"], true, "{again:?}");
    let sha = Digest::of(body);
    let secret = sealed_secret(&f, 1);
    let tags = tags(&f);
    // The content's tag, then the path tag of each ingest (FORMAT.md §7.3).
    let mut path = b"custody/v1/dedup-path\n".to_vec();
    path.extend_from_slice(&(b"memo.txt".len() as u32).to_be_bytes());
    path.extend_from_slice(b"memo.txt");
    path.extend_from_slice(sha.as_bytes());
    let ptag = hmac(&secret, &path);
    assert_eq!(tags, vec![hmac(&secret, sha.as_bytes()), ptag, ptag]);
    // The log key's holder computes the old derivation: it matches nothing.
    let legacy = hmac(&log_key_dedup_key(&f), sha.as_bytes());
    assert!(!tags.contains(&legacy));
    assert_ne!(secret, log_key_dedup_key(&f));
    // Nor is the tag anywhere else in the archive's files.
    let db = fs::read(f.dir.join("db/db")).unwrap_or_default();
    assert!(!db.windows(32).any(|w| w == legacy));
    f.assert_verified();
    let (code, v) = f.verify(&["--deep", "-i", s(&f.identity())]);
    assert_eq!(code, OK, "{v}");
}

#[test]
fn without_an_identity_the_content_is_stored_again_and_no_entry_is_kept() {
    let f = Fixture::new();
    let doc = write(&f, "memo.txt", b"stored twice without the key\n");
    f.ingest_json(&[s(&doc)]);
    let before = tags(&f);
    // custody.toml's `identity` is what opens the secret: take it away.
    let toml = f.dir.join("custody.toml");
    let text = fs::read_to_string(&toml).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("identity"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(kept, text);
    fs::write(&toml, kept).unwrap();
    let r = f.run(&[
        "ingest",
        s(&doc),
        s(&write(&f, "copy.txt", b"stored twice without the key\n")),
    ]);
    r.ok();
    assert!(
        r.stderr
            .contains("no identity opened the archive's deduplication secret"),
        "{}",
        r.stderr
    );
    // Two new blobs would be one: the run deduplicates within itself.
    assert!(
        r.stdout.contains("1 with content already stored"),
        "{}",
        r.stdout
    );
    assert_eq!(
        tags(&f),
        before,
        "entries under a key of one run are not kept"
    );
    // With -i the secret opens again and the first copy is found.
    let j = f.ingest_json(&["-i", s(&f.identity()), "--again", s(&doc)]);
    assert_eq!(j[0]["deduplicated"], true, "{j:?}");
    f.assert_verified();
}

#[test]
fn each_configuration_seals_a_fresh_secret_to_its_own_recipients() {
    let f = Fixture::new();
    let gu = f.other_keys("guardian");
    let first = sealed_secret(&f, 1);
    f.run(&[
        "config",
        "set",
        "--recipient",
        s(&f.keys.join("recipient.txt")),
        "--recipient",
        s(&gu.join("recipient.txt")),
    ])
    .ok();
    let at = f.records() - 1;
    let second = sealed_secret(&f, at);
    assert_ne!(first, second);
    // The guardian's identity, now a recipient, opens the new secret too.
    let rec = f.show(&at.to_string());
    let data = fs::read(f.blob_path(rec["sealed"]["digest"].as_str().unwrap())).unwrap();
    let ids = Identities::parse(&fs::read(gu.join("identity.age")).unwrap()).unwrap();
    let plain = decrypt_bytes(&ids, &data, 1 << 16).unwrap();
    assert_eq!(
        *Details::parse(&plain).unwrap().dedup_secret().unwrap(),
        second
    );
    // …but not the first configuration's.
    let rec1 = f.show("1");
    let data = fs::read(f.blob_path(rec1["sealed"]["digest"].as_str().unwrap())).unwrap();
    assert!(decrypt_bytes(&ids, &data, 1 << 16).is_err());
    f.assert_verified();
}
