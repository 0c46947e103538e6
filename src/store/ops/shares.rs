//! `custody shares`: what went to each partner. Every `share` record of the
//! log (FORMAT.md §4.5, §4.16) with what its sealed details say (§5.4): the
//! partner's recipients, the name this archive gave the partner and the
//! note, read with an identity; and which document it was, by its name.

use std::collections::HashMap;

use serde::Serialize;

use crate::core::crypto::{Identities, RecipientKey};
use crate::core::hash::Digest;
use crate::core::record::{Record, Share};
use crate::core::time;
use crate::store::archive::Archive;
use crate::store::ops::trust::TrustStore;
use crate::store::StoreError;

/// Where a share's partner name was read.
pub const FROM_SEALED: &str = "sealed";
/// The share's details name no partner; the trust store names all its
/// recipients as one (FORMAT.md §11.5): a local name, not a recorded one.
pub const FROM_TRUST_STORE: &str = "trust_store";

/// One share, as `custody shares` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct ShareEntry {
    /// The `share` record.
    pub index: u64,
    pub time: String,
    /// The record that brought the document into this log.
    pub document: u64,
    /// The document's file name, when the identity opens its envelope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The partner's name (see `partner_from`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    /// [`FROM_SEALED`] or [`FROM_TRUST_STORE`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_from: Option<&'static str>,
    /// The partner's recipients' fingerprints (FORMAT.md §5.3): in clear in
    /// a version 1 record, from the sealed details in a version 2 one
    /// (empty when they did not open).
    pub recipients: Vec<Digest>,
    /// Length of the payload the bundle carried (the document re-encrypted).
    pub payload_size: u64,
    /// The share's note, from the sealed details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether the record seals its partner (version 2, FORMAT.md §4.16).
    pub sealed: bool,
    /// Why the sealed details did not open (the share is listed with what
    /// its record says in clear).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details_error: Option<String>,
}

/// Which shares `custody shares PARTNER` lists: those to the partner of
/// that name, or with one of these recipients, or with a recipient whose
/// fingerprint starts with these hex digits.
#[derive(Clone, Debug, Default)]
pub struct PartnerFilter {
    pub name: Option<String>,
    pub fingerprints: Vec<Digest>,
    pub prefix: Option<String>,
}

impl PartnerFilter {
    /// Does share `e` go to this partner?
    pub fn matches(&self, e: &ShareEntry) -> bool {
        (self.name.is_some() && e.partner == self.name)
            || e.recipients.iter().any(|r| {
                self.fingerprints.contains(r)
                    || self
                        .prefix
                        .as_deref()
                        .is_some_and(|p| r.to_hex().starts_with(p))
            })
    }
}

impl Archive {
    /// Every share record of the log, oldest first, opened with `ids`; a
    /// share whose details name no partner is named from `trust` when it
    /// names all its recipients as one partner.
    pub fn shares(
        &self,
        ids: &Identities,
        trust: Option<&TrustStore>,
    ) -> Result<Vec<ShareEntry>, StoreError> {
        let mut names: HashMap<u64, Option<String>> = HashMap::new();
        let mut out = Vec::new();
        for i in 0..self.size()? {
            let rec = self.record(i)?;
            let Some(s) = rec.share() else { continue };
            let name = match names.get(&s.document) {
                Some(n) => n.clone(),
                None => {
                    let n = self.document_name(s.document, ids);
                    names.insert(s.document, n.clone());
                    n
                }
            };
            let mut e = self.share_entry(&rec, s, ids);
            e.name = name;
            if e.partner.is_none() {
                if let Some(p) = trust.and_then(|t| trust_name(t, &e.recipients)) {
                    e.partner = Some(p);
                    e.partner_from = Some(FROM_TRUST_STORE);
                }
            }
            out.push(e);
        }
        Ok(out)
    }

    /// The file name of the document record `index` brought in, if `ids`
    /// opens its envelope.
    fn document_name(&self, index: u64, ids: &Identities) -> Option<String> {
        let rec = self.record(index).ok()?;
        self.metadata(&rec, ids).ok().map(|m| m.name)
    }

    /// One share record as listed: what it says in clear, and what its
    /// sealed details say where `ids` opens them.
    fn share_entry(&self, rec: &Record, s: &Share, ids: &Identities) -> ShareEntry {
        let mut e = ShareEntry {
            index: rec.body.index,
            time: time::rfc3339(rec.body.time_ms),
            document: s.document,
            name: None,
            partner: None,
            partner_from: None,
            recipients: s.recipients.clone(),
            payload_size: s.payload_size,
            note: None,
            sealed: s.sealed.is_some(),
            details_error: None,
        };
        let Some(sealed) = &s.sealed else {
            return e;
        };
        let opened = self.open_sealed(sealed, ids).and_then(|d| {
            d.share()
                .map(|(r, p, n)| (r.to_vec(), p.map(str::to_string), n.map(str::to_string)))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("sealed details are {}, not share", d.kind()))
                })
        });
        match opened {
            Ok((recipients, partner, note)) => {
                let mut fps: Vec<Digest> = recipients
                    .iter()
                    .filter_map(|r| RecipientKey::parse(r).ok())
                    .map(|k| k.fingerprint())
                    .collect();
                fps.sort();
                fps.dedup();
                e.recipients = fps;
                e.partner_from = partner.as_ref().map(|_| FROM_SEALED);
                e.partner = partner;
                e.note = note;
            }
            Err(err) => e.details_error = Some(err.to_string()),
        }
        e
    }
}

/// The partner the trust store names every one of `recipients` as, if one.
fn trust_name(t: &TrustStore, recipients: &[Digest]) -> Option<String> {
    let mut names = recipients.iter().map(|r| t.partner_of(r));
    let first = names.next()??;
    names.all(|n| n == Some(first)).then(|| first.to_string())
}
