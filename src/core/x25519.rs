//! The age X25519 recipient stanza, with a precomputed table for the recipient.
//!
//! Wrapping a file key to an X25519 recipient costs two scalar multiplications:
//! the ephemeral share `e·B` and the shared secret `e·R`. The age crate computes
//! the second one with the Montgomery ladder, which is the largest single cost of
//! ingesting small files (one key exchange per document; BENCHMARKS.md). The
//! recipient `R` is the same for every file of an archive, so this module maps
//! it once to the Edwards form, checks it lies in the prime-order subgroup, and
//! builds a fixed-base table for it: `e·R` then costs what `e·B` costs.
//!
//! The stanza is the age v1 X25519 stanza, byte for byte (FORMAT.md §6):
//! `-> X25519 base64(e·B)` with body `ChaCha20-Poly1305(key, nonce 0, file key)`,
//! `key = HKDF-SHA-256(salt = e·B ‖ R, ikm = e·R, info = "age-encryption.org/v1/X25519")`.
//! For a recipient outside the prime-order subgroup (no key made by an age
//! implementation is), the table would not give the X25519 result; such a
//! recipient is left to the age crate's own ladder.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use base64::Engine as _;
use curve25519_dalek::edwards::EdwardsBasepointTable;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use curve25519_dalek::traits::BasepointTable;
use zeroize::Zeroizing;

const TAG: &str = "X25519";
const LABEL: &[u8] = b"age-encryption.org/v1/X25519";

/// An age X25519 recipient with a lazily built fixed-base table. (The age
/// crate marks classic recipients deprecated for new keys; custody keeps them
/// for the archives and partners that have them.)
#[derive(Clone)]
#[allow(deprecated)]
pub struct FastRecipient {
    inner: age::x25519::Recipient,
    public: [u8; 32],
    /// `None` inside: the point is not usable with a table (use the ladder).
    table: Arc<OnceLock<Option<Box<EdwardsBasepointTable>>>>,
}

impl FastRecipient {
    #[allow(deprecated)]
    pub fn new(inner: age::x25519::Recipient, public: [u8; 32]) -> Self {
        FastRecipient {
            inner,
            public,
            table: Arc::new(OnceLock::new()),
        }
    }

    /// The age crate's recipient (for parsing, display and the ladder fallback).
    #[allow(deprecated)]
    pub fn age(&self) -> &age::x25519::Recipient {
        &self.inner
    }

    fn table(&self) -> Option<&EdwardsBasepointTable> {
        self.table
            .get_or_init(|| {
                let p = MontgomeryPoint(self.public).to_edwards(0)?;
                // Only in the prime-order subgroup is (clamped e mod l)·R the
                // X25519 result; every honestly generated key is there.
                if !p.is_torsion_free() || p.is_small_order() {
                    return None;
                }
                Some(Box::new(EdwardsBasepointTable::create(&p)))
            })
            .as_deref()
    }

    /// The shared secret `X25519(esk, R)`, or `None` if the table cannot be used.
    fn shared(&self, esk: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
        let table = self.table()?;
        let mut s = Scalar::from_bytes_mod_order(clamp_integer(*esk));
        let point = table.mul_base(&s);
        zeroize::Zeroize::zeroize(&mut s);
        Some(Zeroizing::new(point.to_montgomery().to_bytes()))
    }
}

impl age::Recipient for FastRecipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let mut esk = Zeroizing::new([0u8; 32]);
        if getrandom::fill(&mut esk[..]).is_err() {
            return Err(age::EncryptError::Io(std::io::Error::other(
                "the operating system's random generator failed",
            )));
        }
        let Some(shared) = self.shared(&esk) else {
            return self.inner.wrap_file_key(file_key);
        };
        let epk = MontgomeryPoint::mul_base_clamped(*esk).to_bytes();
        // An all-zero secret means a broken generator (the age crate panics here).
        if shared.iter().all(|&b| b == 0) {
            return Err(age::EncryptError::Io(std::io::Error::other(
                "X25519 produced the all-zero secret; the random generator is failing",
            )));
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&epk);
        salt[32..].copy_from_slice(&self.public);
        let key = Zeroizing::new(age_core::primitives::hkdf(&salt, LABEL, &shared[..]));
        let body = age_core::primitives::aead_encrypt(&key, file_key.expose_secret());
        Ok((
            vec![Stanza {
                tag: TAG.to_owned(),
                args: vec![base64::engine::general_purpose::STANDARD_NO_PAD.encode(epk)],
                body,
            }],
            HashSet::new(),
        ))
    }
}

#[cfg(test)]
#[allow(deprecated)] // classic X25519 keys: the format custody still writes for them
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_ladder() {
        for k in 0..50u8 {
            let sk = clamp_integer(crate::core::hash::Digest::of(&[k]).0);
            let public = MontgomeryPoint::mul_base_clamped(sk).to_bytes();
            let id = age::x25519::Identity::generate();
            let r = FastRecipient::new(id.to_public(), public);
            let mut esk = [0u8; 32];
            getrandom::fill(&mut esk).unwrap();
            let ladder = MontgomeryPoint(public).mul_clamped(esk).to_bytes();
            assert_eq!(*r.shared(&esk).unwrap(), ladder, "key {k}");
        }
    }

    #[test]
    fn points_outside_the_subgroup_use_the_ladder() {
        // u = 0 is the point of order 2; u = 1 maps to the identity's neighbour:
        // neither may go through the table.
        let id = age::x25519::Identity::generate();
        for u in [[0u8; 32], {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        }] {
            let r = FastRecipient::new(id.to_public(), u);
            assert!(r.shared(&[7; 32]).is_none());
        }
    }
}
