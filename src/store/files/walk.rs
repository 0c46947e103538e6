//! Collecting the files to ingest: recursive, sorted, deterministic; symlinks
//! skipped unless followed; a followed symlink loop is an error, not a hang.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::store::{io_err, StoreError};

/// A regular file to ingest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Where to read it.
    pub path: PathBuf,
    /// Path recorded in the metadata: relative to the argument's parent, `/`-separated.
    pub rel: String,
    /// Size when it was listed.
    pub size: u64,
    /// Where it came from, when the ingest knows it per file (a SecureDrop
    /// submission): replaces `--source` and is added to `--note` in its
    /// metadata envelope (FORMAT.md §5.2).
    pub provenance: Option<Provenance>,
}

/// A file's own source and note (FORMAT.md §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    pub source: String,
    pub note: String,
}

/// What the walk found besides files.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<InputFile>,
    /// Symbolic links that were not followed.
    pub skipped_symlinks: Vec<PathBuf>,
    /// Special files (sockets, devices, FIFOs) that were skipped.
    pub skipped_special: Vec<PathBuf>,
    /// The archive's own directory, met while walking, was skipped.
    pub skipped_archive: Vec<PathBuf>,
    /// Files and directories that could not be read, and why: the whole
    /// walk is listed first, so that one error names all of them
    /// ([`Walk::refuse_unreadable`]) or an ingest skips them knowingly.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Unreadable paths named in full in one error; the rest are counted.
const UNREADABLE_LISTED: usize = 20;

impl Walk {
    /// An error naming every unreadable path (up to 20, then how many
    /// more), for commands that store nothing unless they read everything.
    pub fn refuse_unreadable(&self) -> Result<(), StoreError> {
        if self.unreadable.is_empty() {
            return Ok(());
        }
        let mut named: Vec<String> = self
            .unreadable
            .iter()
            .take(UNREADABLE_LISTED)
            .map(|(p, why)| format!("{} ({why})", crate::core::redact::path(p)))
            .collect();
        if self.unreadable.len() > UNREADABLE_LISTED {
            named.push(format!(
                "and {} more",
                self.unreadable.len() - UNREADABLE_LISTED
            ));
        }
        Err(StoreError::Input(format!(
            "{} path(s) cannot be read: {}; check the permissions of each (or the disk), or give --skip-unreadable to store the rest and list these; nothing was written",
            self.unreadable.len(),
            named.join("; ")
        )))
    }
}

