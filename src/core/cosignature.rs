//! C2SP tlog-cosignature: Ed25519 `cosignature/v1` (signature type `0x04`).
//!
//! (C2SP `tlog-cosignature.md`, "Format" and "Ed25519 signed message".) A
//! cosignature is an ordinary signed-note signature line whose key ID is
//! SHA-256(name || 0x0A || 0x04 || Ed25519 public key)\[:4\] and whose
//! signature field is a 72-byte `timestamped_signature`:
//!
//! ```text
//! u64 timestamp (big-endian POSIX seconds, at most 2^63-1) || Ed25519 signature (64 bytes)
//! ```
//!
//! so the line's base64 decodes to 4 + 8 + 64 = 76 bytes. The Ed25519
//! signature covers
//!
//! ```text
//! "cosignature/v1\n" || "time " || decimal(timestamp) || "\n" || checkpoint body
//! ```
//!
//! where the body is the whole note text (origin, size, root and any
//! extension lines, with its final newline). ML-DSA-44 (`0x06`) is not
//! implemented: such lines are simply unknown keys to a verifier.
//!
//! Byte layout specified in `docs/FORMAT.md` §3.8.

use crate::core::keys::{split_cosignature_field as split_field, SigAlg, SignerKey, VerifierKey};
use crate::core::note::{validate_text, MalformedReason, NoteSignature};

pub use crate::core::keys::{
    cosignature_message as message, COSIGNATURE_V1_LABEL, COSIGNATURE_V1_LEN, MAX_TIMESTAMP,
};

/// Errors from producing or checking a cosignature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CosignatureError {
    /// The key is not a `cosignature/v1` (alg `0x04`) key.
    #[error("key {name} is not a cosignature/v1 (alg 0x04) key")]
    NotCosignerKey { name: String },
    /// The signature line's (name, key ID) is not this key's: per C2SP the
    /// line belongs to another key and is ignored, not an error of the note.
    #[error("signature line is not from this cosigner")]
    NotThisKey,
    /// The signature field is not 72 bytes.
    #[error("cosignature must be {COSIGNATURE_V1_LEN} bytes after the key ID, got {0}")]
    WrongLength(usize),
    /// The timestamp exceeds 2^63 - 1.
    #[error("cosignature timestamp {0} exceeds 2^63-1")]
    TimestampOutOfRange(u64),
    /// The Ed25519 signature does not verify.
    #[error("cosignature does not verify")]
    InvalidSignature,
    /// The checkpoint body cannot be a note text.
    #[error("checkpoint body is not a valid note text: {0}")]
    InvalidBody(MalformedReason),
}

/// Cosigns `checkpoint_body` at `timestamp` with `key` used as a
/// `cosignature/v1` cosigner (its alg-`0x04` key ID).
pub fn cosign(
    checkpoint_body: &str,
    key: &SignerKey,
    timestamp: u64,
) -> Result<NoteSignature, CosignatureError> {
    validate_text(checkpoint_body).map_err(CosignatureError::InvalidBody)?;
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampOutOfRange(timestamp));
    }
    let sig = key.sign(&message(checkpoint_body, timestamp));
    let mut field = Vec::with_capacity(COSIGNATURE_V1_LEN);
    field.extend_from_slice(&timestamp.to_be_bytes());
    field.extend_from_slice(&sig);
    Ok(NoteSignature {
        name: key.name().to_owned(),
        key_id: key.cosigner_verifier().key_id(),
        sig: field,
    })
}

/// Reads the (unauthenticated) timestamp of a cosignature field after
/// checking its length and range.
pub fn parse_timestamp(sig_field: &[u8]) -> Result<u64, CosignatureError> {
    let Some((ts, _)) = split_field(sig_field) else {
        return Err(CosignatureError::WrongLength(sig_field.len()));
    };
    if ts > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampOutOfRange(ts));
    }
    Ok(ts)
}

/// Verifies a cosignature field (the bytes after the key ID) by `key` over
/// `body`; returns the authenticated timestamp. The caller has already
/// matched the line's name and key ID to `key`.
pub(crate) fn verify_payload(
    body: &str,
    key: &VerifierKey,
    sig_field: &[u8],
) -> Result<u64, CosignatureError> {
    if key.alg() != SigAlg::CosignatureV1 {
        return Err(CosignatureError::NotCosignerKey {
            name: key.name().to_owned(),
        });
    }
    let ts = parse_timestamp(sig_field)?;
    let (_, sig) = split_field(sig_field).ok_or(CosignatureError::WrongLength(sig_field.len()))?;
    if key.verify_ed25519(&message(body, ts), sig) {
        Ok(ts)
    } else {
        Err(CosignatureError::InvalidSignature)
    }
}

