//! The metadata envelope and the salted content commitment.
//!
//! What a document *is* (its path, name, source, case, notes, media type and
//! plaintext digest) must not be readable by someone who copies the archive
//! without keys. It is therefore serialised as JSON (FORMAT.md §5.2), encrypted
//! with age to the archive's recipients and stored as a blob; the signed record
//! only carries the envelope's ciphertext digest and a salted commitment to the
//! plaintext digest (FORMAT.md §5.1), whose opening sits inside the envelope.

use serde::{Deserialize, Deserializer, Serialize};

use crate::core::domain_tags;
use crate::core::hash::Digest;

/// Version of the envelope JSON this code writes and reads.
pub const META_VERSION: u32 = 1;
/// Largest envelope plaintext accepted when decoding (a hostile envelope must not exhaust memory).
pub const MAX_META_LEN: usize = 1 << 20;
/// A writer starts a new envelope rather than grow one past this many bytes
/// of plaintext (FORMAT.md §5.2); a single entry may still be larger.
pub const GROUP_TARGET_LEN: usize = 256 << 10;
/// Most entries a reader accepts in one envelope.
pub const MAX_GROUP_ENTRIES: usize = 4096;

/// The decrypted metadata envelope of an ingested document (FORMAT.md §5.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Envelope format version; must be [`META_VERSION`].
    pub v: u32,
    /// Path of the file relative to the ingested root, `/`-separated.
    pub path: String,
    /// Final component of `path`.
    pub name: String,
    /// Plaintext length in bytes.
    pub size: u64,
    /// SHA-256 of the plaintext (the commitment's opening, part 1).
    #[serde(deserialize_with = "lower_hex")]
    pub sha256: Digest,
    /// 32 random bytes (the commitment's opening, part 2).
    #[serde(deserialize_with = "lower_hex")]
    pub salt: Digest,
    /// Media type guessed from the file name, e.g. `application/pdf`.
    pub media_type: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_string"
    )]
    pub source: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_string"
    )]
    pub case: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_string"
    )]
    pub note: Option<String>,
}

/// A digest written as exactly 64 lowercase hex digits (FORMAT.md §1,
/// §5.2, §10.3): uppercase, which `Digest`'s own parser takes, is refused.
pub fn lower_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
    let s = String::deserialize(d)?;
    let lower = s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    lower
        .then(|| Digest::from_hex(&s))
        .flatten()
        .ok_or_else(|| serde::de::Error::custom("expected 64 lowercase hex digits"))
}

/// An optional string member (FORMAT.md §5.2, §10.3): absent is `None`
/// (with `#[serde(default)]`); present, it is a string, never `null`.
pub fn present_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// The common rules of the JSON envelopes (FORMAT.md §5.2, §10.3) that
/// `serde_json` does not enforce by itself: no byte order mark. (Unknown,
/// missing and repeated members are refused by the derived parsers:
/// `deny_unknown_fields`, required fields, and serde's duplicate-field check.)
pub fn check_json_text(bytes: &[u8]) -> Result<(), String> {
    if bytes.starts_with(b"\xef\xbb\xbf") {
        return Err("starts with a byte order mark".into());
    }
    Ok(())
}

/// Why an envelope could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    #[error("metadata envelope is larger than {MAX_META_LEN} bytes")]
    TooLarge,
    #[error("metadata envelope is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("unknown metadata envelope version {0}")]
    UnknownVersion(u32),
    #[error("no entry of the metadata envelope opens the record's commitment")]
    NoEntry,
    #[error("the metadata envelope has more than {MAX_GROUP_ENTRIES} entries")]
    TooManyEntries,
    #[error("two entries of the metadata envelope open the record's commitment")]
    TwoEntries,
}

impl Metadata {
    /// JSON bytes of the envelope (FORMAT.md §5.2).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising a struct of strings and integers to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses envelope JSON strictly (bounded, unknown fields rejected).
    pub fn from_json(bytes: &[u8]) -> Result<Metadata, MetaError> {
        if bytes.len() > MAX_META_LEN {
            return Err(MetaError::TooLarge);
        }
        check_json_text(bytes).map_err(MetaError::Malformed)?;
        let m: Metadata =
            serde_json::from_slice(bytes).map_err(|e| MetaError::Malformed(e.to_string()))?;
        if m.v != META_VERSION {
            return Err(MetaError::UnknownVersion(m.v));
        }
        if m.path.rsplit('/').next() != Some(m.name.as_str()) {
            return Err(MetaError::Malformed(
                "name is not the last component of path".into(),
            ));
        }
        Ok(m)
    }

