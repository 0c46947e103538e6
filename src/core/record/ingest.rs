//! The `ingest` record: a document entered the archive (FORMAT.md §4.4).

use super::{check_recipients, encode_recipients, short, Kind, KindDef, Reader, RecordError};
use super::{Role, Sealed};
use crate::core::hash::Digest;

/// Fields of an `ingest` record (FORMAT.md §4.4).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Ingest {
    /// SHA-256 of the stored age ciphertext: the blob's content address.
    pub blob: Digest,
    /// Length in bytes of the stored ciphertext.
    pub blob_size: u64,
    /// Salted commitment to the plaintext SHA-256 (FORMAT.md §5.1).
    pub commitment: Digest,
    /// SHA-256 of the age-encrypted metadata envelope (also a blob).
    pub meta: Digest,
    /// Length in bytes of the encrypted metadata envelope.
    pub meta_size: u64,
    /// Fingerprints of the age recipients both blobs are encrypted to, sorted ascending.
    pub recipients: Vec<Digest>,
}

impl Ingest {
    /// The stored-document fields, shared by `ingest`, `receive` and
    /// `derive` (FORMAT.md §4.4).
    pub(super) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.blob.as_bytes());
        out.extend_from_slice(&self.blob_size.to_be_bytes());
        out.extend_from_slice(self.commitment.as_bytes());
        out.extend_from_slice(self.meta.as_bytes());
        out.extend_from_slice(&self.meta_size.to_be_bytes());
        encode_recipients(out, &self.recipients);
    }

    /// Reads what [`Ingest::write`] writes.
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Ingest, RecordError> {
        Ok(Ingest {
            blob: r.digest()?,
            blob_size: r.u64()?,
            commitment: r.digest()?,
            meta: r.digest()?,
            meta_size: r.u64()?,
            recipients: r.recipients()?,
        })
    }
}

impl KindDef for Ingest {
    const KIND: Kind = Kind::Ingest;
    const NAME: &'static str = "ingest";
    const SEALED_VERSION: bool = false;
    const SIGNERS: &'static [Role] = &[Role::Journalist, Role::Editor, Role::Admin];
    const OWNER_MAY_SIGN: bool = true;
    const CHANGES_STATE: bool = false;

    fn encode(&self, out: &mut Vec<u8>) {
        self.write(out)
    }
    fn decode(r: &mut Reader<'_>, _v2: bool, _index: u64) -> Result<Self, RecordError> {
        Ingest::read(r)
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        check_recipients(&self.recipients)
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        format!("blob {}…, {} bytes", short(&self.blob), self.blob_size)
    }
    fn is_v2(&self) -> bool {
        false
    }
    fn sealed(&self) -> Option<&Sealed> {
        None
    }
    fn document(&self) -> Option<&Ingest> {
        Some(self)
    }
    fn about(&self) -> Option<u64> {
        None
    }
    fn commitment(&self) -> Option<&Digest> {
        Some(&self.commitment)
    }
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
