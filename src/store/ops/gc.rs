//! `custody gc` (remove blobs no record names) and `custody migrate` (copy
//! the document blobs of a local archive to an object store, then switch
//! `custody.toml`'s `[blobs]` to it). FORMAT.md §7.7.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::core::hash::Digest;
use crate::core::record::Record;
use crate::store::archive::{Archive, BlobsConfig, CONFIG_FILE};
use crate::store::files::blobs::{self, Blobs, INCOMING};
use crate::store::files::logfile::Frame;
use crate::store::files::remote::{Location, Remote, RemoteError, S3Settings};
use crate::store::ops::verify::VerifyObserver;
use crate::store::{io_err, StoreError};

/// Every blob a record names, with whether it is a document's ciphertext
/// (kept in the document store) rather than an envelope or a note (always in
/// `blobs/`). The same references `verify` checks.
pub(crate) fn blob_refs(rec: &Record) -> Vec<(Digest, u64, bool)> {
    let mut out = Vec::new();
    if let Some((d, size)) = rec.note_blob() {
        out.push((d, size, false));
    }
    if let Some(s) = rec.sealed() {
        out.push((s.digest, s.size, false));
    }
    if let Some(ing) = rec.document() {
        out.push((ing.blob, ing.blob_size, true));
        out.push((ing.meta, ing.meta_size, false));
    }
    out
}

/// One object `gc` removed (or, with `--dry-run`, would remove).
#[derive(Clone, Debug, Serialize)]
pub struct Removed {
    /// `blobs/` or the object store's location.
    pub store: String,
    /// The object's name in that store.
    pub name: String,
    pub size: u64,
    /// `unreferenced` (named by a digest no record names), `incoming` (an
    /// upload left by an interrupted command) or `stray` (not named by a digest).
    pub kind: &'static str,
}

/// What `gc` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    /// Blobs kept because a record names them.
    pub referenced: u64,
    pub removed: Vec<Removed>,
    pub removed_bytes: u64,
}

/// One document blob `migrate` handled.
#[derive(Clone, Debug, Serialize)]
pub struct Migrated {
    pub blob: Digest,
    pub size: u64,
    /// `copied` (uploaded and verified now) or `present` (already there and verified).
    pub action: &'static str,
}

/// What `migrate` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MigrateReport {
    pub to: String,
    pub blobs: Vec<Migrated>,
    pub copied: u64,
    pub present: u64,
    pub bytes: u64,
    /// Local copies removed (`--delete-local`).
    pub deleted_local: u64,
}

impl Archive {
    /// Every blob the records name (address -> (size, is a document's ciphertext)).
    /// Reads `ledger/records` from the start; refuses a damaged archive, whose
    /// references could not all be known.
    pub(crate) fn referenced_blobs(&self) -> Result<HashMap<Digest, (u64, bool)>, StoreError> {
        self.ensure_writable()?;
        let mut refs = HashMap::new();
        let mut n = 0u64;
        for f in self.record_file().scan(0)? {
            match f? {
                Frame::Complete { offset, body } => {
                    let rec = Record::decode(&body).map_err(|e| {
                        StoreError::Corrupt(format!(
                            "the record at offset {offset} of ledger/records does not decode: {e}"
                        ))
                    })?;
                    for (d, size, doc) in blob_refs(&rec) {
                        refs.entry(d).or_insert((size, doc));
                    }
                    // A rekey's new file takes the place of the blob it
                    // replaced, which no longer needs keeping (FORMAT.md §4.17).
                    if let Some(k) = rec.rekey() {
                        if let Some((_, doc)) = refs.remove(&k.old) {
                            refs.insert(k.new, (k.new_size, doc));
                        }
                    }
                    n += 1;
                }
                Frame::Torn { offset } | Frame::Oversized { offset, .. } => {
                    return Err(StoreError::Corrupt(format!(
                        "ledger/records is damaged at offset {offset}"
                    )))
                }
            }
        }
        if n != self.size()? {
            return Err(StoreError::Corrupt(format!(
                "ledger/records holds {n} records, the index {}",
                self.size()?
            )));
        }
        Ok(refs)
    }

