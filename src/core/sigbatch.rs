//! Ed25519 signature validity (FORMAT.md §4.3), one signature at a time
//! ([`verify`]) and in batches of one key ([`BatchKey`]; [`verify_by_key`]
//! groups signatures by key, the fast path of `custody verify` and
//! `custody mirror`), with the same verdict on every input.
//!
//! The rule is RFC 8032 §5.1.7 as written (strict decoding, §5.1.3; the
//! cofactored group equation) with small-order `A` and `R` refused. A
//! signature `R ‖ S` by the 32-byte key `A` on a message `M` is valid iff
//!
//! 1. `S`, read as a 256-bit little-endian integer, is below L (the order
//!    of the base point B);
//! 2. `A` and `R` decode as points by §5.1.3: y (the low 255 bits) is below
//!    p = 2^255 − 19, x² = (y² − 1)/(d·y² + 1) has a root, and x = 0 does
//!    not come with the sign bit set;
//! 3. neither point is of small order (\[8\]P is not the identity);
//! 4. with k = SHA-512(R ‖ A ‖ M) mod L over the bytes as given,
//!    \[8\](\[S\]B − \[k\]A − R) is the identity.
//!
//! (The encodings with x = 0 and the sign bit set are those of (0, 1) and
//! (0, −1), both of small order: the code refuses them by check 3.)
//!
//! A batch checks, for random 128-bit z_i drawn from the operating system,
//!
//! ```text
//! \[8\](Σ z_i·R_i − [Σ z_i·S_i]·B + [Σ z_i·k_i]·A) = 0
//! ```
//!
//! with one multi-scalar multiplication; the A terms of one key collapse into
//! one, so a batch costs about one point per signature instead of two.
//!
//! Why the verdicts are those of [`verify`], on every input:
//!
//! * checks 1–3 are made for every signature (and once for the key) before
//!   the batch: a signature failing one is invalid and never enters it;
//! * with D_i = \[S_i\]B − \[k_i\]A − R_i, each \[8\]D_i lies in the subgroup of
//!   prime order L. The batch equation is Σ z_i·\[8\]D_i = 0: if every
//!   signature is valid it holds; if one is not, its \[8\]D_i has order L and,
//!   whatever the other terms, at most one z_i below 2^128 < L makes the sum
//!   vanish, so the batch fails except with probability 2^-128. A small-order
//!   component of R or A (which a key's holder can add) is multiplied away
//!   by 8 in both paths alike: the batch result no longer depends on z mod 8;
//! * every signature of a batch whose equation fails is decided by
//!   [`verify`] on its own, so a bad signature is always named exactly.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha512};

/// Signatures per batch equation: large enough for Pippenger's method to pay,
/// small enough that a failed batch (re-checked one by one) stays cheap.
pub const BATCH: usize = 256;

/// One signature to check: the signed message and the 64 signature bytes.
pub struct Item<'a> {
    pub msg: &'a [u8],
    pub sig: &'a [u8; 64],
}

/// Is `sig` a valid signature by the key `key` on `msg` (FORMAT.md §4.3)?
pub fn verify(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    match decode_point(key) {
        Some(a) => verify_with(&a, key, msg, sig),
        None => false,
    }
}

/// [`verify`] for a key already decoded (its point is not decoded again).
pub fn verify_key(key: &VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    match key_point(key) {
        Some(a) => verify_with(&a, key.as_bytes(), msg, sig),
        None => false,
    }
}

/// Checks 2 and 3 for a decoded key: its point, if it passes (a
/// `VerifyingKey` holds the decompression of its bytes, which need not be
/// canonical).
fn key_point(key: &VerifyingKey) -> Option<EdwardsPoint> {
    let a = key.to_edwards();
    (y_is_canonical(key.as_bytes()) && !a.is_small_order()).then_some(a)
}

/// [`verify`] with a key that already passed checks 2 and 3.
fn verify_with(a: &EdwardsPoint, a_bytes: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Some((r, s)) = precheck(sig) else {
        return false;
    };
    let k = challenge(sig, a_bytes, msg);
    // [S]B − [k]A − R, then the cofactor.
    let d = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-a, &s) - r;
    d.mul_by_cofactor().is_identity()
}

