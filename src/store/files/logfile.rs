//! Append-only framed files: `ledger/records` and `ledger/checkpoints`.
//!
//! Each frame is a 4-byte big-endian length followed by that many bytes
//! (FORMAT.md §7.1). These files are the evidence: the index only indexes them. A
//! crash can leave a torn last frame, which [`LogFile::scan`] reports as `Torn`
//! so the opener can cut it back; damage elsewhere is reported, never repaired.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::store::{files::fault, io_err, StoreError};

/// Largest frame body accepted when reading (records are at most 64 KiB, notes far less).
pub const MAX_FRAME: u32 = 1 << 20;

/// An append-only framed file.
pub struct LogFile {
    path: PathBuf,
    file: File,
}

/// One step of a scan.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete frame: offset of its length prefix, and its body.
    Complete { offset: u64, body: Vec<u8> },
    /// The file ends inside a frame starting at `offset` (a torn append).
    Torn { offset: u64 },
    /// A length prefix over [`MAX_FRAME`] at `offset`: the file is damaged there.
    Oversized { offset: u64, len: u32 },
}

impl LogFile {
    /// Opens (creating if `create`) the file for reading and appending.
    pub fn open(path: &Path, create: bool) -> Result<LogFile, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(create)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> Result<u64, StoreError> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| io_err(&self.path, e))?
            .len())
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Appends frames and fsyncs. Returns the offset of each frame's length prefix.
    pub fn append(&mut self, bodies: &[&[u8]]) -> Result<Vec<u64>, StoreError> {
        let start = self.len()?;
        let total: usize = bodies.iter().map(|b| b.len() + 4).sum();
        let mut buf = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(bodies.len());
        for b in bodies {
            offsets.push(start + buf.len() as u64);
            buf.extend_from_slice(&(b.len() as u32).to_be_bytes());
            buf.extend_from_slice(b);
        }
        fault::write_all(&mut self.file, &buf, &self.path)
            .and_then(|_| fault::sync_data(&self.file, &self.path))
            .map_err(|e| io_err(&self.path, e))?;
        Ok(offsets)
    }

    /// Opens an existing file for reading only (the lock-free view).
    pub fn open_read(path: &Path) -> Result<LogFile, StoreError> {
        let file = File::open(path).map_err(|e| io_err(path, e))?;
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Reads the frame whose length prefix is at `offset`, expecting body
    /// length `len` (as the index says): the prefix must say the same, and
    /// `len` must be at most [`MAX_FRAME`]. Positioned reads only, so
    /// concurrent readers of one handle do not interfere.
    pub fn read_at(&self, offset: u64, len: u32) -> Result<Vec<u8>, StoreError> {
        let mismatch = |what: String| {
            StoreError::IndexDamaged(format!(
                "{}: the index locates a frame of {len} bytes at offset {offset}, {what}",
                self.path.display()
            ))
        };
        if len > MAX_FRAME {
            return Err(mismatch(format!("over the {MAX_FRAME}-byte limit")));
        }
        let mut hdr = [0u8; 4];
        let read = |buf: &mut [u8], at: u64| {
            read_exact_at(&self.file, buf, at).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    mismatch("past the end of the file".into())
                } else {
                    io_err(&self.path, e)
                }
            })
        };
        read(&mut hdr, offset)?;
        if u32::from_be_bytes(hdr) != len {
            return Err(mismatch(format!(
                "where the file has a frame of {} bytes",
                u32::from_be_bytes(hdr)
            )));
        }
        let mut body = vec![0u8; len as usize];
        read(&mut body, offset + 4)?;
        Ok(body)
    }

    /// Reads frames from `from` to the end of the file, stopping at the first
    /// torn or oversized frame (which is returned as the last element).
    pub fn scan(&self, from: u64) -> Result<FrameIter<'_>, StoreError> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(from))
            .map_err(|e| io_err(&self.path, e))?;
        Ok(FrameIter {
            reader: io::BufReader::with_capacity(1 << 20, f),
            offset: from,
            done: false,
            path: &self.path,
        })
    }

    /// Is everything from `offset` to the end of the file zero bytes? Some file
    /// systems leave a zero-filled tail after a crash during an append; such a
    /// tail is a torn append, not damage.
    pub fn zeros_from(&self, offset: u64) -> Result<bool, StoreError> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| io_err(&self.path, e))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = read_full(&mut f, &mut buf).map_err(|e| io_err(&self.path, e))?;
            if buf[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            if n < buf.len() {
                return Ok(true);
            }
        }
    }

    /// Cuts the file back to `len` bytes (removing a torn tail) and fsyncs.
    pub fn truncate(&mut self, len: u64) -> Result<(), StoreError> {
        self.file
            .set_len(len)
            .and_then(|_| fault::sync_all(&self.file, &self.path))
            .map_err(|e| io_err(&self.path, e))
    }
}

