//! The age v1 file format as custody writes it (FORMAT.md §6.1): the header
//! (recipient stanzas, header MAC), the payload nonce and key, and the STREAM
//! chunks sealed in place. Decryption stays with the `age` crate.
//!
//! Spec: <https://age-encryption.org/v1> (C2SP age), sections "Header",
//! "Header MAC" and "Payload". The recipient stanzas themselves are made by the
//! `age` crate's public [`age::Recipient::wrap_file_key`] (X25519 and
//! ssh-ed25519/ssh-rsa), so only the framing and the payload are ours.
//!
//! Writing the payload ourselves lets the caller read plaintext straight into
//! the buffer that becomes the ciphertext and seal independent chunks on more
//! than one thread (see [`crate::core::encrypt_pipeline`]); `age::stream::StreamWriter`
//! copies every chunk twice and works on one thread.

use std::collections::HashSet;

use age_core::format::{FileKey, Stanza, FILE_KEY_BYTES};
use age_core::secrecy::ExposeSecret;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::core::padding;

/// The first line of every age v1 file.
pub const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";
/// Plaintext bytes per STREAM chunk (64 KiB); only the final chunk may be shorter.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// The Poly1305 tag appended to every chunk.
pub const TAG_SIZE: usize = 16;
/// A sealed full chunk: plaintext size plus tag.
pub const SEALED_CHUNK_SIZE: usize = CHUNK_SIZE + TAG_SIZE;
/// The random payload nonce that follows the header.
pub const PAYLOAD_NONCE_SIZE: usize = 16;
/// Base64 columns of a full stanza body line.
const BODY_COLUMNS: usize = 64;
/// STREAM's chunk counter is 11 bytes; a u64 index never overflows it.
const COUNTER_BYTES: usize = 11;

/// Why an age file could not be started or a chunk not sealed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgeWriteError {
    #[error("no recipients given")]
    NoRecipients,
    #[error("a recipient could not wrap the file key: {0}")]
    Recipient(String),
    #[error("these recipients may not be combined in one file (their labels differ)")]
    IncompatibleRecipients,
    /// An age plugin failed, timed out or is missing ([`crate::core::plugin`]).
    #[error("{0}")]
    Plugin(crate::core::plugin::PluginFailure),
    #[error("a recipient made a stanza that is not valid in an age header: {0}")]
    BadStanza(String),
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("STREAM chunk {index}: {reason}")]
    BadChunk { index: u64, reason: &'static str },
    #[error("ChaCha20-Poly1305 refused to seal a chunk")]
    Seal,
}

/// The payload key of one age file: seals its STREAM chunks. The key is
/// zeroized when this is dropped (`ChaCha20Poly1305` zeroizes its key on drop).
/// `Sync`: chunks are independent, so several threads may seal with one sealer.
pub struct PayloadSealer {
    aead: ChaCha20Poly1305,
}

impl std::fmt::Debug for PayloadSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayloadSealer(..)")
    }
}

/// A started age file: its first bytes (header and payload nonce) and the
/// sealer of its chunks.
#[derive(Debug)]
pub struct AgeFile {
    /// Header through the MAC line, then the 16-byte payload nonce; the
    /// sealed chunks follow these bytes in the file.
    pub preamble: Vec<u8>,
    pub sealer: PayloadSealer,
}

/// Starts an age v1 file to `recipients` for a plaintext of `plaintext_len`
/// bytes (FORMAT.md §6.1 steps 1 to 5): draws a fresh 16-byte file key,
/// wraps it for every recipient, adds the padding stanza that makes the whole
/// file a Padmé length (§6.2; a file whose plaintext turns out to have
/// another length is still valid, only not padded), writes and MACs the
/// header, draws the payload nonce and derives the payload key. The file key
/// lives only in this call (it is zeroized on return).
pub fn start(
    recipients: &[&dyn age::Recipient],
    plaintext_len: u64,
) -> Result<AgeFile, AgeWriteError> {
    if recipients.is_empty() {
        return Err(AgeWriteError::NoRecipients);
    }
    let file_key = FileKey::try_init_with_mut(|k: &mut [u8; FILE_KEY_BYTES]| {
        getrandom::fill(k).map_err(|e| AgeWriteError::Random(e.to_string()))
    })?;
    let stanzas = wrap_all(recipients, &file_key)?;
    let mut nonce = [0u8; PAYLOAD_NONCE_SIZE];
    getrandom::fill(&mut nonce).map_err(|e| AgeWriteError::Random(e.to_string()))?;
    let key = file_key.expose_secret();
    let mut preamble = padded_header(stanzas, key, plaintext_len)?;
    preamble.extend_from_slice(&nonce);
    Ok(AgeFile {
        preamble,
        sealer: PayloadSealer::new(key, &nonce),
    })
}

