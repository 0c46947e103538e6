//! C2SP signed-note keys: key IDs, verifier keys (vkeys) and Go-style signer keys.
//!
//! Formats (C2SP `signed-note.md`, "Signatures" and "Verifier keys"; the
//! secret-key encoding is the golang.org/x/mod/sumdb/note convention):
//!
//! ```text
//! key ID  = SHA-256(name || 0x0A || alg || public key)[:4]   (big-endian u32)
//! vkey    = <name>+<8 lowercase hex key ID>+base64(alg || public key)
//! skey    = PRIVATE+KEY+<name>+<8 lowercase hex key ID>+base64(0x01 || 32-byte Ed25519 seed)
//! ```
//!
//! Supported algorithms: `0x01` (Ed25519 signed-note signatures) and `0x04`
//! (Ed25519 `cosignature/v1`, C2SP `tlog-cosignature.md`). The same Ed25519
//! key has a different key ID under each algorithm because the algorithm byte
//! is hashed. Every verification follows FORMAT.md §4.3 (`core::sigbatch::verify`).
//!
//! Byte layout specified in `docs/FORMAT.md` §3.2–3.5.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::core::hash::Digest;

/// Signature-type byte for Ed25519 signed-note signatures (C2SP signed-note).
pub const ALG_ED25519: u8 = 0x01;
/// Signature-type byte for Ed25519 `cosignature/v1` (C2SP tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Signature-type byte for ECDSA (transparency-dev/witness). Its key ID is
/// SHA-256 of the DER SPKI, not the C2SP rule; we do not support it.
pub const ALG_ECDSA: u8 = 0x02;

/// Length of an Ed25519 public key and of an Ed25519 seed.
pub const ED25519_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const ED25519_SIG_LEN: usize = 64;

/// Prefix of an encoded signer (secret) key.
const SKEY_PREFIX: &str = "PRIVATE+KEY+";

/// The signature algorithms this crate implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigAlg {
    /// `0x01`: Ed25519 over the note text (C2SP signed-note).
    Ed25519,
    /// `0x04`: timestamped Ed25519 `cosignature/v1` (C2SP tlog-cosignature).
    CosignatureV1,
}

impl SigAlg {
    /// The signature-type byte.
    pub fn byte(self) -> u8 {
        match self {
            SigAlg::Ed25519 => ALG_ED25519,
            SigAlg::CosignatureV1 => ALG_COSIGNATURE_V1,
        }
    }

    /// The algorithm for a signature-type byte, if we implement it.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            ALG_ED25519 => Some(SigAlg::Ed25519),
            ALG_COSIGNATURE_V1 => Some(SigAlg::CosignatureV1),
            _ => None,
        }
    }
}

/// A signed-note key ID: the first 4 bytes, big-endian, of
/// SHA-256(name || 0x0A || alg || public key) (C2SP signed-note, "Signatures").
///
/// Displays as exactly 8 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);

impl KeyId {
    /// Computes the C2SP key ID of `public_key` under `name` and `alg`.
    pub fn compute(name: &str, alg: u8, public_key: &[u8]) -> KeyId {
        let d = Digest::of_parts(&[name.as_bytes(), b"\n", &[alg], public_key]);
        let b = d.as_bytes();
        KeyId(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The 4 big-endian bytes that open a signature.
    pub fn to_be_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// Builds a key ID from 4 big-endian bytes.
    pub fn from_be_bytes(b: [u8; 4]) -> KeyId {
        KeyId(u32::from_be_bytes(b))
    }

    /// Parses exactly 8 lowercase hex digits (the only form we encode).
    pub fn parse_hex(s: &str) -> Option<KeyId> {
        if s.len() != 8
            || !s
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return None;
        }
        u32::from_str_radix(s, 16).ok().map(KeyId)
    }
}

/// Serialised as its 8-hex-digit display form.
impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({:08x})", self.0)
    }
}

/// Reports whether `name` is a valid signed-note key name (C2SP signed-note,
/// "Signatures"): non-empty, no Unicode white space, no `+`. We also refuse
/// ASCII control characters, which can never appear in a valid note.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| !c.is_whitespace() && c != '+' && c >= ' ')
}

