//! Sealed details (FORMAT.md §5.4): what a record knows about people and
//! partners (an actor's name and key name, a revocation's or a decryption's
//! reason, a share's recipients), kept out of the ledger. The plaintext is one
//! JSON object; it is age-encrypted to the archive's recipients and stored as
//! a blob, and the version 2 record (§4.16) holds only the age file's digest
//! and length. A reader of the ledger or of the published log learns nothing
//! from it; a holder of an identity reads it.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::core::keys::is_valid_key_name;
use crate::core::record::{valid_actor_name, ActorAction, ActorChange, MAX_TEXT_LEN};

/// Version of the sealed JSON (member `v`).
pub const SEALED_VERSION: u32 = 1;
/// Version of actor details that carry the person's own age recipient
/// (member `recipient`, FORMAT.md §5.4), and of share details that carry
/// the partner's name or a note (members `partner`, `note`); all other
/// details are version 1.
pub const SEALED_VERSION_RECIPIENT: u32 = 2;
/// Version 2 of share details (FORMAT.md §5.4): with `partner` or `note`.
pub const SEALED_VERSION_SHARE_NAMED: u32 = 2;
/// A sealed plaintext is at most this long (a reader MUST reject longer).
pub const MAX_SEALED_LEN: usize = 256 * 1024;
/// Writers pad the plaintext with spaces to a multiple of this, so that the
/// sealed file's length does not tell a name's or a reason's length.
pub const SEALED_PAD: usize = 256;
/// Actor details are padded to at least this many bytes (FORMAT.md §5.4):
/// an `add` with a post-quantum recipient (about 2 KiB of JSON) and one
/// without, or a revoke with a long reason, then seal to files of one length.
pub const ACTOR_SEALED_LEN: usize = 4096;
/// Share details are padded to at least this many bytes (FORMAT.md §5.4):
/// a share to one or two post-quantum recipients (about 2 KiB of JSON
/// each), or to about 90 classic ones, seals to one length whether it names
/// the partner and has a note (at most 2 KiB of JSON with its escapes) or
/// not, so the ledger does not tell which shares have them.
pub const SHARE_SEALED_LEN: usize = 8192;
/// At most this many recipients in a sealed share.
pub const MAX_SEALED_RECIPIENTS: usize = 255;

/// The plaintext of a sealed blob (FORMAT.md §5.4). Members are written in
/// the order declared here; readers accept any order and reject unknown ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Details {
    /// Of an `actor` record.
    Actor {
        v: u32,
        /// `add`: the actor's name in this archive (§4.7 rules); else empty.
        name: String,
        /// `add` and `rotate`: the C2SP key name of the record's key; `revoke`: empty.
        key_name: String,
        /// Why (a revocation), else empty.
        reason: String,
        /// Version 2, `add` and `rotate`: the person's own age recipient
        /// (canonical text, §5.3), to which the archive may encrypt for them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recipient: Option<String>,
    },
    /// Of an `access` record: why the document was decrypted.
    Access { v: u32, reason: String },
    /// Of a `share` record: the partner's recipients, canonical texts
    /// (§5.3); version 2, when given: the name this archive knows the
    /// partner by (§4.7 name rules) and the share's note (at most 1,024
    /// bytes, no control characters but line feeds).
    Share {
        v: u32,
        recipients: Vec<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::core::meta::present_string"
        )]
        partner: Option<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::core::meta::present_string"
        )]
        note: Option<String>,
    },
    /// Of a `config` record: the deduplication secret, 32 bytes as 64
    /// lowercase hex digits (FORMAT.md §7.3).
    Config { v: u32, dedup_key: String },
    /// Of a `compartment` record: its name (§4.7 name rules) and its
    /// members' own recipients, canonical texts (§5.3, FORMAT.md §4.18).
    Compartment {
        v: u32,
        name: String,
        recipients: Vec<String>,
    },
}

impl Drop for Details {
    /// The deduplication secret does not outlive its value.
    fn drop(&mut self) {
        if let Details::Config { dedup_key, .. } = self {
            zeroize::Zeroize::zeroize(dedup_key);
        }
    }
}

/// Why a sealed plaintext was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealedError {
    #[error("sealed details are not the JSON of FORMAT.md §5.4: {0}")]
    Json(String),
    #[error("sealed details of version {0} (this custody reads versions 1 and 2)")]
    Version(u32),
    #[error("sealed details are {0}, not those of this {1} record")]
    Kind(&'static str, &'static str),
    #[error("sealed details: {0}")]
    Invalid(String),
}

