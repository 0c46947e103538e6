//! C2SP signed-note: strict parsing, exact encoding, signing and verification.
//!
//! A signed note (C2SP `signed-note.md`, "Format") is a text ending in a
//! newline, a blank line, then one or more signature lines
//! `— <key name> base64(key ID || signature)\n` (U+2014 EM DASH, space).
//! The text is split from the signatures at the LAST blank line.
//!
//! Verification (C2SP signed-note, "Signatures"): lines whose (name, key ID)
//! pair is not known are ignored (kept as unverified); a known pair MUST
//! verify, else the whole note is rejected; a note with no verified known
//! signature is rejected. Known keys of algorithm `0x04` are verified as C2SP
//! `cosignature/v1` cosignatures over the note text, which yields their
//! timestamp.
//!
//! Byte layout specified in `docs/FORMAT.md` §3.6.

use std::collections::HashSet;

use crate::core::keys::{
    b64_decode, b64_encode, is_valid_key_name, KeyId, SigAlg, SignerKey, VerifierKey,
};

/// The signature-line prefix: U+2014 EM DASH then a space.
pub const SIG_LINE_PREFIX: &str = "\u{2014} ";

/// Most signature lines accepted in one note (the golang.org/x/mod limit).
/// C2SP signed-note requires accepting at least 16. Repeated lines count.
pub const MAX_SIGNATURES: usize = 100;

/// Why a note (or a note text, or a signature line) is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedReason {
    #[error("not valid UTF-8")]
    NotUtf8,
    #[error("contains an ASCII control character other than newline")]
    ControlCharacter,
    #[error("note text must end with a newline")]
    TextNotNewlineTerminated,
    #[error("no blank line separating the text from the signatures")]
    MissingSeparator,
    #[error("no signature lines")]
    NoSignatures,
    #[error("last signature line is not newline-terminated")]
    MissingFinalNewline,
    #[error("signature line does not start with an em dash and a space")]
    BadSignatureLine,
    #[error("invalid key name in signature line")]
    InvalidKeyName,
    #[error("signature is not canonical standard base64")]
    BadBase64,
    #[error("signature shorter than 5 bytes (key ID plus signature)")]
    SignatureTooShort,
    #[error("more than {MAX_SIGNATURES} signature lines")]
    TooManySignatures,
}

/// Errors from parsing, signing or opening a signed note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// A syntax error (C2SP signed-note "Format").
    #[error("malformed signed note: {0}")]
    Malformed(MalformedReason),
    /// A signature by a known (name, key ID) failed to verify; the whole note
    /// is rejected.
    #[error("invalid signature by known key {name} ({key_id})")]
    InvalidSignature { name: String, key_id: KeyId },
    /// No signature from a known key verified.
    #[error("no signature from a known key")]
    NoVerifiedSignature,
}

impl From<MalformedReason> for NoteError {
    fn from(r: MalformedReason) -> Self {
        NoteError::Malformed(r)
    }
}

/// One signature line: `— <name> base64(key_id || sig)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID (first 4 decoded bytes, big-endian).
    pub key_id: KeyId,
    /// The signature bytes after the key ID (at least 1 byte in a valid line).
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// Parses one signature line, without its terminating newline.
    pub fn parse_line(line: &str) -> Result<Self, MalformedReason> {
        let rest = line
            .strip_prefix(SIG_LINE_PREFIX)
            .ok_or(MalformedReason::BadSignatureLine)?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(MalformedReason::BadSignatureLine)?;
        if !is_valid_key_name(name) {
            return Err(MalformedReason::InvalidKeyName);
        }
        if b64.is_empty() {
            return Err(MalformedReason::BadBase64);
        }
        let raw = b64_decode(b64).ok_or(MalformedReason::BadBase64)?;
        match raw.as_slice() {
            [a, b, c, d, sig @ ..] if !sig.is_empty() => Ok(NoteSignature {
                name: name.to_owned(),
                key_id: KeyId::from_be_bytes([*a, *b, *c, *d]),
                sig: sig.to_vec(),
            }),
            _ => Err(MalformedReason::SignatureTooShort),
        }
    }

    /// The base64 field: base64(key_id || sig).
    pub fn base64(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.sig.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.sig);
        b64_encode(&raw)
    }

    /// The full line including the terminating newline.
    pub fn to_line(&self) -> String {
        format!("{SIG_LINE_PREFIX}{} {}\n", self.name, self.base64())
    }

    fn validate(&self) -> Result<(), MalformedReason> {
        if !is_valid_key_name(&self.name) {
            return Err(MalformedReason::InvalidKeyName);
        }
        if self.sig.is_empty() {
            return Err(MalformedReason::SignatureTooShort);
        }
        Ok(())
    }
}

