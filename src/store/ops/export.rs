//! `custody export` (FORMAT.md §15): an evidence package for documents,
//! written into a new directory that appears complete or not at all.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::core::audit::render_html;
use crate::core::bundle::{safe_file_name, Evidence, Trust};
use crate::core::crypto::Identities;
use crate::core::export::{
    consistency_text, file_stem, ftm_archive_dir, ftm_entity, ftm_id, statement, ConsistencyFiles,
    DocumentFiles, FtmDoc, LogFile, Manifest, Opening, ProofFile, EXPORT_SCHEMA, VERIFY_PY,
};
use crate::core::keys::VerifierKey;
use crate::core::meta::Metadata;
use crate::core::record::{Payload, Record};
use crate::core::time;
use crate::core::tlog_proof::TlogProof;
use crate::store::archive::Archive;
use crate::store::files::{fault, outfile};
use crate::store::ops::audit::AuditOptions;
use crate::store::{io_err, StoreError};

/// What `custody export` may use.
pub struct ExportOptions<'a> {
    /// Opens the documents' envelopes (the openings) and, unless
    /// `digest_only`, the documents.
    pub ids: &'a Identities,
    /// Trusted logs and witnesses, for the audit and the witness keys shipped.
    pub trust: &'a Trust<'a>,
    /// Leave the documents out: only their digests and openings.
    pub digest_only: bool,
}

/// What `custody export` wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Exported {
    pub directory: PathBuf,
    #[serde(flatten)]
    pub manifest: Manifest,
}

/// What `custody export --format ftm` wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportedFtm {
    pub directory: PathBuf,
    pub dataset: String,
    pub documents: Vec<FtmDocument>,
}

/// One document of an FtM export.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FtmDocument {
    pub index: u64,
    pub name: String,
    pub sha256: crate::core::hash::Digest,
    /// Its entity's ID in `entities.ftm.json`.
    pub entity: String,
}

/// Files of a document's directory that a document's own name must not take.
const RESERVED: &[&str] = &[
    "opening.json",
    "ciphertext.age",
    "evidence",
    "proofs",
    "consistency.txt",
    "checkpoint-at-arrival.txt",
    "audit.json",
    "audit.html",
];

