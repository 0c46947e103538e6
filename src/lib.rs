//! **custody** keeps a provenance-tracked archive of leaked documents.
//!
//! Each ingested file is hashed (SHA-256), encrypted with age to the outlet's
//! recipients and stored content-addressed; each ingestion is an Ed25519-signed
//! record appended to a transparency log (an RFC 6962 Merkle tree) whose state
//! is published as C2SP signed checkpoints. Every byte that is hashed, signed,
//! stored or exported is specified in `docs/FORMAT.md`.
//!
//! Layout: [`core`] is pure (encoding, records, crypto, Merkle, notes,
//! checkpoints, reports) and never touches the file system; [`store`] is the
//! archive on disk (only `store::db` names sled); [`cli`] is the command line
//! (only `cli::output` prints).
//!
//! ```
//! use custody::core::{keys::SignerKey, merkle, record::*, hash::Digest};
//!
//! let key = SignerKey::generate("example.org/log").unwrap();
//! let body = RecordBody {
//!     index: 0,
//!     time_ms: 1_700_000_000_000,
//!     origin: "example.org/log".into(),
//!     signer: key.key_id(),
//!     payload: Payload::Ingest(Ingest {
//!         blob: Digest::of(b"ciphertext"),
//!         blob_size: 10,
//!         commitment: Digest::of(b"commitment"),
//!         meta: Digest::of(b"envelope"),
//!         meta_size: 8,
//!         recipients: vec![Digest::of(b"recipient")],
//!     }),
//! };
//! let rec = body.sign(&key).unwrap();
//! let again = Record::decode(rec.bytes()).unwrap();
//! let vk = key.verifier();
//! again.verify_signature(vk.verifying_key(), vk.key_id()).unwrap();
//! let mut tree = merkle::MemoryTree::new();
//! tree.push(again.leaf_hash());
//! assert_eq!(tree.root(), merkle::leaf_hash(rec.bytes()));
//! ```
#![forbid(unsafe_code)]

pub mod cli;
pub mod core;
pub mod store;
