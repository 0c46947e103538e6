//! age plugins: recipients `age1NAME1…` and identities `AGE-PLUGIN-NAME-1…`
//! served by an `age-plugin-NAME` binary on PATH (age-plugin-yubikey,
//! age-plugin-tpm, …), through the `age` crate's plugin client
//! (<https://c2sp.org/age-plugin>), every call under a deadline.
//!
//! The crate starts the plugin as a child process and speaks the plugin
//! protocol with it over its stdin and stdout; the stanzas a plugin returns
//! are written into the header as they are (FORMAT.md §6.1). custody adds
//! what the crate leaves to its caller:
//!
//! - **Who answers the plugin.** A plugin may show a message ("touch your
//!   YubiKey") or ask for a PIN, a public value or a confirmation. Those go
//!   to the [`PluginHost`] the command line registered with [`set_host`];
//!   this module never touches the terminal. Without a host, messages are
//!   dropped and every question is refused.
//! - **A deadline.** Each wrap or unwrap runs on a thread of its own, and the
//!   caller waits at most [`PluginHost::deadline`] for it (time spent waiting
//!   for the user to answer a prompt does not count). Past it, the host is
//!   asked to stop the plugin's process ([`PluginHost::stop`]: the crate
//!   keeps no handle on it) and the call fails with
//!   [`PluginFailure::TimedOut`]; this process does not start that plugin
//!   again, so a loop over many files fails once, not once per file.
//! - **One-line errors.** The crate's messages (several lines, with advice
//!   for plugin developers) become a [`PluginFailure`] naming the plugin.

use std::collections::HashSet;
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use age::secrecy::SecretString;
use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;

/// How long a plugin call may take when the host sets no other deadline:
/// generous, since hardware may wait for a touch or a PIN.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);

/// How often a caller looks at the clock while a plugin works.
const TICK: Duration = Duration::from_millis(50);

/// How long a caller waits, after stopping a plugin that timed out, for the
/// crate's side of the call to end (it then removes its working folder).
const GRACE: Duration = Duration::from_secs(1);

/// The longest plugin message kept in an error (characters).
const MAX_MESSAGE: usize = 300;

/// Why a question from a plugin got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unanswered {
    /// No one can answer: stdin is not a terminal.
    NoTerminal,
    /// The user gave no answer (end of input, or no valid answer).
    Declined,
}

/// Who shows a plugin's messages and answers its questions, and how long a
/// plugin call may take: the command line (src/cli/plugin_host.rs).
/// `plugin` is always the plugin's binary name (`age-plugin-NAME`).
pub trait PluginHost: Send + Sync {
    /// Shows a message from `plugin` (such as "touch your YubiKey").
    fn message(&self, plugin: &str, text: &str);
    /// Asks for a yes/no confirmation; `no` may be absent.
    fn confirm(
        &self,
        plugin: &str,
        message: &str,
        yes: &str,
        no: Option<&str>,
    ) -> Result<bool, Unanswered>;
    /// Asks for a value that is not secret.
    fn public(&self, plugin: &str, description: &str) -> Result<String, Unanswered>;
    /// Asks for a secret (a PIN, a passphrase), without echo.
    fn secret(&self, plugin: &str, description: &str) -> Result<SecretString, Unanswered>;
    /// How long one plugin call may take, prompts excluded.
    fn deadline(&self) -> Duration;
    /// Stops the processes of `plugin` this process started, after one missed
    /// its deadline; returns how many were stopped.
    fn stop(&self, plugin: &str) -> usize;
    /// After a call: collects the processes of `plugin` that have ended (the
    /// crate does not wait for them, so each would linger until exit).
    fn reap(&self, plugin: &str);
}

/// The host when none was registered: shows nothing, answers nothing.
struct NoHost;

impl PluginHost for NoHost {
    fn message(&self, _: &str, _: &str) {}
    fn confirm(&self, _: &str, _: &str, _: &str, _: Option<&str>) -> Result<bool, Unanswered> {
        Err(Unanswered::NoTerminal)
    }
    fn public(&self, _: &str, _: &str) -> Result<String, Unanswered> {
        Err(Unanswered::NoTerminal)
    }
    fn secret(&self, _: &str, _: &str) -> Result<SecretString, Unanswered> {
        Err(Unanswered::NoTerminal)
    }
    fn deadline(&self) -> Duration {
        DEFAULT_DEADLINE
    }
    fn stop(&self, _: &str) -> usize {
        0
    }
    fn reap(&self, _: &str) {}
}