/// Every recipient's stanzas for `file_key`, refusing recipients whose label
/// sets differ (as the age crate does: a classic stanza beside a
/// post-quantum one would undo its protection).
fn wrap_all(
    recipients: &[&dyn age::Recipient],
    file_key: &FileKey,
) -> Result<Vec<Stanza>, AgeWriteError> {
    let mut stanzas = Vec::new();
    let mut labels: Option<HashSet<String>> = None;
    for r in recipients {
        let (s, l) =
            r.wrap_file_key(file_key)
                .map_err(|e| match crate::core::plugin::in_encrypt(&e) {
                    Some(f) => AgeWriteError::Plugin(f),
                    None => AgeWriteError::Recipient(e.to_string()),
                })?;
        match &labels {
            Some(first) if *first != l => return Err(AgeWriteError::IncompatibleRecipients),
            Some(_) => {}
            None => labels = Some(l),
        }
        stanzas.extend(s);
    }
    Ok(stanzas)
}

/// `stanzas`, then the padding stanza that makes a file of `plaintext_len`
/// bytes a bucket length (FORMAT.md §6.2; a file whose plaintext turns out
/// to have another length is still valid, only not padded), as a header
/// MACed under `key` (§6.1 steps 3 and 4).
fn padded_header(
    mut stanzas: Vec<Stanza>,
    key: &[u8; FILE_KEY_BYTES],
    plaintext_len: u64,
) -> Result<Vec<u8>, AgeWriteError> {
    let unpadded = file_len(header_len(&stanzas), plaintext_len);
    let (_, pad) = padding::target(unpadded);
    if pad > 0 {
        let mut failed = None;
        let mut fill = |b: &mut [u8]| {
            if let Err(e) = getrandom::fill(b) {
                failed = Some(e);
            }
        };
        let s = padding::stanza(pad, &mut fill)
            .ok_or_else(|| AgeWriteError::BadStanza(format!("no padding stanza of {pad} bytes")))?;
        if let Some(e) = failed {
            return Err(AgeWriteError::Random(e.to_string()));
        }
        stanzas.push(s);
    }
    header(&stanzas, key)
}

/// The stanzas of an age header (the version line through the MAC line, as
/// [`crate::core::crypto::read_header`] reads it), in order; `None` if it is
/// not one (spec "Header": canonical base64 bodies ended by a short line).
pub fn parse_stanzas(h: &[u8]) -> Option<Vec<Stanza>> {
    let mut rest = h.strip_prefix(VERSION_LINE)?;
    let mut out = Vec::new();
    while !rest.starts_with(b"---") {
        let (after, s) = age_core::format::read::age_stanza(rest).ok()?;
        out.push(Stanza::from(s));
        rest = after;
    }
    // `---`, a space, 43 characters of MAC, LF: nothing after it.
    (rest.len() == 48 && is_mac_line(rest) && rest.ends_with(b"\n")).then_some(out)
}

/// Whether header `h` (through its MAC line) carries the MAC that
/// `file_key` gives it (spec "Header MAC"): HMAC-SHA-256 under
/// HKDF-SHA-256(ikm = file key, salt = empty, info = "header") over every
/// byte up to and including `---`.
pub fn mac_matches(h: &[u8], file_key: &[u8; FILE_KEY_BYTES]) -> bool {
    let Some(at) = h.len().checked_sub(48) else {
        return false;
    };
    let (covered, line) = h.split_at(at + 3);
    let Some(b64) = line.strip_prefix(b" ").and_then(|l| l.strip_suffix(b"\n")) else {
        return false;
    };
    let Ok(tag) = STANDARD_NO_PAD.decode(b64) else {
        return false;
    };
    let mac_key = hkdf32(b"", file_key, b"header");
    let Ok(mut mac) = <Hmac<Sha256>>::new_from_slice(&mac_key[..]) else {
        return false;
    };
    mac.update(covered);
    mac.verify_slice(&tag).is_ok()
}

