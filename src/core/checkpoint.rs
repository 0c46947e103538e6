//! C2SP tlog-checkpoint: the signed tree head as a signed note.
//!
//! (C2SP `tlog-checkpoint.md`, "Note text".) The note text is at least three
//! non-empty lines:
//!
//! ```text
//! <origin>
//! <tree size: ASCII decimal, no leading zeroes unless "0">
//! <root hash: standard base64 of the 32-byte RFC 6962 root>
//! [<extension line>...]
//! ```
//!
//! We sign with Ed25519 (alg `0x01`), key name = origin, no extension lines;
//! we accept extension lines and key names that differ from the origin when
//! verifying others' checkpoints (e.g. sum.golang.org).
//!
//! ```
//! use custody::core::checkpoint::{Checkpoint, SignedCheckpoint};
//! use custody::core::hash::Digest;
//! use custody::core::keys::SignerKey;
//!
//! let log = SignerKey::generate("example.org/log").unwrap();
//! let witness = SignerKey::generate("witness.example").unwrap();
//! let cp = Checkpoint::new("example.org/log", 1, Digest::of(b"leaf")).unwrap();
//! let mut signed = SignedCheckpoint::sign(&cp, &log).unwrap();
//! signed.add_cosignature(&witness, 1_700_000_000).unwrap();
//! let text = signed.encode();
//!
//! let opened = SignedCheckpoint::open(
//!     text.as_bytes(),
//!     &log.verifier(),
//!     &[witness.cosigner_verifier()],
//! )
//! .unwrap();
//! assert_eq!(opened.checkpoint, cp);
//! assert_eq!(opened.witness_cosignatures[0].timestamp, 1_700_000_000);
//! ```
//!
//! Byte layout specified in `docs/FORMAT.md` §3.7.

use crate::core::cosignature::{self, CosignatureError};
use crate::core::hash::Digest;
use crate::core::keys::{b64_decode, b64_encode, KeyId, SigAlg, SignerKey, VerifierKey};
use crate::core::note::{self, Note, NoteError};

/// A checkpoint body (C2SP tlog-checkpoint "Note text").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Log identity; non-empty, no control characters.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 Merkle tree head at `size`.
    pub root: Digest,
    /// Opaque extension lines (non-empty each). We never write any.
    pub extensions: Vec<String>,
}

/// Errors from building, parsing, signing or opening a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note text is not a valid checkpoint body.
    #[error("malformed checkpoint body: {0}")]
    MalformedBody(&'static str),
    /// The signed-note layer failed (malformed, a known key's signature
    /// failed, or no known key signed).
    #[error(transparent)]
    Note(#[from] NoteError),
    /// Our signing profile: the log key's name must equal the origin line.
    #[error("log key name {key_name:?} differs from origin {origin:?}")]
    OriginKeyNameMismatch { origin: String, key_name: String },
    /// Our signing profile: we never sign extension lines.
    #[error("refusing to sign a checkpoint with extension lines")]
    ExtensionsNotSigned,
    /// Some known key verified, but not the log key.
    #[error("checkpoint not signed by the log key {name} ({key_id})")]
    MissingLogSignature { name: String, key_id: KeyId },
    /// A key passed as a witness is not a `cosignature/v1` (alg `0x04`) key.
    #[error("witness key {name} ({key_id}) is not a cosignature/v1 key")]
    WitnessNotCosigner { name: String, key_id: KeyId },
    /// Producing a cosignature failed.
    #[error(transparent)]
    Cosignature(#[from] CosignatureError),
}

/// Parses a canonical ASCII decimal u64: digits only, no sign, no leading
/// zero unless the value is `0`, no overflow.
pub(crate) fn parse_canonical_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// A checkpoint without extension lines; validates the origin.
    pub fn new(origin: &str, size: u64, root: Digest) -> Result<Self, CheckpointError> {
        let c = Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        };
        c.validate()?;
        Ok(c)
    }

    /// Checks the fields can be encoded as a body that [`Checkpoint::parse_body`]
    /// gives back unchanged.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        let line_ok = |l: &str| !l.is_empty() && !l.chars().any(|c| c < ' ');
        if !line_ok(&self.origin) {
            return Err(CheckpointError::MalformedBody(
                "origin must be non-empty without control characters",
            ));
        }
        if !self.extensions.iter().all(|l| line_ok(l)) {
            return Err(CheckpointError::MalformedBody(
                "extension lines must be non-empty without control characters",
            ));
        }
        Ok(())
    }

    /// The exact note text: `origin\nsize\nbase64(root)\n` then each
    /// extension line and `\n`. Meaningful only for a checkpoint that passes
    /// [`Checkpoint::validate`].
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            b64_encode(self.root.as_bytes())
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a checkpoint body strictly.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let bad = CheckpointError::MalformedBody;
        let text = text
            .strip_suffix('\n')
            .ok_or(bad("body must end with a newline"))?;
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(bad("control character in body"));
        }
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or("");
        if origin.is_empty() {
            return Err(bad("empty origin line"));
        }
        let size = lines.next().ok_or(bad("missing size line"))?;
        let size = parse_canonical_u64(size).ok_or(bad("size is not a canonical decimal u64"))?;
        let root = lines.next().ok_or(bad("missing root hash line"))?;
        let root = b64_decode(root)
            .and_then(|r| Digest::from_slice(&r))
            .ok_or(bad("root is not canonical base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(|l| l.is_empty()) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// True when `key`'s name equals the origin line (C2SP tlog-checkpoint:
    /// the log's key name SHOULD match the origin; tlog-policy requires it).
    pub fn origin_matches_key(&self, key: &VerifierKey) -> bool {
        self.origin == key.name()
    }
}

/// A checkpoint and the signed note that carries it.
///
/// Invariant: `note.text() == checkpoint.body()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
}