static HOST: RwLock<Option<Arc<dyn PluginHost>>> = RwLock::new(None);

/// Plugins that timed out or could not ask their question, by binary name:
/// not started again by this process.
static BROKEN: Mutex<Vec<PluginFailure>> = Mutex::new(Vec::new());

/// Registers the host every later plugin call uses (the command line does,
/// once, before it runs a command).
pub fn set_host(host: Arc<dyn PluginHost>) {
    *HOST.write().unwrap_or_else(PoisonError::into_inner) = Some(host);
}

fn host() -> Arc<dyn PluginHost> {
    match &*HOST.read().unwrap_or_else(PoisonError::into_inner) {
        Some(h) => h.clone(),
        None => Arc::new(NoHost),
    }
}

/// Why a plugin could not wrap or unwrap a file key: one line naming it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PluginFailure {
    #[error("{binary} not found on PATH")]
    NotFound { binary: String },
    #[error("{binary} failed: {message}")]
    Failed { binary: String, message: String },
    #[error("{binary} stopped before it answered (it exited or crashed)")]
    Died { binary: String },
    #[error("{binary} did not answer within {secs} s")]
    TimedOut { binary: String, secs: u64 },
    #[error("{binary} asks for {what}, and stdin is not a terminal to answer on")]
    NeedsTerminal { binary: String, what: String },
}

impl PluginFailure {
    /// The plugin's binary name.
    pub fn binary(&self) -> &str {
        match self {
            PluginFailure::NotFound { binary }
            | PluginFailure::Failed { binary, .. }
            | PluginFailure::Died { binary }
            | PluginFailure::TimedOut { binary, .. }
            | PluginFailure::NeedsTerminal { binary, .. } => binary,
        }
    }

    /// What to do next, for the one-line error.
    pub fn next_step(&self) -> String {
        // Commands stop at the first plugin failure: what they reported
        // done before it (an ingest's earlier batches) is stored, the rest not.
        const AGAIN: &str =
            "then run the same command again (only what was reported done was stored)";
        match self {
            PluginFailure::NotFound { .. } => format!("install it, or add the folder holding it to PATH (age1NAME1… recipients and AGE-PLUGIN-… identities need their plugin), {AGAIN}"),
            PluginFailure::Failed { .. } | PluginFailure::Died { .. } => {
                format!("check the plugin and its device (plugged in? the right one?), {AGAIN}")
            }
            PluginFailure::TimedOut { .. } => format!("check the device (plugged in? waiting for a touch? CUSTODY_PLUGIN_TIMEOUT=SECONDS allows longer), {AGAIN}"),
            PluginFailure::NeedsTerminal { .. } => {
                format!("run the command in a terminal, where you can answer it ({AGAIN})")
            }
        }
    }

    /// Into the crate's error types, to cross its traits (taken back out by
    /// [`in_encrypt`] and [`in_decrypt`]).
    fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}

/// The [`PluginFailure`] inside an error a plugin recipient returned.
pub fn in_encrypt(e: &age::EncryptError) -> Option<PluginFailure> {
    match e {
        age::EncryptError::Io(io) => in_io(io),
        _ => None,
    }
}

/// The [`PluginFailure`] inside an error a plugin identity returned.
pub fn in_decrypt(e: &age::DecryptError) -> Option<PluginFailure> {
    match e {
        age::DecryptError::Io(io) => in_io(io),
        _ => None,
    }
}

fn in_io(e: &io::Error) -> Option<PluginFailure> {
    e.get_ref()?.downcast_ref::<PluginFailure>().cloned()
}

/// A plugin recipient, `age1NAME1…` (FORMAT.md §5.3: its canonical text is
/// the lowercase Bech32 string). Wrapping a file key runs the plugin's
/// `recipient-v1` state machine for this one recipient.
#[derive(Clone)]
pub struct PluginRecipient {
    inner: age::plugin::Recipient,
    canonical: String,
}

impl PluginRecipient {
    /// Parses `age1NAME1…` in either letter case (Bech32 allows all-upper);
    /// `None` if it is not one. Native `age1…` and `age1pq1…` recipients are
    /// parsed before this is tried (their prefixes are plugin-shaped).
    pub fn parse(s: &str) -> Option<PluginRecipient> {
        let canonical = s.trim().to_ascii_lowercase();
        let inner = canonical.parse::<age::plugin::Recipient>().ok()?;
        Some(PluginRecipient { inner, canonical })
    }