/// Checks that `text` can be the text of a signed note: no ASCII control
/// characters other than newline, and ends with a newline.
pub fn validate_text(text: &str) -> Result<(), MalformedReason> {
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(MalformedReason::ControlCharacter);
    }
    if !text.ends_with('\n') {
        return Err(MalformedReason::TextNotNewlineTerminated);
    }
    Ok(())
}

/// A syntactically valid signed note.
///
/// Invariants: `text` passes [`validate_text`]; there are 1 to
/// [`MAX_SIGNATURES`] signatures, each with a valid name and a non-empty
/// signature. So `Note::parse(note.encode()) == note` always holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    sigs: Vec<NoteSignature>,
}

/// A signature that verified under a known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The signature line.
    pub signature: NoteSignature,
    /// The algorithm of the known key that verified it.
    pub alg: SigAlg,
    /// For `cosignature/v1` (alg `0x04`): the authenticated timestamp.
    pub timestamp: Option<u64>,
}

/// Result of opening a note: the text and the sorted-out signatures, in line
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The note text, including its final newline.
    pub text: String,
    /// Signatures from known keys, each (name, key ID) once.
    pub verified: Vec<VerifiedSignature>,
    /// Signatures from unknown keys, exact duplicates dropped.
    pub unverified: Vec<NoteSignature>,
}

impl Opened {
    /// The verified signature of `key`, if any.
    pub fn verified_by(&self, key: &VerifierKey) -> Option<&VerifiedSignature> {
        self.verified
            .iter()
            .find(|v| key.matches(&v.signature.name, v.signature.key_id))
    }
}

impl Note {
    /// Builds a note from a text and signatures, validating both.
    pub fn from_parts(text: String, sigs: Vec<NoteSignature>) -> Result<Self, NoteError> {
        validate_text(&text)?;
        if sigs.is_empty() {
            return Err(MalformedReason::NoSignatures.into());
        }
        if sigs.len() > MAX_SIGNATURES {
            return Err(MalformedReason::TooManySignatures.into());
        }
        for s in &sigs {
            s.validate()?;
        }
        Ok(Note { text, sigs })
    }

    /// Parses a signed note strictly (C2SP signed-note "Format"); no
    /// signature is verified.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        let s = std::str::from_utf8(bytes).map_err(|_| MalformedReason::NotUtf8)?;
        if s.chars().any(|c| c < ' ' && c != '\n') {
            return Err(MalformedReason::ControlCharacter.into());
        }
        let split = s.rfind("\n\n").ok_or(MalformedReason::MissingSeparator)?;
        let text = s
            .get(..split + 1)
            .ok_or(MalformedReason::MissingSeparator)?;
        let block = s
            .get(split + 2..)
            .ok_or(MalformedReason::MissingSeparator)?;
        if block.is_empty() {
            return Err(MalformedReason::NoSignatures.into());
        }
        let block = block
            .strip_suffix('\n')
            .ok_or(MalformedReason::MissingFinalNewline)?;
        if block.split('\n').count() > MAX_SIGNATURES {
            return Err(MalformedReason::TooManySignatures.into());
        }
        let sigs = block
            .split('\n')
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Note {
            text: text.to_owned(),
            sigs,
        })
    }

    /// The exact encoding: text, blank line, signature lines.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + 100 * self.sigs.len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.sigs {
            out.push_str(&s.to_line());
        }
        out
    }

    /// The note text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.sigs
    }

    /// Adds a signature as Go's `note.Sign` does: an existing line with the
    /// same (name, key ID) is removed, and the new line goes last.
    pub fn add_signature(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        sig.validate()?;
        self.sigs
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        if self.sigs.len() >= MAX_SIGNATURES {
            return Err(MalformedReason::TooManySignatures.into());
        }
        self.sigs.push(sig);
        Ok(())
    }

    /// Adds (or replaces) an Ed25519 signature by `key` over the text.
    pub fn sign(&mut self, key: &SignerKey) -> Result<(), NoteError> {
        let sig = signature_for(&self.text, key);
        self.add_signature(sig)
    }

    /// Verifies the signatures against `known` (C2SP signed-note
    /// "Signatures").
    ///
    /// * A line whose (name, key ID) matches no known key is unverified and
    ///   ignored, even if its name or its ID alone matches.
    /// * Every line that matches a known key is verified, repeated lines
    ///   included (stricter than Go, which skips repeats); a failure is
    ///   [`NoteError::InvalidSignature`]. Ed25519 (`0x01`) keys verify a
    ///   64-byte signature over the text; `cosignature/v1` (`0x04`) keys a
    ///   72-byte timestamped cosignature.
    /// * Repeated verified lines from one (name, key ID) are listed once;
    ///   exact duplicate unverified lines are listed once.
    /// * No verified signature: [`NoteError::NoVerifiedSignature`].
    pub fn verify(&self, known: &[VerifierKey]) -> Result<Opened, NoteError> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        let mut unverified: Vec<NoteSignature> = Vec::new();
        let mut seen_known: HashSet<(&str, KeyId)> = HashSet::new();
        let mut seen_unknown: HashSet<&NoteSignature> = HashSet::new();
        for sig in &self.sigs {
            let mut candidates = known
                .iter()
                .filter(|k| k.matches(&sig.name, sig.key_id))
                .peekable();
            if candidates.peek().is_none() {
                if seen_unknown.insert(sig) {
                    unverified.push(sig.clone());
                }
                continue;
            }
            let outcome = candidates.find_map(|k| verify_one(&self.text, k, &sig.sig));
            let Some((alg, timestamp)) = outcome else {
                return Err(NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            };
            if seen_known.insert((sig.name.as_str(), sig.key_id)) {
                verified.push(VerifiedSignature {
                    signature: sig.clone(),
                    alg,
                    timestamp,
                });
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoVerifiedSignature);
        }
        Ok(Opened {
            text: self.text.clone(),
            verified,
            unverified,
        })
    }
}