/// A verifying key prepared for batches: its bytes, and its point when it
/// passes checks 2 and 3 (otherwise no signature by it is valid).
pub struct BatchKey {
    bytes: [u8; 32],
    point: Option<EdwardsPoint>,
}

impl BatchKey {
    pub fn new(key: &VerifyingKey) -> BatchKey {
        BatchKey {
            bytes: key.to_bytes(),
            point: key_point(key),
        }
    }

    /// A key given as its 32 bytes, which need not be a valid point.
    pub fn from_bytes(key: &[u8; 32]) -> BatchKey {
        BatchKey {
            bytes: *key,
            point: decode_point(key),
        }
    }

    /// The verdict of [`verify`] for each item, in order.
    pub fn verify_all(&self, items: &[Item<'_>]) -> Vec<bool> {
        let mut out = vec![false; items.len()];
        let Some(a) = self.point else {
            return out;
        };
        let mut start = 0;
        while start < items.len() {
            let end = (start + BATCH).min(items.len());
            let mut idx = Vec::with_capacity(end - start);
            let mut pre = Vec::with_capacity(end - start);
            for (i, it) in items.iter().enumerate().take(end).skip(start) {
                if let Some(p) = precheck(it.sig) {
                    idx.push(i);
                    pre.push(p);
                } // else invalid: out[i] stays false
            }
            if equation_holds(&a, &self.bytes, items, &idx, &pre) {
                for &i in &idx {
                    out[i] = true;
                }
            } else {
                for &i in &idx {
                    out[i] = verify_with(&a, &self.bytes, items[i].msg, items[i].sig);
                }
            }
            start = end;
        }
        out
    }
}

/// The verdict of [`verify_key`] (FORMAT.md §4.3) for each signature, each
/// by its own key, in order: the signatures are grouped by key and every
/// group is checked with [`BatchKey::verify_all`]. `cache` keeps the keys
/// prepared for batches, by their bytes, from one call to the next.
pub fn verify_by_key(
    sigs: &[(&VerifyingKey, Item<'_>)],
    cache: &mut HashMap<[u8; 32], BatchKey>,
) -> Vec<bool> {
    let mut groups: HashMap<[u8; 32], Vec<usize>> = HashMap::new();
    for (i, (key, _)) in sigs.iter().enumerate() {
        groups.entry(key.to_bytes()).or_default().push(i);
    }
    let mut out = vec![false; sigs.len()];
    for (k, idx) in groups {
        let bk = cache
            .entry(k)
            .or_insert_with(|| BatchKey::new(sigs[idx[0]].0));
        let items: Vec<Item<'_>> = idx
            .iter()
            .map(|&i| Item {
                msg: sigs[i].1.msg,
                sig: sigs[i].1.sig,
            })
            .collect();
        for (&i, v) in idx.iter().zip(bk.verify_all(&items)) {
            out[i] = v;
        }
    }
    out
}

/// Checks 2 and 3 for one encoded point: the point, if it passes.
fn decode_point(enc: &[u8; 32]) -> Option<EdwardsPoint> {
    if !y_is_canonical(enc) {
        return None;
    }
    let p = CompressedEdwardsY(*enc).decompress()?;
    if p.is_small_order() {
        return None;
    }
    Some(p)
}

/// Checks 1 to 3 for the signature's own parts: R as a point and S as a
/// scalar, when both pass.
fn precheck(sig: &[u8; 64]) -> Option<(EdwardsPoint, Scalar)> {
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))?;
    Some((decode_point(&r)?, s))
}

/// k = SHA-512(R ‖ A ‖ M) mod L.
fn challenge(sig: &[u8; 64], a_bytes: &[u8; 32], msg: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(&sig[..32]);
    h.update(a_bytes);
    h.update(msg);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// Is the y coordinate of an encoded point (bit 255 is x's sign) below p = 2^255 − 19?
fn y_is_canonical(enc: &[u8; 32]) -> bool {
    // y >= p only if y's 255 bits are all ones down to bit 5 and y's low byte >= 0xed.
    let top = enc[31] & 0x7f == 0x7f;
    let middle = enc[1..31].iter().all(|&b| b == 0xff);
    !(top && middle && enc[0] >= 0xed)
}

/// \[8\](Σ z_i·R_i − [Σ z_i·S_i]·B + [Σ z_i·k_i]·A) == 0 for fresh random z_i.
fn equation_holds(
    a: &EdwardsPoint,
    a_bytes: &[u8; 32],
    items: &[Item<'_>],
    idx: &[usize],
    pre: &[(EdwardsPoint, Scalar)],
) -> bool {
    if idx.is_empty() {
        return true;
    }
    let mut random = vec![0u8; 16 * idx.len()];
    if getrandom::fill(&mut random).is_err() {
        return false; // no randomness: every signature is checked on its own
    }
    let mut scalars = Vec::with_capacity(idx.len() + 2);
    let mut points = Vec::with_capacity(idx.len() + 2);
    let (mut b_coeff, mut a_coeff) = (Scalar::ZERO, Scalar::ZERO);
    for ((&i, (r, s)), z) in idx.iter().zip(pre).zip(random.chunks_exact(16)) {
        let z = Scalar::from(u128::from_le_bytes(z.try_into().expect("16 bytes")));
        b_coeff += z * s;
        a_coeff += z * challenge(items[i].sig, a_bytes, items[i].msg);
        scalars.push(z);
        points.push(*r);
    }
    scalars.push(-b_coeff);
    points.push(ED25519_BASEPOINT_POINT);
    scalars.push(a_coeff);
    points.push(*a);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Signer, SigningKey};

    /// L, the order of the base point, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    /// A point of order 8 (C2SP CCTV's list of low-order encodings).
    fn order_8() -> EdwardsPoint {
        let enc: [u8; 32] =
            hex::decode("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
                .unwrap()
                .try_into()
                .unwrap();
        let t = CompressedEdwardsY(enc).decompress().unwrap();
        assert!(t.is_small_order() && !(t + t + t + t).is_identity());
        t
    }

    fn add_l(s: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = s[i] as u16 + L[i] as u16 + carry;
            out[i] = v as u8;
            carry = v >> 8;
        }
        out
    }

    fn signed(n: usize) -> (SigningKey, Vec<Vec<u8>>, Vec<[u8; 64]>) {
        let sk = SigningKey::from_bytes(&[9; 32]);
        let msgs: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("message {i}").into_bytes())
            .collect();
        let sigs = msgs.iter().map(|m| sk.sign(m).to_bytes()).collect();
        (sk, msgs, sigs)
    }

    fn verdicts(key: &[u8; 32], msgs: &[Vec<u8>], sigs: &[[u8; 64]]) -> Vec<bool> {
        let items: Vec<Item<'_>> = msgs
            .iter()
            .zip(sigs)
            .map(|(msg, sig)| Item { msg, sig })
            .collect();
        BatchKey::from_bytes(key).verify_all(&items)
    }

    fn single(key: &[u8; 32], msgs: &[Vec<u8>], sigs: &[[u8; 64]]) -> Vec<bool> {
        msgs.iter()
            .zip(sigs)
            .map(|(m, s)| verify(key, m, s))
            .collect()
    }

    /// A signature by the secret scalar `a` (key `A = [a]B + ta`) with the
    /// nonce point `R = [r]B + tr`: valid by the rule (the cofactor removes
    /// the small-order parts), refused by a cofactorless check.
    fn torsioned(
        a: Scalar,
        ta: EdwardsPoint,
        r: Scalar,
        tr: EdwardsPoint,
        msg: &[u8],
    ) -> ([u8; 32], [u8; 64]) {
        let key = (EdwardsPoint::mul_base(&a) + ta).compress().to_bytes();
        let big_r = (EdwardsPoint::mul_base(&r) + tr).compress().to_bytes();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&big_r);
        let k = challenge(&sig, &key, msg);
        sig[32..].copy_from_slice((r + k * a).as_bytes());
        (key, sig)
    }