impl Details {
    /// The record kind these details belong to.
    pub fn kind(&self) -> &'static str {
        match self {
            Details::Actor { .. } => "actor",
            Details::Access { .. } => "access",
            Details::Share { .. } => "share",
            Details::Config { .. } => "config",
            Details::Compartment { .. } => "compartment",
        }
    }

    /// One line for people (it holds what the record seals: show it only
    /// to whoever opened it).
    pub fn summary(&self) -> String {
        match self {
            Details::Actor {
                name,
                key_name,
                reason,
                recipient,
                ..
            } => {
                let mut parts = Vec::new();
                if !name.is_empty() {
                    parts.push(format!("name {name}"));
                }
                if !key_name.is_empty() {
                    parts.push(format!("key name {key_name}"));
                }
                if let Some(r) = recipient.as_deref().and_then(recipient_fingerprint) {
                    parts.push(format!("age recipient [{}]", &r.to_hex()[..8]));
                }
                if !reason.is_empty() {
                    parts.push(format!("reason: {reason}"));
                }
                parts.join(", ")
            }
            Details::Access { reason, .. } => format!("reason: {reason}"),
            Details::Share {
                recipients,
                partner,
                note,
                ..
            } => {
                let to = match partner {
                    Some(p) => format!("to partner {p}"),
                    None => format!("to {}", recipients.join(", ")),
                };
                match note {
                    Some(n) => format!("{to}; note: {n}"),
                    None => to,
                }
            }
            Details::Config { .. } => "the deduplication secret (not shown)".into(),
            Details::Compartment {
                name, recipients, ..
            } => format!(
                "compartment {name}, {} member recipient(s)",
                recipients.len()
            ),
        }
    }

    /// The deduplication secret of `config` details (FORMAT.md §7.3).
    pub fn dedup_secret(&self) -> Option<Zeroizing<[u8; 32]>> {
        let Details::Config { dedup_key, .. } = self else {
            return None;
        };
        let ok = dedup_key.len() == 64
            && dedup_key
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return None;
        }
        let mut k = Zeroizing::new([0u8; 32]);
        for (i, out) in k.iter_mut().enumerate() {
            *out = u8::from_str_radix(&dedup_key[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(k)
    }

    /// Share details (FORMAT.md §5.4): version 2 when the partner's name or
    /// a note is given, else version 1 (as custody wrote before both existed).
    pub fn new_share(
        recipients: Vec<String>,
        partner: Option<String>,
        note: Option<String>,
    ) -> Details {
        let v = if partner.is_some() || note.is_some() {
            SEALED_VERSION_SHARE_NAMED
        } else {
            SEALED_VERSION
        };
        Details::Share {
            v,
            recipients,
            partner,
            note,
        }
    }

    /// A share's recipients (canonical texts), partner's name and note.
    pub fn share(&self) -> Option<(&[String], Option<&str>, Option<&str>)> {
        let Details::Share {
            recipients,
            partner,
            note,
            ..
        } = self
        else {
            return None;
        };
        Some((recipients, partner.as_deref(), note.as_deref()))
    }

    /// `config` details with a fresh deduplication secret from the OS.
    pub fn new_config() -> Result<Details, getrandom::Error> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut k[..])?;
        Ok(Details::Config {
            v: SEALED_VERSION,
            dedup_key: k.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// The plaintext: the JSON (compact, members in declaration order),
    /// then spaces up to a multiple of [`SEALED_PAD`] bytes (FORMAT.md §5.4).
    pub fn to_json(&self) -> Vec<u8> {
        let mut j = serde_json::to_vec(self).expect("sealed details serialize");
        let min = match self {
            Details::Actor { .. } => ACTOR_SEALED_LEN,
            Details::Share { .. } => SHARE_SEALED_LEN,
            Details::Access { .. } | Details::Config { .. } | Details::Compartment { .. } => 0,
        };
        j.resize((j.len().div_ceil(SEALED_PAD) * SEALED_PAD).max(min), b' ');
        j
    }

    /// Parses and checks a plaintext (FORMAT.md §5.4) under the JSON rules
    /// of the envelopes (§5.2): no byte order mark, one object, every member
    /// required, none unknown or twice (the derived parser refuses a
    /// repeated member, `kind` included), no `null`, integers without a
    /// fraction or an exponent and in range, `v` = 1.
    pub fn parse(plain: &[u8]) -> Result<Details, SealedError> {
        if plain.len() > MAX_SEALED_LEN {
            return Err(SealedError::Invalid(format!(
                "{} bytes, over {MAX_SEALED_LEN}",
                plain.len()
            )));
        }
        crate::core::meta::check_json_text(plain).map_err(SealedError::Json)?;
        let d: Details =
            serde_json::from_slice(plain).map_err(|e| SealedError::Json(e.to_string()))?;
        d.check()?;
        Ok(d)
    }

    /// Checks the values against FORMAT.md §5.4 (writers check before they
    /// seal; [`Details::parse`] checks what it reads).
    pub fn check(&self) -> Result<(), SealedError> {
        let bad = |m: &str| Err(SealedError::Invalid(m.to_string()));
        let text_ok =
            |t: &str| t.len() <= MAX_TEXT_LEN && !t.chars().any(|c| c.is_control() && c != '\n');
        let v = match self {
            Details::Actor {
                v,
                name,
                key_name,
                reason,
                recipient,
            } => {
                if recipient.as_ref().is_some_and(|r| !canonical_recipient(r)) {
                    return bad("the recipient is not an age recipient in canonical form (§5.3)");
                }
                // Version 2 is version 1 with a recipient, and only with one.
                let want = if recipient.is_some() {
                    SEALED_VERSION_RECIPIENT
                } else {
                    SEALED_VERSION
                };
                if *v != want {
                    return Err(SealedError::Version(*v));
                }
                if !name.is_empty() && !valid_actor_name(name) {
                    return bad("the actor name is not 1 to 64 of a-z 0-9 . _ -");
                }
                if !key_name.is_empty() && !is_valid_key_name(key_name) {
                    return bad("the key name is not a C2SP key name");
                }
                if !text_ok(reason) {
                    return bad("the reason is over 1,024 bytes or has control characters");
                }
                *v
            }
            Details::Access { v, reason } => {
                if !text_ok(reason) {
                    return bad("the reason is over 1,024 bytes or has control characters");
                }
                *v
            }
            Details::Share {
                v,
                recipients,
                partner,
                note,
            } => {
                if recipients.is_empty() || recipients.len() > MAX_SEALED_RECIPIENTS {
                    return bad("a share has 1 to 255 recipients");
                }
                if !recipients.iter().all(|r| canonical_recipient(r)) {
                    return bad("a recipient is not an age recipient in canonical form (§5.3)");
                }
                check_share_label(*v, partner.as_deref(), note.as_deref())?;
                return Ok(());
            }
            Details::Config { v, .. } => {
                if self.dedup_secret().is_none() {
                    return bad("the deduplication secret is not 64 lowercase hex digits");
                }
                *v
            }
            Details::Compartment {
                v,
                name,
                recipients,
            } => {
                if !valid_actor_name(name) {
                    return bad("the compartment name is not 1 to 64 of a-z 0-9 . _ -");
                }
                if recipients.is_empty() || recipients.len() > MAX_SEALED_RECIPIENTS {
                    return bad("a compartment has 1 to 255 member recipients");
                }
                if !recipients.iter().all(|r| canonical_recipient(r)) {
                    return bad("a recipient is not an age recipient in canonical form (§5.3)");
                }
                *v
            }
        };
        if v != SEALED_VERSION && !matches!(self, Details::Actor { .. }) {
            return Err(SealedError::Version(v));
        }
        Ok(())
    }

    /// The person's own age recipient in actor details (version 2).
    pub fn recipient(&self) -> Option<&str> {
        match self {
            Details::Actor { recipient, .. } => recipient.as_deref(),
            Details::Access { .. }
            | Details::Share { .. }
            | Details::Config { .. }
            | Details::Compartment { .. } => None,
        }
    }

    /// Checks actor details against the version 2 record they belong to
    /// (FORMAT.md §4.16): an `add` has a name and a key name, a `rotate` a
    /// key name only, a `revoke` neither; only a `revoke` has a reason
    /// (FORMAT.md §4.7).
    pub fn check_actor(&self, c: &ActorChange) -> Result<(), SealedError> {
        if c.sealed.is_none() {
            return Err(SealedError::Invalid("the record is not sealed".into()));
        }
        match self {
            Details::Actor {
                name,
                key_name,
                reason,
                recipient,
                ..
            } => {
                if c.action != ActorAction::Revoke && !reason.is_empty() {
                    return Err(SealedError::Invalid(
                        "only a revoke has a reason (§4.7)".into(),
                    ));
                }
                if c.action == ActorAction::Revoke && recipient.is_some() {
                    return Err(SealedError::Invalid(
                        "a revoke names no recipient (§5.4)".into(),
                    ));
                }
                let (want_name, want_key) = match c.action {
                    ActorAction::Add => (true, true),
                    ActorAction::Rotate => (false, true),
                    ActorAction::Revoke => (false, false),
                };
                if name.is_empty() == want_name || key_name.is_empty() == want_key {
                    return Err(SealedError::Invalid(format!(
                        "an {} names {}",
                        match c.action {
                            ActorAction::Add => "add",
                            ActorAction::Rotate => "rotate",
                            ActorAction::Revoke => "revoke",
                        },
                        match (want_name, want_key) {
                            (true, _) => "the actor and its key",
                            (false, true) => "the new key only",
                            (false, false) => "neither the actor nor a key",
                        }
                    )));
                }
                Ok(())
            }
            Details::Access { .. }
            | Details::Share { .. }
            | Details::Config { .. }
            | Details::Compartment { .. } => Err(SealedError::Kind(self.kind(), "actor")),
        }
    }

    /// Checks compartment details against their record (FORMAT.md §4.18):
    /// the fingerprints of the recipients are the record's members.
    pub fn check_compartment(
        &self,
        c: &crate::core::record::Compartment,
    ) -> Result<(), SealedError> {
        let Details::Compartment { recipients, .. } = self else {
            return Err(SealedError::Kind(self.kind(), "compartment"));
        };
        let mut fps: Vec<crate::core::hash::Digest> = recipients
            .iter()
            .filter_map(|r| recipient_fingerprint(r))
            .collect();
        fps.sort();
        fps.dedup();
        if fps != c.members {
            return Err(SealedError::Invalid(
                "the recipients are not the record's members (§4.18)".into(),
            ));
        }
        Ok(())
    }

    /// A compartment's name, for compartment details.
    pub fn compartment_name(&self) -> Option<&str> {
        match self {
            Details::Compartment { name, .. } => Some(name),
            Details::Actor { .. }
            | Details::Access { .. }
            | Details::Share { .. }
            | Details::Config { .. } => None,
        }
    }
}

/// The version 2 members of share details (FORMAT.md §5.4): `partner` a
/// name by the §4.7 rules, `note` 1 to 1,024 bytes without control
/// characters but line feeds, and `v` 2 exactly when one of them is there.
fn check_share_label(v: u32, partner: Option<&str>, note: Option<&str>) -> Result<(), SealedError> {
    let bad = |m: &str| Err(SealedError::Invalid(m.to_string()));
    if v != SEALED_VERSION && v != SEALED_VERSION_SHARE_NAMED {
        return Err(SealedError::Version(v));
    }
    let named = partner.is_some() || note.is_some();
    if v == SEALED_VERSION && named {
        return bad(
            "`partner` and `note` are members of version 2 share details, not of version 1",
        );
    }
    if v == SEALED_VERSION_SHARE_NAMED && !named {
        return bad("version 2 share details have a `partner` or a `note`");
    }
    if partner.is_some_and(|p| !valid_actor_name(p)) {
        return bad("the partner's name is not 1 to 64 of a-z 0-9 . _ - (§4.7)");
    }
    if note.is_some_and(|n| !valid_share_note(n)) {
        return bad("the note is empty, over 1,024 bytes or has control characters");
    }
    Ok(())
}

/// A share's note (FORMAT.md §5.4): 1 to 1,024 bytes of UTF-8 without
/// control characters but line feeds (the rules of an access reason, §4.8,
/// and not empty: an absent note is no member).
pub fn valid_share_note(n: &str) -> bool {
    !n.is_empty() && n.len() <= MAX_TEXT_LEN && !n.chars().any(|c| c.is_control() && c != '\n')
}

/// Whether `r` is an age recipient in its canonical text (FORMAT.md §5.3).
fn canonical_recipient(r: &str) -> bool {
    crate::core::crypto::RecipientKey::parse(r).is_ok_and(|k| k.canonical() == r)
}

/// The fingerprint (FORMAT.md §5.3) of recipient text `r`, if it parses.
fn recipient_fingerprint(r: &str) -> Option<crate::core::hash::Digest> {
    crate::core::crypto::RecipientKey::parse(r)
        .ok()
        .map(|k| k.fingerprint())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strict_parsing() {
        let d = Details::Actor {
            v: 1,
            name: "alice".into(),
            key_name: "alice.example".into(),
            reason: String::new(),
            recipient: None,
        };
        let j = d.to_json();
        let json =
            r#"{"kind":"actor","v":1,"name":"alice","key_name":"alice.example","reason":""}"#;
        assert_eq!(j.len(), ACTOR_SEALED_LEN, "padded");
        assert_eq!(std::str::from_utf8(&j).unwrap().trim_end(), json);
        assert!(j[json.len()..].iter().all(|&b| b == b' '));
        assert_eq!(Details::parse(&j).unwrap(), d);
        for bad in [
            r#"{"kind":"actor","v":1,"name":"Alice","key_name":"a","reason":""}"#,
            r#"{"kind":"actor","v":2,"name":"alice","key_name":"a","reason":""}"#,
            r#"{"kind":"actor","v":1,"name":"alice","key_name":"a","reason":"","x":1}"#,
            r#"{"kind":"access","v":1,"reason":"a\u0001"}"#,
            r#"{"kind":"share","v":1,"recipients":[]}"#,
            r#"{"kind":"grant","v":1}"#,
            r#"{"v":1,"reason":""}"#,
        ] {
            assert!(Details::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        // Version 2: actor details with the person's own recipient, and only
        // with one; the recipient canonical.
        let rcpt = "age1q57velm07v8t9rdss8hs6e8hdzay4j8fsuukgw0yhmm4upsqnszss6tnaq";
        let v2 = format!(
            r#"{{"kind":"actor","v":2,"name":"jo","key_name":"jo","reason":"","recipient":"{rcpt}"}}"#
        );
        let d2 = Details::parse(v2.as_bytes()).unwrap();
        assert_eq!(d2.recipient(), Some(rcpt));
        assert_eq!(Details::parse(&d2.to_json()).unwrap(), d2);
        assert!(d2.summary().contains("age recipient ["), "{}", d2.summary());
        for bad in [
            v2.replace(r#""v":2"#, r#""v":1"#),
            v2.replace(rcpt, &rcpt.to_uppercase()),
            v2.replace(rcpt, "age1nope"),
            v2.replace(&format!(r#""{rcpt}""#), "null"),
            r#"{"kind":"actor","v":2,"name":"jo","key_name":"jo","reason":""}"#.into(),
            format!(r#"{{"kind":"access","v":2,"reason":"r","recipient":"{rcpt}"}}"#),
            r#"{"kind":"access","v":2,"reason":"r"}"#.into(),
        ] {
            assert!(Details::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        // A share's recipients must be canonical age recipients.
        let r = r#"{"kind":"share","v":1,"recipients":["age1q57velm07v8t9rdss8hs6e8hdzay4j8fsuukgw0yhmm4upsqnszss6tnaq"]}"#;
        assert!(Details::parse(r.as_bytes()).is_ok());
        // The JSON rules of §5.2 (FORMAT.md §5.4): each of these is refused.
        let access = r#"{"kind":"access","v":1,"reason":"r"}"#;
        assert!(Details::parse(access.as_bytes()).is_ok());
        let bom = [b"\xef\xbb\xbf".as_slice(), access.as_bytes()].concat();
        assert_eq!(
            Details::parse(&bom),
            Err(SealedError::Json("starts with a byte order mark".into()))
        );
        for bad in [
            r#"{"kind":"access","v":1,"v":1,"reason":"r"}"#,
            r#"{"kind":"access","kind":"access","v":1,"reason":"r"}"#,
            r#"{"kind":"access","v":1,"reason":"r","reason":"s"}"#,
            r#"{"kind":"access","v":1,"reason":"r","kind":"share"}"#,
            r#"{"kind":"access","v":1}"#,
            r#"{"kind":"access","reason":"r"}"#,
            r#"{"v":1,"reason":"r"}"#,
            r#"{"kind":"access","v":1,"reason":null}"#,
            r#"{"kind":"access","v":1.0,"reason":"r"}"#,
            r#"{"kind":"access","v":1e0,"reason":"r"}"#,
            r#"{"kind":"access","v":-1,"reason":"r"}"#,
            r#"{"kind":"access","v":4294967297,"reason":"r"}"#,
            r#"{"kind":"access","v":"1","reason":"r"}"#,
            r#"{"kind":"access","v":1,"reason":"\ud800"}"#,
            r#"[{"kind":"access","v":1,"reason":"r"}]"#,
            r#"{"kind":"access","v":1,"reason":"r"}{}"#,
        ] {
            assert!(Details::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        let esc = r#"{"kind":"share","v":1,"recipients":["[2Jverified"]}"#;
        assert!(Details::parse(esc.as_bytes()).is_err());
        let ok = r#"{"reason":"check","v":1,"kind":"access"}"#;
        assert!(Details::parse(ok.as_bytes()).is_ok());
        // The deduplication secret: fresh, 64 lowercase hex digits, read back.
        let c = Details::new_config().unwrap();
        let k = Details::parse(&c.to_json())
            .unwrap()
            .dedup_secret()
            .unwrap();
        assert_eq!(c.dedup_secret().unwrap(), k);
        assert_ne!(Details::new_config().unwrap().dedup_secret().unwrap(), k);
        for bad in ["AB".repeat(32), "ab".repeat(31), "zz".repeat(32)] {
            let j = format!(r#"{{"kind":"config","v":1,"dedup_key":"{bad}"}}"#);
            assert!(Details::parse(j.as_bytes()).is_err(), "{j}");
        }
    }

    /// Share details of version 2 (FORMAT.md §5.4): `partner` and `note`
    /// optional but typed, `v` 2 exactly when one is there, padded so that
    /// the file's length does not tell whether they are.
    #[test]
    fn share_details_v1_and_v2() {
        let r = "age1q57velm07v8t9rdss8hs6e8hdzay4j8fsuukgw0yhmm4upsqnszss6tnaq";
        let v1 = Details::new_share(vec![r.into()], None, None);
        let v2 = Details::new_share(
            vec![r.into()],
            Some("guardian".into()),
            Some("for the \"desk\"\nsecond line".into()),
        );
        assert!(matches!(v1, Details::Share { v: 1, .. }));
        assert!(matches!(v2, Details::Share { v: 2, .. }));
        let note_only = Details::new_share(vec![r.into()], None, Some("n".into()));
        for d in [&v1, &v2, &note_only] {
            let j = d.to_json();
            assert_eq!(j.len(), SHARE_SEALED_LEN, "padded");
            assert_eq!(&Details::parse(&j).unwrap(), d);
        }
        let long = Details::new_share(
            vec![r.into()],
            Some("a".repeat(64)),
            Some("\"".repeat(1024)),
        );
        assert_eq!(long.to_json().len(), SHARE_SEALED_LEN);
        let text = String::from_utf8(v2.to_json()).unwrap();
        assert!(
            text.starts_with(&format!(
                r#"{{"kind":"share","v":2,"recipients":["{r}"],"partner":"guardian","note":"#
            )),
            "{text}"
        );
        assert_eq!(
            v2.summary(),
            "to partner guardian; note: for the \"desk\"\nsecond line"
        );
        assert_eq!(v2.share().unwrap().1, Some("guardian"));
        assert_eq!(v1.summary(), format!("to {r}"));
        let base = format!(
            r#"{{"kind":"share","v":2,"recipients":["{r}"],"partner":"guardian","note":"n"}}"#
        );
        assert!(Details::parse(base.as_bytes()).is_ok());
        let no_note = base.replace(r#","note":"n""#, "");
        assert!(Details::parse(no_note.as_bytes()).is_ok());
        for bad in [
            base.replace(r#""v":2"#, r#""v":1"#),
            no_note.replace(r#""v":2"#, r#""v":1"#),
            base.replace(r#","partner":"guardian","note":"n""#, ""),
            base.replace(r#""v":2"#, r#""v":3"#),
            base.replace(r#""guardian""#, "null"),
            base.replace(r#""n"}"#, "null}"),
            base.replace(r#""n"}"#, r#""n","desk":"x"}"#),
            base.replace(r#""guardian""#, r#""The Guardian""#),
            base.replace(r#""guardian""#, r#""""#),
            base.replace(r#""n"}"#, r#""a\u001bb"}"#),
            base.replace(r#""n"}"#, r#""""}"#),
            base.replace(r#""n"}"#, &format!(r#""{}"}}"#, "x".repeat(1025))),
            base.replace(r#""guardian""#, "7"),
            base.replace(r#""n"}"#, r#""n","note":"n"}"#),
        ] {
            assert!(Details::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(Details::parse(
            base.replace(r#""n"}"#, &format!(r#""{}"}}"#, "x".repeat(1024)))
                .as_bytes()
        )
        .is_ok());
    }
}
