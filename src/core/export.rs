//! The evidence package `custody export` writes (FORMAT.md §15): for someone
//! who has no custody and may not trust it, one directory per export holding
//! each document (or only its digest), the opening of its commitment, every
//! record of its custody across outlets as C2SP tlog-proofs, a consistency
//! proof of this archive's log, the audit report, a plain statement of how to
//! check each part with standard tools, and a verification script that needs
//! only Python 3's standard library.
//!
//! Pure: the manifest, the opening and the statement are built here; the
//! store gathers the bytes and writes the files.

use serde::Serialize;

use crate::core::hash::Digest;

/// Version tag of the manifest.
pub const EXPORT_SCHEMA: &str = "custody-export/v1";

/// The verification script shipped in every package (`verify.py`).
pub const VERIFY_PY: &str = include_str!("export_verify.py");

/// `manifest.json`: what the package holds, every path relative to it.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    /// Always [`EXPORT_SCHEMA`].
    pub schema: &'static str,
    /// When the package was made (RFC 3339, UTC).
    pub generated: String,
    /// The archive (this outlet's log) that made it.
    pub archive: String,
    /// Every log a record of the package is in: its verifier key's file.
    pub logs: Vec<LogFile>,
    /// The witnesses whose keys this archive trusts, for the cosignatures.
    pub witnesses: Vec<LogFile>,
    pub documents: Vec<DocumentFiles>,
}

/// A verifier key in the package (`keys/…`).
#[derive(Clone, Debug, Serialize)]
pub struct LogFile {
    /// The key's name: a log's origin, or a witness's name.
    pub name: String,
    pub file: String,
}

/// One document's files.
#[derive(Clone, Debug, Serialize)]
pub struct DocumentFiles {
    /// Its arrival record in this archive's log, `origin`.
    pub index: u64,
    pub origin: String,
    /// From its metadata envelope.
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub sha256: Digest,
    pub commitment: Digest,
    /// The plaintext, or `None` when only its digest was exported.
    pub document: Option<String>,
    /// `opening.json` ([`Opening`]).
    pub opening: String,
    /// The stored age file (the document as the archive holds it).
    pub ciphertext: String,
    /// Its chain of custody as custody evidence (FORMAT.md §10.2).
    pub evidence: String,
    /// Every record of that evidence as its own tlog-proof, in order, then
    /// the records that replaced its stored file.
    pub proofs: Vec<ProofFile>,
    /// Positions in `proofs` of the `rekey` and `rewrap` records that
    /// replaced the file its arrival record names, in order: `ciphertext`
    /// is the last one's `new` (the arrival record's `blob` when empty).
    pub ciphertext_chain: Vec<usize>,
    /// This archive's log after the document arrived is a prefix of it now.
    pub consistency: Option<ConsistencyFiles>,
    pub audit_json: String,
    pub audit_html: String,
}

/// One tlog-proof of the package.
#[derive(Clone, Debug, Serialize)]
pub struct ProofFile {
    pub file: String,
    /// The record's log and index, and its kind.
    pub origin: String,
    pub index: u64,
    pub kind: &'static str,
}

/// A consistency proof of this archive's log (FORMAT.md §8.2 form) from the
/// first checkpoint that covered the document's arrival to the latest.
#[derive(Clone, Debug, Serialize)]
pub struct ConsistencyFiles {
    /// That first checkpoint, as the log signed it.
    pub old_checkpoint: String,
    /// `old N`, the proof's hashes, an empty line, the latest checkpoint.
    pub proof: String,
}

/// `opening.json`: the opening of the document's content commitment
/// (FORMAT.md §5.1), with what the envelope says of the document
/// (FORMAT.md §15: every member required, none other).
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    pub v: u32,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    #[serde(deserialize_with = "crate::core::meta::lower_hex")]
    pub sha256: Digest,
    #[serde(deserialize_with = "crate::core::meta::lower_hex")]
    pub salt: Digest,
    #[serde(deserialize_with = "crate::core::meta::lower_hex")]
    pub commitment: Digest,
}