    #[test]
    fn all_good_across_batches() {
        let (sk, msgs, sigs) = signed(BATCH * 2 + 3);
        let key = sk.verifying_key().to_bytes();
        assert!(verdicts(&key, &msgs, &sigs).iter().all(|&v| v));
        assert!(single(&key, &msgs, &sigs).iter().all(|&v| v));
    }

    #[test]
    fn bad_ones_are_named_exactly() {
        let (sk, msgs, mut sigs) = signed(BATCH + 10);
        sigs[7][40] ^= 1; // a wrong S
        sigs[100][3] ^= 0x10; // a wrong R
                              // S + L: the same point equation, but not canonical.
        let s = add_l(&sigs[200][32..]);
        sigs[200][32..].copy_from_slice(&s);
        // R of small order (the identity), S anything.
        sigs[260][..32].copy_from_slice(&{
            let mut id = [0u8; 32];
            id[0] = 1;
            id
        });
        let key = sk.verifying_key().to_bytes();
        let v = verdicts(&key, &msgs, &sigs);
        assert_eq!(v, single(&key, &msgs, &sigs));
        let bad: Vec<usize> = (0..v.len()).filter(|&i| !v[i]).collect();
        assert_eq!(bad, vec![7, 100, 200, 260]);
        // For signatures made by a signer these are also verify_strict's verdicts.
        let vk = sk.verifying_key();
        let strict: Vec<bool> = msgs
            .iter()
            .zip(&sigs)
            .map(|(m, s)| vk.verify_strict(m, &Signature::from_bytes(s)).is_ok())
            .collect();
        assert_eq!(v, strict);
    }