/// Iterator over the frames of a [`LogFile`].
pub struct FrameIter<'a> {
    reader: io::BufReader<&'a File>,
    offset: u64,
    done: bool,
    path: &'a Path,
}

impl Iterator for FrameIter<'_> {
    type Item = Result<Frame, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut hdr = [0u8; 4];
        match read_full(&mut self.reader, &mut hdr) {
            Err(e) => {
                self.done = true;
                return Some(Err(io_err(self.path, e)));
            }
            Ok(0) => {
                self.done = true;
                return None;
            }
            Ok(n) if n < 4 => {
                self.done = true;
                return Some(Ok(Frame::Torn {
                    offset: self.offset,
                }));
            }
            Ok(_) => {}
        }
        let len = u32::from_be_bytes(hdr);
        if len > MAX_FRAME {
            self.done = true;
            return Some(Ok(Frame::Oversized {
                offset: self.offset,
                len,
            }));
        }
        let mut body = vec![0u8; len as usize];
        match read_full(&mut self.reader, &mut body) {
            Err(e) => {
                self.done = true;
                Some(Err(io_err(self.path, e)))
            }
            Ok(n) if n < body.len() => {
                self.done = true;
                Some(Ok(Frame::Torn {
                    offset: self.offset,
                }))
            }
            Ok(_) => {
                let offset = self.offset;
                self.offset += 4 + len as u64;
                Some(Ok(Frame::Complete { offset, body }))
            }
        }
    }
}

/// Reads exactly `buf.len()` bytes at `at` (positioned: the handle's offset
/// is not used, so readers of one handle do not interfere on unix).
pub(crate) fn read_exact_at(f: &File, buf: &mut [u8], at: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(f, buf, at)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let (mut buf, mut at) = (buf, at);
        while !buf.is_empty() {
            match f.seek_read(buf, at) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    at += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Writes all of `buf` at `at` (positioned).
pub(crate) fn write_all_at(f: &File, buf: &[u8], at: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(f, buf, at)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let (mut buf, mut at) = (buf, at);
        while !buf.is_empty() {
            match f.seek_write(buf, at) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    buf = &buf[n..];
                    at += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn append_scan_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let mut lf = LogFile::open(&p, true).unwrap();
        let offs = lf.append(&[b"one", b"", b"three"]).unwrap();
        assert_eq!(offs, vec![0, 7, 11]);
        assert_eq!(lf.read_at(11, 5).unwrap(), b"three");
        assert!(matches!(
            lf.read_at(11, 4),
            Err(StoreError::IndexDamaged(_))
        ));
        assert!(matches!(
            lf.read_at(11, 6),
            Err(StoreError::IndexDamaged(_))
        ));
        assert!(matches!(
            lf.read_at(12, 5),
            Err(StoreError::IndexDamaged(_))
        ));
        assert!(matches!(
            lf.read_at(11, u32::MAX),
            Err(StoreError::IndexDamaged(_))
        ));
        // Simulate a torn append.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(&[0, 0, 0, 9, b'x'])
            .unwrap();
        let frames: Vec<_> = lf.scan(0).unwrap().map(|f| f.unwrap()).collect();
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[3], Frame::Torn { offset: 20 });
        lf.truncate(20).unwrap();
        assert_eq!(lf.scan(0).unwrap().count(), 3);
    }
}
