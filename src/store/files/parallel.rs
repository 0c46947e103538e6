//! Many independent object operations at once (`publish` writes, `mirror`
//! fetches): a published log is many small objects, so over a network or
//! with an fsync per object the time goes to waiting, not to work.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::store::StoreError;

/// Objects in flight at once.
pub const WORKERS: usize = 8;

/// Runs `work` on every item with [`WORKERS`] threads, passing each result
/// to `keep` (one call at a time; `false` stops handing out items). The
/// first error stops the run and is returned once the items in flight end.
/// `progress` is called from the calling thread with the items done.
pub fn for_each<T: Send, R: Send>(
    items: impl Iterator<Item = T> + Send,
    progress: &mut dyn FnMut(u64),
    work: impl Fn(T) -> Result<R, StoreError> + Sync,
    keep: impl FnMut(R) -> bool + Send,
) -> Result<(), StoreError> {
    for_each_with(WORKERS, items, progress, work, keep)
}

/// [`for_each`] with `workers` threads (at least one): as many as there
/// are cores for work that computes (decrypting many small files), one
/// for work that must not run twice at once.
pub fn for_each_with<T: Send, R: Send>(
    workers: usize,
    items: impl Iterator<Item = T> + Send,
    progress: &mut dyn FnMut(u64),
    work: impl Fn(T) -> Result<R, StoreError> + Sync,
    keep: impl FnMut(R) -> bool + Send,
) -> Result<(), StoreError> {
    let workers = workers.max(1);
    let queue = Mutex::new(items);
    let keep = Mutex::new(keep);
    let error: Mutex<Option<StoreError>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let running = AtomicU64::new(workers as u64);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let Some(item) = queue.lock().expect("queue").next() else {
                        break;
                    };
                    match work(item) {
                        Ok(r) => {
                            if !(keep.lock().expect("keep"))(r) {
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            error.lock().expect("error").get_or_insert(e);
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                running.fetch_sub(1, Ordering::Release);
            });
        }
        let mut shown = 0;
        loop {
            let finished = running.load(Ordering::Acquire) == 0;
            let d = done.load(Ordering::Relaxed);
            progress(d - shown);
            shown = d;
            if finished {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    match error.into_inner().expect("error") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
