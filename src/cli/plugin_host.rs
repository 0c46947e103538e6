//! The command line's side of age plugins (src/core/plugin.rs): their
//! messages and questions on the terminal (through `output`), the deadline
//! of a plugin call from `CUSTODY_PLUGIN_TIMEOUT`, and collecting the
//! plugin processes that ended or stopping one that missed its deadline
//! (`store::files::children`).

use std::sync::Arc;
use std::time::Duration;

use age::secrecy::SecretString;

use super::output::PluginTerminal;
use crate::core::plugin::{self, PluginHost, Unanswered};
use crate::store::StoreError;

/// The variable that sets the deadline, in whole seconds.
pub(crate) const TIMEOUT_VAR: &str = "CUSTODY_PLUGIN_TIMEOUT";

struct CliHost {
    term: PluginTerminal,
    deadline: Duration,
}

impl PluginHost for CliHost {
    fn message(&self, plugin: &str, text: &str) {
        self.term.message(plugin, text);
    }

    fn confirm(
        &self,
        plugin: &str,
        message: &str,
        yes: &str,
        no: Option<&str>,
    ) -> Result<bool, Unanswered> {
        self.term.confirm(plugin, message, yes, no)
    }

    fn public(&self, plugin: &str, description: &str) -> Result<String, Unanswered> {
        self.term.line(plugin, description)
    }

    fn secret(&self, plugin: &str, description: &str) -> Result<SecretString, Unanswered> {
        self.term.secret(plugin, description)
    }

    fn deadline(&self) -> Duration {
        self.deadline
    }

    fn stop(&self, plugin: &str) -> usize {
        crate::store::files::children::stop(plugin)
    }

    fn reap(&self, plugin: &str) {
        crate::store::files::children::reap(plugin);
    }
}

/// Registers the command line as the host of every plugin call of this run.
pub(crate) fn install() -> Result<(), StoreError> {
    let deadline = deadline(std::env::var_os(TIMEOUT_VAR).as_deref())?;
    plugin::set_host(Arc::new(CliHost {
        term: PluginTerminal,
        deadline,
    }));
    Ok(())
}

/// The deadline `CUSTODY_PLUGIN_TIMEOUT` sets: whole seconds, at least 1;
/// unset or empty, [`plugin::DEFAULT_DEADLINE`].
fn deadline(value: Option<&std::ffi::OsStr>) -> Result<Duration, StoreError> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(plugin::DEFAULT_DEADLINE);
    };
    match v.to_str().and_then(|s| s.trim().parse::<u64>().ok()) {
        Some(secs) if secs >= 1 => Ok(Duration::from_secs(secs)),
        _ => Err(StoreError::Input(format!(
            "{TIMEOUT_VAR} must be a whole number of seconds, 1 or more (how long an age plugin may take; default {}), not {}",
            plugin::DEFAULT_DEADLINE.as_secs(),
            crate::core::redact::quote(&v.to_string_lossy())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn the_deadline_is_whole_seconds() {
        assert_eq!(deadline(None).unwrap(), plugin::DEFAULT_DEADLINE);
        assert_eq!(
            deadline(Some(OsStr::new(""))).unwrap(),
            plugin::DEFAULT_DEADLINE
        );
        assert_eq!(
            deadline(Some(OsStr::new("3"))).unwrap(),
            Duration::from_secs(3)
        );
        for bad in ["0", "-1", "1.5", "soon"] {
            assert!(deadline(Some(OsStr::new(bad))).is_err(), "{bad}");
        }
    }
}
