//! Sizes that do not identify documents (FORMAT.md §6.2): every age file
//! custody writes is padded to a Padmé length by one extra header stanza of a
//! type no age identity claims, which every age implementation skips (the
//! mechanism of age's own "grease" stanzas). The payload is untouched, so
//! `age -d` still gives the exact original bytes.
//!
//! Padmé: Nikitin, Barman, Lueks, Underwood, Hubaux, Ford, "Reducing Metadata
//! Leakage from Encrypted Files and Communication with PURBs" (PETS 2019),
//! §4: at most about 12% larger, and a length of E = ⌊log2 L⌋ bits reveals
//! only O(log log L) bits. custody caps the bucket at 4 KiB ([`MAX_BUCKET`]):
//! the `age` crate (0.13) reads a header in time quadratic in its length
//! (measured: 0.1 s for 32 KiB of padding, 85 s for 1 MiB), so the padding
//! of large files must stay small for every age implementation to open them.

use age_core::format::Stanza;

/// The padding stanza's type (FORMAT.md §6.2).
pub const PAD_TAG: &str = "custody-pad";

/// Bytes of a padding stanza with no argument and an empty body:
/// `-> custody-pad` LF, then the empty final body line (LF).
const PAD_MIN: u64 = 3 + PAD_TAG.len() as u64 + 1 + 1;

/// A full line of base64 body: 64 characters and LF, for 48 body bytes.
const LINE: u64 = 65;
const LINE_BYTES: usize = 48;

/// The widest bucket: padding stanzas stay under about 4 KiB (5.5 KB of
/// header text), which the age crate parses in milliseconds.
pub const MAX_BUCKET: u64 = 4096;

/// The bucket length of `len`: Padmé, with buckets at most [`MAX_BUCKET`]
/// wide (so, for `len` from 2^18 on, a multiple of 4 KiB). Lengths below 2,
/// and a length whose rounding would overflow, are returned as they are.
pub fn bucket(len: u64) -> u64 {
    if len < 2 {
        return len;
    }
    let e = 63 - u64::from(len.leading_zeros());
    let s = 64 - u64::from(e.leading_zeros());
    let mask = (1u64 << (e - s)).min(MAX_BUCKET) - 1;
    len.checked_add(mask).map_or(len, |l| l & !mask)
}

/// Padmé(L) (the paper's Algorithm 1): with E = ⌊log2 L⌋ and
/// S = ⌊log2 E⌋ + 1, L rounded up to a multiple of 2^(E − S).
/// Lengths below 2, and a length whose rounding would overflow, are returned as they are.
pub fn padme(len: u64) -> u64 {
    if len < 2 {
        return len;
    }
    let e = 63 - u64::from(len.leading_zeros());
    let s = 64 - u64::from(e.leading_zeros());
    let mask = (1u64 << (e - s)) - 1;
    len.checked_add(mask).map_or(len, |l| l & !mask)
}

/// How a padding stanza of exactly `d` bytes is laid out: `full` body lines of
/// 48 random bytes each, then an empty final line, and an argument of `arg`
/// characters (none when 0). `None` when no stanza has exactly `d` bytes
/// (below 16 bytes, and 17).
fn layout(d: u64) -> Option<(u64, u64)> {
    let rest = d.checked_sub(PAD_MIN)?;
    let (full, rem) = (rest / LINE, rest % LINE);
    match rem {
        0 => Some((full, 0)),
        // A one-byte remainder cannot be an argument (a space and at least
        // one character): one body line fewer, an argument of 65 characters.
        1 if full > 0 => Some((full - 1, LINE)),
        1 => None,
        // A space and `rem - 1` characters.
        _ => Some((full, rem - 1)),
    }
}

/// The padded length of a file of `unpadded` bytes and the size of its
/// padding stanza: [`bucket`](`unpadded` + 18). A stanza can have any size from
/// 18 bytes on (16 and 18 to 65: an empty body and an argument of 0 or 2 to 49
/// characters; every size above with full body lines), so every file has one,
/// and the files of one length are those of a contiguous range of unpadded
/// lengths. `(unpadded, 0)` (no stanza) only when no larger length can be written.
pub fn target(unpadded: u64) -> (u64, u64) {
    match unpadded.checked_add(PAD_MIN + 2).map(bucket) {
        Some(t) if t - unpadded >= PAD_MIN + 2 => (t, t - unpadded),
        _ => (unpadded, 0),
    }
}