/// Errors from parsing, building or generating keys.
///
/// No variant ever carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key name is empty or contains white space, `+` or a control character.
    #[error("invalid key name (must be non-empty, without spaces, '+' or control characters)")]
    InvalidName,
    /// The encoding does not have the required `+`-separated parts.
    #[error("malformed key encoding: {0}")]
    Malformed(&'static str),
    /// The key-ID field is not exactly 8 lowercase hex digits.
    #[error("key ID must be exactly 8 lowercase hex digits")]
    BadKeyIdHex,
    /// The key material is not canonical padded standard base64.
    #[error("key material is not canonical standard base64")]
    BadBase64,
    /// The stated key ID differs from the one computed by the C2SP rule.
    #[error("key ID mismatch: stated {stated}, computed {computed}")]
    KeyIdMismatch { stated: KeyId, computed: KeyId },
    /// The signature-type byte is not one we implement.
    #[error("unsupported signature algorithm 0x{0:02x}")]
    UnsupportedAlgorithm(u8),
    /// The public key or seed has the wrong length for its algorithm.
    #[error("wrong key length for algorithm 0x{alg:02x}: {len} bytes")]
    WrongKeyLength { alg: u8, len: usize },
    /// The bytes are not a valid (non-weak) Ed25519 public key.
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,
}

/// Decodes canonical, padded, standard base64 (RFC 4648 section 4).
///
/// The `STANDARD` engine rejects non-canonical padding and non-zero trailing
/// bits, so every accepted string is the unique encoding of its bytes.
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok()
}

