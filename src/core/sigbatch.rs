//! Ed25519 batch verification of many signatures by one key, giving the
//! verdicts of `verify_strict` (RFC 8032 §5.1.7 with the strict checks of
//! ed25519-dalek) for each signature — the fast path of `custody verify`.
//!
//! `verify_strict` accepts (R, S) on message M under key A iff S < L (canonical),
//! A and R are not of small order, and the encoding of [S]B − [k]A equals R's
//! bytes, with k = SHA-512(R ‖ A ‖ M) mod L. A batch checks, for random
//! 128-bit z_i drawn from the operating system,
//!
//! ```text
//! Σ z_i·R_i − [Σ z_i·S_i]·B + [Σ z_i·k_i]·A = 0
//! ```
//!
//! with one multi-scalar multiplication; the A terms of one key collapse into
//! one, so a batch costs about one point per signature instead of two.
//!
//! How the verdicts stay those of `verify_strict`:
//!
//! * every signature is pre-checked for what `verify_strict` rejects and the
//!   batch equation would not: S canonical (the same `from_canonical_bytes`),
//!   R decompresses and is not of small order, R's encoding is canonical
//!   (y < p; the x = 0 encodings are all of small order). A key that is of
//!   small order or not torsion-free never takes the batch path;
//! * a signature that fails a pre-check, and every signature of a batch whose
//!   equation does not hold, is decided by `verify_strict` itself, so a bad
//!   signature is always named exactly;
//! * a batch that holds means, except with probability about 2^-128, that
//!   every R_i equals [S_i]B − [k_i]A up to a small-order (torsion) component.
//!   Such a component can only be put there by the key's holder; the equation
//!   then holds only if Σ z_i·T_i = 0, which for fresh random z_i happens with
//!   probability at most 1/2 per run. This is the one difference from
//!   `verify_strict` (documented in FORMAT.md §4.3): a log key or actor that
//!   deliberately signs with a torsioned R is caught at least every other run.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest as _, Sha512};

/// Signatures per batch equation: large enough for Pippenger's method to pay,
/// small enough that a failed batch (re-checked one by one) stays cheap.
pub const BATCH: usize = 256;

/// One signature to check: the signed message and the 64 signature bytes.
pub struct Item<'a> {
    pub msg: &'a [u8],
    pub sig: &'a [u8; 64],
}

/// A verifying key prepared for batches: its point, and whether it may take
/// the batch path at all.
pub struct BatchKey {
    key: VerifyingKey,
    point: Option<EdwardsPoint>,
}

impl BatchKey {
    pub fn new(key: &VerifyingKey) -> BatchKey {
        let point = CompressedEdwardsY(key.to_bytes())
            .decompress()
            .filter(|p| !p.is_small_order() && p.is_torsion_free());
        BatchKey { key: *key, point }
    }

    /// The verdict of `verify_strict` for each item, in order.
    pub fn verify_all(&self, items: &[Item<'_>]) -> Vec<bool> {
        let mut out = vec![false; items.len()];
        let strict = |it: &Item<'_>| {
            self.key
                .verify_strict(it.msg, &Signature::from_bytes(it.sig))
                .is_ok()
        };
        let Some(a) = self.point else {
            for (o, it) in out.iter_mut().zip(items) {
                *o = strict(it);
            }
            return out;
        };
        let mut start = 0;
        while start < items.len() {
            let end = (start + BATCH).min(items.len());
            let mut idx = Vec::with_capacity(end - start);
            let mut pre = Vec::with_capacity(end - start);
            for (i, it) in items.iter().enumerate().take(end).skip(start) {
                match precheck(it) {
                    Some(p) => {
                        idx.push(i);
                        pre.push(p);
                    }
                    None => out[i] = strict(it),
                }
            }
            if equation_holds(&a, self.key.as_bytes(), items, &idx, &pre) {
                for &i in &idx {
                    out[i] = true;
                }
            } else {
                for &i in &idx {
                    out[i] = strict(&items[i]);
                }
            }
            start = end;
        }
        out
    }
}

/// R as a point and S as a scalar, when neither is something `verify_strict`
/// rejects outright.
fn precheck(it: &Item<'_>) -> Option<(EdwardsPoint, Scalar)> {
    let mut r = [0u8; 32];
    r.copy_from_slice(&it.sig[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&it.sig[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s))?;
    if !y_is_canonical(&r) {
        return None;
    }
    let p = CompressedEdwardsY(r).decompress()?;
    if p.is_small_order() {
        return None;
    }
    Some((p, s))
}

/// Is the y coordinate of an encoded point (bit 255 is x's sign) below p = 2^255 − 19?
fn y_is_canonical(enc: &[u8; 32]) -> bool {
    // y >= p only if y's 255 bits are all ones down to bit 5 and y's low byte >= 0xed.
    let top = enc[31] & 0x7f == 0x7f;
    let middle = enc[1..31].iter().all(|&b| b == 0xff);
    !(top && middle && enc[0] >= 0xed)
}

/// Σ z_i·R_i − [Σ z_i·S_i]·B + [Σ z_i·k_i]·A == 0 for fresh random z_i.
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
        let mut h = Sha512::new();
        h.update(&items[i].sig[..32]);
        h.update(a_bytes);
        h.update(items[i].msg);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        b_coeff += z * s;
        a_coeff += z * k;
        scalars.push(z);
        points.push(*r);
    }
    scalars.push(-b_coeff);
    points.push(ED25519_BASEPOINT_POINT);
    scalars.push(a_coeff);
    points.push(*a);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    /// L, the order of the base point, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

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

    fn verdicts(key: &VerifyingKey, msgs: &[Vec<u8>], sigs: &[[u8; 64]]) -> Vec<bool> {
        let items: Vec<Item<'_>> = msgs
            .iter()
            .zip(sigs)
            .map(|(msg, sig)| Item { msg, sig })
            .collect();
        BatchKey::new(key).verify_all(&items)
    }

    fn strict(key: &VerifyingKey, msgs: &[Vec<u8>], sigs: &[[u8; 64]]) -> Vec<bool> {
        msgs.iter()
            .zip(sigs)
            .map(|(m, s)| key.verify_strict(m, &Signature::from_bytes(s)).is_ok())
            .collect()
    }

    #[test]
    fn all_good_across_batches() {
        let (sk, msgs, sigs) = signed(BATCH * 2 + 3);
        assert!(verdicts(&sk.verifying_key(), &msgs, &sigs)
            .iter()
            .all(|&v| v));
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
        let v = verdicts(&sk.verifying_key(), &msgs, &sigs);
        assert_eq!(v, strict(&sk.verifying_key(), &msgs, &sigs));
        let bad: Vec<usize> = (0..v.len()).filter(|&i| !v[i]).collect();
        assert_eq!(bad, vec![7, 100, 200, 260]);
    }

    #[test]
    fn non_canonical_y_is_rejected_like_strict() {
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
    fn weak_key_takes_the_strict_path() {
        // The identity as a key: every signature is rejected, as by verify_strict.
        let mut id = [0u8; 32];
        id[0] = 1;
        let key = VerifyingKey::from_bytes(&id).unwrap();
        let (_, msgs, sigs) = signed(4);
        assert_eq!(verdicts(&key, &msgs, &sigs), vec![false; 4]);
    }
}