impl Opening {
    /// Parses `opening.json` strictly (the JSON rules of FORMAT.md §5.2), and
    /// checks that it opens its own commitment.
    pub fn from_json(bytes: &[u8]) -> Result<Opening, String> {
        crate::core::meta::check_json_text(bytes).map_err(|e| e.to_string())?;
        let o: Opening = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if o.v != 1 {
            return Err(format!("opening version {} (this custody reads 1)", o.v));
        }
        if crate::core::meta::commitment(&o.salt, &o.sha256) != o.commitment {
            return Err("its salt and sha256 do not open its commitment".into());
        }
        Ok(o)
    }
}

/// A consistency proof as `custody prove --consistency` prints it
/// (FORMAT.md §8.2): `old N`, one base64 hash per line, an empty line, the
/// signed checkpoint at the new size.
pub fn consistency_text(old_size: u64, proof: &[Digest], checkpoint: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let mut s = format!("old {old_size}\n");
    for h in proof {
        s.push_str(&base64::engine::general_purpose::STANDARD.encode(h.as_bytes()));
        s.push('\n');
    }
    s.push('\n');
    let mut body = s.into_bytes();
    body.extend_from_slice(checkpoint);
    body
}

/// What an FtM entity says of a document (FORMAT.md §15.1).
pub struct FtmDoc<'a> {
    pub origin: &'a str,
    pub index: u64,
    pub name: &'a str,
    pub media_type: &'a str,
    pub size: u64,
    pub sha256: &'a Digest,
    pub commitment: &'a Digest,
    /// The arrival indices of its parents, for a derived document.
    pub derived_from: &'a [u64],
}

/// One document as a FollowTheMoney `Document` entity (FORMAT.md §15.1),
/// one line of `entities.ftm.json`: its file's name, size, media type and
/// SHA-256 (`contentHash`, the key of its file in the lakehouse archive),
/// and, so that a finding leads back to the proof, its custody reference
/// and the commitment its record makes, in `notes` and `keywords`.
pub fn ftm_entity(d: &FtmDoc<'_>) -> serde_json::Value {
    let (origin, index, commitment) = (d.origin, d.index, d.commitment);
    let mut notes = vec![format!(
        "custody: record {index} of {origin}; content commitment {commitment}; `custody export {index}` makes its evidence package"
    )];
    if !d.derived_from.is_empty() {
        let parents: Vec<String> = d
            .derived_from
            .iter()
            .map(|p| format!("record {p}"))
            .collect();
        notes.push(format!("custody: derived from {}", parents.join(", ")));
    }
    serde_json::json!({
        "id": ftm_id(origin, index),
        "schema": "Document",
        "properties": {
            "fileName": [d.name],
            "fileSize": [d.size.to_string()],
            "mimeType": [d.media_type],
            "contentHash": [d.sha256.to_hex()],
            "notes": notes,
            "keywords": [format!("custody:{origin}:{index}"), format!("custody-commitment:{commitment}")],
        }
    })
}

/// The entity ID of a document: `custody-<origin stem>-<index>`.
pub fn ftm_id(origin: &str, index: u64) -> String {
    format!("custody-{}-{index}", file_stem(origin))
}

/// Where the lakehouse archive keeps a file by its checksum:
/// `archive/{c[0:2]}/{c[2:4]}/{c[4:6]}/{c}` (FORMAT.md §15.1).
pub fn ftm_archive_dir(sha256: &Digest) -> String {
    let c = sha256.to_hex();
    format!("archive/{}/{}/{}/{c}", &c[0..2], &c[2..4], &c[4..6])
}