    /// The lowercase Bech32 text.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The plugin's binary name, `age-plugin-NAME`.
    pub fn binary(&self) -> String {
        binary_name(self.inner.plugin())
    }

    fn wrap(&self, file_key: &FileKey) -> Result<(Vec<Stanza>, HashSet<String>), PluginFailure> {
        let binary = self.binary();
        let call = Call::new(&binary)?;
        let plugin = age::plugin::RecipientPluginV1::new(
            self.inner.plugin(),
            std::slice::from_ref(&self.inner),
            &[],
            Prompts(call.clone()),
        )
        .map_err(|e| resolve_failure(&binary, &e))?;
        let key = FileKey::init_with_mut(|k| k.copy_from_slice(file_key.expose_secret()));
        call.run(move || {
            age::Recipient::wrap_file_key(&plugin, &key).map_err(|e| encrypt_failure(&binary, e))
        })
    }
}

impl age::Recipient for PluginRecipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        self.wrap(file_key)
            .map_err(|f| age::EncryptError::Io(f.into_io()))
    }
}

/// The identities of one plugin (`AGE-PLUGIN-NAME-1…` lines of identity
/// files): unwrapping runs the plugin's `identity-v1` state machine with all
/// of them and every stanza of the header.
pub struct PluginIdentity {
    name: String,
    identities: Vec<age::plugin::Identity>,
}

impl PluginIdentity {
    /// Is this line a plugin identity (`AGE-PLUGIN-NAME-1…`)?
    pub fn parse_line(line: &str) -> Option<age::plugin::Identity> {
        line.parse::<age::plugin::Identity>().ok()
    }

    /// Groups identities by plugin, each merged into `into` (one per plugin),
    /// after checking that each plugin is on PATH.
    pub fn add(
        into: &mut Vec<PluginIdentity>,
        ids: Vec<age::plugin::Identity>,
    ) -> Result<(), PluginFailure> {
        for id in ids {
            let name = id.plugin().to_string();
            age::plugin::IdentityPluginV1::new(&name, &[], age::NoCallbacks)
                .map_err(|e| resolve_failure(&binary_name(&name), &e))?;
            match into.iter_mut().find(|p| p.name == name) {
                Some(p) => p.identities.push(id),
                None => into.push(PluginIdentity {
                    name,
                    identities: vec![id],
                }),
            }
        }
        Ok(())
    }

    /// Moves `more`'s identities into `into`, one entry per plugin.
    pub fn merge(into: &mut Vec<PluginIdentity>, more: Vec<PluginIdentity>) {
        for p in more {
            match into.iter_mut().find(|q| q.name == p.name) {
                Some(q) => q.identities.extend(p.identities),
                None => into.push(p),
            }
        }
    }

    fn unwrap(&self, stanzas: &[Stanza]) -> Result<Option<FileKey>, PluginFailure> {
        let binary = binary_name(&self.name);
        let call = Call::new(&binary)?;
        let plugin =
            age::plugin::IdentityPluginV1::new(&self.name, &self.identities, Prompts(call.clone()))
                .map_err(|e| resolve_failure(&binary, &e))?;
        let owned: Vec<Stanza> = stanzas
            .iter()
            .map(|s| Stanza {
                tag: s.tag.clone(),
                args: s.args.clone(),
                body: s.body.clone(),
            })
            .collect();
        call.run(move || {
            age::Identity::unwrap_stanzas(&plugin, &owned)
                .transpose()
                .map_err(|e| decrypt_failure(&binary, e))
        })
    }
}

impl age::Identity for PluginIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        age::Identity::unwrap_stanzas(self, std::slice::from_ref(stanza))
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        self.unwrap(stanzas)
            .map_err(|f| age::DecryptError::Io(f.into_io()))
            .transpose()
    }
}

fn binary_name(plugin: &str) -> String {
    format!("age-plugin-{plugin}")
}

/// One plugin call: the host it asks, its clock (paused while the user is
/// asked something), and the question it could not ask, if any.
struct Call {
    binary: String,
    host: Arc<dyn PluginHost>,
    clock: Mutex<Clock>,
    refused: Mutex<Option<String>>,
}

struct Clock {
    start: Instant,
    asking_since: Option<Instant>,
    asked: Duration,
}

/// Why `binary` is not started again, if it timed out or could not ask.
fn broken(binary: &str) -> Option<PluginFailure> {
    BROKEN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|f| f.binary() == binary)
        .cloned()
}

