//! Compartments (FORMAT.md §4.18): named sets of recipients (people's own
//! and the outlet's escrow) that alone decrypt the documents put in them.
//! The ledger holds each compartment's number and its recipients'
//! fingerprints; its name and the recipients themselves are sealed to those
//! same recipients; `custody.toml` caches the recipients by number (never a
//! name) so that anyone who writes to the archive can encrypt to a
//! compartment without reading it.

use serde::Serialize;

use crate::core::crypto::{self, Identities, RecipientKey};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::record::{Compartment, Payload, Record};
use crate::core::sealed::{Details, SEALED_VERSION};
use crate::store::archive::{Archive, CompartmentConfig};
use crate::store::StoreError;

/// A compartment as `compartment list` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct CompartmentView {
    /// Its number (`#N`).
    pub id: u16,
    /// The record that set its members last.
    pub record: u64,
    /// Its name, when an identity opened its sealed details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fingerprints of its members' own recipients.
    pub members: Vec<Digest>,
    /// Whether `custody.toml` holds those members' recipients (else nobody
    /// can write to it here until `compartment set` is run again).
    pub cached: bool,
}

impl Archive {
    /// The compartments in force, with their names where `ids` opens them.
    pub fn compartments(
        &self,
        ids: Option<&Identities>,
    ) -> Result<Vec<CompartmentView>, StoreError> {
        let actors = self.actors_at(self.size()?)?;
        let mut out = Vec::new();
        for id in actors.compartment_ids() {
            let (record, members) = actors.compartment(id).expect("listed");
            let name = match ids {
                Some(ids) => self.compartment_name(record, ids),
                None => None,
            };
            out.push(CompartmentView {
                id,
                record,
                name,
                members: members.to_vec(),
                cached: self.cached_members(id).is_some_and(|m| m.1 == members),
            });
        }
        Ok(out)
    }

    /// The name sealed in compartment record `record`, if `ids` opens it
    /// and it agrees with its record.
    fn compartment_name(&self, record: u64, ids: &Identities) -> Option<String> {
        let rec = self.record(record).ok()?;
        let Payload::Compartment(c) = &rec.body.payload else {
            return None;
        };
        let d = self.open_sealed(&c.sealed, ids).ok()?;
        d.check_compartment(c).ok()?;
        d.compartment_name().map(str::to_string)
    }

    /// The compartment `sel` names: `#N`, or a name that `ids` opens.
    pub fn resolve_compartment(
        &self,
        sel: &str,
        ids: Option<&Identities>,
    ) -> Result<u16, StoreError> {
        let all = self.compartments(ids)?;
        if let Some(n) = sel.strip_prefix('#') {
            if let Some(c) = n
                .parse::<u16>()
                .ok()
                .and_then(|n| all.iter().find(|c| c.id == n))
            {
                return Ok(c.id);
            }
        } else {
            let named: Vec<&CompartmentView> = all
                .iter()
                .filter(|c| c.name.as_deref() == Some(sel))
                .collect();
            match named[..] {
                [c] => return Ok(c.id),
                [] => {}
                _ => {
                    return Err(StoreError::Input(format!(
                        "{} compartments are named {}: give its number #N (`custody compartment list -i IDENTITY`)",
                        named.len(),
                        crate::core::redact::quote(sel)
                    )))
                }
            }
        }
        let hint = if ids.is_none() && !sel.starts_with('#') {
            "; names are sealed: give its number #N (`custody compartment list`) or an identity with -i"
        } else {
            " (`custody compartment list -i IDENTITY`)"
        };
        Err(StoreError::NotFound(format!(
            "compartment {}{hint}",
            crate::core::redact::quote(sel)
        )))
    }

