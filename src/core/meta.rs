//! The metadata envelope and the salted content commitment.
//!
//! What a document *is* (its path, name, source, case, notes, media type and
//! plaintext digest) must not be readable by someone who copies the archive
//! without keys. It is therefore serialised as JSON (FORMAT.md §5.2), encrypted
//! with age to the archive's recipients and stored as a blob; the signed record
//! only carries the envelope's ciphertext digest and a salted commitment to the
//! plaintext digest (FORMAT.md §5.1), whose opening sits inside the envelope.

use serde::{Deserialize, Serialize};

use crate::core::domain;
use crate::core::hash::Digest;

/// Version of the envelope JSON this code writes and reads.
pub const META_VERSION: u32 = 1;
/// Largest envelope plaintext accepted when decoding (a hostile envelope must not exhaust memory).
pub const MAX_META_LEN: usize = 1 << 20;

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
    pub sha256: Digest,
    /// 32 random bytes (the commitment's opening, part 2).
    pub salt: Digest,
    /// Media type guessed from the file name, e.g. `application/pdf`.
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
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
        let m: Metadata =
            serde_json::from_slice(bytes).map_err(|e| MetaError::Malformed(e.to_string()))?;
        if m.v != META_VERSION {
            return Err(MetaError::UnknownVersion(m.v));
        }
        Ok(m)
    }

    /// The commitment this envelope opens.
    pub fn commitment(&self) -> Digest {
        commitment(&self.salt, &self.sha256)
    }
}

/// Salted content commitment (FORMAT.md §5.1):
/// `SHA-256("custody/v1/content-commitment\n" || salt || SHA-256(plaintext))`.
pub fn commitment(salt: &Digest, plaintext_sha256: &Digest) -> Digest {
    Digest::of_parts(&[
        domain::CONTENT_COMMITMENT,
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

    #[test]
    fn commitment_depends_on_salt_and_digest() {
        let m = sample();
        let c = m.commitment();
        assert_ne!(c, commitment(&Digest([8; 32]), &m.sha256));
        assert_ne!(c, commitment(&m.salt, &Digest::of(b"abd")));
        assert_eq!(c, commitment(&m.salt, &m.sha256));
    }
}
