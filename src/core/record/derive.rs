//! The `derive` record: a document derived from others entered the archive
//! (FORMAT.md §4.9).

use super::{check_recipients, DocRef, Ingest, Kind, KindDef, Reader, RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// At most this many parents of a derived document.
pub const MAX_PARENTS: usize = 16;

/// What a derived document is, relative to its parents (FORMAT.md §4.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    Translation = 1,
    Redaction = 2,
    Excerpt = 3,
    Ocr = 4,
    Conversion = 5,
}

impl Relation {
    pub fn from_byte(b: u8) -> Option<Relation> {
        Some(match b {
            1 => Relation::Translation,
            2 => Relation::Redaction,
            3 => Relation::Excerpt,
            4 => Relation::Ocr,
            5 => Relation::Conversion,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Translation => "translation",
            Relation::Redaction => "redaction",
            Relation::Excerpt => "excerpt",
            Relation::Ocr => "ocr",
            Relation::Conversion => "conversion",
        }
    }
    pub fn parse(s: &str) -> Option<Relation> {
        (1..=5)
            .filter_map(Relation::from_byte)
            .find(|r| r.as_str() == s)
    }
}

/// Fields of a `derive` record (FORMAT.md §4.9).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Derive {
    /// The new document as stored (as in `ingest`).
    #[serde(flatten)]
    pub stored: Ingest,
    pub relation: Relation,
    /// 1 to 16 parents, strictly ascending by index.
    pub parents: Vec<DocRef>,
}

fn check_parents(p: &[DocRef]) -> Result<(), RecordError> {
    if p.is_empty() || p.len() > MAX_PARENTS || p.windows(2).any(|w| w[0].document >= w[1].document)
    {
        return Err(RecordError::BadParents);
    }
    Ok(())
}

impl KindDef for Derive {
    const KIND: Kind = Kind::Derive;
    const NAME: &'static str = "derive";
    const SEALED_VERSION: bool = false;
    const SIGNERS: &'static [Role] = &[Role::Journalist, Role::Editor, Role::Admin];
    const OWNER_MAY_SIGN: bool = true;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.9.
    fn encode(&self, out: &mut Vec<u8>) {
        self.stored.write(out);
        out.push(self.relation as u8);
        out.push(self.parents.len() as u8);
        for p in &self.parents {
            p.write(out);
        }
    }
    fn decode(r: &mut Reader<'_>, _v2: bool, _index: u64) -> Result<Self, RecordError> {
        let stored = Ingest::read(r)?;
        let rb = r.u8()?;
        let relation = Relation::from_byte(rb).ok_or(RecordError::BadEnum(rb))?;
        let n = r.u8()? as usize;
        let mut parents = Vec::with_capacity(n);
        for _ in 0..n {
            parents.push(r.about()?);
        }
        check_parents(&parents)?;
        Ok(Derive {
            stored,
            relation,
            parents,
        })
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        check_recipients(&self.stored.recipients)?;
        check_parents(&self.parents)
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        format!(
            "{} of document(s) {}",
            self.relation.as_str(),
            self.parents
                .iter()
                .map(|p| p.document.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
    fn is_v2(&self) -> bool {
        false
    }
    fn sealed(&self) -> Option<&Sealed> {
        None
    }
    fn document(&self) -> Option<&Ingest> {
        Some(&self.stored)
    }
    fn about(&self) -> Option<u64> {
        None
    }
    fn commitment(&self) -> Option<&Digest> {
        Some(&self.stored.commitment)
    }
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