    /// `custody.toml`'s members of compartment `id`: their recipients, and
    /// their fingerprints ascending.
    fn cached_members(&self, id: u16) -> Option<(Vec<RecipientKey>, Vec<Digest>)> {
        let c = self.config().compartments.iter().find(|c| c.id == id)?;
        let keys: Vec<RecipientKey> = c
            .recipients
            .iter()
            .map(|r| RecipientKey::parse(r))
            .collect::<Result<_, _>>()
            .ok()?;
        let mut fps = crypto::fingerprints(&keys);
        fps.sort();
        fps.dedup();
        Some((keys, fps))
    }

    /// What a document of compartment `id` is encrypted to: its recipients
    /// (from `custody.toml`, checked against the ledger's record, FORMAT.md
    /// §4.18).
    pub fn compartment_keys(&self, id: u16) -> Result<Vec<RecipientKey>, StoreError> {
        let actors = self.actors_at(self.size()?)?;
        let Some((record, members)) = actors.compartment(id) else {
            return Err(StoreError::NotFound(format!(
                "compartment #{id} (`custody compartment list`)"
            )));
        };
        let cached = self.cached_members(id);
        let Some((keys, _)) = cached.filter(|(_, fps)| fps == members) else {
            return Err(StoreError::Input(format!(
                "custody.toml does not hold the members of compartment #{id} as record {record} names them; run `custody compartment set NAME --recipient …` again with its members, with -i IDENTITY"
            )));
        };
        crypto::check_recipient_set(&keys)
            .map_err(|e| StoreError::Input(format!("compartment #{id}: {e}")))?;
        Ok(keys)
    }

    /// From now on, what this process writes for documents (blobs,
    /// envelopes, notes) is encrypted to compartment `id`'s recipients, and
    /// its records list them (FORMAT.md §4.18). The archive is checked
    /// first, against the configuration's recipients.
    pub fn use_compartment(&mut self, id: u16) -> Result<(), StoreError> {
        self.check_before_write()?;
        let keys = self.compartment_keys(id)?;
        // The deduplication key is decided now, so that no later step
        // (ingest's) opens the archive's secret for a compartment's write.
        self.set_write_recipients(id, keys)
    }

    /// The compartment the document `rec` stores is in (FORMAT.md §4.18):
    /// the one whose recipients its file was last written to (its record,
    /// or its latest rekey), as they were then, if any.
    pub fn document_compartment(&self, rec: &Record) -> Result<Option<u16>, StoreError> {
        let Some(doc) = rec.document() else {
            return Ok(None);
        };
        let chain = self.rekey_chain(doc.blob)?;
        let granted = self.granted_recipients(&chain)?;
        let (at, fps) = match chain.last() {
            Some((i, k)) => (*i, k.recipients.clone()),
            None => (rec.body.index, doc.recipients.clone()),
        };
        // Recipients a grant added (FORMAT.md §4.19) are not the
        // compartment's: without them, the file's are its set.
        let base: Vec<Digest> = fps
            .iter()
            .filter(|f| !granted.iter().any(|(g, _)| g == *f))
            .copied()
            .collect();
        let sets = self.actors_at(at)?.recipient_sets();
        Ok(set_of(&sets, &base)
            .or_else(|| set_of(&sets, &fps))
            .flatten())
    }