    /// The commitment this envelope opens.
    pub fn commitment(&self) -> Digest {
        commitment(&self.salt, &self.sha256)
    }
}

/// Version of the JSON inside an encrypted note (FORMAT.md §4.10).
pub const NOTE_VERSION: u32 = 1;
/// Largest note plaintext a reader accepts.
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// The plaintext of an `annotate` record's note (FORMAT.md §4.10):
/// `{"v":1,"text":TEXT}`, members in that order when written; read in any
/// order, strictly (both members required, none other, none twice, no byte
/// order mark).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteEnvelope {
    pub v: u32,
    pub text: String,
}

impl NoteEnvelope {
    pub fn new(text: &str) -> NoteEnvelope {
        NoteEnvelope {
            v: NOTE_VERSION,
            text: text.to_string(),
        }
    }

    /// The JSON written: `{"v":1,"text":…}`, without insignificant whitespace.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a note's plaintext (FORMAT.md §4.10). Notes written before
    /// this order was fixed (`{"text":…,"v":1}`) parse the same.
    pub fn from_json(bytes: &[u8]) -> Result<NoteEnvelope, MetaError> {
        if bytes.len() > MAX_NOTE_LEN {
            return Err(MetaError::Malformed("note larger than 1 MiB".into()));
        }
        check_json_text(bytes).map_err(MetaError::Malformed)?;
        let n: NoteEnvelope =
            serde_json::from_slice(bytes).map_err(|e| MetaError::Malformed(e.to_string()))?;
        if n.v != NOTE_VERSION {
            return Err(MetaError::UnknownVersion(n.v));
        }
        Ok(n)
    }
}

/// The plaintext of one metadata envelope holding `entries` (FORMAT.md §5.2):
/// each entry's JSON followed by a line feed. Ingest groups the documents of a
/// batch into envelopes of about [`GROUP_TARGET_LEN`] bytes, so that a document
/// costs one age file (its blob), not two.
pub fn encode_envelope(entries: &[Metadata]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::new());
    for m in entries {
        out.extend_from_slice(&zeroize::Zeroizing::new(m.to_json()));
        out.push(b'\n');
    }
    out
}

/// Splits `entries` into consecutive groups and encodes each as an envelope
/// plaintext ([`encode_envelope`]) of at most [`GROUP_TARGET_LEN`] bytes, or
/// of one entry if that entry alone is larger. Returns each group's range of
/// `entries` with its plaintext.
pub fn group_envelopes(
    entries: &[Metadata],
) -> Vec<(std::ops::Range<usize>, zeroize::Zeroizing<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    for (i, m) in entries.iter().enumerate() {
        let j = zeroize::Zeroizing::new(m.to_json());
        if !buf.is_empty() && buf.len() + j.len() + 1 > GROUP_TARGET_LEN {
            out.push((start..i, std::mem::take(&mut buf)));
            start = i;
        }
        buf.extend_from_slice(&j);
        buf.push(b'\n');
    }
    if !buf.is_empty() {
        out.push((start..entries.len(), buf));
    }
    out
}

/// Finds the entry of an envelope's plaintext that opens `commitment`
/// (FORMAT.md §5.2). Every entry is parsed strictly; a final entry without its
/// line feed is accepted (single-entry envelopes written before groups existed).
pub fn open_envelope(plain: &[u8], commitment: &Digest) -> Result<Metadata, MetaError> {
    let mut found = None;
    for m in entries(plain)? {
        let m = m?;
        if m.commitment() == *commitment {
            if found.is_some() {
                return Err(MetaError::TwoEntries);
            }
            found = Some(m);
        }
    }
    found.ok_or(MetaError::NoEntry)
}

/// Every entry of an envelope's plaintext with the commitment it opens, in
/// order, each parsed strictly (FORMAT.md §5.2): one entry that does not
/// parse refuses the envelope. A pass over many documents (`custody find`)
/// parses each envelope once and picks entries by commitment.
pub fn envelope_entries(plain: &[u8]) -> Result<Vec<(Digest, Metadata)>, MetaError> {
    entries(plain)?
        .map(|m| m.map(|m| (m.commitment(), m)))
        .collect()
}

