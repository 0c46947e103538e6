//! The `access` record: a document was decrypted (FORMAT.md §4.8; version 2,
//! the reason sealed, §4.16).

use super::{check_text, encode_str16, DocRef, Ingest, Kind, KindDef, Reader, RecordError};
use super::{Role, Sealed};
use crate::core::hash::Digest;

/// Fields of an `access` record (FORMAT.md §4.8).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    #[serde(flatten)]
    pub about: DocRef,
    /// Version 1: why the document was decrypted (at most 1,024 bytes, in
    /// clear). Empty in version 2.
    pub reason: String,
    /// Version 2: the reason, sealed (FORMAT.md §4.16).
    pub sealed: Option<Sealed>,
}

impl KindDef for Access {
    const KIND: Kind = Kind::Access;
    const NAME: &'static str = "access";
    const SEALED_VERSION: bool = true;
    const SIGNERS: &'static [Role] = &[Role::Journalist, Role::Editor, Role::Legal, Role::Admin];
    const OWNER_MAY_SIGN: bool = true;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.8; version 2: the reason sealed (§4.16).
    fn encode(&self, out: &mut Vec<u8>) {
        self.about.write(out);
        match &self.sealed {
            Some(x) => x.write(out),
            None => encode_str16(out, &self.reason),
        }
    }
    fn decode(r: &mut Reader<'_>, v2: bool, _index: u64) -> Result<Self, RecordError> {
        let about = r.about()?;
        Ok(if v2 {
            Access {
                about,
                reason: String::new(),
                sealed: Some(r.sealed()?),
            }
        } else {
            Access {
                about,
                reason: r.text16()?,
                sealed: None,
            }
        })
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        match self.sealed {
            Some(_) if !self.reason.is_empty() => Err(RecordError::BadText),
            Some(_) => Ok(()),
            None => check_text(&self.reason),
        }
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        match self.sealed {
            Some(_) => format!("decrypted document {} (reason sealed)", self.about.document),
            None => format!(
                "decrypted document {}: {}",
                self.about.document, self.reason
            ),
        }
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
        Some(self.about.document)
    }
    fn commitment(&self) -> Option<&Digest> {
        Some(&self.about.commitment)
    }
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
