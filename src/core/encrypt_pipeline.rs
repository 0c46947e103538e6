//! The hash-and-encrypt pipeline behind [`crate::core::crypto::encrypt_all`]:
//! reads a plaintext once, hashes it in order, and writes it as the payload of
//! an age file (FORMAT.md §6) with no copy in user space.
//!
//! Each 64 KiB STREAM chunk is read straight into a buffer of 64 KiB + 16
//! bytes, hashed there, sealed in place by [`PayloadSealer::seal`] (the tag
//! lands in the last 16 bytes) and written from there, a few chunks per
//! `writev`. Buffers are reused; at most [`SLOTS`] exist (4 MiB), whatever the
//! input size.
//!
//! Large inputs run on two threads. A spawned *reader* reads and hashes the
//! plaintext (SHA-256 must see it in order, so that is one thread's job) and
//! seals chunks itself whenever the writer is behind; the calling thread, the
//! *writer*, seals the chunks the reader left, writes them (the blob store's
//! writer hashes the ciphertext as it writes) and reports progress. Chunks are
//! independent, so which thread seals which does not change the output; the
//! reader decides chunk by chunk from the writer's backlog, which balances
//! the two cores whatever the relative costs of hashing, sealing and the
//! kernel's copies on the machine at hand.

use std::io::{self, IoSlice, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use sha2::{Digest as _, Sha256};
use zeroize::Zeroize;

use crate::core::agestream::{
    AgeWriteError, PayloadSealer, CHUNK_SIZE, SEALED_CHUNK_SIZE, TAG_SIZE,
};
use crate::core::hash::Digest;

/// Why the pipeline stopped: reading or writing failed, or a chunk could not
/// be sealed. [`crate::core::crypto`] turns it into its own error.
#[derive(Debug)]
pub enum PipelineError {
    Io(io::Error),
    Seal(AgeWriteError),
}

impl From<io::Error> for PipelineError {
    fn from(e: io::Error) -> Self {
        PipelineError::Io(e)
    }
}

impl From<AgeWriteError> for PipelineError {
    fn from(e: AgeWriteError) -> Self {
        PipelineError::Seal(e)
    }
}

/// Chunk buffers in circulation in the two-thread pipeline (64 × 64 KiB = 4 MiB).
pub const SLOTS: usize = 64;
/// Chunks handed over and written together (one `writev`, 1 MiB). Each
/// hand-over may wake the other thread, which costs tens of microseconds on
/// a virtual machine: 16 chunks ingested 1 GiB 3 % faster than 4 and ran the
/// in-memory benchmark 14 % faster (BENCHMARKS.md, "Where the time goes").
pub const GROUP: usize = 16;
/// The reader seals a chunk itself when at least this many chunks wait for the writer.
const SEAL_AHEAD: usize = GROUP;

/// One STREAM chunk: plaintext in `buf[..len]` until sealed, then ciphertext
/// and tag in `buf[..len + TAG_SIZE]`. Plaintext is wiped if a chunk is
/// dropped unsealed (an error midway).
struct Chunk {
    buf: Vec<u8>,
    len: usize,
    index: u64,
    last: bool,
    sealed: bool,
}

impl Chunk {
    fn seal(&mut self, sealer: &PayloadSealer) -> Result<(), PipelineError> {
        if !self.sealed {
            sealer.seal(self.index, self.last, &mut self.buf, self.len)?;
            self.sealed = true;
        }
        Ok(())
    }

    /// The sealed bytes as they go into the file.
    fn sealed_bytes(&self) -> &[u8] {
        &self.buf[..self.len + TAG_SIZE]
    }

    /// Gives the buffer back for reuse (it holds ciphertext only).
    fn into_buf(mut self) -> Vec<u8> {
        self.sealed = true;
        std::mem::take(&mut self.buf)
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if !self.sealed {
            self.buf.zeroize();
        }
    }
}

/// Where the chunker gets empty buffers from.
trait Slots {
    fn take(&mut self) -> Result<Vec<u8>, PipelineError>;
}

/// Splits the input into chunks, hashing the plaintext in order, and tells
/// each chunk's index and whether it is the final one. A full chunk is final
/// only if the input ends right after it, so one chunk is read ahead; the
/// final chunk is empty only when the whole input is.
struct Chunker<R> {
    input: R,
    hasher: Sha256,
    len: u64,
    next_index: u64,
    ahead: Option<Chunk>,
    spare: Option<Vec<u8>>,
    done: bool,
}

impl<R: Read> Chunker<R> {
    fn new(input: R) -> Self {
        Chunker {
            input,
            hasher: Sha256::new(),
            len: 0,
            next_index: 0,
            ahead: None,
            spare: None,
            done: false,
        }
    }

    fn buffer(&mut self, slots: &mut dyn Slots) -> Result<Vec<u8>, PipelineError> {
        match self.spare.take() {
            Some(b) => Ok(b),
            None => slots.take(),
        }
    }

    /// Reads into `buf` until it holds a full chunk or the input ends, growing
    /// a buffer that was sized for a shorter input; hashes what it read.
    fn fill(&mut self, mut buf: Vec<u8>) -> io::Result<Chunk> {
        if buf.len() <= TAG_SIZE {
            buf.resize(TAG_SIZE + 1, 0);
        }
        let mut len = 0;
        loop {
            let room = (buf.len() - TAG_SIZE).min(CHUNK_SIZE);
            if len == room {
                if room == CHUNK_SIZE {
                    break;
                }
                // The input is longer than its size hint said.
                buf.resize(SEALED_CHUNK_SIZE, 0);
                continue;
            }
            match self.input.read(&mut buf[len..room]) {
                Ok(0) => break,
                Ok(n) if n <= room - len => len += n,
                Ok(_) => {
                    buf.zeroize();
                    return Err(io::Error::other("a reader returned more bytes than asked"));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    buf.zeroize();
                    return Err(e);
                }
            }
        }
        self.hasher.update(&buf[..len]);
        self.len += len as u64;
        Ok(Chunk {
            buf,
            len,
            index: 0,
            last: false,
            sealed: false,
        })
    }

    /// The next chunk, or `None` after the final one.
    fn next(&mut self, slots: &mut dyn Slots) -> Result<Option<Chunk>, PipelineError> {
        if self.done {
            return Ok(None);
        }
        let mut cur = match self.ahead.take() {
            Some(c) => c,
            None => {
                let b = self.buffer(slots)?;
                self.fill(b)?
            }
        };
        cur.index = self.next_index;
        self.next_index += 1;
        if cur.len == CHUNK_SIZE {
            let b = self.buffer(slots)?;
            let next = self.fill(b)?;
            if next.len > 0 {
                self.ahead = Some(next);
                return Ok(Some(cur));
            }
            self.spare = Some(next.into_buf());
        }
        cur.last = true;
        self.done = true;
        Ok(Some(cur))
    }

    fn finish(self) -> (Digest, u64) {
        (Digest(self.hasher.finalize().into()), self.len)
    }
}

/// `write_all` for a list of buffers, one `writev` per call of the writer.
fn write_all_vectored<W: Write + ?Sized>(out: &mut W, bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    let mut bufs = bufs;
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match out.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes sealed chunks, after `preamble` if this is the first write.
fn write_chunks<W: Write>(
    out: &mut W,
    preamble: Option<&[u8]>,
    chunks: &[Chunk],
) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(chunks.len() + 1);
    slices.extend(preamble.map(IoSlice::new));
    slices.extend(chunks.iter().map(|c| IoSlice::new(c.sealed_bytes())));
    write_all_vectored(out, &mut slices)
}

/// Plaintext hash, plaintext length and the output, after the final chunk.
pub type Done<W> = (W, Digest, u64);

/// One thread: read, hash, seal and write chunk by chunk. `size_hint` sizes
/// the first buffer (a file of a few KiB does not get a 64 KiB buffer).
pub fn encrypt_serial<R: Read, W: Write>(
    input: R,
    sealer: &PayloadSealer,
    preamble: &[u8],
    mut out: W,
    size_hint: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Done<W>, PipelineError> {
    struct Fresh {
        free: Vec<Vec<u8>>,
        size: usize,
    }
    impl Slots for Fresh {
        fn take(&mut self) -> Result<Vec<u8>, PipelineError> {
            let size = std::mem::replace(&mut self.size, SEALED_CHUNK_SIZE);
            Ok(self.free.pop().unwrap_or_else(|| vec![0u8; size]))
        }
    }
    let first = usize::try_from(size_hint)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
        .min(CHUNK_SIZE)
        + TAG_SIZE;
    let mut slots = Fresh {
        free: Vec::with_capacity(2),
        size: first,
    };
    let mut chunker = Chunker::new(input);
    let mut head = Some(preamble);
    while let Some(mut c) = chunker.next(&mut slots)? {
        c.seal(sealer)?;
        write_chunks(&mut out, head.take(), std::slice::from_ref(&c))?;
        progress(c.len as u64);
        slots.free.push(c.into_buf());
    }
    out.flush()?;
    let (digest, len) = chunker.finish();
    Ok((out, digest, len))
}

/// Two threads, as described in the module documentation.
pub fn encrypt_parallel<R, W>(
    input: R,
    sealer: &PayloadSealer,
    preamble: &[u8],
    out: W,
    progress: &mut dyn FnMut(u64),
) -> Result<Done<W>, PipelineError>
where
    R: Read + Send,
    W: Write + Send,
{
    /// Buffers: reused from the writer, allocated up to [`SLOTS`], then waited for.
    struct Pool {
        free: mpsc::Receiver<Vec<u8>>,
        allocated: usize,
    }
    impl Slots for Pool {
        fn take(&mut self) -> Result<Vec<u8>, PipelineError> {
            if let Ok(b) = self.free.try_recv() {
                return Ok(b);
            }
            if self.allocated < SLOTS {
                self.allocated += 1;
                return Ok(vec![0u8; SEALED_CHUNK_SIZE]);
            }
            self.free.recv().map_err(|_| stopped("writer"))
        }
    }
    /// How the writer's loop ended without the final chunk.
    enum WriterEnd {
        ReaderStopped,
        Failed(PipelineError),
    }

    // Chunks handed to the writer and not yet taken by it.
    let backlog = AtomicUsize::new(0);
    let backlog_r = &backlog;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Vec<Chunk>>(SLOTS);
        let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
        let reader = scope.spawn(move || -> Result<(Digest, u64), PipelineError> {
            let mut chunker = Chunker::new(input);
            let mut pool = Pool {
                free: free_rx,
                allocated: 0,
            };
            let mut group = Vec::with_capacity(GROUP);
            while let Some(mut c) = chunker.next(&mut pool)? {
                if backlog_r.load(Ordering::Relaxed) >= SEAL_AHEAD {
                    c.seal(sealer)?;
                }
                let last = c.last;
                group.push(c);
                if group.len() == GROUP || last {
                    backlog_r.fetch_add(group.len(), Ordering::Relaxed);
                    let full = std::mem::replace(&mut group, Vec::with_capacity(GROUP));
                    tx.send(full).map_err(|_| stopped("writer"))?;
                }
            }
            Ok(chunker.finish())
        });

        let written = (|| -> Result<W, WriterEnd> {
            let mut out = out;
            let mut head = Some(preamble);
            for mut group in rx.iter() {
                backlog.fetch_sub(group.len(), Ordering::Relaxed);
                for c in group.iter_mut() {
                    c.seal(sealer).map_err(WriterEnd::Failed)?;
                }
                write_chunks(&mut out, head.take(), &group)
                    .map_err(|e| WriterEnd::Failed(e.into()))?;
                progress(group.iter().map(|c| c.len as u64).sum());
                let finished = group.last().is_some_and(|c| c.last);
                for c in group {
                    // The reader may have stopped after the final chunk.
                    let _ = free_tx.send(c.into_buf());
                }
                if finished {
                    out.flush().map_err(|e| WriterEnd::Failed(e.into()))?;
                    return Ok(out);
                }
            }
            Err(WriterEnd::ReaderStopped)
        })();
        // Unblock a reader waiting to send or for a buffer, then collect it.
        drop(rx);
        drop(free_tx);
        let read = reader.join().unwrap_or_else(|_| {
            Err(PipelineError::Io(io::Error::other(
                "the reader thread panicked",
            )))
        });
        // The side that failed first explains the failure; the other only saw it stop.
        match (written, read) {
            (Ok(out), Ok((digest, len))) => Ok((out, digest, len)),
            (Err(WriterEnd::Failed(e)), _) => Err(e),
            (_, Err(e)) => Err(e),
            (Err(WriterEnd::ReaderStopped), Ok(_)) => Err(stopped("reader")),
        }
    })
}