/// A witness cosignature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessCosignature {
    /// Witness key name.
    pub name: String,
    /// Witness key ID (alg `0x04`).
    pub key_id: KeyId,
    /// Authenticated cosignature timestamp (POSIX seconds).
    pub timestamp: u64,
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedCheckpoint {
    /// The parsed body.
    pub checkpoint: Checkpoint,
    /// Cosignatures from the given witnesses that verified, in line order,
    /// one per witness key.
    pub witness_cosignatures: Vec<WitnessCosignature>,
    /// The whole note (all signature lines, verified or not).
    pub note: Note,
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with the log key (Ed25519, alg `0x01`).
    ///
    /// Our profile (C2SP tlog-checkpoint recommendations): the key name must
    /// equal the origin, and there must be no extension lines.
    pub fn sign(checkpoint: &Checkpoint, key: &SignerKey) -> Result<Self, CheckpointError> {
        checkpoint.validate()?;
        if checkpoint.origin != key.name() {
            return Err(CheckpointError::OriginKeyNameMismatch {
                origin: checkpoint.origin.clone(),
                key_name: key.name().to_owned(),
            });
        }
        if !checkpoint.extensions.is_empty() {
            return Err(CheckpointError::ExtensionsNotSigned);
        }
        let note = note::sign(&checkpoint.body(), key)?;
        Ok(SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            note,
        })
    }

    /// Parses a signed checkpoint without verifying any signature.
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse_body(note.text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Adds (or replaces) a `cosignature/v1` by `witness` at `timestamp`.
    pub fn add_cosignature(
        &mut self,
        witness: &SignerKey,
        timestamp: u64,
    ) -> Result<(), CheckpointError> {
        let sig = cosignature::cosign(self.note.text(), witness, timestamp)?;
        self.note.add_signature(sig)?;
        Ok(())
    }

    /// Adds an already-made signature line (e.g. a cosignature returned by a
    /// witness). It is not verified here.
    pub fn add_signature(&mut self, sig: note::NoteSignature) -> Result<(), CheckpointError> {
        self.note.add_signature(sig)?;
        Ok(())
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The exact signed-note encoding.
    pub fn encode(&self) -> String {
        self.note.encode()
    }

    /// Parses and verifies a signed checkpoint.
    ///
    /// Succeeds only if the note is well-formed, the body is a valid
    /// checkpoint, no line of `log_key` or of any witness key fails to
    /// verify, and `log_key` verified. Lines of other keys are ignored. The
    /// key name need not equal the origin: check
    /// [`Checkpoint::origin_matches_key`] where policy requires it.
    pub fn open(
        bytes: &[u8],
        log_key: &VerifierKey,
        witnesses: &[VerifierKey],
    ) -> Result<OpenedCheckpoint, CheckpointError> {
        if let Some(w) = witnesses.iter().find(|w| w.alg() != SigAlg::CosignatureV1) {
            return Err(CheckpointError::WitnessNotCosigner {
                name: w.name().to_owned(),
                key_id: w.key_id(),
            });
        }
        let SignedCheckpoint { checkpoint, note } = SignedCheckpoint::parse(bytes)?;
        let mut known = Vec::with_capacity(1 + witnesses.len());
        known.push(log_key.clone());
        known.extend(witnesses.iter().cloned());
        let opened = note.verify(&known)?;
        let by_log = opened
            .verified
            .iter()
            .any(|v| log_key.matches(&v.signature.name, v.signature.key_id));
        if !by_log {
            return Err(CheckpointError::MissingLogSignature {
                name: log_key.name().to_owned(),
                key_id: log_key.key_id(),
            });
        }
        let witness_cosignatures = opened
            .verified
            .iter()
            .filter(|v| {
                witnesses
                    .iter()
                    .any(|w| w.matches(&v.signature.name, v.signature.key_id))
            })
            .filter_map(|v| {
                v.timestamp.map(|timestamp| WitnessCosignature {
                    name: v.signature.name.clone(),
                    key_id: v.signature.key_id,
                    timestamp,
                })
            })
            .collect();
        Ok(OpenedCheckpoint {
            checkpoint,
            witness_cosignatures,
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::note::MalformedReason;

    const ORIGIN: &str = "custody.example/log";

    fn log_key() -> SignerKey {
        SignerKey::from_seed(ORIGIN, &[1; 32]).unwrap()
    }
    fn witness(i: u8) -> SignerKey {
        SignerKey::from_seed(&format!("w{i}.example"), &[10 + i; 32]).unwrap()
    }
    fn cp() -> Checkpoint {
        Checkpoint::new(ORIGIN, 42, Digest::of(b"root")).unwrap()
    }

    #[test]
    fn body_round_trip() {
        let c = cp();
        let body = c.body();
        assert_eq!(
            body,
            format!(
                "{ORIGIN}\n42\n{}\n",
                b64_encode(Digest::of(b"root").as_bytes())
            )
        );
        assert_eq!(Checkpoint::parse_body(&body).unwrap(), c);
        let mut e = c.clone();
        e.extensions = vec!["Timestamp: 1".into(), "x".into()];
        assert_eq!(Checkpoint::parse_body(&e.body()).unwrap(), e);
        let z = Checkpoint::new("o", 0, Digest::of(b"")).unwrap();
        assert_eq!(Checkpoint::parse_body(&z.body()).unwrap(), z);
        let m = Checkpoint::new("o", u64::MAX, Digest::of(b"")).unwrap();
        assert_eq!(Checkpoint::parse_body(&m.body()).unwrap(), m);
    }

    #[test]
    fn body_rejections() {
        let root = b64_encode(&[0u8; 32]);
        let bad = [
            format!("o\n1\n{root}"),                           // no final newline
            format!("\n1\n{root}\n"),                          // empty origin
            "o\n1\n".to_string(),                              // missing root
            "o\n".to_string(),                                 // missing size
            format!("o\n01\n{root}\n"),                        // leading zero
            format!("o\n+1\n{root}\n"),                        // sign
            format!("o\n-1\n{root}\n"),                        // negative
            format!("o\n 1\n{root}\n"),                        // space
            format!("o\n18446744073709551616\n{root}\n"),      // overflow
            format!("o\n\n{root}\n"),                          // empty size
            format!("o\n1\n{}\n", b64_encode(&[0u8; 31])),     // short root
            format!("o\n1\n{}\n", b64_encode(&[0u8; 33])),     // long root
            format!("o\n1\n{}\n", root.trim_end_matches('=')), // unpadded
            format!("o\n1\n{root}\n\n"),                       // empty extension
            format!("o\n1\n{root}\next\n\n"),                  // empty extension
            format!("o\t\n1\n{root}\n"),                       // control char
        ];
        for b in bad {
            assert!(
                matches!(
                    Checkpoint::parse_body(&b),
                    Err(CheckpointError::MalformedBody(_))
                ),
                "{b:?}"
            );
        }
        assert!(Checkpoint::new("", 1, Digest::of(b"")).is_err());
        assert!(Checkpoint::new("a\nb", 1, Digest::of(b"")).is_err());
        assert_eq!(parse_canonical_u64("0"), Some(0));
        assert_eq!(parse_canonical_u64("00"), None);
        assert_eq!(parse_canonical_u64(""), None);
    }

    #[test]
    fn sign_cosign_open() {
        let log = log_key();
        let (w1, w2, w3) = (witness(1), witness(2), witness(3));
        let mut sc = SignedCheckpoint::sign(&cp(), &log).unwrap();
        sc.add_cosignature(&w1, 1000).unwrap();
        sc.add_cosignature(&w2, 2000).unwrap();
        let enc = sc.encode();
        assert_eq!(SignedCheckpoint::parse(enc.as_bytes()).unwrap(), sc);
        let ws = [
            w1.cosigner_verifier(),
            w2.cosigner_verifier(),
            w3.cosigner_verifier(),
        ];
        let o = SignedCheckpoint::open(enc.as_bytes(), &log.verifier(), &ws).unwrap();
        assert_eq!(o.checkpoint, cp());
        assert!(o.checkpoint.origin_matches_key(&log.verifier()));
        assert!(!o.checkpoint.origin_matches_key(&ws[0]));
        assert_eq!(
            o.witness_cosignatures,
            vec![
                WitnessCosignature {
                    name: "w1.example".into(),
                    key_id: ws[0].key_id(),
                    timestamp: 1000
                },
                WitnessCosignature {
                    name: "w2.example".into(),
                    key_id: ws[1].key_id(),
                    timestamp: 2000
                },
            ]
        );
        assert_eq!(o.note, sc.note);
        // no witnesses: still opens, no cosignatures listed
        let o = SignedCheckpoint::open(enc.as_bytes(), &log.verifier(), &[]).unwrap();
        assert!(o.witness_cosignatures.is_empty());
    }

    /// The worked example of FORMAT.md (test-only seeds 0x01.. and 0x02..),
    /// cross-checked with Python's `cryptography` package.
    #[test]
    fn format_md_example() {
        let log = SignerKey::from_seed(ORIGIN, &[0x01; 32]).unwrap();
        let w = SignerKey::from_seed("witness.example/w1", &[0x02; 32]).unwrap();
        assert_eq!(
            log.verifier().encode(),
            "custody.example/log+5b49c114+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"
        );
        assert_eq!(
            w.cosigner_verifier().encode(),
            "witness.example/w1+df1c0a35+BIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
        );
        let c = Checkpoint::new(ORIGIN, 3, Digest::of(b"example root")).unwrap();
        let mut sc = SignedCheckpoint::sign(&c, &log).unwrap();
        sc.add_cosignature(&w, 1_700_000_000).unwrap();
        assert_eq!(
            sc.encode(),
            "custody.example/log\n3\ntWfAy7LoXCleat6TDluzSaS5vulInKp9a2ed1G6CpxE=\n\n\
             \u{2014} custody.example/log W0nBFEmxkIxuzFrvFaSaJ1aPxMM3jxZW3DhqsWfZv9ahgMMQm7UE9r9IC63ERTkuI5P7i/hQTNRwn288Ep+Cz/JSkAI=\n\
             \u{2014} witness.example/w1 3xwKNQAAAABlU/EA0kwa6jZLREYbSJtt5rP7nRPbKELTvargGwrpmKZ3IaSnlfZz2gm+ZfDxpfmufMRblYaKov0j20TwESKBFmQMCA==\n"
        );
    }

    #[test]
    fn sign_profile() {
        let other = SignerKey::from_seed("someone.else", &[1; 32]).unwrap();
        assert_eq!(
            SignedCheckpoint::sign(&cp(), &other),
            Err(CheckpointError::OriginKeyNameMismatch {
                origin: ORIGIN.into(),
                key_name: "someone.else".into()
            })
        );
        let mut e = cp();
        e.extensions.push("ext".into());
        assert_eq!(
            SignedCheckpoint::sign(&e, &log_key()),
            Err(CheckpointError::ExtensionsNotSigned)
        );
    }

    #[test]
    fn open_requires_log_signature() {
        let log = log_key();
        let other = SignerKey::from_seed(ORIGIN, &[2; 32]).unwrap();
        let w1 = witness(1);
        let mut sc = SignedCheckpoint::sign(&cp(), &other).unwrap();
        sc.add_cosignature(&w1, 5).unwrap();
        let enc = sc.encode();
        assert_eq!(
            SignedCheckpoint::open(enc.as_bytes(), &log.verifier(), &[w1.cosigner_verifier()]),
            Err(CheckpointError::MissingLogSignature {
                name: ORIGIN.into(),
                key_id: log.key_id()
            })
        );
        assert_eq!(
            SignedCheckpoint::open(enc.as_bytes(), &log.verifier(), &[]),
            Err(CheckpointError::Note(NoteError::NoVerifiedSignature))
        );
        assert!(matches!(
            SignedCheckpoint::open(enc.as_bytes(), &log.verifier(), &[w1.verifier()]),
            Err(CheckpointError::WitnessNotCosigner { .. })
        ));
    }

    #[test]
    fn tamper_size_root_and_cosignature() {
        let log = log_key();
        let w1 = witness(1);
        let mut sc = SignedCheckpoint::sign(&cp(), &log).unwrap();
        sc.add_cosignature(&w1, 77).unwrap();
        let enc = sc.encode();
        let ws = [w1.cosigner_verifier()];
        let log_err = Err(CheckpointError::Note(NoteError::InvalidSignature {
            name: ORIGIN.into(),
            key_id: log.key_id(),
        }));

        // size 42 -> 43
        let t = enc.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(
            SignedCheckpoint::open(t.as_bytes(), &log.verifier(), &ws),
            log_err
        );
        // flip one byte of the root's base64 (still valid base64)
        let root_b64 = b64_encode(Digest::of(b"root").as_bytes());
        let mut r: Vec<u8> = root_b64.clone().into_bytes();
        r[0] = if r[0] == b'A' { b'B' } else { b'A' };
        let t = enc.replacen(&root_b64, std::str::from_utf8(&r).unwrap(), 1);
        assert_eq!(
            SignedCheckpoint::open(t.as_bytes(), &log.verifier(), &ws),
            log_err
        );
        // leading zero in size: body malformed before any crypto
        let t = enc.replacen("\n42\n", "\n042\n", 1);
        assert!(matches!(
            SignedCheckpoint::open(t.as_bytes(), &log.verifier(), &ws),
            Err(CheckpointError::MalformedBody(_))
        ));
        // remove the em dash of the first signature line
        let t = enc.replacen("\u{2014} ", "- ", 1);
        assert_eq!(
            SignedCheckpoint::open(t.as_bytes(), &log.verifier(), &ws),
            Err(CheckpointError::Note(NoteError::Malformed(
                MalformedReason::BadSignatureLine
            )))
        );
        // a witness cosignature with a changed timestamp: the witness is named
        let mut bad = sc.clone();
        let mut s = bad.note().signatures()[1].clone();
        s.sig[7] ^= 1;
        bad.add_signature(s).unwrap();
        assert_eq!(
            SignedCheckpoint::open(bad.encode().as_bytes(), &log.verifier(), &ws),
            Err(CheckpointError::Note(NoteError::InvalidSignature {
                name: "w1.example".into(),
                key_id: ws[0].key_id(),
            }))
        );
        // ...but ignored when that witness is not configured
        assert!(SignedCheckpoint::open(bad.encode().as_bytes(), &log.verifier(), &[]).is_ok());
    }
}
