//! Files custody writes by name (FORMAT.md §7.8): the plaintext of
//! `extract`, bundles, reports, cosignatures, and the archive's own
//! replaced files. No named file ever holds a partial file, and no
//! temporary name outlives the run that made it, or at least the next run:
//!
//! * On Linux the file is written unnamed (`O_TMPFILE` in the target's
//!   directory), fsynced, and only then given its name with `linkat(2)`; a
//!   process killed before that leaves nothing to clean up.
//! * Plaintext replacing a file (`extract --force`) is never named but as
//!   its target: the old file is removed, then the unnamed one linked; a
//!   kill between leaves no output, which the re-run writes.
//! * Replacing any other file (`--force`, `refresh-bundle`, the archive's
//!   `ledger/checkpoint`) needs an atomic `rename(2)`: the complete, fsynced
//!   file is linked to a temporary name `.custody-….tmp` beside the target
//!   and renamed over it at once.
//! * Where `O_TMPFILE` is not supported (some file systems, other systems),
//!   the file is written under such a temporary name and renamed.
//!
//! A temporary name outside the archive is recorded in the archive
//! (`pending/out-<hex>`, durable) before the file gets it, and the record
//! removed after the rename: every open of the archive (every command, `gc`
//! too) removes the files so recorded and then their records. Temporary
//! names inside the archive are removed on open by their pattern
//! (`Archive::settle_pending`).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::store::files::blobs;
use crate::store::files::layout::PENDING_DIR;
use crate::store::{files::fault, io_err, StoreError};

/// Prefix of the record of one temporary name outside the archive.
const OUT_ENTRY: &str = "out-";

/// Whether `name` is a temporary file name custody gives (`.custody-….tmp`).
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.len() > ".custody-.tmp".len() && name.starts_with(".custody-") && name.ends_with(".tmp")
}

/// 16 random hex digits.
pub(crate) fn random_hex() -> Result<String, StoreError> {
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(hex::encode(rnd))
}

/// The directory a file `path` goes in.
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates `p` exclusively, mode 0600 on Unix.
pub(crate) fn create_private(p: &Path) -> Result<File, StoreError> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(p).map_err(|e| io_err(p, e))
}

#[cfg(target_os = "linux")]
mod unnamed {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;
    use std::path::Path;

    use rustix::fs::{AtFlags, Mode, OFlags, CWD};
    use rustix::io::Errno;