/// A name made of `[A-Za-z0-9._-]` only, for a file named after a log.
pub fn file_stem(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `README.txt`: what the package is and how to check each part, with
/// standard tools and with `verify.py`.
pub fn statement(m: &Manifest) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "Evidence package made by custody, from the archive of {}, at {}.\n\n",
        m.archive, m.generated
    ));
    o.push_str(STATEMENT);
    for d in &m.documents {
        o.push_str(&format!(
            "\n{} (record {} of {}), {} bytes\n  SHA-256 {}\n  commitment {}\n",
            d.name, d.index, d.origin, d.size, d.sha256, d.commitment
        ));
        match &d.document {
            Some(p) => o.push_str(&format!("  the document: {p}\n")),
            None => o.push_str("  the document is not in the package, only its digest\n"),
        }
        o.push_str(&format!(
            "  opening: {}\n  records of its custody: {} tlog-proofs in {}\n",
            d.opening,
            d.proofs.len(),
            d.proofs
                .first()
                .and_then(|p| p.file.rsplit_once('/').map(|(dir, _)| dir.to_string()))
                .unwrap_or_default()
        ));
    }
    o
}

const STATEMENT: &str = "\
What this is. Each document below entered a newsroom's archive and was
handled by one or more outlets. Every event (the document's arrival, each
copy sent to a partner, each receipt, each translation or redaction made
from another document) is a record signed with Ed25519 and appended to the
outlet's public, append-only log (a transparency log, RFC 9162). This
package lets you check, without custody and without trusting it, that:

  1. the document's bytes are the ones the records commit to;
  2. each record is in its outlet's log, whose signed checkpoint (and any
     witness's cosignature) covers it, and is signed by a key that log's
     records name;
  3. the archive's log was not rewritten since the document arrived.

Check it all at once with Python 3 (standard library only):

    python3 verify.py

Or part by part with standard tools:

  - sha256sum documents/*/<the document>   must print the sha256 in
    opening.json (and the digest listed below);
  - the commitment: SHA-256 of the bytes of the text
    \"custody/v1/content-commitment\\n\" followed by the 32 bytes of `salt`
    and the 32 bytes of `sha256` (both hex in opening.json) must be
    `commitment`; in a shell:
      (printf 'custody/v1/content-commitment\\n'; echo SALT_HEX SHA256_HEX | xxd -r -p) | sha256sum
  - ciphertext.age is the document as the archive stores it (an age file,
    https://age-encryption.org/v1): `sha256sum ciphertext.age` is the blob
    digest its arrival record names, and whoever holds one of the archive's
    age identities checks `age -d -i IDENTITY ciphertext.age | sha256sum`;
  - proofs/*.tlog-proof are C2SP tlog-proofs (https://c2sp.org/tlog-proof):
    each carries one record (base64, on its `extra` line), its index, its
    inclusion proof and the outlet's signed checkpoint;
    `custody verify-proof FILE --trust keys/LOG.vkey` checks one, and
    `custody verify-proof FILE --trust … --file DOCUMENT --opening opening.json`
    also checks the document against the record's commitment;
  - evidence is the same chain in custody's evidence format;
    `custody verify-bundle evidence --trust keys/log-….vkey …` checks it
    whole: the links between outlets and the roles of the signers too;
  - consistency.txt proves that this archive's log, as it stood when the
    document arrived (checkpoint-at-arrival.txt), is a prefix of the log at
    export (the checkpoint at its end);
  - audit.json and audit.html: the archive's audit of the document at export.

The keys in keys/ are what the exporting outlet says the logs' and the
witnesses' keys are. Before relying on the result, compare each with the
key its outlet or witness publishes (a log's signing.vkey): every check
above is only as good as those keys.

Every byte format is specified in custody's docs/FORMAT.md (records §4,
commitments §5.1, checkpoints and notes §3, proofs §8 and §9, evidence §10,
this package §15).
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(
            file_stem("dropsite.example/leaks"),
            "dropsite.example_leaks"
        );
        assert_eq!(file_stem("../x y"), ".._x_y");
        assert!(VERIFY_PY.starts_with("#!/usr/bin/env python3"));
    }
}
