//! The `share` record: a document sent to a partner outlet as a bundle
//! (FORMAT.md §4.5; version 2, §4.16).

use super::{check_recipients, encode_recipients, short, Ingest, Kind, KindDef, Reader};
use super::{RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// Fields of a `share` record (FORMAT.md §4.5): which document left the
/// archive, in which bundle, to whom.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Share {
    /// Index of the record that brought the document into this log
    /// (an `ingest`, a `receive` or a `derive`: FORMAT.md §4.5).
    pub document: u64,
    /// The document's content commitment (equal to that record's).
    pub commitment: Digest,
    /// SHA-256 of the bundle's payload: the document re-encrypted to the partner.
    pub payload: Digest,
    /// Length in bytes of that payload.
    pub payload_size: u64,
    /// SHA-256 of the bundle's encrypted share envelope.
    pub envelope: Digest,
    /// Version 1: fingerprints of the partner's age recipients, sorted
    /// ascending. Empty in version 2.
    pub recipients: Vec<Digest>,
    /// Version 2: the partner's recipients, sealed (FORMAT.md §4.16, §5.4).
    pub sealed: Option<Sealed>,
}

impl KindDef for Share {
    const KIND: Kind = Kind::Share;
    const NAME: &'static str = "share";
    const SEALED_VERSION: bool = true;
    const SIGNERS: &'static [Role] = &[Role::Journalist, Role::Editor, Role::Admin];
    const OWNER_MAY_SIGN: bool = true;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.5; version 2: the recipients sealed (§4.16).
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.document.to_be_bytes());
        out.extend_from_slice(self.commitment.as_bytes());
        out.extend_from_slice(self.payload.as_bytes());
        out.extend_from_slice(&self.payload_size.to_be_bytes());
        out.extend_from_slice(self.envelope.as_bytes());
        match &self.sealed {
            Some(x) => x.write(out),
            None => encode_recipients(out, &self.recipients),
        }
    }
    fn decode(r: &mut Reader<'_>, v2: bool, _index: u64) -> Result<Self, RecordError> {
        let (document, commitment) = (r.u64()?, r.digest()?);
        let (payload, payload_size, envelope) = (r.digest()?, r.u64()?, r.digest()?);
        let (recipients, sealed) = if v2 {
            (Vec::new(), Some(r.sealed()?))
        } else {
            (r.recipients()?, None)
        };
        Ok(Share {
            document,
            commitment,
            payload,
            payload_size,
            envelope,
            recipients,
            sealed,
        })
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        match self.sealed {
            Some(_) if !self.recipients.is_empty() => Err(RecordError::BadRecipients),
            Some(_) => Ok(()),
            None => check_recipients(&self.recipients),
        }
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        if self.sealed.is_some() {
            return format!(
                "document {} to a partner (recipients sealed), payload {}…",
                self.document,
                short(&self.payload)
            );
        }
        format!(
            "document {} to {} recipient(s) [{}], payload {}…",
            self.document,
            self.recipients.len(),
            self.recipients
                .iter()
                .map(|r| r.to_hex()[..8].to_string())
                .collect::<Vec<_>>()
                .join(" "),
            short(&self.payload)
        )
    }
    fn is_v2(&self) -> bool {
        self.sealed.is_some()
    }
    fn sealed(&self) -> Option<&Sealed> {
        self.sealed.as_ref()
    }
    fn document(&self) -> Option<&Ingest> {
        None
    }
    fn about(&self) -> Option<u64> {
        Some(self.document)
    }
    fn commitment(&self) -> Option<&Digest> {
        Some(&self.commitment)
    }
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