/// Verifies that `sig` is a valid `cosignature/v1` by `key` over
/// `checkpoint_body` and returns its timestamp.
///
/// `key` must be an alg-`0x04` key. A line whose (name, key ID) is not
/// `key`'s gives [`CosignatureError::NotThisKey`].
pub fn verify_cosignature(
    checkpoint_body: &str,
    key: &VerifierKey,
    sig: &NoteSignature,
) -> Result<u64, CosignatureError> {
    if key.alg() != SigAlg::CosignatureV1 {
        return Err(CosignatureError::NotCosignerKey {
            name: key.name().to_owned(),
        });
    }
    if !key.matches(&sig.name, sig.key_id) {
        return Err(CosignatureError::NotThisKey);
    }
    verify_payload(checkpoint_body, key, &sig.sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    fn witness() -> SignerKey {
        SignerKey::from_seed("w.example", &[9; 32]).unwrap()
    }

    #[test]
    fn round_trip() {
        let w = witness();
        let s = cosign(BODY, &w, 1234).unwrap();
        assert_eq!(s.sig.len(), COSIGNATURE_V1_LEN);
        assert_eq!(s.key_id, w.cosigner_verifier().key_id());
        let line = s.to_line();
        let parsed = NoteSignature::parse_line(line.trim_end_matches('\n')).unwrap();
        assert_eq!(parsed, s);
        assert_eq!(
            verify_cosignature(BODY, &w.cosigner_verifier(), &parsed),
            Ok(1234)
        );
        assert_eq!(parse_timestamp(&parsed.sig), Ok(1234));
        assert_eq!(cosign(BODY, &w, MAX_TIMESTAMP).map(|s| s.sig.len()), Ok(72));
    }

    #[test]
    fn message_layout() {
        assert_eq!(
            message("o\n1\nr\n", 0),
            b"cosignature/v1\ntime 0\no\n1\nr\n".to_vec()
        );
    }

    #[test]
    fn tamper_variants() {
        let w = witness();
        let vk = w.cosigner_verifier();
        let good = cosign(BODY, &w, 1234).unwrap();

        // body changed
        let other = BODY.replace("\n3\n", "\n4\n");
        assert_eq!(
            verify_cosignature(&other, &vk, &good),
            Err(CosignatureError::InvalidSignature)
        );
        // timestamp changed (still in range)
        let mut s = good.clone();
        s.sig[7] ^= 1;
        assert_eq!(
            verify_cosignature(BODY, &vk, &s),
            Err(CosignatureError::InvalidSignature)
        );
        // timestamp top bit set
        let mut s = good.clone();
        s.sig[0] |= 0x80;
        assert!(matches!(
            verify_cosignature(BODY, &vk, &s),
            Err(CosignatureError::TimestampOutOfRange(_))
        ));
        // signature byte flipped
        let mut s = good.clone();
        s.sig[40] ^= 1;
        assert_eq!(
            verify_cosignature(BODY, &vk, &s),
            Err(CosignatureError::InvalidSignature)
        );
        // wrong length
        let mut s = good.clone();
        s.sig.push(0);
        assert_eq!(
            verify_cosignature(BODY, &vk, &s),
            Err(CosignatureError::WrongLength(73))
        );
        // other key ID / name
        let mut s = good.clone();
        s.key_id = w.key_id();
        assert_eq!(
            verify_cosignature(BODY, &vk, &s),
            Err(CosignatureError::NotThisKey)
        );
        let mut s = good.clone();
        s.name = "w2.example".into();
        assert_eq!(
            verify_cosignature(BODY, &vk, &s),
            Err(CosignatureError::NotThisKey)
        );
        // a plain Ed25519 verifier key is refused
        assert!(matches!(
            verify_cosignature(BODY, &w.verifier(), &good),
            Err(CosignatureError::NotCosignerKey { .. })
        ));
    }

    #[test]
    fn cosign_rejections() {
        let w = witness();
        assert_eq!(
            cosign(BODY, &w, MAX_TIMESTAMP + 1),
            Err(CosignatureError::TimestampOutOfRange(MAX_TIMESTAMP + 1))
        );
        assert_eq!(
            cosign("no newline", &w, 1),
            Err(CosignatureError::InvalidBody(
                MalformedReason::TextNotNewlineTerminated
            ))
        );
    }
}