/// The entries of an envelope's plaintext, parsed one by one as they are
/// taken; more than [`MAX_GROUP_ENTRIES`] is an error at the one past it.
fn entries(
    plain: &[u8],
) -> Result<impl Iterator<Item = Result<Metadata, MetaError>> + '_, MetaError> {
    if plain.len() > MAX_META_LEN {
        return Err(MetaError::TooLarge);
    }
    let body = plain.strip_suffix(b"\n").unwrap_or(plain);
    Ok(body.split(|&b| b == b'\n').enumerate().map(|(n, line)| {
        if n >= MAX_GROUP_ENTRIES {
            return Err(MetaError::TooManyEntries);
        }
        Metadata::from_json(line)
    }))
}

/// Salted content commitment (FORMAT.md §5.1):
/// `SHA-256("custody/v1/content-commitment\n" || salt || SHA-256(plaintext))`.
pub fn commitment(salt: &Digest, plaintext_sha256: &Digest) -> Digest {
    Digest::of_parts(&[
        domain_tags::CONTENT_COMMITMENT,
        salt.as_bytes(),
        plaintext_sha256.as_bytes(),
    ])
}

/// Guesses a media type from a file name's extension. Unknown: `application/octet-stream`.
pub fn media_type_for(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" | "text" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "eml" => "message/rfc822",
        "msg" => "application/vnd.ms-outlook",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "rtf" => "application/rtf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metadata {
        Metadata {
            v: META_VERSION,
            path: "dir/memo.pdf".into(),
            name: "memo.pdf".into(),
            size: 3,
            sha256: Digest::of(b"abc"),
            salt: Digest([7; 32]),
            media_type: media_type_for("memo.pdf").into(),
            source: Some("source A".into()),
            case: None,
            note: None,
        }
    }

    #[test]
    fn round_trip_and_strictness() {
        let m = sample();
        let j = m.to_json();
        assert_eq!(Metadata::from_json(&j).unwrap(), m);
        let mut v: serde_json::Value = serde_json::from_slice(&j).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(matches!(
            Metadata::from_json(&serde_json::to_vec(&v).unwrap()),
            Err(MetaError::Malformed(_))
        ));
        v.as_object_mut().unwrap().remove("extra");
        v["v"] = serde_json::json!(2);
        assert!(matches!(
            Metadata::from_json(&serde_json::to_vec(&v).unwrap()),
            Err(MetaError::UnknownVersion(2))
        ));
    }

    /// FORMAT.md §5.2: every member required but the optional ones, which
    /// are strings when present; no member twice; no byte order mark;
    /// integers without fraction or exponent, in range; lowercase hex; `name`
    /// the last component of `path`.
    #[test]
    fn envelope_entries_are_strict() {
        let j = String::from_utf8(sample().to_json()).unwrap();
        assert!(Metadata::from_json(j.as_bytes()).is_ok());
        let hex = sample().sha256.to_hex();
        let bad = [
            j.replace(r#""v":1,"#, ""),
            j.replace(r#","case":null"#, "")
                .replace('}', r#","case":null}"#),
            j.replace(r#""v":1,"#, r#""v":1,"v":1,"#),
            format!("\u{feff}{j}"),
            j.replace(r#""size":3"#, r#""size":3.0"#),
            j.replace(r#""size":3"#, r#""size":3e0"#),
            j.replace(r#""size":3"#, r#""size":-3"#),
            j.replace(r#""size":3"#, r#""size":18446744073709551616"#),
            j.replace(&hex, &hex.to_uppercase()),
            j.replace(r#""name":"memo.pdf""#, r#""name":"other.pdf""#),
            j.replace(r#""name":"memo.pdf""#, r#""name":"dir/memo.pdf""#),
        ];
        for b in bad {
            assert!(Metadata::from_json(b.as_bytes()).is_err(), "{b}");
        }
        // Any member order, and the whitespace RFC 8259 allows.
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(Metadata::from_json(pretty.as_bytes()).unwrap(), sample());
    }

    /// FORMAT.md §4.10: written `{"v":1,"text":…}`; read in either order.
    #[test]
    fn notes_are_written_v_first_and_read_in_any_order() {
        let n = NoteEnvelope::new("checked with the source");
        assert_eq!(
            n.to_json(),
            br#"{"v":1,"text":"checked with the source"}"#.to_vec()
        );
        let old = br#"{"text":"checked with the source","v":1}"#;
        assert_eq!(NoteEnvelope::from_json(old).unwrap(), n);
        for bad in [
            &br#"{"v":1}"#[..],
            br#"{"v":2,"text":"a"}"#,
            br#"{"v":1,"text":"a","text":"b"}"#,
            br#"{"v":1,"text":"a","x":1}"#,
            br#"{"v":1,"text":null}"#,
            b"\xef\xbb\xbf{\"v\":1,\"text\":\"a\"}",
        ] {
            assert!(NoteEnvelope::from_json(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn envelopes_of_one_and_many_entries() {
        let a = sample();
        let mut b = sample();
        b.path = "dir/other.pdf".into();
        b.name = "other.pdf".into();
        b.salt = Digest([9; 32]);
        let mut c = sample();
        c.salt = Digest([10; 32]);
        let group = encode_envelope(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(group.iter().filter(|&&x| x == b'\n').count(), 3);
        assert_eq!(open_envelope(&group, &b.commitment()).unwrap(), b);
        assert_eq!(open_envelope(&group, &c.commitment()).unwrap(), c);
        // The single-object envelope without a line feed (format of older archives).
        assert_eq!(open_envelope(&a.to_json(), &a.commitment()).unwrap(), a);
        assert!(matches!(
            open_envelope(&group, &Digest([0; 32])),
            Err(MetaError::NoEntry)
        ));
        // A bad entry anywhere spoils the envelope, even if another one matches.
        let mut bad = group.to_vec();
        bad.extend_from_slice(b"{}\n");
        assert!(matches!(
            open_envelope(&bad, &a.commitment()),
            Err(MetaError::Malformed(_))
        ));
        let dup = encode_envelope(&[a.clone(), a.clone()]);
        assert!(matches!(
            open_envelope(&dup, &a.commitment()),
            Err(MetaError::TwoEntries)
        ));
        assert!(matches!(
            open_envelope(b"", &a.commitment()),
            Err(MetaError::Malformed(_))
        ));
    }

    #[test]
    fn groups_stay_under_the_target_size() {
        let mut many = Vec::new();
        for k in 0..2000u32 {
            let mut m = sample();
            m.salt = Digest::of(&k.to_be_bytes());
            m.note = (k == 7).then(|| "n".repeat(GROUP_TARGET_LEN));
            many.push(m);
        }
        let groups = group_envelopes(&many);
        assert!(groups.len() > 2);
        let mut next = 0;
        for (range, plain) in &groups {
            assert_eq!(range.start, next);
            next = range.end;
            assert!(plain.len() <= GROUP_TARGET_LEN || range.len() == 1);
            assert_eq!(&plain[..], &encode_envelope(&many[range.clone()])[..]);
            for m in &many[range.clone()] {
                assert_eq!(&open_envelope(plain, &m.commitment()).unwrap(), m);
            }
        }
        assert_eq!(next, many.len());
        assert!(group_envelopes(&[]).is_empty());
    }

    #[test]
    fn commitment_depends_on_salt_and_digest() {
        let m = sample();
        let c = m.commitment();
        assert_ne!(c, commitment(&Digest([8; 32]), &m.sha256));
        assert_ne!(c, commitment(&m.salt, &Digest::of(b"abd")));
        assert_eq!(c, commitment(&m.salt, &m.sha256));
    }

    /// Issue 6: the envelope JSON parser refuses deep nesting fast
    /// (serde_json's recursion limit), and envelopes over 1 MiB unread.
    #[test]
    fn nesting_and_size_are_bounded() {
        use crate::core::testing::{fast, nested};
        let c = sample().commitment();
        for bad in [
            nested("", "[", 100_000),
            nested(r#"{"v":1,"source":"#, "[", 100_000),
            nested(r#"{"path":"#, r#"{"a":"#, 100_000),
        ] {
            let r = fast("Metadata::from_json", || {
                Metadata::from_json(bad.as_bytes())
            });
            assert!(matches!(r, Err(MetaError::Malformed(_))), "{r:?}");
            let r = fast("open_envelope", || open_envelope(bad.as_bytes(), &c));
            assert!(matches!(r, Err(MetaError::Malformed(_))), "{r:?}");
        }
        let huge = vec![b'\n'; MAX_META_LEN + 1];
        let r = fast("open_envelope", || open_envelope(&huge, &c));
        assert!(matches!(r, Err(MetaError::TooLarge)), "{r:?}");
        let r = fast("Metadata::from_json", || Metadata::from_json(&huge));
        assert!(matches!(r, Err(MetaError::TooLarge)), "{r:?}");
    }
}
