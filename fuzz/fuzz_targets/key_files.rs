//! Key files (FORMAT.md §3.4, §3.5, §5.3, §11.1): vkeys, signer keys
//! (`PRIVATE+KEY+…`), age recipients and identities, and passphrase-protected
//! key files (age scrypt, armored). No parser panics. Vkeys and signer keys
//! are canonical: an accepted key re-encodes to exactly the input. Recipients
//! are not (spacing, SSH comments), so their canonical text parses back to
//! the same recipient and fingerprint.
#![no_main]

use age::secrecy::SecretString;
use custody::core::crypto::{self, Identities, RecipientKey};
use custody::core::keys::{SignerKey, VerifierKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Identities::parse(data);
    if crypto::looks_like_age(data) {
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