    /// Removes what no record names: unreferenced blobs, files not named by
    /// a digest, and uploads left under `incoming/` on an object store. The
    /// archive's lock is held, so no upload of this archive is in progress.
    /// A referenced blob is never removed. With `dry_run`, only lists.
    pub fn gc(&mut self, dry_run: bool) -> Result<GcReport, StoreError> {
        let refs = self.referenced_blobs()?;
        let mut rep = GcReport {
            dry_run,
            ..GcReport::default()
        };
        let local = Blobs::Local(self.blob_store().clone());
        let mut stores = vec![local];
        if !self.docs.is_local() {
            stores.push(self.docs.clone());
        }
        for store in &stores {
            let label = store.label();
            for l in store.list()? {
                let kind = match l.digest {
                    Some(d) if refs.contains_key(&d) => {
                        rep.referenced += 1;
                        continue;
                    }
                    Some(_) => "unreferenced",
                    None if l.name.starts_with(&format!("{INCOMING}/")) => "incoming",
                    None => "stray",
                };
                if !dry_run {
                    store.remove(&l.name)?;
                }
                rep.removed_bytes += l.len;
                rep.removed.push(Removed {
                    store: label.clone(),
                    name: l.name,
                    size: l.len,
                    kind,
                });
            }
        }
        Ok(rep)
    }

    /// Copies every document blob in `blobs/` to the object store at `to`
    /// (same names, FORMAT.md §7.7): each is uploaded to `incoming/`, renamed
    /// to its address and then downloaded and hashed; one already there is
    /// downloaded and hashed, and kept if it matches. Only when every blob is
    /// there and verified is `custody.toml`'s `[blobs]` switched to `to`
    /// (written durably). Interrupted, it is resumed by running it again.
    /// With `delete_local`, the local copies are removed after the switch.
    pub fn migrate(
        &mut self,
        to: &str,
        settings: &S3Settings,
        delete_local: bool,
        obs: &mut dyn VerifyObserver,
    ) -> Result<MigrateReport, StoreError> {
        let target = self.migrate_target(to, settings)?;
        let remote = Arc::new(Remote::open(&target.loc, &target.settings)?);
        let refs = self.referenced_blobs()?;
        let docs: BTreeMap<Digest, u64> = refs
            .iter()
            .filter(|(_, (_, doc))| *doc)
            .map(|(d, (size, _))| (*d, *size))
            .collect();
        let mut rep = MigrateReport {
            to: remote.label().to_string(),
            ..MigrateReport::default()
        };
        let store = Blobs::Object(remote.clone());
        self.copy_docs(&remote, &store, &docs, &mut rep, obs)?;
        // Every document blob is on the store and hashes to its name: switch.
        self.switch_docs(target.cfg, store)?;
        if delete_local {
            self.delete_local_docs(&docs, &mut rep)?;
        }
        Ok(rep)
    }