/// A new header for the file key of an existing age file (FORMAT.md §4.19):
/// its recipient stanzas `old` (without its padding stanza), then those of
/// `added`, then padding for a file of `plaintext_len` bytes (§6.2), MACed
/// under `file_key`. The payload nonce and chunks that follow the old header
/// follow this one unchanged: whoever `added` names then decrypts the same
/// payload. `added` must be of the same kind as the file's recipients: a
/// classic stanza beside a post-quantum one is refused
/// ([`AgeWriteError::IncompatibleRecipients`]).
pub fn rewrap(
    old: Vec<Stanza>,
    added: &[&dyn age::Recipient],
    file_key: &FileKey,
    plaintext_len: u64,
) -> Result<Vec<u8>, AgeWriteError> {
    if added.is_empty() {
        return Err(AgeWriteError::NoRecipients);
    }
    let new = wrap_all(added, file_key)?;
    // Hybrid stanzas are "mlkem768x25519"; a file is all of one family.
    let pq = |s: &Stanza| s.tag == PQ_STANZA;
    let kept: Vec<Stanza> = old
        .into_iter()
        .filter(|s| s.tag != padding::PAD_TAG)
        .collect();
    let known = |s: &&Stanza| s.tag == PQ_STANZA || s.tag == X25519_STANZA;
    if let (Some(a), Some(b)) = (kept.iter().find(known), new.iter().find(known)) {
        if pq(a) != pq(b) {
            return Err(AgeWriteError::IncompatibleRecipients);
        }
    }
    let mut stanzas = kept;
    stanzas.extend(new);
    padded_header(stanzas, file_key.expose_secret(), plaintext_len)
}

/// The stanza type of the hybrid post-quantum recipient (C2SP age).
const PQ_STANZA: &str = "mlkem768x25519";
/// The stanza type of the classic X25519 recipient.
const X25519_STANZA: &str = "X25519";

/// The length of an age file whose header (version line through the MAC
/// line) has `header` bytes, for `n` bytes of plaintext (FORMAT.md §6.1):
/// the payload nonce, the plaintext, and one tag per chunk (at least one).
/// Saturates at `u64::MAX` (a length no file has: no padding then).
pub fn file_len(header: u64, n: u64) -> u64 {
    let chunks = n.div_ceil(CHUNK_SIZE as u64).max(1);
    header
        .saturating_add(PAYLOAD_NONCE_SIZE as u64)
        .saturating_add(n)
        .saturating_add((TAG_SIZE as u64).saturating_mul(chunks))
}

/// The plaintext length of an age file whose payload (everything after the
/// header and the 16-byte nonce) has `payload` bytes: the inverse of
/// [`file_len`]. `None` if no plaintext gives that payload length.
pub fn plaintext_len(payload: u64) -> Option<u64> {
    let sealed = SEALED_CHUNK_SIZE as u64;
    let chunks = payload.div_ceil(sealed).max(1);
    let n = payload.checked_sub(TAG_SIZE as u64 * chunks)?;
    (n.div_ceil(CHUNK_SIZE as u64).max(1) == chunks).then_some(n)
}

/// Whether `line` (one header line with its LF) is the MAC line that ends
/// the header (spec "Header MAC": `---`, a space, the MAC).
pub fn is_mac_line(line: &[u8]) -> bool {
    line.starts_with(b"--- ")
}

/// The length of the header [`header`] writes for `stanzas`.
fn header_len(stanzas: &[Stanza]) -> u64 {
    // "---", a space, 43 characters of MAC, LF.
    const MAC_LINE: usize = 3 + 1 + 43 + 1;
    let mut n = VERSION_LINE.len() + MAC_LINE;
    for s in stanzas {
        let b64 = (s.body.len() * 4).div_ceil(3);
        n += 3 + s.tag.len() + s.args.iter().map(|a| 1 + a.len()).sum::<usize>() + 1;
        n += b64 + b64 / BODY_COLUMNS + 1;
    }
    n as u64
}