/// Encodes standard padded base64.
pub(crate) fn b64_encode(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// A public key that verifies signed-note signatures or cosignatures.
///
/// Invariant: `key_id == KeyId::compute(name, alg, key)` and `name` is valid.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: KeyId,
    alg: SigAlg,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Builds a verifier key, computing its key ID.
    pub fn new(name: &str, alg: SigAlg, key: VerifyingKey) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        let key_id = KeyId::compute(name, alg.byte(), key.as_bytes());
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id,
            alg,
            key,
        })
    }

    /// An Ed25519 key as a version 2 `actor` record states it (FORMAT.md
    /// §4.16): its key name is sealed, so the key ID is the one the record
    /// states and `name` is the actor's label. The invariant above does not
    /// hold for it and [`VerifierKey::encode`] does not give a valid vkey:
    /// it serves to check signatures (which only the key bytes decide).
    pub fn stated(label: &str, key_id: KeyId, key: VerifyingKey) -> Result<Self, KeyError> {
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        Ok(VerifierKey {
            name: label.to_owned(),
            key_id,
            alg: SigAlg::Ed25519,
            key,
        })
    }

    /// Parses a vkey `<name>+<hex key ID>+base64(alg || public key)`
    /// (C2SP signed-note, "Verifier keys").
    ///
    /// Splits on the first two `+` only, since base64 may contain `+`. The
    /// stated key ID is recomputed and compared (for every algorithm except
    /// ECDSA `0x02`, whose ID rule differs) before the algorithm is checked,
    /// so a vkey with a wrong ID is always `KeyIdMismatch`.
    pub fn parse(vkey: &str) -> Result<Self, KeyError> {
        let (name, rest) = vkey
            .split_once('+')
            .ok_or(KeyError::Malformed("vkey needs <name>+<id>+<key>"))?;
        let (id_hex, key_b64) = rest
            .split_once('+')
            .ok_or(KeyError::Malformed("vkey needs <name>+<id>+<key>"))?;
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let stated = KeyId::parse_hex(id_hex).ok_or(KeyError::BadKeyIdHex)?;
        let material = b64_decode(key_b64).ok_or(KeyError::BadBase64)?;
        let (&alg, public) = material
            .split_first()
            .ok_or(KeyError::Malformed("empty key material"))?;
        if alg == ALG_ECDSA {
            return Err(KeyError::UnsupportedAlgorithm(alg));
        }
        let computed = KeyId::compute(name, alg, public);
        if computed != stated {
            return Err(KeyError::KeyIdMismatch { stated, computed });
        }
        let sig_alg = SigAlg::from_byte(alg).ok_or(KeyError::UnsupportedAlgorithm(alg))?;
        let bytes: &[u8; ED25519_KEY_LEN] =
            public.try_into().map_err(|_| KeyError::WrongKeyLength {
                alg,
                len: public.len(),
            })?;
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPublicKey)?;
        VerifierKey::new(name, sig_alg, key)
    }

    /// Encodes the vkey exactly as [`VerifierKey::parse`] accepts it.
    pub fn encode(&self) -> String {
        let mut material = Vec::with_capacity(1 + ED25519_KEY_LEN);
        material.push(self.alg.byte());
        material.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, self.key_id, b64_encode(&material))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signature algorithm.
    pub fn alg(&self) -> SigAlg {
        self.alg
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The 32 public-key bytes.
    pub fn public_bytes(&self) -> [u8; ED25519_KEY_LEN] {
        self.key.to_bytes()
    }

    /// True when a signature line with this `name` and `key_id` belongs to
    /// this key (C2SP signed-note: both must match).
    pub fn matches(&self, name: &str, key_id: KeyId) -> bool {
        self.key_id == key_id && self.name == name
    }

    /// Ed25519 verification of a raw 64-byte signature over `msg` by the
    /// rule of FORMAT.md §4.3 ([`crate::core::sigbatch::verify`]). Any
    /// other length fails.
    pub fn verify_ed25519(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(bytes) = <&[u8; ED25519_SIG_LEN]>::try_from(sig) else {
            return false;
        };
        crate::core::sigbatch::verify_key(&self.key, msg, bytes)
    }

    /// Verifies a C2SP `cosignature/v1` signature field (the bytes after the
    /// key ID) by this alg-`0x04` key over `body`; the authenticated
    /// timestamp if it verifies. [`crate::core::cosignature`] says why not.
    pub fn verify_cosignature_v1(&self, body: &str, field: &[u8]) -> Option<u64> {
        let (ts, sig) = split_cosignature_field(field)?;
        (self.alg == SigAlg::CosignatureV1
            && ts <= MAX_TIMESTAMP
            && self.verify_ed25519(&cosignature_message(body, ts), sig))
        .then_some(ts)
    }
}

/// Length of a `cosignature/v1` signature field (after the 4-byte key ID):
/// the timestamp and the Ed25519 signature (C2SP tlog-cosignature).
pub const COSIGNATURE_V1_LEN: usize = 8 + ED25519_SIG_LEN;

/// Largest `cosignature/v1` timestamp allowed: 2^63 - 1.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The first line of the message a `cosignature/v1` signature covers.
pub const COSIGNATURE_V1_LABEL: &str = "cosignature/v1\n";

/// The exact message a `cosignature/v1` signature covers:
/// `cosignature/v1\ntime <ts>\n` then `body` (C2SP tlog-cosignature).
pub fn cosignature_message(body: &str, timestamp: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(COSIGNATURE_V1_LABEL.len() + 26 + body.len());
    m.extend_from_slice(COSIGNATURE_V1_LABEL.as_bytes());
    m.extend_from_slice(format!("time {timestamp}\n").as_bytes());
    m.extend_from_slice(body.as_bytes());
    m
}

/// A `cosignature/v1` field split into its (unauthenticated) timestamp and
/// signature; `None` if it is not [`COSIGNATURE_V1_LEN`] bytes.
pub fn split_cosignature_field(field: &[u8]) -> Option<(u64, &[u8; ED25519_SIG_LEN])> {
    let field: &[u8; COSIGNATURE_V1_LEN] = field.try_into().ok()?;
    let (ts, sig) = field.split_first_chunk::<8>()?;
    let sig: &[u8; ED25519_SIG_LEN] = sig.try_into().ok()?;
    Some((u64::from_be_bytes(*ts), sig))
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({})", self.encode())
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        VerifierKey::parse(s)
    }
}