    /// The store `migrate` copies to, at `to`: the same as the one already
    /// in use, if any, and not inside the archive. Endpoint and region not
    /// given again in `settings` are those custody.toml holds.
    fn migrate_target(&self, to: &str, settings: &S3Settings) -> Result<MigrateTarget, StoreError> {
        let (loc, url) = migrate_location(to)?;
        // Run again with the same store (to delete the local copies, say), it
        // checks every blob there again; another store is refused.
        if let Some(b) = &self.config.blobs {
            if b.url != url {
                return Err(StoreError::Input(format!(
                    "this archive already keeps its document blobs in {}; migrating between stores is not supported",
                    b.url
                )));
            }
        }
        let kept = self.config.blobs.as_ref();
        let settings = S3Settings {
            endpoint: (settings.endpoint.clone()).or_else(|| kept.and_then(|b| b.endpoint.clone())),
            region: (settings.region.clone()).or_else(|| kept.and_then(|b| b.region.clone())),
        };
        let cfg = BlobsConfig {
            url,
            endpoint: settings.endpoint.clone(),
            region: settings.region.clone(),
        };
        cfg.location().map_err(StoreError::Input)?;
        if let Location::Dir(d) = &loc {
            let (a, b) = (
                std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone()),
                std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()),
            );
            if b.starts_with(&a) {
                return Err(StoreError::Input(format!(
                    "{to} is inside the archive; give a directory outside it"
                )));
            }
        }
        Ok(MigrateTarget { loc, cfg, settings })
    }

    /// Puts each of the document blobs `docs` (address, size) on `store`
    /// (`remote`'s) with [`Archive::migrate_one`], noting each in `rep`.
    fn copy_docs(
        &self,
        remote: &Remote,
        store: &Blobs,
        docs: &BTreeMap<Digest, u64>,
        rep: &mut MigrateReport,
        obs: &mut dyn VerifyObserver,
    ) -> Result<(), StoreError> {
        obs.phase("migrate", docs.values().sum());
        for (d, &size) in docs {
            let action = self.migrate_one(remote, store, d, size)?;
            obs.advance(size);
            match action {
                "copied" => rep.copied += 1,
                _ => rep.present += 1,
            }
            rep.bytes += size;
            rep.blobs.push(Migrated {
                blob: *d,
                size,
                action,
            });
        }
        Ok(())
    }

    /// Document blob `d` (`size` bytes) on `store` (`remote`'s): `present`
    /// if the object there has that size and hashes to `d`, else `copied`
    /// from `blobs/` now (any other object there replaced) and read back.
    fn migrate_one(
        &self,
        remote: &Remote,
        store: &Blobs,
        d: &Digest,
        size: u64,
    ) -> Result<&'static str, StoreError> {
        let name = blobs::object_name(d);
        let found = match remote.head(&name)? {
            Some(len) if len == size && self.stored_as(store, d)? => return Ok("present"),
            found => found,
        };
        if !self.blob_store().exists(d) {
            return Err(StoreError::Corrupt(format!(
                "blob {d} is neither in blobs/ nor, intact, in {}; nothing was switched (run `custody verify`)",
                remote.label()
            )));
        }
        if found.is_some() {
            remote.delete(&name)?;
        }
        self.upload_one(store, d)?;
        if !self.stored_as(store, d)? {
            remote.delete(&name)?;
            return Err(StoreError::ContentMismatch(format!(
                "blob {d} read back from {} does not hash to its address; it was removed there, nothing was switched",
                remote.label()
            )));
        }
        Ok("copied")
    }

    /// Switches `custody.toml`'s `[blobs]` to `cfg` (written durably), and
    /// the archive's document blobs to `store`.
    fn switch_docs(&mut self, cfg: BlobsConfig, store: Blobs) -> Result<(), StoreError> {
        let mut config = self.config.clone();
        config.blobs = Some(cfg);
        let text =
            toml::to_string_pretty(&config).map_err(|e| StoreError::Internal(e.to_string()))?;
        crate::store::files::outfile::write_durable(
            &self.root.join(CONFIG_FILE),
            text.as_bytes(),
            None,
        )?;
        self.config = config;
        self.docs = store;
        Ok(())
    }

    /// `--delete-local`: removes the local copies of `docs` (those already
    /// gone are skipped), then syncs the shard directories they were in.
    fn delete_local_docs(
        &self,
        docs: &BTreeMap<Digest, u64>,
        rep: &mut MigrateReport,
    ) -> Result<(), StoreError> {
        let local = self.blob_store();
        let mut shards = std::collections::BTreeSet::new();
        for d in docs.keys() {
            let p = local.path(d);
            match std::fs::remove_file(&p) {
                Ok(()) => rep.deleted_local += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&p, e)),
            }
            if let Some(s) = p.parent() {
                shards.insert(s.to_path_buf());
            }
        }
        local.sync_shards(&shards)
    }

    /// Streams local blob `d` to `store` (an upload to `incoming/`, then the
    /// rename to its address).
    fn upload_one(&self, store: &Blobs, d: &Digest) -> Result<(), StoreError> {
        let path = self.blob_store().path(d);
        let mut src = std::fs::File::open(&path).map_err(|e| io_err(&path, e))?;
        let mut w = store.begin()?;
        std::io::copy(&mut src, &mut w).map_err(|e| match RemoteError::from_io(&e) {
            Some(r) => StoreError::Remote(r),
            None => io_err(&path, e),
        })?;
        w.flush().map_err(|e| io_err(&path, e))?;
        let sealed = store.seal(w, true)?;
        if sealed.digest != *d {
            return Err(StoreError::ContentMismatch(format!(
                "{} does not hash to its name; nothing was switched (run `custody verify`)",
                path.display()
            )));
        }
        self.blob_store().publish(sealed)?;
        Ok(())
    }

    /// Whether the object at `d`'s address in `store` hashes to `d` (streamed).
    fn stored_as(&self, store: &Blobs, d: &Digest) -> Result<bool, StoreError> {
        let rd = store.open(d)?;
        let (actual, _) = blobs::hash_read(rd).map_err(|e| match RemoteError::from_io(&e) {
            Some(r) => StoreError::Remote(r),
            None => StoreError::Io(store.label().into(), e),
        })?;
        Ok(actual == *d)
    }
}

/// Where `migrate` copies to: the store's location, the `[blobs]`
/// configuration `custody.toml` will hold, and the settings to reach it.
struct MigrateTarget {
    loc: Location,
    cfg: BlobsConfig,
    settings: S3Settings,
}

/// `to` parsed, with the URL `custody.toml` will name it by: a directory is
/// kept absolute (custody.toml reads a relative one from the archive).
fn migrate_location(to: &str) -> Result<(Location, String), StoreError> {
    let mut loc = Location::parse(to)?;
    let mut url = to.to_string();
    if let Location::Dir(d) = &mut loc {
        if d.is_relative() {
            let cwd = std::env::current_dir().map_err(|e| io_err(Path::new("."), e))?;
            *d = cwd.join(&*d);
        }
        url = format!("file://{}", d.display());
    }
    Ok((loc, url))
}