impl Call {
    /// A new call to `binary`, refused at once if it timed out before.
    fn new(binary: &str) -> Result<Arc<Call>, PluginFailure> {
        if let Some(f) = broken(binary) {
            return Err(f);
        }
        Ok(Arc::new(Call {
            binary: binary.to_string(),
            host: host(),
            clock: Mutex::new(Clock {
                start: Instant::now(),
                asking_since: None,
                asked: Duration::ZERO,
            }),
            refused: Mutex::new(None),
        }))
    }

    /// Time the plugin has worked, prompts excluded; `None` while the user
    /// is being asked something.
    fn worked(&self) -> Option<Duration> {
        let c = self.clock.lock().unwrap_or_else(PoisonError::into_inner);
        match c.asking_since {
            Some(_) => None,
            None => Some(c.start.elapsed().saturating_sub(c.asked)),
        }
    }

    /// Asks the user through the host, the clock paused meanwhile; a
    /// question refused for want of a terminal is remembered for the error.
    fn ask<T>(
        &self,
        what: &str,
        q: impl FnOnce(&dyn PluginHost, &str) -> Result<T, Unanswered>,
    ) -> Option<T> {
        let started = Instant::now();
        self.clock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .asking_since = Some(started);
        let r = q(self.host.as_ref(), &self.binary);
        {
            let mut c = self.clock.lock().unwrap_or_else(PoisonError::into_inner);
            c.asked += started.elapsed();
            c.asking_since = None;
        }
        match r {
            Ok(v) => Some(v),
            Err(Unanswered::NoTerminal) => {
                *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(one_line(what));
                None
            }
            Err(Unanswered::Declined) => None,
        }
    }

    /// Runs `work` (the crate's call) on a thread of its own and waits for
    /// it, at most the host's deadline of plugin time. Past it: remembers the
    /// plugin as broken, has the host stop its process, and fails.
    fn run<T: Send + 'static>(
        self: Arc<Self>,
        work: impl FnOnce() -> Result<T, PluginFailure> + Send + 'static,
    ) -> Result<T, PluginFailure> {
        let limit = self.host.deadline();
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(self.binary.clone())
            .spawn(move || {
                let _ = tx.send(work());
            })
            .map_err(|e| PluginFailure::Failed {
                binary: self.binary.clone(),
                message: format!("cannot start a thread for it: {e}"),
            })?;
        loop {
            match rx.recv_timeout(TICK) {
                // A call that failed because another one timed out (and
                // its process was stopped) says so.
                Ok(r) => {
                    self.host.reap(&self.binary);
                    return r
                        .map_err(|f| self.refusal().or_else(|| broken(&self.binary)).unwrap_or(f));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PluginFailure::Failed {
                        binary: self.binary.clone(),
                        message: "the call to it ended without an answer".into(),
                    })
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.worked().is_some_and(|w| w >= limit) {
                        let f = PluginFailure::TimedOut {
                            binary: self.binary.clone(),
                            secs: limit.as_secs(),
                        };
                        self.give_up(&f);
                        let _ = rx.recv_timeout(GRACE);
                        return Err(f);
                    }
                }
            }
        }
    }

    /// After the deadline: no further call to this plugin, and its process stopped.
    fn give_up(&self, f: &PluginFailure) {
        BROKEN
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(f.clone());
        self.host.stop(&self.binary);
    }

    /// The failure to report when the plugin asked a question no one could
    /// answer (it then fails in its own words, which say less).
    fn refusal(&self) -> Option<PluginFailure> {
        let what = self
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let f = PluginFailure::NeedsTerminal {
            binary: self.binary.clone(),
            what,
        };
        BROKEN
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(f.clone());
        Some(f)
    }
}

/// The crate's callbacks for one call, handed to the host.
#[derive(Clone)]
struct Prompts(Arc<Call>);

impl age::Callbacks for Prompts {
    fn display_message(&self, message: &str) {
        self.0.host.message(&self.0.binary, message);
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        self.0.ask(&format!("a confirmation ({message})"), |h, b| {
            h.confirm(b, message, yes_string, no_string)
        })
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        self.0.ask(&format!("a value ({description})"), |h, b| {
            h.public(b, description)
        })
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        self.0.ask(&format!("a secret ({description})"), |h, b| {
            h.secret(b, description)
        })
    }
}

/// A failure to find the plugin.
fn resolve_failure(binary: &str, e: &age::plugin::ResolveError) -> PluginFailure {
    match e {
        age::plugin::ResolveError::MissingPlugin { .. } => PluginFailure::NotFound {
            binary: binary.to_string(),
        },
        other => failed(binary, &other.to_string()),
    }
}