    /// An unnamed file in `dir` (`O_TMPFILE`, mode 0600), or `None` where
    /// the file system or kernel does not make one, or `/proc` (through
    /// which it is linked) is not mounted.
    pub(super) fn open(dir: &Path) -> io::Result<Option<File>> {
        // Tests take the path of systems without O_TMPFILE (debug builds only).
        #[cfg(debug_assertions)]
        if std::env::var_os("CUSTODY_NO_TMPFILE").is_some_and(|v| !v.is_empty()) {
            return Ok(None);
        }
        if !Path::new("/proc/self/fd").is_dir() {
            return Ok(None);
        }
        match rustix::fs::openat(
            CWD,
            dir,
            OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => Ok(Some(File::from(fd))),
            // EOPNOTSUPP: the file system has no O_TMPFILE; EISDIR: the
            // kernel does not know it; EINVAL: neither does the libc path.
            Err(e) if [Errno::OPNOTSUPP, Errno::ISDIR, Errno::INVAL].contains(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the unnamed file `f` the name `to` (never replacing a file).
    pub(super) fn link(f: &File, to: &Path) -> io::Result<()> {
        let proc = format!("/proc/self/fd/{}", f.as_raw_fd());
        rustix::fs::linkat(CWD, proc.as_str(), CWD, to, AtFlags::SYMLINK_FOLLOW)
            .map_err(io::Error::from)
    }
}

#[cfg(not(target_os = "linux"))]
mod unnamed {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    pub(super) fn open(_dir: &Path) -> io::Result<Option<File>> {
        Ok(None)
    }

    pub(super) fn link(_f: &File, _to: &Path) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Records, durably and before the file exists, that `tmp` (outside the
/// archive at `root`) is a temporary name to remove if this run does not
/// (a file, or a directory such as an export's, FORMAT.md §15).
/// Returns the record's path.
pub(crate) fn register(root: &Path, tmp: &Path) -> Result<PathBuf, StoreError> {
    let dir = root.join(PENDING_DIR);
    fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    let abs = std::path::absolute(tmp).map_err(|e| io_err(tmp, e))?;
    let entry = dir.join(format!("{OUT_ENTRY}{}", random_hex()?));
    write_durable(&entry, &path_bytes(&abs), None)?;
    Ok(entry)
}

/// Removes a record made by [`register`] (its temporary name is gone).
pub(crate) fn unregister(entry: &Path) {
    let _ = fs::remove_file(entry);
    if let Some(d) = entry.parent() {
        let _ = fs::remove_dir(d);
    }
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
fn bytes_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
fn bytes_path(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

/// The temporary-name prefix of files that hold plaintext (`extract`): with
/// `O_TMPFILE` they are never named but as their target, even when they
/// replace a file.
pub(crate) const PLAINTEXT_PREFIX: &str = ".custody-extract-";

/// How the file being written is named so far.
enum Name {
    /// Unnamed (`O_TMPFILE`).
    Unnamed,
    /// Under the temporary name `tmp` (recorded in `entry`, outside the
    /// archive), until renamed to the target (`renamed`), which is durable
    /// once the directory is fsynced (`synced`).
    Temp {
        tmp: PathBuf,
        entry: Option<PathBuf>,
        renamed: bool,
        synced: bool,
    },
}

/// A file being written to `target`: unnamed, or under a temporary name,
/// until [`OutFile::commit`]. Dropped uncommitted, it leaves nothing.
pub(crate) struct OutFile {
    file: File,
    target: PathBuf,
    dir: PathBuf,
    prefix: &'static str,
    archive: Option<PathBuf>,
    name: Name,
}

impl OutFile {
    /// Starts a file that will be `target`. `prefix` starts the temporary
    /// name, if one is needed (`.custody-`, `.custody-extract-`); `archive`
    /// is the root of the archive that records a temporary name outside
    /// it (`None` for a file inside the archive, or with no archive open).
    pub(crate) fn create(
        target: &Path,
        prefix: &'static str,
        archive: Option<&Path>,
    ) -> Result<OutFile, StoreError> {
        debug_assert!(prefix.starts_with(".custody-"));
        let dir = parent_dir(target);
        let Some(file) = unnamed::open(&dir).map_err(|e| io_err(&dir, e))? else {
            return Self::create_named(target, dir, prefix, archive);
        };
        Ok(OutFile {
            file,
            target: target.to_path_buf(),
            dir,
            prefix,
            archive: archive.map(Path::to_path_buf),
            name: Name::Unnamed,
        })
    }

    fn create_named(
        target: &Path,
        dir: PathBuf,
        prefix: &'static str,
        archive: Option<&Path>,
    ) -> Result<OutFile, StoreError> {
        let tmp = dir.join(format!("{prefix}{}.tmp", random_hex()?));
        let entry = archive.map(|r| register(r, &tmp)).transpose()?;
        let file = match create_private(&tmp) {
            Ok(f) => f,
            Err(e) => {
                if let Some(entry) = &entry {
                    unregister(entry);
                }
                return Err(e);
            }
        };
        Ok(OutFile {
            file,
            target: target.to_path_buf(),
            dir,
            prefix,
            archive: archive.map(Path::to_path_buf),
            name: Name::Temp {
                tmp,
                entry,
                renamed: false,
                synced: false,
            },
        })
    }

    /// The path writes to the file are reported under (the fault hooks,
    /// errors): the temporary name, or the target while it is unnamed.
    pub(crate) fn label(&self) -> &Path {
        match &self.name {
            Name::Unnamed => &self.target,
            Name::Temp { tmp, .. } => tmp,
        }
    }

    pub(crate) fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Makes the file durable (fsync), gives it its name (replacing a file
    /// there only with `replace`: otherwise [`StoreError::OutputExists`]),
    /// and makes the name durable (fsync of the directory). Returns its length.
    pub(crate) fn commit(mut self, replace: bool) -> Result<u64, StoreError> {
        fault::sync_all(&self.file, self.label()).map_err(|e| io_err(self.label(), e))?;
        let len = self
            .file
            .metadata()
            .map_err(|e| io_err(self.label(), e))?
            .len();
        if let Name::Unnamed = self.name {
            let exists = fs::symlink_metadata(&self.target).is_ok();
            if exists && replace && self.prefix == PLAINTEXT_PREFIX {
                // Plaintext never gets a temporary name (FORMAT.md §7.8): the
                // old file is removed, then the new one linked; a kill between
                // leaves no output, which the re-run writes.
                fault::before_rename(&self.target)
                    .and_then(|()| fs::remove_file(&self.target))
                    .map_err(|e| io_err(&self.target, e))?;
                return match fault::before_rename(&self.target)
                    .and_then(|()| unnamed::link(&self.file, &self.target))
                {
                    Ok(()) => blobs::sync_dir(&self.dir).map(|()| len),
                    // Another process made the name meanwhile: not replaced.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        Err(StoreError::OutputExists(self.target.clone()))
                    }
                    Err(e) => Err(io_err(&self.target, e)),
                };
            }
            if !(exists && replace) {
                match fault::before_rename(&self.target)
                    .and_then(|()| unnamed::link(&self.file, &self.target))
                {
                    Ok(()) => {
                        blobs::sync_dir(&self.dir)?;
                        return Ok(len);
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !replace => {
                        return Err(StoreError::OutputExists(self.target.clone()))
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(&self.target, e)),
                }
            }
            // Replacing: the complete file gets a temporary name (recorded
            // first when outside the archive), renamed over the target at once.
            let tmp = self
                .dir
                .join(format!("{}{}.tmp", self.prefix, random_hex()?));
            let entry = match &self.archive {
                Some(root) => Some(register(root, &tmp)?),
                None => None,
            };
            self.name = Name::Temp {
                tmp: tmp.clone(),
                entry,
                renamed: false,
                synced: false,
            };
            fault::before_rename(&tmp)
                .and_then(|()| unnamed::link(&self.file, &tmp))
                .map_err(|e| io_err(&tmp, e))?;
        }
        let Name::Temp {
            tmp,
            renamed,
            synced,
            ..
        } = &mut self.name
        else {
            return Err(StoreError::Internal("an unnamed output file".into()));
        };
        fault::rename(tmp, &self.target).map_err(|e| io_err(&self.target, e))?;
        *renamed = true;
        blobs::sync_dir(&self.dir)?;
        *synced = true;
        Ok(len)
    }
}

impl Drop for OutFile {
    /// Removes the temporary name of a failed run, then its record; after
    /// the rename, the record goes once the rename is durable (else the
    /// next open removes the name, should it come back after a crash).
    fn drop(&mut self) {
        let Name::Temp {
            tmp,
            entry,
            renamed,
            synced,
        } = &self.name
        else {
            return;
        };
        if !*renamed {
            let _ = fs::remove_file(tmp);
            if let Ok(d) = File::open(&self.dir) {
                let _ = d.sync_all();
            }
        } else if !*synced {
            return;
        }
        if let Some(entry) = entry {
            unregister(entry);
        }
    }
}

/// Writes `bytes` to `path` atomically and durably: an unnamed (or
/// temporary) file, fsynced, then named, then its directory fsynced.
/// Replaces a file at `path`. `archive`: see [`OutFile::create`].
pub(crate) fn write_durable(
    path: &Path,
    bytes: &[u8],
    archive: Option<&Path>,
) -> Result<(), StoreError> {
    let mut f = OutFile::create(path, ".custody-", archive)?;
    let label = f.label().to_path_buf();
    fault::write_all(f.file_mut(), bytes, &label).map_err(|e| io_err(&label, e))?;
    f.commit(true).map(|_| ())
}

/// Removes, in `dir`, the temporary files of interrupted writes
/// (`.custody-….tmp`): only custody writes there, under the lock.
fn clean_temp_names(dir: &Path) -> Result<(), StoreError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir, e)),
    };
    for e in rd {
        let e = e.map_err(|e| io_err(dir, e))?;
        if is_temp_name(&e.file_name().to_string_lossy()) {
            match fs::remove_file(e.path()) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_err(&e.path(), err)),
            }
        }
    }
    Ok(())
}

/// Removes the temporary file or directory a `pending/out-*` record names
/// (if it is still there), then the record. A record naming anything but a
/// `.custody-….tmp` file or directory (never followed through a symbolic
/// link) is removed alone. A file that cannot be removed
/// (its directory is not writable now) keeps its record, tried again next time.
fn settle_out_entry(entry: &Path) -> Result<(), StoreError> {
    let mut bytes = Vec::new();
    {
        use std::io::Read;
        let f = File::open(entry).map_err(|e| io_err(entry, e))?;
        f.take(64 * 1024)
            .read_to_end(&mut bytes)
            .map_err(|e| io_err(entry, e))?;
    }
    let tmp = bytes_path(&bytes);
    let ours = tmp.is_absolute()
        && tmp
            .file_name()
            .is_some_and(|n| is_temp_name(&n.to_string_lossy()));
    let kind = fs::symlink_metadata(&tmp).map(|m| m.file_type());
    let regular = kind.as_ref().is_ok_and(|t| t.is_file());
    let dir = kind.as_ref().is_ok_and(|t| t.is_dir());
    if ours && regular && fs::remove_file(&tmp).is_err() {
        return Ok(());
    }
    if ours && dir && fs::remove_dir_all(&tmp).is_err() {
        return Ok(());
    }
    fs::remove_file(entry).map_err(|e| io_err(entry, e))
}

/// Removes what interrupted writes left (FORMAT.md §7.8), on every open of
/// the archive at `root` under its lock: temporary files inside it
/// (`.custody-….tmp` in its directory, `evidence/`, `witness/`, `pending/`,
/// `mirrors/*/`; `ledger/` and `blobs/tmp/` are cleaned by their own rules)
/// and temporary files outside it recorded in `pending/out-*`. Interrupted
/// shares are the archive's to settle (`Archive::settle_pending`).
pub(crate) fn settle_temp_files(root: &Path) -> Result<(), StoreError> {
    for d in [
        root.to_path_buf(),
        root.join(crate::store::files::layout::EVIDENCE_DIR),
        root.join(crate::store::files::layout::WITNESS_DIR),
        root.join(PENDING_DIR),
    ] {
        clean_temp_names(&d)?;
    }
    let mirrors = root.join(crate::store::files::layout::MIRRORS_DIR);
    if let Ok(rd) = fs::read_dir(&mirrors) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                clean_temp_names(&e.path())?;
            }
        }
    }
    let pending = root.join(PENDING_DIR);
    let rd = match fs::read_dir(&pending) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(&pending, e)),
    };
    for e in rd {
        let e = e.map_err(|e| io_err(&pending, e))?;
        if e.file_name().to_string_lossy().starts_with(OUT_ENTRY) {
            settle_out_entry(&e.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        assert!(is_temp_name(".custody-0123456789abcdef.tmp"));
        assert!(is_temp_name(".custody-extract-0123456789abcdef.tmp"));
        for n in [
            ".custody-.tmp",
            "custody-1.tmp",
            ".custody-1",
            "x.tmp",
            "plain.txt",
        ] {
            assert!(!is_temp_name(n), "{n}");
        }
    }

    #[test]
    fn a_file_is_named_only_when_committed() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("out.txt");
        let mut f = OutFile::create(&target, ".custody-", None).unwrap();
        use std::io::Write;
        f.file_mut().write_all(b"hello").unwrap();
        #[cfg(target_os = "linux")]
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            0,
            "named before commit"
        );
        assert_eq!(f.commit(false).unwrap(), 5);
        assert_eq!(fs::read(&target).unwrap(), b"hello");
        // Not replaced without `replace`; replaced with it.
        let f = OutFile::create(&target, ".custody-", None).unwrap();
        assert!(matches!(f.commit(false), Err(StoreError::OutputExists(_))));
        write_durable(&target, b"again", None).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"again");
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("out.txt");
        let mut f = OutFile::create(&target, ".custody-", None).unwrap();
        use std::io::Write;
        f.file_mut().write_all(b"secret").unwrap();
        drop(f);
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_recorded_temporary_name_is_removed_with_its_record() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("archive");
        fs::create_dir(&root).unwrap();
        let tmp = d.path().join(".custody-0011223344556677.tmp");
        let entry = register(&root, &tmp).unwrap();
        fs::write(&tmp, b"left by a killed run").unwrap();
        // A record naming something else removes nothing but itself.
        let other = d.path().join("keep.txt");
        fs::write(&other, b"x").unwrap();
        let bad = root.join(PENDING_DIR).join("out-bad");
        fs::write(&bad, path_bytes(&other)).unwrap();
        settle_out_entry(&entry).unwrap();
        settle_out_entry(&bad).unwrap();
        assert!(!tmp.exists() && !entry.exists() && !bad.exists());
        assert!(other.exists());
    }
}