/// Verifies one signature under one key; `Some((alg, timestamp))` on success.
fn verify_one(text: &str, key: &VerifierKey, sig: &[u8]) -> Option<(SigAlg, Option<u64>)> {
    match key.alg() {
        SigAlg::Ed25519 => key
            .verify_ed25519(text.as_bytes(), sig)
            .then_some((SigAlg::Ed25519, None)),
        SigAlg::CosignatureV1 => key
            .verify_cosignature_v1(text, sig)
            .map(|ts| (SigAlg::CosignatureV1, Some(ts))),
    }
}

/// The Ed25519 (alg `0x01`) signature line of `key` over `text`.
fn signature_for(text: &str, key: &SignerKey) -> NoteSignature {
    NoteSignature {
        name: key.name().to_owned(),
        key_id: key.key_id(),
        sig: key.sign(text.as_bytes()).to_vec(),
    }
}

/// Signs `text` with `key`, producing a note with one signature.
pub fn sign(text: &str, key: &SignerKey) -> Result<Note, NoteError> {
    validate_text(text)?;
    Note::from_parts(text.to_owned(), vec![signature_for(text, key)])
}

/// Parses and verifies a signed note (see [`Note::verify`]).
pub fn open(note: &[u8], known: &[VerifierKey]) -> Result<Opened, NoteError> {
    Note::parse(note)?.verify(known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cosignature;

    fn key(name: &str, seed: u8) -> SignerKey {
        SignerKey::from_seed(name, &[seed; 32]).unwrap()
    }

    const TEXT: &str = "hello\n\nworld\n";

    #[test]
    fn sign_parse_open_round_trip() {
        let a = key("a.example", 1);
        let b = key("b.example", 2);
        let mut n = sign(TEXT, &a).unwrap();
        n.sign(&b).unwrap();
        let enc = n.encode();
        assert!(enc.starts_with("hello\n\nworld\n\n\u{2014} a.example "));
        let parsed = Note::parse(enc.as_bytes()).unwrap();
        assert_eq!(parsed, n);
        assert_eq!(parsed.encode(), enc);
        let o = open(enc.as_bytes(), &[a.verifier()]).unwrap();
        assert_eq!(o.text, TEXT);
        assert_eq!(o.verified.len(), 1);
        assert_eq!(o.verified[0].signature.name, "a.example");
        assert_eq!(o.verified[0].alg, SigAlg::Ed25519);
        assert_eq!(o.unverified.len(), 1);
        let o = open(enc.as_bytes(), &[a.verifier(), b.verifier()]).unwrap();
        assert_eq!(o.verified.len(), 2);
        assert!(o.unverified.is_empty());
        assert!(o.verified_by(&b.verifier()).is_some());
        assert!(o.verified_by(&b.cosigner_verifier()).is_none());
    }

    #[test]
    fn resign_replaces_and_moves_last() {
        let a = key("a.example", 1);
        let b = key("b.example", 2);
        let mut n = sign(TEXT, &a).unwrap();
        n.sign(&b).unwrap();
        n.sign(&a).unwrap();
        let names: Vec<_> = n.signatures().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b.example", "a.example"]);
    }

    #[test]
    fn sign_rejects_bad_text() {
        let a = key("a", 1);
        assert_eq!(
            sign("no newline", &a),
            Err(NoteError::Malformed(
                MalformedReason::TextNotNewlineTerminated
            ))
        );
        assert_eq!(
            sign("tab\there\n", &a),
            Err(NoteError::Malformed(MalformedReason::ControlCharacter))
        );
        assert_eq!(
            sign("", &a),
            Err(NoteError::Malformed(
                MalformedReason::TextNotNewlineTerminated
            ))
        );
        // a bare newline is a valid (if odd) text
        let n = sign("\n", &a).unwrap();
        assert_eq!(Note::parse(n.encode().as_bytes()).unwrap(), n);
    }

    #[test]
    fn tamper_text_is_invalid_signature() {
        let a = key("a.example", 1);
        let enc = sign(TEXT, &a).unwrap().encode();
        let mut bytes = enc.into_bytes();
        bytes[0] ^= 0x01; // 'h' -> 'i'
        assert_eq!(
            open(&bytes, &[a.verifier()]),
            Err(NoteError::InvalidSignature {
                name: "a.example".into(),
                key_id: a.key_id()
            })
        );
    }

    #[test]
    fn tamper_signature_bytes_is_invalid_signature() {
        let a = key("a.example", 1);
        let mut n = sign(TEXT, &a).unwrap();
        let mut s = n.signatures()[0].clone();
        s.sig[10] ^= 0x80;
        n.add_signature(s).unwrap();
        assert_eq!(
            open(n.encode().as_bytes(), &[a.verifier()]),
            Err(NoteError::InvalidSignature {
                name: "a.example".into(),
                key_id: a.key_id()
            })
        );
        // wrong length for a known Ed25519 key is also an invalid signature
        let mut s = n.signatures()[0].clone();
        s.sig.truncate(63);
        n.add_signature(s).unwrap();
        assert!(matches!(
            open(n.encode().as_bytes(), &[a.verifier()]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn tamper_key_id_or_name_is_unknown() {
        let a = key("a.example", 1);
        let good = sign(TEXT, &a).unwrap();
        // flip a key-ID bit: the line now belongs to an unknown key
        let mut s = good.signatures()[0].clone();
        s.key_id = KeyId(s.key_id.0 ^ 1);
        let n = Note::from_parts(TEXT.into(), vec![s]).unwrap();
        assert_eq!(
            open(n.encode().as_bytes(), &[a.verifier()]),
            Err(NoteError::NoVerifiedSignature)
        );
        // change the name: also unknown (same ID, other name)
        let mut s = good.signatures()[0].clone();
        s.name = "b.example".into();
        let n = Note::from_parts(TEXT.into(), vec![s]).unwrap();
        assert_eq!(
            open(n.encode().as_bytes(), &[a.verifier()]),
            Err(NoteError::NoVerifiedSignature)
        );
    }

    #[test]
    fn bad_repeat_of_known_key_is_rejected() {
        let a = key("a.example", 1);
        let mut n = sign(TEXT, &a).unwrap();
        let mut bad = n.signatures()[0].clone();
        bad.sig[0] ^= 1;
        n.sigs.push(bad);
        assert!(matches!(
            open(n.encode().as_bytes(), &[a.verifier()]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn cosigner_known_key_yields_timestamp() {
        let log = key("log.example", 1);
        let w = key("w.example", 2);
        let body = "log.example\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let mut n = sign(body, &log).unwrap();
        n.add_signature(cosignature::cosign(body, &w, 1_700_000_000).unwrap())
            .unwrap();
        let o = open(
            n.encode().as_bytes(),
            &[log.verifier(), w.cosigner_verifier()],
        )
        .unwrap();
        assert_eq!(o.verified.len(), 2);
        assert_eq!(o.verified[1].alg, SigAlg::CosignatureV1);
        assert_eq!(o.verified[1].timestamp, Some(1_700_000_000));
        // the plain-signature key of the witness does not match the
        // cosignature line (different key ID), so the line is unverified
        let o = open(n.encode().as_bytes(), &[log.verifier(), w.verifier()]).unwrap();
        assert_eq!(o.verified.len(), 1);
        assert_eq!(o.unverified.len(), 1);
    }

    #[test]
    fn malformed_reasons() {
        let a = key("a", 1);
        let good = sign("t\n", &a).unwrap().encode();
        let line = good.strip_prefix("t\n\n").unwrap().to_owned();
        let cases: Vec<(Vec<u8>, MalformedReason)> = vec![
            (b"t\n\xff\n\n".to_vec(), MalformedReason::NotUtf8),
            (
                format!("t\r\n\n{line}").into_bytes(),
                MalformedReason::ControlCharacter,
            ),
            (b"t\n".to_vec(), MalformedReason::MissingSeparator),
            (b"t\n\n".to_vec(), MalformedReason::NoSignatures),
            (
                format!("t\n\n{}", line.trim_end()).into_bytes(),
                MalformedReason::MissingFinalNewline,
            ),
            (
                format!("t\n\n{}", line.replace('\u{2014}', "\u{2013}")).into_bytes(),
                MalformedReason::BadSignatureLine,
            ),
            (
                format!("t\n\n{}", line.replacen(' ', "", 1)).into_bytes(),
                MalformedReason::BadSignatureLine,
            ),
            (
                format!("t\n\n{}", line.replacen("— a", "— a+b", 1)).into_bytes(),
                MalformedReason::InvalidKeyName,
            ),
            (
                b"t\n\n\xe2\x80\x94 a \n".to_vec(),
                MalformedReason::BadBase64,
            ),
            (
                b"t\n\n\xe2\x80\x94 a AAAA\n".to_vec(),
                MalformedReason::SignatureTooShort,
            ),
            (
                b"t\n\n\xe2\x80\x94 a AAAAAA==\n".to_vec(),
                MalformedReason::SignatureTooShort,
            ),
            (
                b"t\n\n\xe2\x80\x94 a AAAAAA=\n".to_vec(),
                MalformedReason::BadBase64,
            ),
            (
                b"t\n\n\xe2\x80\x94 a AAAAAAA\n".to_vec(),
                MalformedReason::BadBase64,
            ),
            (
                format!("t\n\n{}", line.repeat(MAX_SIGNATURES + 1)).into_bytes(),
                MalformedReason::TooManySignatures,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                Note::parse(&input),
                Err(NoteError::Malformed(want)),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
        }
        // exactly the limit is accepted, and at least 16 must be
        let n = Note::parse(format!("t\n\n{}", line.repeat(MAX_SIGNATURES)).as_bytes()).unwrap();
        assert_eq!(n.signatures().len(), MAX_SIGNATURES);
        let o = open(n.encode().as_bytes(), &[a.verifier()]).unwrap();
        assert_eq!(o.verified.len(), 1);
    }

    #[test]
    fn sixteen_distinct_signers_accepted() {
        let keys: Vec<_> = (0..16)
            .map(|i| key(&format!("k{i}"), i as u8 + 1))
            .collect();
        let mut n = sign("x\n", &keys[0]).unwrap();
        for k in &keys[1..] {
            n.sign(k).unwrap();
        }
        let vks: Vec<_> = keys.iter().map(|k| k.verifier()).collect();
        let o = open(n.encode().as_bytes(), &vks).unwrap();
        assert_eq!(o.verified.len(), 16);
    }

    #[test]
    fn add_signature_limit() {
        let a = key("a", 1);
        let mut n = sign("x\n", &a).unwrap();
        for i in 1..MAX_SIGNATURES {
            n.add_signature(NoteSignature {
                name: "u".into(),
                key_id: KeyId(i as u32),
                sig: vec![1],
            })
            .unwrap();
        }
        assert_eq!(
            n.add_signature(NoteSignature {
                name: "u".into(),
                key_id: KeyId(0xffff_ffff),
                sig: vec![1],
            }),
            Err(NoteError::Malformed(MalformedReason::TooManySignatures))
        );
        // replacing an existing one is still fine at the limit
        n.sign(&a).unwrap();
        assert_eq!(Note::parse(n.encode().as_bytes()).unwrap(), n);
    }

    /// Issue 6: 100,000 signature lines are counted, not parsed, before the
    /// note is refused.
    #[test]
    fn signature_lines_are_bounded() {
        use crate::core::testing::fast;
        let line = "\u{2014} a.example AAAAAQE=\n";
        let b = format!(
            "a.example\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n{}",
            line.repeat(100_000)
        );
        let r = fast("Note::parse", || Note::parse(b.as_bytes()));
        assert_eq!(r, Err(MalformedReason::TooManySignatures.into()));
    }
}