    #[test]
    fn non_canonical_y_is_rejected() {
        assert!(y_is_canonical(&[0u8; 32]));
        let mut p = [0xffu8; 32];
        p[0] = 0xec;
        p[31] = 0x7f;
        assert!(y_is_canonical(&p)); // p - 1
        p[0] = 0xed;
        assert!(!y_is_canonical(&p)); // p
        p[31] = 0xff; // sign bit does not matter
        assert!(!y_is_canonical(&p));
    }

    #[test]
    fn weak_key_signs_nothing() {
        // The identity as a key: every signature is rejected.
        let mut id = [0u8; 32];
        id[0] = 1;
        let (_, msgs, sigs) = signed(4);
        assert_eq!(verdicts(&id, &msgs, &sigs), vec![false; 4]);
        assert_eq!(single(&id, &msgs, &sigs), vec![false; 4]);
    }

    /// Issue 16: an R with a small-order component (and a key with one) got
    /// a batch verdict that depended on the random coefficients (accepted
    /// with probability up to 1/2) while the one-by-one check refused it.
    /// Under the cofactored rule both accept it, on every run; a wrong S
    /// next to it is still named.
    #[test]
    fn small_order_components_get_one_verdict_every_run() {
        let t = order_8();
        let a = Scalar::from(123_456_789u64);
        let zero = EdwardsPoint::default();
        for (ta, tr) in [(zero, t), (t, zero), (t, (t + t)), ((t + t + t + t), t)] {
            let msgs: Vec<Vec<u8>> = (0..40).map(|i| format!("m{i}").into_bytes()).collect();
            let mut key = [0u8; 32];
            let sigs: Vec<[u8; 64]> = msgs
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    // Every other signature carries the torsion in R.
                    let tr = if i % 2 == 0 { tr } else { zero };
                    let (k, s) = torsioned(a, ta, Scalar::from(1000 + i as u64), tr, m);
                    key = k;
                    s
                })
                .collect();
            let mut bad = sigs.clone();
            bad[5][33] ^= 1;
            let one = single(&key, &msgs, &sigs);
            assert!(one.iter().all(|&v| v));
            let mut want = vec![true; 40];
            want[5] = false;
            assert_eq!(single(&key, &msgs, &bad), want);
            for _ in 0..16 {
                assert_eq!(verdicts(&key, &msgs, &sigs), one);
                assert_eq!(verdicts(&key, &msgs, &bad), want);
            }
        }
    }
}