/// Why `e`, met reading `path`, makes it unreadable: the I/O error alone
/// (the path is listed beside it), or the whole message.
fn why(e: &StoreError) -> String {
    match e {
        StoreError::Io(_, io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Lists every regular file under `roots`, in argument order and then sorted by
/// name within each directory. Every file is opened once to prove it is readable:
/// what cannot be read is listed in [`Walk::unreadable`], so that the command
/// refuses them all at once before anything is written, or skips them.
/// The archive directory `exclude` is never ingested: an argument inside it is
/// an error, and meeting it while walking a parent skips it.
pub fn collect(
    roots: &[PathBuf],
    follow_symlinks: bool,
    exclude: Option<&Path>,
) -> Result<Walk, StoreError> {
    let mut w = Walk::default();
    let exclude = exclude.and_then(|e| fs::canonicalize(e).ok());
    for root in roots {
        let meta = fs::symlink_metadata(root).map_err(|e| io_err(root, e))?;
        if let (Some(ex), Ok(c)) = (&exclude, fs::canonicalize(root)) {
            if c.starts_with(ex) {
                return Err(StoreError::Input(format!(
                    "{} is inside the archive; ingest documents from outside it",
                    root.display()
                )));
            }
        }
        // `.` and `..` have no name of their own: use the directory's real name.
        let named = if root.file_name().is_some() {
            root.clone()
        } else {
            fs::canonicalize(root).map_err(|e| io_err(root, e))?
        };
        let base = named
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "root".to_string());
        let mut ancestors = HashSet::new();
        let ex = exclude.as_deref();
        visit(
            root,
            &base,
            meta,
            follow_symlinks,
            ex,
            &mut ancestors,
            &mut w,
        )?;
    }
    Ok(w)
}

fn dev_ino(m: &fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        (0, 0)
    }
}

fn visit(
    path: &Path,
    rel: &str,
    meta: fs::Metadata,
    follow: bool,
    exclude: Option<&Path>,
    ancestors: &mut HashSet<(u64, u64)>,
    w: &mut Walk,
) -> Result<(), StoreError> {
    let meta = if meta.file_type().is_symlink() {
        if !follow {
            w.skipped_symlinks.push(path.to_path_buf());
            return Ok(());
        }
        match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.raw_os_error() == Some(40) => {
                // ELOOP: the link resolves to itself.
                return Err(StoreError::SymlinkLoop {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(io_err(path, e)),
        }
    } else {
        meta
    };
    if meta.is_file() {
        // Readable, and still a regular file once opened (never waits on a
        // FIFO swapped in since the stat; src/store/files/input.rs).
        if let Err(e) = crate::store::files::input::open_regular(path, "a document") {
            w.unreadable.push((path.to_path_buf(), why(&e)));
            return Ok(());
        }
        w.files.push(InputFile {
            path: path.to_path_buf(),
            rel: rel.to_string(),
            size: meta.len(),
            provenance: None,
        });
        return Ok(());
    }
    if !meta.is_dir() {
        w.skipped_special.push(path.to_path_buf());
        return Ok(());
    }
    if let (Some(ex), Ok(c)) = (exclude, fs::canonicalize(path)) {
        if c == ex {
            w.skipped_archive.push(path.to_path_buf());
            return Ok(());
        }
    }
    let id = dev_ino(&meta);
    if !ancestors.insert(id) {
        return Err(StoreError::SymlinkLoop {
            path: path.to_path_buf(),
        });
    }
    let listed: std::io::Result<Vec<_>> = fs::read_dir(path).and_then(|rd| rd.collect());
    let mut entries = match listed {
        Ok(v) => v,
        Err(e) => {
            w.unreadable.push((path.to_path_buf(), e.to_string()));
            ancestors.remove(&id);
            return Ok(());
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let child = e.path();
        let m = match fs::symlink_metadata(&child) {
            Ok(m) => m,
            Err(err) => {
                w.unreadable.push((child.clone(), err.to_string()));
                continue;
            }
        };
        let child_rel = format!("{rel}/{}", e.file_name().to_string_lossy());
        visit(&child, &child_rel, m, follow, exclude, ancestors, w)?;
    }
    ancestors.remove(&id);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn sorted_recursive_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("leak");
        fs::create_dir_all(root.join("b/c")).unwrap();
        fs::write(root.join("z.txt"), b"z").unwrap();
        fs::write(root.join("a.txt"), b"a").unwrap();
        fs::write(root.join("b/c/deep.txt"), b"d").unwrap();
        symlink(root.join("a.txt"), root.join("link.txt")).unwrap();
        let w = collect(std::slice::from_ref(&root), false, None).unwrap();
        let rels: Vec<_> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["leak/a.txt", "leak/b/c/deep.txt", "leak/z.txt"]);
        assert_eq!(w.skipped_symlinks.len(), 1);
        let w = collect(std::slice::from_ref(&root), true, None).unwrap();
        assert_eq!(w.files.len(), 4);
        // A loop is an error when following.
        symlink(&root, root.join("b/loop")).unwrap();
        assert!(matches!(
            collect(std::slice::from_ref(&root), true, None),
            Err(StoreError::SymlinkLoop { .. })
        ));
        // ... and harmless when not following.
        assert_eq!(collect(&[root], false, None).unwrap().files.len(), 3);
    }

    #[test]
    fn the_archive_itself_is_never_ingested() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("top");
        fs::create_dir_all(root.join("archive/blobs")).unwrap();
        fs::write(root.join("doc.txt"), b"d").unwrap();
        fs::write(root.join("archive/blobs/x"), b"x").unwrap();
        let ex = root.join("archive");
        let w = collect(std::slice::from_ref(&root), false, Some(&ex)).unwrap();
        let rels: Vec<_> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["top/doc.txt"]);
        assert_eq!(w.skipped_archive, vec![ex.clone()]);
        assert!(matches!(
            collect(&[ex.join("blobs")], false, Some(&ex)),
            Err(StoreError::Input(_))
        ));
    }
}
