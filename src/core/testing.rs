//! Helpers for the resource-limit tests of the parsers (issue 6): hostile
//! input must be refused fast, before anything of a declared size is read
//! or allocated.

use std::time::Duration;
#[cfg(not(target_os = "linux"))]
use std::time::Instant;

/// Far more than any refusal of hostile input may take, far less than
/// reading or allocating a declared 100 GB (or walking 100,000 levels of
/// nesting one allocation at a time) would.
pub(crate) const FAST: Duration = Duration::from_millis(250);

/// Runs `f` and asserts it took less than [`FAST`] of this thread's CPU time
/// (user and system: page faults of a huge allocation count), or of wall
/// time where the OS has no thread clock. CPU time, because a loaded machine
/// (CI, the other tests running beside) stretches wall time, not work.
pub(crate) fn fast<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = ThreadClock::start();
    let out = f();
    let took = t.elapsed();
    assert!(took < FAST, "{what} took {took:?}");
    out
}

/// This thread's CPU time on Linux, else wall time.
pub(crate) struct ThreadClock {
    #[cfg(target_os = "linux")]
    cpu: Duration,
    #[cfg(not(target_os = "linux"))]
    wall: Instant,
}

impl ThreadClock {
    pub(crate) fn start() -> ThreadClock {
        ThreadClock {
            #[cfg(target_os = "linux")]
            cpu: thread_cpu(),
            #[cfg(not(target_os = "linux"))]
            wall: Instant::now(),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        #[cfg(target_os = "linux")]
        return thread_cpu().saturating_sub(self.cpu);
        #[cfg(not(target_os = "linux"))]
        return self.wall.elapsed();
    }
}

#[cfg(target_os = "linux")]
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// `prefix`, then `depth` copies of `open`: input nested `depth` levels
/// deep that never closes.
pub(crate) fn nested(prefix: &str, open: &str, depth: usize) -> String {
    let mut s = String::with_capacity(prefix.len() + open.len() * depth);
    s.push_str(prefix);
    for _ in 0..depth {
        s.push_str(open);
    }
    s
}

/// TOML documents nested 100,000 levels deep, one per way TOML nests.
pub(crate) fn deep_toml() -> Vec<String> {
    const DEPTH: usize = 100_000;
    vec![
        nested("key = ", "[", DEPTH),
        nested("key = ", "{ a = ", DEPTH),
        format!("{}a = 1\n", nested("", "a.", DEPTH)),
        format!("{}a]\n", nested("[", "a.", DEPTH)),
        format!("{}a]]\n", nested("[[", "a.", DEPTH)),
        nested("key = [", "{ a = [", DEPTH),
    ]
}