/// The header (FORMAT.md §6.1 step 3; spec "Header"): the version line, each stanza as `-> ` and its
/// space-separated tag and arguments, then its body in standard unpadded base64
/// wrapped at 64 columns and ended by a line shorter than 64 columns (an empty
/// line when the base64 fills its last line, i.e. when the body length is a
/// multiple of 48 bytes, including an empty body), then `---`, a space, the
/// base64 of HMAC-SHA-256 over every byte before that space under
/// HKDF-SHA-256(ikm = file key, salt = empty, info = "header"), and a line feed.
fn header(stanzas: &[Stanza], file_key: &[u8; FILE_KEY_BYTES]) -> Result<Vec<u8>, AgeWriteError> {
    let mut h = Vec::with_capacity(64 + stanzas.len() * 128);
    h.extend_from_slice(VERSION_LINE);
    for s in stanzas {
        if !is_argument(&s.tag) {
            return Err(AgeWriteError::BadStanza(format!("type {:?}", s.tag)));
        }
        h.extend_from_slice(b"-> ");
        h.extend_from_slice(s.tag.as_bytes());
        for a in &s.args {
            if !is_argument(a) {
                return Err(AgeWriteError::BadStanza(format!("argument {a:?}")));
            }
            h.push(b' ');
            h.extend_from_slice(a.as_bytes());
        }
        h.push(b'\n');
        let body = STANDARD_NO_PAD.encode(&s.body);
        for line in body.as_bytes().chunks(BODY_COLUMNS) {
            h.extend_from_slice(line);
            h.push(b'\n');
        }
        if body.len() % BODY_COLUMNS == 0 {
            h.push(b'\n');
        }
    }
    h.extend_from_slice(b"---");
    let mac_key = hkdf32(b"", file_key, b"header");
    let mut mac = <Hmac<Sha256>>::new_from_slice(&mac_key[..]).map_err(|_| AgeWriteError::Seal)?;
    mac.update(&h);
    h.push(b' ');
    h.extend_from_slice(
        STANDARD_NO_PAD
            .encode(mac.finalize().into_bytes())
            .as_bytes(),
    );
    h.push(b'\n');
    Ok(h)
}

/// `1*VCHAR` (spec ABNF `argument`): one or more printable ASCII characters, no spaces.
fn is_argument(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// HKDF-SHA-256 with a 32-byte output (spec "Conventions").
fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut okm[..])
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    okm
}

impl PayloadSealer {
    /// payload key = HKDF-SHA-256(ikm = file key, salt = payload nonce, info = "payload")
    /// (FORMAT.md §6.1 step 5).
    fn new(file_key: &[u8; FILE_KEY_BYTES], nonce: &[u8; PAYLOAD_NONCE_SIZE]) -> Self {
        let key = hkdf32(nonce, file_key, b"payload");
        PayloadSealer {
            aead: ChaCha20Poly1305::new((&*key).into()),
        }
    }

    /// Seals STREAM chunk `index` in place (FORMAT.md §6.1 step 6; spec "Payload"): `buf[..len]` holds
    /// its plaintext and becomes its ciphertext, and the 16-byte tag is written
    /// to `buf[len..len + 16]`. ChaCha20-Poly1305 under the payload key, nonce =
    /// the 11-byte big-endian `index` then 0x01 for the final chunk and 0x00
    /// otherwise, no associated data.
    ///
    /// Refuses what age readers reject: a chunk over 64 KiB, a non-final chunk
    /// that is not full, an empty final chunk other than the only chunk of an
    /// empty payload.
    pub fn seal(
        &self,
        index: u64,
        last: bool,
        buf: &mut [u8],
        len: usize,
    ) -> Result<(), AgeWriteError> {
        let bad = |reason| Err(AgeWriteError::BadChunk { index, reason });
        if len > CHUNK_SIZE {
            return bad("more than 64 KiB of plaintext");
        }
        if !last && len != CHUNK_SIZE {
            return bad("a chunk before the final one must be full");
        }
        if last && len == 0 && index != 0 {
            return bad("the final chunk may be empty only if the whole payload is");
        }
        if buf.len() < len + TAG_SIZE {
            return bad("no room for the tag");
        }
        let mut nonce = [0u8; 12];
        nonce[COUNTER_BYTES - 8..COUNTER_BYTES].copy_from_slice(&index.to_be_bytes());
        nonce[COUNTER_BYTES] = u8::from(last);
        let (data, rest) = buf.split_at_mut(len);
        let tag = self
            .aead
            .encrypt_inout_detached((&nonce).into(), b"", data.into())
            .map_err(|_| AgeWriteError::Seal)?;
        rest[..TAG_SIZE].copy_from_slice(&tag);
        Ok(())
    }
}

