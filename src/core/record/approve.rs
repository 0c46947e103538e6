//! The `approve` record: an approval of a document (FORMAT.md §4.11).

use super::{DocRef, Ingest, Kind, KindDef, Reader, RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// What an approval is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Publication = 1,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        "publication"
    }
}

/// Fields of an `approve` record (FORMAT.md §4.11).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Approve {
    #[serde(flatten)]
    pub about: DocRef,
    pub purpose: Purpose,
}

impl KindDef for Approve {
    const KIND: Kind = Kind::Approve;
    const NAME: &'static str = "approve";
    const SEALED_VERSION: bool = false;
    const SIGNERS: &'static [Role] = &[Role::Editor, Role::Legal];
    /// Never the log key: an approval is a person's judgement.
    const OWNER_MAY_SIGN: bool = false;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.11.
    fn encode(&self, out: &mut Vec<u8>) {
        self.about.write(out);
        out.push(self.purpose as u8);
    }
    fn decode(r: &mut Reader<'_>, _v2: bool, _index: u64) -> Result<Self, RecordError> {
        let about = r.about()?;
        let purpose = match r.u8()? {
            1 => Purpose::Publication,
            b => return Err(RecordError::BadEnum(b)),
        };
        Ok(Approve { about, purpose })
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        Ok(())
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        format!(
            "approved document {} for {}",
            self.about.document,
            self.purpose.as_str()
        )
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
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