/// The crate's error from wrapping, as one line naming the plugin.
fn encrypt_failure(binary: &str, e: age::EncryptError) -> PluginFailure {
    match e {
        age::EncryptError::Plugin(errors) => {
            let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
            failed(binary, &all.join("; "))
        }
        age::EncryptError::PluginResolve(r) => resolve_failure(binary, &r),
        age::EncryptError::Io(io) => io_failure(binary, &io),
        other => failed(binary, &other.to_string()),
    }
}

/// The crate's error from unwrapping, as one line naming the plugin.
fn decrypt_failure(binary: &str, e: age::DecryptError) -> PluginFailure {
    match e {
        age::DecryptError::Plugin(errors) => {
            let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
            failed(binary, &all.join("; "))
        }
        age::DecryptError::PluginResolve(r) => resolve_failure(binary, &r),
        age::DecryptError::Io(io) => io_failure(binary, &io),
        other => failed(binary, &other.to_string()),
    }
}

/// A broken pipe or an end of input while talking to the plugin: it died
/// (the crate reports that as `ConnectionAborted`).
fn io_failure(binary: &str, e: &io::Error) -> PluginFailure {
    match e.kind() {
        io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => PluginFailure::Died {
            binary: binary.to_string(),
        },
        _ => failed(binary, &e.to_string()),
    }
}

/// `Failed`, with the crate's quoting of the binary name dropped from the
/// plugin's message, which is made one bounded line.
fn failed(binary: &str, message: &str) -> PluginFailure {
    let message = one_line(message).replace(&format!("'{binary}' "), "");
    PluginFailure::Failed {
        binary: binary.to_string(),
        message,
    }
}

/// Text from a plugin or the crate as one line of at most [`MAX_MESSAGE`]
/// characters, without the isolation marks (U+2068, U+2069) the crate's
/// localised messages put around each value.
fn one_line(s: &str) -> String {
    let bare: String = s
        .chars()
        .filter(|c| !matches!(c, '\u{2068}' | '\u{2069}'))
        .collect();
    let joined = bare.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_parse_to_lowercase_and_name_their_plugin() {
        let r = "age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t";
        let p = PluginRecipient::parse(&format!(" {} ", r.to_ascii_uppercase())).unwrap();
        assert_eq!(p.canonical(), r);
        assert_eq!(p.binary(), "age-plugin-yubikey");
        assert!(PluginRecipient::parse("age1nope").is_none());
        assert!(PluginRecipient::parse("AGE-PLUGIN-YUBIKEY-1QQQQ").is_none());
    }

    #[test]
    fn a_missing_plugin_is_named() {
        // Not valid Bech32: not a plugin identity at all.
        assert!(PluginIdentity::parse_line("AGE-PLUGIN-YUBIKEY-1QQQQQQQQ").is_none());
        let hrp = bech32::Hrp::parse("age-plugin-custodynosuchplugin-").unwrap();
        let line = bech32::encode::<bech32::Bech32>(hrp, &[1, 2, 3])
            .unwrap()
            .to_ascii_uppercase();
        let parsed = PluginIdentity::parse_line(&line).unwrap();
        let mut all = Vec::new();
        let e = PluginIdentity::add(&mut all, vec![parsed]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "age-plugin-custodynosuchplugin not found on PATH"
        );
    }

    #[test]
    fn plugin_messages_become_one_bounded_line() {
        let f = failed(
            "age-plugin-x",
            "'\u{2068}age-plugin-x\u{2069}' couldn't use an identity:\n  no\tcard",
        );
        assert_eq!(
            f.to_string(),
            "age-plugin-x failed: couldn't use an identity: no card"
        );
        let long = "x".repeat(1000);
        assert_eq!(one_line(&long).chars().count(), MAX_MESSAGE + 1);
    }

    #[test]
    fn failures_cross_the_crate_and_come_back() {
        let f = PluginFailure::TimedOut {
            binary: "age-plugin-x".into(),
            secs: 3,
        };
        let e = age::EncryptError::Io(f.clone().into_io());
        assert_eq!(in_encrypt(&e), Some(f.clone()));
        let d = age::DecryptError::Io(f.clone().into_io());
        assert_eq!(in_decrypt(&d), Some(f));
        assert_eq!(in_decrypt(&age::DecryptError::NoMatchingKeys), None);
    }
}