/// The padding stanza of exactly `d` bytes as the header writes it
/// (FORMAT.md §6.1 step 3): random argument characters (standard base64
/// alphabet) and random body bytes, drawn with `fill`.
pub fn stanza(d: u64, fill: &mut dyn FnMut(&mut [u8])) -> Option<Stanza> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (full, arg) = layout(d)?;
    let mut args = Vec::new();
    if arg > 0 {
        let mut a = vec![0u8; usize::try_from(arg).ok()?];
        fill(&mut a);
        args.push(
            a.iter()
                .map(|b| char::from(ALPHABET[usize::from(b % 64)]))
                .collect(),
        );
    }
    let mut body = vec![0u8; usize::try_from(full).ok()?.checked_mul(LINE_BYTES)?];
    fill(&mut body);
    Some(Stanza {
        tag: PAD_TAG.to_owned(),
        args,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padme_matches_the_paper() {
        // Values from the definition, worked by hand: 9 → E=3, S=2, 2^1.
        for (l, p) in [
            (0u64, 0u64),
            (1, 1),
            (2, 2),
            (3, 3),
            (9, 10),
            (327, 336),
            (1000, 1024),
            (1025, 1088),
            (1 << 20, 1 << 20),
            ((1 << 20) + 1, (1 << 20) + (1 << 15)),
            ((1 << 30) + 1, (1 << 30) + (1 << 25)),
            (u64::MAX, u64::MAX),
        ] {
            assert_eq!(padme(l), p, "padme({l})");
        }
        // Never below the input, at most 12% above it (the paper's bound),
        // and idempotent.
        let mut x = 7u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let l = x % (1 << 40) + 100;
            let p = padme(l);
            assert!(p >= l && (p - l) as f64 <= 0.12 * l as f64, "{l} -> {p}");
            assert_eq!(padme(p), p);
        }
    }

    fn stanza_len(s: &Stanza) -> u64 {
        let args: usize = s.args.iter().map(|a| 1 + a.len()).sum();
        let b64 = s.body.len().div_ceil(3) * 4 - [0, 2, 1][s.body.len() % 3];
        let lines = b64 / 64 + 1;
        (3 + s.tag.len() + args + 1 + b64 + lines) as u64
    }

    #[test]
    fn buckets_are_padme_up_to_4_kib_wide() {
        for l in [2u64, 300, 1000, 65_536, 200_000, (1 << 18) - 1] {
            assert_eq!(bucket(l), padme(l), "{l}");
        }
        for (l, b) in [
            ((1u64 << 18) + 1, (1 << 18) + 4096),
            ((1 << 20) + 1, (1 << 20) + 4096),
            ((1 << 30) + 1, (1 << 30) + 4096),
            (u64::MAX, u64::MAX),
        ] {
            assert_eq!(bucket(l), b, "{l}");
        }
        let mut x = 7u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let l = x % (1 << 40) + 2;
            let b = bucket(l);
            assert!(b >= l && b - l < MAX_BUCKET && b <= padme(l), "{l}");
            assert_eq!(bucket(b), b);
        }
    }

    #[test]
    fn every_difference_from_16_on_but_17_has_a_stanza_of_that_size() {
        assert!(layout(15).is_none() && layout(17).is_none());
        for d in (16..5000).filter(|&d| d != 17) {
            let s = stanza(d, &mut |b| b.fill(0x5a)).unwrap();
            assert_eq!(stanza_len(&s), d, "{d}");
            assert!(s
                .args
                .iter()
                .all(|a| a.bytes().all(|c| c.is_ascii_graphic())));
        }
    }

    #[test]
    fn targets_are_padme_lengths_reachable_by_one_stanza() {
        let mut last = (0, 0);
        for l in 200..40_000 {
            let (t, d) = target(l);
            assert_eq!(t - l, d);
            assert!(layout(d).is_some(), "{l}");
            assert_eq!(bucket(t), t);
            assert_eq!(t, bucket(l + 18));
            // Lengths never go down as the input grows: one bucket, one range.
            assert!(t >= last.0, "{l}");
            last = (t, l);
        }
        assert_eq!(target(u64::MAX - 3), (u64::MAX - 3, 0));
    }
}
