//! Key files (FORMAT.md §3.4, §3.5, §5.3, §11.1): vkeys, signer keys
//! (`PRIVATE+KEY+…`), age recipients and identities, and passphrase-protected
//! key files (age scrypt, armored). No parser panics. Vkeys and signer keys
//! are canonical: an accepted key re-encodes to exactly the input. Recipients
//! are not (spacing, SSH comments), so their canonical text parses back to
//! the same recipient and fingerprint.
//!
//! Known and reported, not fixed here: a passphrase-protected file names its
//! own scrypt work factor, and age accepts up to its calibrated target + 4
//! (2^23 KiB = 8 GiB on the machine where this was found), so files asking
//! for more than 2^16 are not decrypted by this target (see fuzz/README.md).
#![no_main]

use std::io::Read;

use age::secrecy::SecretString;
use custody::core::crypto::{self, Identities, RecipientKey};
use custody::core::keys::{SignerKey, VerifierKey};
use libfuzzer_sys::fuzz_target;

/// Largest scrypt work factor (log2 N) this target lets `passphrase_decrypt`
/// run: 64 MiB and a few milliseconds.
const MAX_FUZZED_WORK_FACTOR: u32 = 16;

/// The work factor of the scrypt stanza of an age file (armored or not), if
/// it has one that reads as a number.
fn scrypt_work_factor(data: &[u8]) -> Option<u32> {
    let mut header = Vec::new();
    let _ = age::armor::ArmoredReader::new(data)
        .take(4096)
        .read_to_end(&mut header);
    let text = String::from_utf8_lossy(&header);
    let args = text.lines().find_map(|l| l.strip_prefix("-> scrypt "))?;
    args.split(' ').nth(1)?.parse().ok()
}

fuzz_target!(|data: &[u8]| {
    let _ = Identities::parse(data);
    let affordable = scrypt_work_factor(data).is_none_or(|n| n <= MAX_FUZZED_WORK_FACTOR);
    if crypto::looks_like_age(data) && affordable {
        if let Ok(inner) = crypto::passphrase_decrypt(data, SecretString::from("fuzz".to_owned())) {
            assert!(inner.len() <= 1 << 20);
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(k) = VerifierKey::parse(text) {
        assert_eq!(k.encode(), text, "vkey: encode(parse(s)) == s");
        assert_eq!(VerifierKey::parse(&k.encode()).as_ref(), Ok(&k));
    }
    if let Ok(k) = SignerKey::parse(text) {
        assert_eq!(k.encode().as_str(), text, "skey: encode(parse(s)) == s");
        let v = k.verifier();
        assert_eq!(VerifierKey::parse(&v.encode()).as_ref(), Ok(&v));
        let c = k.cosigner_verifier();
        assert_eq!(VerifierKey::parse(&c.encode()).as_ref(), Ok(&c));
    }
    if let Ok(r) = RecipientKey::parse(text) {
        let canonical = r.canonical();
        let again = RecipientKey::parse(&canonical).expect("canonical recipient text parses");
        assert_eq!(again.canonical(), canonical);
        assert_eq!(again.fingerprint(), r.fingerprint());
    }
});