fn stopped(who: &str) -> PipelineError {
    PipelineError::Io(io::Error::new(
        io::ErrorKind::BrokenPipe,
        format!("the encryption pipeline's {who} stopped"),
    ))
}

#[cfg(test)]
#[allow(deprecated)] // classic X25519 keys: the format custody still writes for them
mod tests {
    use super::*;
    use crate::core::agestream;

    /// A reader that hands out at most `step` bytes per call and can fail at `fail_at`.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        fail_at: Option<usize>,
        pos: usize,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.fail_at.is_some_and(|f| self.pos >= f) {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "bad input"));
            }
            let n = buf.len().min(self.step).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// A writer that accepts at most `step` bytes per call and can fail after `fail_after`.
    struct Choppy {
        out: Vec<u8>,
        step: usize,
        fail_after: Option<usize>,
    }
    impl Write for Choppy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.fail_after.is_some_and(|f| self.out.len() >= f) {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn decrypt(id: &age::x25519::Identity, file: &[u8]) -> Vec<u8> {
        let d = age::Decryptor::new_buffered(file).unwrap();
        let mut r = d
            .decrypt(std::iter::once(id as &dyn age::Identity))
            .unwrap();
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i ^ (i >> 9)) as u8).collect()
    }

    #[test]
    fn both_paths_match_the_age_crate_whatever_the_read_and_write_sizes() {
        let id = age::x25519::Identity::generate();
        let r = id.to_public();
        for n in [
            0usize,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            9 * CHUNK_SIZE,
            9 * CHUNK_SIZE + 5,
        ] {
            let plain = data(n);
            for (step, wstep, hint) in [
                (usize::MAX, usize::MAX, n as u64),
                (1000, 7000, 0),
                (CHUNK_SIZE + 3, 100, 1),
            ] {
                for parallel in [false, true] {
                    let f = agestream::start(&[&r], 0).unwrap();
                    let input = Trickle {
                        data: &plain,
                        step,
                        fail_at: None,
                        pos: 0,
                    };
                    let out = Choppy {
                        out: Vec::new(),
                        step: wstep,
                        fail_after: None,
                    };
                    let mut seen = 0u64;
                    let (out, digest, len) = if parallel {
                        encrypt_parallel(input, &f.sealer, &f.preamble, out, &mut |k| seen += k)
                    } else {
                        encrypt_serial(input, &f.sealer, &f.preamble, out, hint, &mut |k| seen += k)
                    }
                    .unwrap();
                    assert_eq!((len, seen), (n as u64, n as u64));
                    assert_eq!(digest, Digest::of(&plain));
                    assert!(out.out.starts_with(&f.preamble));
                    assert_eq!(
                        decrypt(&id, &out.out),
                        plain,
                        "n {n} step {step} parallel {parallel}"
                    );
                }
            }
        }
    }

    #[test]
    fn read_and_write_errors_come_back_as_they_were() {
        let r = age::x25519::Identity::generate().to_public();
        let plain = data(40 * CHUNK_SIZE);
        for parallel in [false, true] {
            let f = agestream::start(&[&r], 0).unwrap();
            let input = Trickle {
                data: &plain,
                step: 5000,
                fail_at: Some(20 * CHUNK_SIZE),
                pos: 0,
            };
            let out = Choppy {
                out: Vec::new(),
                step: usize::MAX,
                fail_after: None,
            };
            let e = if parallel {
                encrypt_parallel(input, &f.sealer, &f.preamble, out, &mut |_| {})
            } else {
                encrypt_serial(input, &f.sealer, &f.preamble, out, 0, &mut |_| {})
            };
            assert!(
                matches!(e, Err(PipelineError::Io(ref io)) if io.kind() == io::ErrorKind::InvalidData),
                "parallel {parallel}"
            );
            let input = Trickle {
                data: &plain,
                step: usize::MAX,
                fail_at: None,
                pos: 0,
            };
            let out = Choppy {
                out: Vec::new(),
                step: 3000,
                fail_after: Some(10 * CHUNK_SIZE),
            };
            let e = if parallel {
                encrypt_parallel(input, &f.sealer, &f.preamble, out, &mut |_| {})
            } else {
                encrypt_serial(input, &f.sealer, &f.preamble, out, 0, &mut |_| {})
            };
            assert!(
                matches!(e, Err(PipelineError::Io(ref io)) if io.kind() == io::ErrorKind::StorageFull),
                "parallel {parallel}"
            );
        }
    }

    #[test]
    fn a_reader_that_overreports_is_an_error_not_a_panic() {
        struct Liar;
        impl Read for Liar {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Ok(buf.len() + 1)
            }
        }
        let r = age::x25519::Identity::generate().to_public();
        let f = agestream::start(&[&r], 0).unwrap();
        assert!(encrypt_serial(Liar, &f.sealer, &f.preamble, Vec::new(), 10, &mut |_| {}).is_err());
        assert!(encrypt_parallel(Liar, &f.sealer, &f.preamble, Vec::new(), &mut |_| {}).is_err());
    }
}