impl Archive {
    /// Writes the evidence package of the documents of records `refs` (any
    /// record about each) to the new directory `out`: built in a hidden
    /// sibling directory, every file synced, then renamed to `out`; removed
    /// if anything fails. `out` must not exist, nor be inside the archive.
    pub fn export(
        &self,
        refs: &[u64],
        out: &Path,
        opts: &ExportOptions<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Exported, StoreError> {
        let manifest =
            self.new_directory(out, |tmp| self.export_into(tmp, refs, opts, progress))?;
        Ok(Exported {
            directory: out.to_path_buf(),
            manifest,
        })
    }

    /// Writes the documents of records `refs`, decrypted, into the new
    /// directory `out` in the FollowTheMoney lakehouse layout (FORMAT.md
    /// §15.1): `<dataset>/archive/…/<sha256>/blob` and its file metadata, and
    /// `<dataset>/entities.ftm.json`, each entity carrying its custody
    /// reference and commitment. Built and renamed as [`Archive::export`].
    pub fn export_ftm(
        &self,
        refs: &[u64],
        out: &Path,
        ids: &Identities,
        dataset: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ExportedFtm, StoreError> {
        if dataset.is_empty()
            || dataset.len() > 64
            || !dataset
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(StoreError::Input(format!(
                "dataset name {dataset:?}: use 1 to 64 of a-z, 0-9, _ and -"
            )));
        }
        let documents =
            self.new_directory(out, |tmp| self.ftm_into(tmp, refs, ids, dataset, progress))?;
        Ok(ExportedFtm {
            directory: out.to_path_buf(),
            dataset: dataset.to_string(),
            documents,
        })
    }

    /// Makes the new directory `out` by `fill`ing a hidden sibling, syncing
    /// it and renaming it; removes the sibling if `fill` fails. `out` must
    /// not exist, nor be inside the archive.
    fn new_directory<T>(
        &self,
        out: &Path,
        fill: impl FnOnce(&Path) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if out.exists() || out.is_symlink() {
            return Err(StoreError::OutputExists(out.to_path_buf()));
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let parent_abs = fs::canonicalize(&parent).map_err(|e| io_err(&parent, e))?;
        let root_abs = fs::canonicalize(&self.root).map_err(|e| io_err(&self.root, e))?;
        if parent_abs.starts_with(&root_abs) {
            return Err(StoreError::Input(format!(
                "{} is inside the archive; an export (plaintext included) is written outside it",
                out.display()
            )));
        }
        // Recorded in the archive before it exists (FORMAT.md §7.8): a run
        // killed while it fills it leaves a directory the next command
        // removes, plaintext included.
        let tmp = parent.join(format!(".custody-export-{}.tmp", outfile::random_hex()?));
        let entry = outfile::register(&self.root, &tmp)?;
        create_dir(&tmp)?;
        let r = fill(&tmp)
            .and_then(|t| fault::sync_dir(&tmp).map(|_| t))
            .and_then(|t| match out.exists() || out.is_symlink() {
                true => Err(StoreError::OutputExists(out.to_path_buf())),
                false => fs::rename(&tmp, out).map(|_| t).map_err(|e| io_err(out, e)),
            });
        if r.is_err() {
            // Nothing is left behind: the plaintext goes with it.
            let _ = fs::remove_dir_all(&tmp);
        }
        outfile::unregister(&entry);
        let t = r?;
        fault::sync_dir(&parent)?;
        Ok(t)
    }

    /// The lakehouse dataset of [`Archive::export_ftm`] in `dir`.
    fn ftm_into(
        &self,
        dir: &Path,
        refs: &[u64],
        ids: &Identities,
        dataset: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<FtmDocument>, StoreError> {
        let ds = dir.join(dataset);
        create_dir(&ds)?;
        let mut intros: BTreeMap<u64, Record> = BTreeMap::new();
        for &r in refs {
            let d = self.document_of(self.record(r)?)?;
            intros.insert(d.body.index, d);
        }
        let mut lines = Vec::new();
        let mut out = Vec::with_capacity(intros.len());
        for (&i, intro) in &intros {
            let meta = self.metadata(intro, ids)?;
            let doc = intro
                .document()
                .ok_or_else(|| StoreError::Internal("no document".into()))?;
            let adir = ds.join(ftm_archive_dir(&meta.sha256));
            fs::create_dir_all(&adir).map_err(|e| io_err(&adir, e))?;
            let blob = adir.join("blob");
            if !blob.exists() {
                self.extract(i, ids, &blob, false, progress)?;
            }
            let mut parents: Vec<u64> = Vec::new();
            if let Payload::Derive(d) = &intro.body.payload {
                parents.extend(d.parents.iter().map(|p| p.document));
            }
            let origin = &self.config.origin;
            let id = ftm_id(origin, i);
            let file = serde_json::json!({
                "checksum": meta.sha256,
                "name": meta.name,
                "key": meta.path,
                "size": meta.size,
                "mimetype": meta.media_type,
                "custody": {"origin": origin, "record": i, "commitment": doc.commitment},
            });
            let json = serde_json::to_vec_pretty(&file)
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            write_file(&adir.join(format!("{id}.json")), &json, &self.root)?;
            fault::sync_dir(&adir)?;
            let e = ftm_entity(&FtmDoc {
                origin,
                index: i,
                name: &meta.name,
                media_type: &meta.media_type,
                size: meta.size,
                sha256: &meta.sha256,
                commitment: &doc.commitment,
                derived_from: &parents,
            });
            lines.extend(serde_json::to_vec(&e).map_err(|e| StoreError::Internal(e.to_string()))?);
            lines.push(b'\n');
            out.push(FtmDocument {
                index: i,
                name: meta.name,
                sha256: meta.sha256,
                entity: id,
            });
        }
        write_file(&ds.join("entities.ftm.json"), &lines, &self.root)?;
        fault::sync_dir(&ds)?;
        Ok(out)
    }

    fn export_into(
        &self,
        dir: &Path,
        refs: &[u64],
        opts: &ExportOptions<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Manifest, StoreError> {
        let (size, note) = self.bundle_checkpoint()?;
        let mut intros: BTreeMap<u64, Record> = BTreeMap::new();
        for &r in refs {
            let d = self.document_of(self.record(r)?)?;
            intros.insert(d.body.index, d);
        }
        let mut logs: BTreeMap<String, String> = BTreeMap::new();
        let mut documents = Vec::with_capacity(intros.len());
        for intro in intros.values() {
            let at = ExportAt {
                dir,
                size,
                note: &note,
            };
            documents.push(self.export_document(&at, intro, opts, &mut logs, progress)?);
        }
        create_dir(&dir.join("keys"))?;
        let keys = |list: Vec<(String, String)>, prefix: &str| -> Result<_, StoreError> {
            let mut out = Vec::new();
            for (n, (name, vkey)) in list.into_iter().enumerate() {
                let file = format!("keys/{prefix}{n}-{}.vkey", file_stem(&name));
                write_file(&dir.join(&file), format!("{vkey}\n").as_bytes(), &self.root)?;
                out.push(LogFile { name, file });
            }
            Ok(out)
        };
        let logs = keys(logs.into_iter().collect(), "log-")?;
        let witnesses = keys(
            opts.trust
                .witnesses
                .iter()
                .map(|w: &VerifierKey| (w.name().to_string(), w.encode()))
                .collect(),
            "witness-",
        )?;
        let manifest = Manifest {
            schema: EXPORT_SCHEMA,
            generated: time::rfc3339(time::now_ms()),
            archive: self.config.origin.clone(),
            logs,
            witnesses,
            documents,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        write_file(&dir.join("manifest.json"), &json, &self.root)?;
        write_file(
            &dir.join("README.txt"),
            statement(&manifest).as_bytes(),
            &self.root,
        )?;
        write_file(&dir.join("verify.py"), VERIFY_PY.as_bytes(), &self.root)?;
        Ok(manifest)
    }

    /// One document's directory, `documents/<index>/`.
    fn export_document(
        &self,
        at: &ExportAt<'_>,
        intro: &Record,
        opts: &ExportOptions<'_>,
        logs: &mut BTreeMap<String, String>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<DocumentFiles, StoreError> {
        let i = intro.body.index;
        let rel = format!("documents/{i}");
        let ddir = at.dir.join(&rel);
        fs::create_dir_all(&ddir).map_err(|e| io_err(&ddir, e))?;
        let meta = self.metadata(intro, opts.ids)?;
        let doc = intro
            .document()
            .ok_or_else(|| StoreError::Internal("no document".into()))?;
        // The chain of custody, as a share would carry it (FORMAT.md §10.2).
        let events = self.document_events(intro)?;
        if let Some(r) = events.iter().find(|r| r.body.index >= at.size) {
            return Err(StoreError::Input(format!(
                "record {} is not covered by a checkpoint yet; run `custody checkpoint --sign` first",
                r.body.index
            )));
        }
        let mut evidence = self.evidence_before(intro, at.size, at.note)?;
        evidence.hops.push(self.hop(&events, at.size, at.note)?);
        evidence.validate()?;
        write_file(&ddir.join("evidence"), &evidence.encode(), &self.root)?;
        let mut proofs = self.write_proofs(&ddir, &rel, &evidence, logs)?;
        let ciphertext_chain = self.write_file_chain(&ddir, &rel, doc.blob, at, &mut proofs)?;
        // The stored file, as the archive holds it now.
        let (blob, _) = self.current_blob(doc.blob, doc.blob_size)?;
        let ct = ddir.join("ciphertext.age");
        let mut f = outfile::OutFile::create(&ct, ".custody-", Some(&self.root))?;
        std::io::copy(&mut self.docs.open(&blob)?, f.file_mut()).map_err(|e| io_err(&ct, e))?;
        f.commit(false)?;
        let opening = Opening {
            v: 1,
            name: meta.name.clone(),
            media_type: meta.media_type.clone(),
            size: meta.size,
            sha256: meta.sha256,
            salt: meta.salt,
            commitment: doc.commitment,
        };
        let json =
            serde_json::to_vec_pretty(&opening).map_err(|e| StoreError::Internal(e.to_string()))?;
        write_file(&ddir.join("opening.json"), &json, &self.root)?;
        let document = match opts.digest_only {
            true => None,
            false => {
                let name = document_name(&meta);
                self.extract(i, opts.ids, &ddir.join(&name), false, progress)?;
                Some(format!("{rel}/{name}"))
            }
        };
        let consistency = self.write_consistency(&ddir, &rel, i, at)?;
        let report = self.audit(
            i,
            "ref",
            &AuditOptions {
                ids: Some(opts.ids),
                trust: opts.trust,
            },
        )?;
        let mut json =
            serde_json::to_vec_pretty(&report).map_err(|e| StoreError::Internal(e.to_string()))?;
        json.push(b'\n');
        write_file(&ddir.join("audit.json"), &json, &self.root)?;
        write_file(
            &ddir.join("audit.html"),
            render_html(&report).as_bytes(),
            &self.root,
        )?;
        fault::sync_dir(&ddir)?;
        Ok(DocumentFiles {
            index: i,
            origin: self.config.origin.clone(),
            name: meta.name,
            media_type: meta.media_type,
            size: meta.size,
            sha256: meta.sha256,
            commitment: doc.commitment,
            document,
            opening: format!("{rel}/opening.json"),
            ciphertext: format!("{rel}/ciphertext.age"),
            evidence: format!("{rel}/evidence"),
            proofs,
            ciphertext_chain,
            consistency,
            audit_json: format!("{rel}/audit.json"),
            audit_html: format!("{rel}/audit.html"),
        })
    }

    /// Every entry of `ev` (its hops, then its lineage's, depth first) as
    /// its own tlog-proof file in `proofs/`; each log's key into `logs`.
    fn write_proofs(
        &self,
        ddir: &Path,
        rel: &str,
        ev: &Evidence,
        logs: &mut BTreeMap<String, String>,
    ) -> Result<Vec<ProofFile>, StoreError> {
        let pdir = ddir.join("proofs");
        create_dir(&pdir)?;
        let mut chains = vec![ev];
        let mut out = Vec::new();
        while let Some(c) = chains.pop() {
            for hop in &c.hops {
                if let Ok(k) = VerifierKey::parse(&hop.vkey) {
                    logs.insert(k.name().to_string(), hop.vkey.clone());
                }
                for e in &hop.entries {
                    let p = TlogProof::parse(e).map_err(|e| StoreError::Internal(e.to_string()))?;
                    let rec = p
                        .extra()
                        .and_then(|b| Record::decode(b).ok())
                        .ok_or_else(|| {
                            StoreError::Internal("an entry without its record".into())
                        })?;
                    let file = format!(
                        "{rel}/proofs/{:04}-{}-{}.tlog-proof",
                        out.len(),
                        file_stem(&rec.body.origin),
                        rec.body.index
                    );
                    write_file(&ddir.join(&file[rel.len() + 1..]), e, &self.root)?;
                    out.push(ProofFile {
                        file,
                        origin: rec.body.origin.clone(),
                        index: rec.body.index,
                        kind: rec.body.payload.kind().as_str(),
                    });
                }
            }
            chains.extend(c.parents.iter().rev());
        }
        fault::sync_dir(&pdir)?;
        Ok(out)
    }

    /// The `rekey` and `rewrap` records (FORMAT.md §4.17, §4.19) that
    /// replaced the file the arrival record names (`blob`), in order, each
    /// as a tlog-proof appended to `proofs`: the file exported is the last
    /// one's `new`. Their positions in `proofs`.
    fn write_file_chain(
        &self,
        ddir: &Path,
        rel: &str,
        blob: crate::core::hash::Digest,
        at: &ExportAt<'_>,
        proofs: &mut Vec<ProofFile>,
    ) -> Result<Vec<usize>, StoreError> {
        let note = std::str::from_utf8(at.note)
            .map_err(|_| StoreError::Corrupt("checkpoint is not UTF-8".into()))?;
        let mut out = Vec::new();
        for (i, _) in self.rekey_chain(blob)? {
            if i >= at.size {
                return Err(StoreError::Input(format!(
                    "record {i} is not covered by a checkpoint yet; run `custody checkpoint --sign` first"
                )));
            }
            let rec = self.record(i)?;
            let p = self.inclusion_proof(i, Some(at.size))?;
            let t = TlogProof::new(i, p.proof, Some(rec.bytes().to_vec()), note)
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            let file = format!(
                "{rel}/proofs/{:04}-{}-{i}.tlog-proof",
                proofs.len(),
                file_stem(&rec.body.origin)
            );
            write_file(
                &ddir.join(&file[rel.len() + 1..]),
                t.encode().as_bytes(),
                &self.root,
            )?;
            out.push(proofs.len());
            proofs.push(ProofFile {
                file,
                origin: rec.body.origin.clone(),
                index: i,
                kind: rec.body.payload.kind().as_str(),
            });
        }
        Ok(out)
    }

    /// A consistency proof from the first checkpoint that covered record
    /// `i` to the checkpoint of the export (FORMAT.md §8.2, §15).
    fn write_consistency(
        &self,
        ddir: &Path,
        rel: &str,
        i: u64,
        at: &ExportAt<'_>,
    ) -> Result<Option<ConsistencyFiles>, StoreError> {
        let Some((old, old_note)) = self
            .checkpoints()?
            .into_iter()
            .find(|(s, _)| *s > i && *s <= at.size)
        else {
            return Ok(None);
        };
        let p = self.consistency_proof(old, Some(at.size))?;
        write_file(
            &ddir.join("checkpoint-at-arrival.txt"),
            &old_note,
            &self.root,
        )?;
        write_file(
            &ddir.join("consistency.txt"),
            &consistency_text(old, &p.proof, at.note),
            &self.root,
        )?;
        Ok(Some(ConsistencyFiles {
            old_checkpoint: format!("{rel}/checkpoint-at-arrival.txt"),
            proof: format!("{rel}/consistency.txt"),
        }))
    }
}

/// Where a document's files go and the checkpoint they are proven against.
struct ExportAt<'a> {
    dir: &'a Path,
    size: u64,
    note: &'a [u8],
}

/// The document's file name in its directory: its envelope's name when it
/// is one safe path component that none of the package's files takes.
fn document_name(m: &Metadata) -> String {
    let n = &m.name;
    if !safe_file_name(n) || n.starts_with('.') {
        "document".into()
    } else if RESERVED.contains(&n.as_str()) {
        format!("document-{n}")
    } else {
        n.clone()
    }
}

fn create_dir(p: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .mode(0o700)
        .create(p)
        .map_err(|e| io_err(p, e))
}

fn write_file(p: &Path, bytes: &[u8], archive: &Path) -> Result<(), StoreError> {
    outfile::write_durable(p, bytes, Some(archive))
}
