//! The age plugin processes this process started: the `age` crate starts a
//! plugin (`age-plugin-NAME`) as a child process for every wrap or unwrap
//! and keeps no handle on it. So, found among this process's children by
//! their name:
//!
//! - one that ended is waited for ([`reap`], after every plugin call), else
//!   each would stay a zombie until custody exits (one per file and
//!   envelope written: an ingest of many files would fill the process table);
//! - one that missed its deadline (src/core/plugin.rs) is asked to end
//!   (SIGTERM), killed (SIGKILL) if it has not within a second, and waited
//!   for ([`stop`]).
//!
//! Linux only: children are found in `/proc` (`/proc/self/task/*/children`,
//! else every `/proc/PID/stat`). Elsewhere (macOS) nothing is done: a plugin
//! that missed its deadline runs on after custody exits until its next read
//! of stdin meets end of file or its next write a closed pipe, which ends
//! every plugin that follows the protocol; ended plugins are collected when
//! custody exits.

/// Waits for this process's children named `binary` that have ended;
/// returns how many.
#[cfg(target_os = "linux")]
pub fn reap(binary: &str) -> usize {
    let ended: Vec<i32> = children_named(binary)
        .into_iter()
        .filter(|&pid| !running(pid))
        .collect();
    for &pid in &ended {
        wait(pid);
    }
    ended.len()
}

/// Stops this process's children named `binary` (SIGTERM, then SIGKILL a
/// second later) and waits for them; returns how many were signalled.
#[cfg(target_os = "linux")]
pub fn stop(binary: &str) -> usize {
    use rustix::process::{kill_process, Pid, Signal};
    let pids: Vec<i32> = children_named(binary)
        .into_iter()
        .filter(|&pid| running(pid))
        .collect();
    for &pid in &pids {
        if let Some(p) = Pid::from_raw(pid) {
            let _ = kill_process(p, Signal::TERM);
        }
    }
    let ended = |pids: &[i32]| {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while std::time::Instant::now() < until && pids.iter().any(|&p| running(p)) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    ended(&pids);
    for &pid in &pids {
        if running(pid) {
            if let Some(p) = Pid::from_raw(pid) {
                let _ = kill_process(p, Signal::KILL);
            }
        }
    }
    // (A process stuck in the kernel, on a device, ends only when it
    // returns: it is not waited for then.)
    ended(&pids);
    for &pid in &pids {
        wait(pid);
    }
    pids.len()
}

/// Does nothing: there is no `/proc` to find the plugin in (see the module
/// documentation).
#[cfg(not(target_os = "linux"))]
pub fn reap(_binary: &str) -> usize {
    0
}

/// Stops nothing: there is no `/proc` to find the plugin in (see the module
/// documentation).
#[cfg(not(target_os = "linux"))]
pub fn stop(_binary: &str) -> usize {
    0
}

/// Collects the exit status of child `pid` if it has ended (never blocks).
#[cfg(target_os = "linux")]
fn wait(pid: i32) {
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
    }
}

/// The pids of this process's children whose command name is `binary`'s
/// (the kernel keeps its first 15 bytes).
#[cfg(target_os = "linux")]
fn children_named(binary: &str) -> Vec<i32> {
    let comm = &binary.as_bytes()[..binary.len().min(15)];
    let me = std::process::id() as i32;
    children()
        .into_iter()
        .filter(|&pid| stat(pid).is_some_and(|s| s.parent == me && s.comm.as_bytes() == comm))
        .collect()
}

/// This process's children, from each thread's `children` file, or, where
/// the kernel has none, every process (filtered by parent after).
#[cfg(target_os = "linux")]
fn children() -> Vec<i32> {
    let numbers = |dir: &str| -> Option<Vec<String>> {
        Some(
            std::fs::read_dir(dir)
                .ok()?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .collect(),
        )
    };
    let tasks = numbers("/proc/self/task").unwrap_or_default();
    let mut out = Vec::new();
    for t in &tasks {
        match std::fs::read_to_string(format!("/proc/self/task/{t}/children")) {
            Ok(list) => out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            ),
            // No CONFIG_PROC_CHILDREN: every process.
            Err(_) => {
                let all = numbers("/proc").unwrap_or_default();
                return all.iter().filter_map(|p| p.parse().ok()).collect();
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A process's command name, state and parent, from `/proc/PID/stat`.
#[cfg(target_os = "linux")]
struct Stat {
    comm: String,
    state: char,
    parent: i32,
}

/// Is `pid` still running (not gone, not a zombie)?
#[cfg(target_os = "linux")]
fn running(pid: i32) -> bool {
    stat(pid).is_some_and(|s| !matches!(s.state, 'Z' | 'X'))
}

/// `/proc/PID/stat`: `PID (COMM) STATE PPID …`, the name in parentheses
/// that may itself hold spaces and parentheses.
#[cfg(target_os = "linux")]
fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let parent = rest.next()?.parse().ok()?;
    Some(Stat {
        comm: text.get(open + 1..close)?.to_string(),
        state,
        parent,
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn children_are_found_by_name_stopped_and_reaped() {
        let child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // As the age crate does: the handle is dropped, the child runs on.
        drop(child);
        assert!(children_named("sleep").contains(&pid));
        assert!(!children_named("age-plugin-none").contains(&pid));
        assert!(stop("sleep") >= 1);
        // Stopped and waited for: gone, not a zombie.
        assert!(stat(pid).is_none());

        let done = std::process::Command::new("true").spawn().unwrap();
        let pid = done.id() as i32;
        drop(done);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while running(pid) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(reap("true") >= 1);
        assert!(stat(pid).is_none());
    }
}