    /// `custody compartment set`: makes compartment `name` (or changes its
    /// members) to `members` with a `compartment` record signed by the
    /// current actor (an admin), then caches the members in `custody.toml`.
    /// `ids` finds an existing compartment by its sealed name. Returns its
    /// number and the record, `None` when the ledger already says this (a
    /// run killed before `custody.toml` was written: only the file is).
    pub fn set_compartment(
        &mut self,
        name: &str,
        members: Vec<RecipientKey>,
        ids: &Identities,
        log: &SignerKey,
    ) -> Result<(u16, Option<Record>), StoreError> {
        self.check_signer(log)?;
        self.check_before_write()?;
        let all = self.compartments(Some(ids))?;
        // A name is found only where `ids` opens it: one that does not open
        // could be this name, and a second compartment of it is refused.
        if let Some(c) = all.iter().find(|c| c.name.is_none()) {
            return Err(StoreError::Input(format!(
                "compartment #{}'s name does not open with the identity given: give one among every compartment's recipients (the escrow's), so that no name is used twice; nothing was written",
                c.id
            )));
        }
        let mut fps = crypto::fingerprints(&members);
        fps.sort();
        fps.dedup();
        let existing = all.iter().find(|c| c.name.as_deref() == Some(name));
        // Recipients are what a compartment is: two with the same set, or
        // one with the configuration's, could not be told apart (§4.18).
        if crypto::fingerprints(self.recipients()) == fps {
            return Err(StoreError::Input(
                "these are the archive's own recipients (`custody config show`): a compartment needs another set; nothing was written".into(),
            ));
        }
        if let Some(c) = all
            .iter()
            .find(|c| c.members == fps && Some(c.id) != existing.map(|e| e.id))
        {
            return Err(StoreError::Input(format!(
                "compartment #{} has these recipients already; nothing was written",
                c.id
            )));
        }
        let id = match existing {
            Some(c) => c.id,
            None => all
                .iter()
                .map(|c| c.id)
                .max()
                .unwrap_or(0)
                .checked_add(1)
                .ok_or_else(|| {
                    StoreError::Input("the log has 65,535 compartments; nothing was written".into())
                })?,
        };
        let rec = if existing.is_some_and(|c| c.members == fps) {
            None
        } else {
            Some(self.append_compartment(id, name, &members, fps, log)?)
        };
        self.cache_members(id, &members)?;
        Ok((id, rec))
    }

    /// Appends compartment `id`'s record, its details sealed to its
    /// recipients, and a checkpoint.
    fn append_compartment(
        &mut self,
        id: u16,
        name: &str,
        members: &[RecipientKey],
        fps: Vec<Digest>,
        log: &SignerKey,
    ) -> Result<Record, StoreError> {
        let to = members.to_vec();
        crypto::check_recipient_set(&to)
            .map_err(|e| StoreError::Input(format!("{e}; nothing was written")))?;
        let mut texts: Vec<String> = members.iter().map(RecipientKey::canonical).collect();
        texts.sort();
        texts.dedup();
        let details = Details::Compartment {
            v: SEALED_VERSION,
            name: name.to_string(),
            recipients: texts,
        };
        let (sealed, blob) = self.seal_to(&to, &details)?;
        let payload = Payload::Compartment(Compartment {
            id,
            members: fps,
            sealed,
        });
        let actors = self.actors_at(self.size()?)?;
        self.authorize_new(&actors, &payload)?;
        let r = self
            .commit_records(vec![self.new_record(payload)], vec![blob], Vec::new(), log)?
            .remove(0);
        self.sign_checkpoint(log)?;
        Ok(r)
    }

    /// Writes compartment `id`'s members into `custody.toml` (durably).
    fn cache_members(&mut self, id: u16, members: &[RecipientKey]) -> Result<(), StoreError> {
        let mut c = self.config().clone();
        c.compartments.retain(|x| x.id != id);
        c.compartments.push(CompartmentConfig {
            id,
            recipients: members.iter().map(RecipientKey::canonical).collect(),
        });
        c.compartments.sort_by_key(|x| x.id);
        self.write_config(c)
    }
}

/// Which of `sets` (the configuration's, `None`, and the compartments')
/// is exactly `fps`: `Some(None)` for the configuration's (preferred when
/// both match), `Some(Some(id))` for a compartment's, `None` for none.
fn set_of(sets: &[(Option<u16>, Vec<Digest>)], fps: &[Digest]) -> Option<Option<u16>> {
    if sets.iter().any(|(id, set)| id.is_none() && set == fps) {
        return Some(None);
    }
    sets.iter().find(|(_, set)| set == fps).map(|(id, _)| *id)
}