/// Encrypts `data` held in memory into a complete age file (one copy of the
/// plaintext, sealed in place in the output).
pub fn encrypt_slice(
    recipients: &[&dyn age::Recipient],
    data: &[u8],
) -> Result<Vec<u8>, AgeWriteError> {
    let f = start(recipients, data.len() as u64)?;
    let chunks = data.len().div_ceil(CHUNK_SIZE).max(1);
    let mut out = Vec::with_capacity(f.preamble.len() + data.len() + chunks * TAG_SIZE);
    out.extend_from_slice(&f.preamble);
    f.sealer.seal_all(data, &mut out)?;
    Ok(out)
}

impl PayloadSealer {
    /// Appends the whole payload of `data` (every chunk, sealed) to `out`.
    fn seal_all(&self, data: &[u8], out: &mut Vec<u8>) -> Result<(), AgeWriteError> {
        let chunks = data.len().div_ceil(CHUNK_SIZE).max(1);
        let pieces = data
            .chunks(CHUNK_SIZE)
            .chain(data.is_empty().then_some(&[][..]));
        for (i, piece) in pieces.enumerate() {
            let at = out.len();
            out.extend_from_slice(piece);
            out.resize(at + piece.len() + TAG_SIZE, 0);
            self.seal(i as u64, i + 1 == chunks, &mut out[at..], piece.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(deprecated)] // classic X25519 keys: the format custody still writes for them
mod tests {
    use super::*;
    use age::Recipient as _;
    use sha2::Digest as _;
    use std::collections::HashMap;
    use std::io::Read;

    fn keypair() -> (age::x25519::Identity, age::x25519::Recipient) {
        let id = age::x25519::Identity::generate();
        let r = id.to_public();
        (id, r)
    }

    fn decrypt(id: &dyn age::Identity, file: &[u8]) -> Result<Vec<u8>, String> {
        let d = age::Decryptor::new_buffered(file).map_err(|e| e.to_string())?;
        let mut r = d.decrypt(std::iter::once(id)).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn chunk_boundaries_round_trip_through_the_age_crate() {
        let (id, r) = keypair();
        for n in [
            0usize,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            2 * CHUNK_SIZE,
            (1 << 20) + 3,
        ] {
            let data = pattern(n);
            let file = encrypt_slice(&[&r], &data).unwrap();
            let chunks = n.div_ceil(CHUNK_SIZE).max(1);
            let header_end = file.windows(4).position(|w| w == b"\n---").unwrap();
            let mac_end = header_end
                + 1
                + file[header_end + 1..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap()
                + 1;
            assert_eq!(
                file.len(),
                mac_end + PAYLOAD_NONCE_SIZE + n + chunks * TAG_SIZE,
                "size {n}"
            );
            assert_eq!(decrypt(&id, &file).unwrap(), data, "size {n}");
        }
    }

    #[test]
    fn header_has_the_spec_shape() {
        let (_, r) = keypair();
        let f = start(&[&r, &r], 0).unwrap();
        let text =
            std::str::from_utf8(&f.preamble[..f.preamble.len() - PAYLOAD_NONCE_SIZE]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "age-encryption.org/v1");
        assert!(lines[1].starts_with("-> X25519 "));
        // A 32-byte body is 43 base64 characters: one short line.
        assert_eq!(lines[2].len(), 43);
        assert!(lines[3].starts_with("-> X25519 "));
        // 218 header bytes so far, 48 of MAC line, 16 of nonce, 16 of tag: 298
        // bytes, padded to Padmé(298 + 18) = 320 by a stanza of 22 bytes.
        assert_eq!(lines[5].len(), 14 + 1 + 5, "{:?}", lines[5]);
        assert!(lines[5].starts_with("-> custody-pad "));
        assert_eq!(lines[6], "");
        assert!(lines[7].starts_with("--- "));
        assert_eq!(lines[7].len(), 4 + 43);
        assert_eq!(lines.len(), 8);
        assert_eq!(f.preamble.len() + TAG_SIZE, 320);
        // The age crate parses the header and finds both stanzas.
        let (id, r) = keypair();
        let file = encrypt_slice(&[&r, &keypair().1], b"x").unwrap();
        assert_eq!(decrypt(&id, &file).unwrap(), b"x");
    }

    #[test]
    fn plaintext_len_inverts_file_len() {
        for n in [
            0u64,
            1,
            100,
            65_535,
            65_536,
            65_537,
            131_072,
            131_073,
            10 << 20,
        ] {
            let payload = file_len(0, n) - PAYLOAD_NONCE_SIZE as u64;
            assert_eq!(plaintext_len(payload), Some(n), "{n}");
        }
        // Lengths no plaintext has: below one tag, or a lone tag after a full chunk.
        for p in [0u64, 15, 65_552 + 16] {
            assert_eq!(plaintext_len(p), None, "{p}");
        }
    }

    #[test]
    fn files_are_padded_to_padme_lengths_and_decrypt_to_the_exact_bytes() {
        let (id, r) = keypair();
        for n in [
            0usize,
            1,
            127,
            206,
            290,
            296,
            301,
            399,
            4000,
            CHUNK_SIZE + 5,
            300_001,
        ] {
            let data = pattern(n);
            let file = encrypt_slice(&[&r], &data).unwrap();
            let unpadded = file_len(218 - 98 + 48, n as u64);
            assert_eq!(file.len() as u64, padding::target(unpadded).0, "size {n}");
            assert_eq!(decrypt(&id, &file).unwrap(), data, "size {n}");
        }
        // The sample leak's 127- to 399-byte files, once stored as 327- to
        // 599-byte blobs (each size its document's), now take bucket lengths
        // that 16 or 32 document sizes share.
        let lens: Vec<usize> = [127usize, 206, 290, 296, 301, 399]
            .iter()
            .map(|&n| encrypt_slice(&[&r], &pattern(n)).unwrap().len())
            .collect();
        assert_eq!(lens, vec![352, 432, 512, 544, 544, 640]);
        for n in 279..=294 {
            assert_eq!(encrypt_slice(&[&r], &pattern(n)).unwrap().len(), 512);
        }
    }

    /// A recipient whose stanza body has a chosen length, to exercise wrapping.
    struct Fixed(usize);
    impl age::Recipient for Fixed {
        fn wrap_file_key(
            &self,
            _: &FileKey,
        ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
            Ok((
                vec![Stanza {
                    tag: "example.com/fixed".into(),
                    args: vec!["a".into(), "b+/".into()],
                    body: vec![0xA5; self.0],
                }],
                HashSet::new(),
            ))
        }
    }

    #[test]
    fn stanza_bodies_wrap_at_64_columns_with_a_short_final_line() {
        for (len, lines) in [
            (0usize, vec![0usize]),
            (1, vec![2]),
            (47, vec![63]),
            (48, vec![64, 0]),
            (49, vec![64, 2]),
            (96, vec![64, 64, 0]),
        ] {
            let text = String::from_utf8(
                header(
                    &Fixed(len)
                        .wrap_file_key(&FileKey::new(Box::new([1; 16])))
                        .unwrap()
                        .0,
                    &[1; 16],
                )
                .unwrap(),
            )
            .unwrap();
            let mut it = text.lines();
            assert_eq!(it.next(), Some("age-encryption.org/v1"));
            assert_eq!(it.next(), Some("-> example.com/fixed a b+/"));
            let got: Vec<usize> = it.by_ref().take(lines.len()).map(str::len).collect();
            assert_eq!(got, lines, "body of {len} bytes");
            assert!(it.next().unwrap().starts_with("--- "));
            assert_eq!(it.next(), None);
        }
        // The age crate accepts such a header (it ignores the unknown stanza).
        let (id, r) = keypair();
        for len in [0, 48, 49, 96] {
            let file = encrypt_slice(&[&Fixed(len), &r], b"hello").unwrap();
            assert_eq!(
                decrypt(&id, &file).unwrap(),
                b"hello",
                "body of {len} bytes"
            );
        }
    }

    #[test]
    fn the_header_mac_covers_the_header() {
        let (id, r) = keypair();
        let file = encrypt_slice(&[&Fixed(30), &r], b"payload").unwrap();
        assert_eq!(decrypt(&id, &file).unwrap(), b"payload");
        // The unknown stanza is ignored by the identity; only the MAC protects
        // it. Change one base64 character of its body (still canonical base64).
        let at = file
            .windows(27)
            .position(|w| w == b"-> example.com/fixed a b+/\n")
            .unwrap()
            + 27;
        let mut tampered = file.clone();
        tampered[at] = if file[at] == b'A' { b'B' } else { b'A' };
        let e = decrypt(&id, &tampered).unwrap_err();
        assert!(e.contains("MAC") || e.contains("mac"), "{e}");
        // So does any change to the MAC itself.
        let mac = file.windows(4).position(|w| w == b"--- ").unwrap() + 4;
        let mut tampered = file.clone();
        tampered[mac] = if file[mac] == b'A' { b'B' } else { b'A' };
        assert!(decrypt(&id, &tampered).is_err());
    }

    /// Splits a CCTV vector into its `key: value` lines and the age file.
    fn vector(text: &[u8]) -> (HashMap<String, String>, &[u8]) {
        let split = text.windows(2).position(|w| w == b"\n\n").unwrap();
        let head = std::str::from_utf8(&text[..split]).unwrap();
        let keys = head
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (keys, &text[split + 2..])
    }

    /// The stanzas of a header, parsed here independently of the age crate.
    fn stanzas_of(header: &str) -> Vec<Stanza> {
        let mut out: Vec<Stanza> = Vec::new();
        let mut body = String::new();
        let mut open = false;
        for line in header.lines().skip(1) {
            if let Some(rest) = line.strip_prefix("-> ") {
                let mut args = rest.split(' ').map(String::from);
                let tag = args.next().unwrap();
                out.push(Stanza {
                    tag,
                    args: args.collect(),
                    body: vec![],
                });
                open = true;
            } else if line.starts_with("---") {
                break;
            } else if open {
                body.push_str(line);
                if line.len() < 64 {
                    out.last_mut().unwrap().body = STANDARD_NO_PAD.decode(&body).unwrap();
                    body.clear();
                    open = false;
                }
            }
        }
        out
    }

    #[test]
    fn cctv_vectors_are_reproduced_byte_for_byte() {
        let files: [(&str, &[u8]); 7] = [
            ("x25519", include_bytes!("../../tests/data/cctv-age/x25519")),
            (
                "x25519_multiple_recipients",
                include_bytes!("../../tests/data/cctv-age/x25519_multiple_recipients"),
            ),
            (
                "x25519_grease",
                include_bytes!("../../tests/data/cctv-age/x25519_grease"),
            ),
            (
                "stanza_empty_body",
                include_bytes!("../../tests/data/cctv-age/stanza_empty_body"),
            ),
            (
                "stanza_empty_last_line",
                include_bytes!("../../tests/data/cctv-age/stanza_empty_last_line"),
            ),
            (
                "stanza_valid_characters",
                include_bytes!("../../tests/data/cctv-age/stanza_valid_characters"),
            ),
            (
                "stream_empty_payload",
                include_bytes!("../../tests/data/cctv-age/stream_empty_payload"),
            ),
        ];
        for (name, text) in files {
            let (keys, file) = vector(text);
            assert_eq!(keys["expect"], "success", "{name}");
            let key: [u8; 16] = hex::decode(&keys["file key"]).unwrap().try_into().unwrap();
            let mac_at = file.windows(5).position(|w| w == b"\n--- ").unwrap() + 1;
            let header_end = mac_at + file[mac_at..].iter().position(|&b| b == b'\n').unwrap() + 1;
            let text = std::str::from_utf8(&file[..header_end]).unwrap();
            let rebuilt = header(&stanzas_of(text), &key).unwrap();
            assert_eq!(
                std::str::from_utf8(&rebuilt).unwrap(),
                text,
                "{name}: header"
            );
            // The payload: same nonce and plaintext give the same chunks.
            let nonce: [u8; 16] = file[header_end..header_end + 16].try_into().unwrap();
            let id: age::x25519::Identity = keys["identity"].parse().unwrap();
            let plain = decrypt(&id, file).unwrap();
            assert_eq!(
                hex::encode(sha2::Sha256::digest(&plain)),
                keys["payload"],
                "{name}"
            );
            let mut payload = Vec::new();
            PayloadSealer::new(&key, &nonce)
                .seal_all(&plain, &mut payload)
                .unwrap();
            assert_eq!(payload, &file[header_end + 16..], "{name}: payload");
        }
    }

    #[test]
    fn bad_stanzas_and_labels_are_refused() {
        struct Spaced;
        impl age::Recipient for Spaced {
            fn wrap_file_key(
                &self,
                _: &FileKey,
            ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
                Ok((
                    vec![Stanza {
                        tag: "x".into(),
                        args: vec!["two words".into()],
                        body: vec![],
                    }],
                    HashSet::new(),
                ))
            }
        }
        struct Labelled;
        impl age::Recipient for Labelled {
            fn wrap_file_key(
                &self,
                _: &FileKey,
            ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
                Ok((vec![], HashSet::from(["postquantum".to_string()])))
            }
        }
        assert!(matches!(start(&[], 0), Err(AgeWriteError::NoRecipients)));
        assert!(matches!(
            start(&[&Spaced], 0),
            Err(AgeWriteError::BadStanza(_))
        ));
        let (_, r) = keypair();
        assert!(matches!(
            start(&[&r, &Labelled], 0),
            Err(AgeWriteError::IncompatibleRecipients)
        ));
    }

    /// What `seal` refuses is exactly what age rejects: the same chunks sealed
    /// by hand (bypassing the checks) do not decrypt.
    #[test]
    fn chunk_framing_that_age_rejects_is_refused() {
        let (id, r) = keypair();
        let f = start(&[&r], 0).unwrap();
        let mut full = pattern(CHUNK_SIZE);
        full.resize(SEALED_CHUNK_SIZE, 0);
        let mut empty = vec![0u8; TAG_SIZE];
        // 1. A full chunk then an empty final chunk.
        assert!(matches!(
            f.sealer.seal(1, true, &mut empty, 0),
            Err(AgeWriteError::BadChunk { index: 1, .. })
        ));
        let raw = |index: u64, last: bool, buf: &mut [u8], len: usize| {
            let mut nonce = [0u8; 12];
            nonce[3..11].copy_from_slice(&index.to_be_bytes());
            nonce[11] = u8::from(last);
            let (d, t) = buf.split_at_mut(len);
            let tag = f
                .sealer
                .aead
                .encrypt_inout_detached((&nonce).into(), b"", d.into())
                .unwrap();
            t[..16].copy_from_slice(&tag);
        };
        let mut a = full.clone();
        raw(0, false, &mut a, CHUNK_SIZE);
        raw(1, true, &mut empty, 0);
        let file = [&f.preamble[..], &a, &empty].concat();
        assert!(
            decrypt(&id, &file).is_err(),
            "full chunk + empty final chunk"
        );
        // 2. A short chunk that is not final, then a final one.
        let mut short = pattern(100);
        short.resize(100 + TAG_SIZE, 0);
        assert!(f.sealer.seal(0, false, &mut short.clone(), 100).is_err());
        let mut s = short.clone();
        raw(0, false, &mut s, 100);
        let mut last = pattern(5);
        last.resize(5 + TAG_SIZE, 0);
        raw(1, true, &mut last, 5);
        assert!(decrypt(&id, &[&f.preamble[..], &s, &last].concat()).is_err());
        // 3. A full final chunk without the flag (a payload that just stops).
        let mut b = full.clone();
        raw(0, false, &mut b, CHUNK_SIZE);
        assert!(decrypt(&id, &[&f.preamble[..], &b].concat()).is_err());
        // ... and with the flag, as `seal` writes it, it is accepted.
        let mut c = full.clone();
        f.sealer.seal(0, true, &mut c, CHUNK_SIZE).unwrap();
        assert_eq!(
            decrypt(&id, &[&f.preamble[..], &c].concat()).unwrap(),
            pattern(CHUNK_SIZE)
        );
        // 4. Oversized chunks and missing tag room are refused.
        let mut big = vec![0u8; SEALED_CHUNK_SIZE + 1];
        assert!(f.sealer.seal(0, true, &mut big, CHUNK_SIZE + 1).is_err());
        assert!(f.sealer.seal(0, true, &mut [0u8; 10], 5).is_err());
    }
}
