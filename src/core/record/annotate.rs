//! The `annotate` record: a note about a document (FORMAT.md §4.10).

use super::{DocRef, Ingest, Kind, KindDef, Reader, RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// Fields of an `annotate` record (FORMAT.md §4.10).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Annotate {
    #[serde(flatten)]
    pub about: DocRef,
    /// SHA-256 of the age-encrypted note (a blob).
    pub note: Digest,
    pub note_size: u64,
}

impl KindDef for Annotate {
    const KIND: Kind = Kind::Annotate;
    const NAME: &'static str = "annotate";
    const SEALED_VERSION: bool = false;
    const SIGNERS: &'static [Role] = &[Role::Journalist, Role::Editor, Role::Legal, Role::Admin];
    const OWNER_MAY_SIGN: bool = true;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.10.
    fn encode(&self, out: &mut Vec<u8>) {
        self.about.write(out);
        out.extend_from_slice(self.note.as_bytes());
        out.extend_from_slice(&self.note_size.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>, _v2: bool, _index: u64) -> Result<Self, RecordError> {
        Ok(Annotate {
            about: r.about()?,
            note: r.digest()?,
            note_size: r.u64()?,
        })
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        Ok(())
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        format!("note on document {} (encrypted)", self.about.document)
    }
    fn is_v2(&self) -> bool {
        false
    }
    fn sealed(&self) -> Option<&Sealed> {
        None
    }
    fn document(&self) -> Option<&Ingest> {
        None
    }
    fn about(&self) -> Option<u64> {
        Some(self.about.document)
    }
    fn commitment(&self) -> Option<&Digest> {
        Some(&self.about.commitment)
    }
    /// The encrypted note: the one blob a record names besides documents
    /// and sealed details.
    fn note_blob(&self) -> Option<(Digest, u64)> {
        Some((self.note, self.note_size))
    }
}