impl serde::Serialize for VerifierKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> serde::Deserialize<'de> for VerifierKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        VerifierKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 signing key with its signed-note name.
///
/// The seed lives in an `ed25519_dalek::SigningKey`, which zeroizes itself on
/// drop. `Debug` shows only the name and key ID. There is deliberately no
/// `Clone`, `Display` or serde impl: the only way out is [`SignerKey::encode`].
pub struct SignerKey {
    name: String,
    key_id: KeyId,
    signing: SigningKey,
}

impl SignerKey {
    /// Builds a signer from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; ED25519_KEY_LEN]) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let signing = SigningKey::from_bytes(seed);
        let key_id = KeyId::compute(name, ALG_ED25519, signing.verifying_key().as_bytes());
        Ok(SignerKey {
            name: name.to_owned(),
            key_id,
            signing,
        })
    }

    /// Generates a fresh key from the operating system's RNG.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let mut seed = Zeroizing::new([0u8; ED25519_KEY_LEN]);
        getrandom::fill(seed.as_mut_slice()).map_err(|_| KeyError::Random)?;
        SignerKey::from_seed(name, &seed)
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)` (the
    /// golang.org/x/mod/sumdb/note signer-key format), deriving the public key
    /// and checking the stated key ID.
    pub fn parse(skey: &str) -> Result<Self, KeyError> {
        let rest = skey.strip_prefix(SKEY_PREFIX).ok_or(KeyError::Malformed(
            "signer key must start with PRIVATE+KEY+",
        ))?;
        let (name, rest) = rest
            .split_once('+')
            .ok_or(KeyError::Malformed("signer key needs <name>+<id>+<key>"))?;
        let (id_hex, key_b64) = rest
            .split_once('+')
            .ok_or(KeyError::Malformed("signer key needs <name>+<id>+<key>"))?;
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let stated = KeyId::parse_hex(id_hex).ok_or(KeyError::BadKeyIdHex)?;
        // 1 + 32 bytes encode to exactly 44 characters; decode into a
        // zeroizing stack buffer so no heap copy of the seed is left behind.
        let mut buf = Zeroizing::new([0u8; 1 + ED25519_KEY_LEN]);
        let n = STANDARD
            .decode_slice(key_b64.as_bytes(), buf.as_mut_slice())
            .map_err(|_| KeyError::BadBase64)?;
        let (&alg, seed) = buf
            .get(..n)
            .and_then(|b| b.split_first())
            .ok_or(KeyError::Malformed("empty key material"))?;
        if alg != ALG_ED25519 {
            return Err(KeyError::UnsupportedAlgorithm(alg));
        }
        let seed: &[u8; ED25519_KEY_LEN] =
            seed.try_into().map_err(|_| KeyError::WrongKeyLength {
                alg,
                len: seed.len(),
            })?;
        let key = SignerKey::from_seed(name, seed)?;
        if key.key_id != stated {
            return Err(KeyError::KeyIdMismatch {
                stated,
                computed: key.key_id,
            });
        }
        Ok(key)
    }

    /// Encodes the secret key as `PRIVATE+KEY+<name>+<hex id>+base64(0x01 || seed)`.
    ///
    /// The result, and every intermediate buffer, is zeroized on drop.
    pub fn encode(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 1 + ED25519_KEY_LEN]);
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.signing.as_bytes());
        let mut b64 = Zeroizing::new([0u8; 44]);
        // 33 bytes always encode to exactly 44 characters, so this cannot fail.
        let n = STANDARD
            .encode_slice(raw.as_slice(), b64.as_mut_slice())
            .unwrap_or_default();
        let id = self.key_id.to_string();
        let mut out = Zeroizing::new(String::with_capacity(
            SKEY_PREFIX.len() + self.name.len() + 1 + id.len() + 1 + b64.len(),
        ));
        out.push_str(SKEY_PREFIX);
        out.push_str(&self.name);
        out.push('+');
        out.push_str(&id);
        out.push('+');
        for &c in b64.get(..n).unwrap_or(&[]) {
            out.push(char::from(c));
        }
        out
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID for Ed25519 signed-note signatures (alg `0x01`).
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The 32 public-key bytes.
    pub fn public_bytes(&self) -> [u8; ED25519_KEY_LEN] {
        self.signing.verifying_key().to_bytes()
    }

    /// The matching verifier key for plain signatures (alg `0x01`).
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            alg: SigAlg::Ed25519,
            key: self.signing.verifying_key(),
        }
    }

    /// The verifier key for this key used as a `cosignature/v1` cosigner
    /// (alg `0x04`): same Ed25519 key, different key ID.
    pub fn cosigner_verifier(&self) -> VerifierKey {
        let key = self.signing.verifying_key();
        VerifierKey {
            name: self.name.clone(),
            key_id: KeyId::compute(&self.name, ALG_COSIGNATURE_V1, key.as_bytes()),
            alg: SigAlg::CosignatureV1,
            key,
        }
    }

    /// Ed25519 signature (RFC 8032, deterministic) over `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; ED25519_SIG_LEN] {
        self.signing.sign(msg).to_bytes()
    }
}

