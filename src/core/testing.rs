//! Helpers for the resource-limit tests of the parsers (issue 6): hostile
//! input must be refused fast, before anything of a declared size is read
//! or allocated.

use std::time::{Duration, Instant};

/// Far more than any refusal of hostile input may take, far less than
/// reading or allocating a declared 100 GB (or walking 100,000 levels of
/// nesting one allocation at a time) would.
pub(crate) const FAST: Duration = Duration::from_millis(250);

/// Runs `f` and asserts it returned within [`FAST`].
pub(crate) fn fast<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    let took = t.elapsed();
    assert!(took < FAST, "{what} took {took:?}");
    out
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