/// The seed is wiped on drop by the inner `ed25519_dalek::SigningKey`
/// (built with its `zeroize` feature).
impl zeroize::ZeroizeOnDrop for SignerKey {}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

    #[test]
    fn skey_round_trip_and_verifier() {
        let k = SignerKey::parse(PETER_SKEY).unwrap();
        assert_eq!(k.encode().as_str(), PETER_SKEY);
        assert_eq!(k.verifier().encode(), PETER_VKEY);
        assert_eq!(k.key_id().to_string(), "c74f20a3");
        let v = VerifierKey::parse(PETER_VKEY).unwrap();
        assert_eq!(v, k.verifier());
        assert_eq!(v.public_bytes(), k.public_bytes());
    }

    #[test]
    fn debug_hides_secret() {
        let k = SignerKey::parse(PETER_SKEY).unwrap();
        let d = format!("{k:?}");
        assert!(d.contains("PeterNeumann") && d.contains("c74f20a3"), "{d}");
        assert!(!d.contains("AYEKFALV") && !d.contains("810a"), "{d}");
        // no raw seed bytes in any common rendering
        let seed_hex = hex::encode(k.signing.as_bytes());
        assert!(!d.contains(&seed_hex));
    }

    #[test]
    fn secret_types_zeroize_on_drop() {
        fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        assert_zeroize_on_drop::<SigningKey>();
        assert_zeroize_on_drop::<SignerKey>();
        assert_zeroize_on_drop::<Zeroizing<String>>();
    }

    #[test]
    fn generate_round_trips() {
        let k = SignerKey::generate("example.com/log").unwrap();
        let again = SignerKey::parse(&k.encode()).unwrap();
        assert_eq!(again.public_bytes(), k.public_bytes());
        assert_eq!(again.key_id(), k.key_id());
        let v = VerifierKey::parse(&k.verifier().encode()).unwrap();
        assert_eq!(v, k.verifier());
        let c = VerifierKey::parse(&k.cosigner_verifier().encode()).unwrap();
        assert_eq!(c, k.cosigner_verifier());
        assert_eq!(c.alg(), SigAlg::CosignatureV1);
        assert_ne!(c.key_id(), v.key_id());
        assert!(c.encode().contains("+B"));
        let sig = k.sign(b"hello\n");
        assert!(v.verify_ed25519(b"hello\n", &sig));
        assert!(!v.verify_ed25519(b"hello!\n", &sig));
        assert!(!v.verify_ed25519(b"hello\n", &sig[..63]));
    }

    #[test]
    fn names() {
        for good in ["a", "example.com/log", "sum.golang.org", "é", "a-b_c:d"] {
            assert!(is_valid_key_name(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\u{85}b",
            "a\u{1}b",
            "a\nb",
            "\u{3000}",
        ] {
            assert!(!is_valid_key_name(bad), "{bad:?}");
        }
        assert_eq!(
            SignerKey::generate("bad name").unwrap_err(),
            KeyError::InvalidName
        );
    }

    #[test]
    fn vkey_rejections() {
        let k = SignerKey::parse(PETER_SKEY).unwrap();
        let good = k.verifier().encode();
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(KeyError::KeyIdMismatch {
                stated: KeyId(0xc74f20a4),
                computed: KeyId(0xc74f20a3)
            })
        );
        assert_eq!(
            VerifierKey::parse(&good.replace("c74f20a3", "C74F20A3")),
            Err(KeyError::BadKeyIdHex)
        );
        assert_eq!(
            VerifierKey::parse(&good.replace("c74f20a3", "c74f20a")),
            Err(KeyError::BadKeyIdHex)
        );
        assert_eq!(
            VerifierKey::parse("PeterNeumann+c74f20a3"),
            Err(KeyError::Malformed("vkey needs <name>+<id>+<key>"))
        );
        // truncated or padded-when-not-needed base64
        assert_eq!(
            VerifierKey::parse(&good[..good.len() - 1]),
            Err(KeyError::BadBase64)
        );
        assert_eq!(
            VerifierKey::parse(&format!("{good}=")),
            Err(KeyError::BadBase64)
        );
        // a space in the name
        assert_eq!(
            VerifierKey::parse(&good.replace("PeterNeumann", "Peter Neumann")),
            Err(KeyError::InvalidName)
        );
        assert_eq!(
            VerifierKey::parse("x+00000000+"),
            Err(KeyError::Malformed("empty key material"))
        );
    }

    #[test]
    fn non_canonical_base64_rejected() {
        // 32 bytes -> 43 chars + '=': the char before '=' carries 2 unused
        // bits; setting them gives a non-canonical encoding.
        let good = b64_encode(&[0u8; 32]);
        assert_eq!(good, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert_eq!(b64_decode(&good), Some(vec![0u8; 32]));
        assert_eq!(
            b64_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB="),
            None
        );
        assert_eq!(
            b64_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            None
        );
        assert_eq!(
            b64_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="),
            None
        );
        assert_eq!(b64_decode("AAB="), None);
        assert_eq!(b64_decode("AAAA AAAA"), None);
        assert_eq!(b64_decode("AAAA\nAAAA"), None);
        assert_eq!(b64_decode("-_-_"), None);
        assert_eq!(b64_decode(""), Some(vec![]));
    }

    #[test]
    fn skey_rejections() {
        assert!(matches!(
            SignerKey::parse(
                "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
            ),
            Err(KeyError::KeyIdMismatch { .. })
        ));
        assert_eq!(
            SignerKey::parse("PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
                .unwrap_err(),
            KeyError::Malformed("signer key must start with PRIVATE+KEY+")
        );
        // too long for the 33-byte buffer
        assert_eq!(
            SignerKey::parse(
                "PRIVATE+KEY+a+00000000+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFzAAAA"
            )
            .unwrap_err(),
            KeyError::BadBase64
        );
        // alg byte 0x04 is not a signer-key algorithm
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(&[7u8; 32]);
        let s = format!("PRIVATE+KEY+a+00000000+{}", b64_encode(&raw));
        assert_eq!(
            SignerKey::parse(&s).unwrap_err(),
            KeyError::UnsupportedAlgorithm(4)
        );
        // short seed
        let s = format!("PRIVATE+KEY+a+00000000+{}", b64_encode(&[1u8; 20]));
        assert_eq!(
            SignerKey::parse(&s).unwrap_err(),
            KeyError::WrongKeyLength { alg: 1, len: 19 }
        );
    }

    #[test]
    fn weak_key_rejected() {
        // The identity point (y = 1) is a valid encoding of a small-order point.
        let mut ident = [0u8; 32];
        ident[0] = 1;
        let vk = VerifyingKey::from_bytes(&ident).unwrap();
        assert_eq!(
            VerifierKey::new("x", SigAlg::Ed25519, vk),
            Err(KeyError::InvalidPublicKey)
        );
    }
}
