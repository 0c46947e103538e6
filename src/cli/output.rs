//! The only module that prints: stdout for results (text or JSON), stderr for
//! progress, warnings and errors. Colours only on a terminal and never when
//! `NO_COLOR` is set; progress bars only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use age::secrecy::SecretString;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::core::plugin::Unanswered;

/// A colour for text on a terminal.
#[derive(Clone, Copy)]
pub enum Paint {
    Ok,
    Bad,
    Warn,
    Dim,
    Bold,
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Paint::Ok => "32",
            Paint::Bad => "31",
            Paint::Warn => "33",
            Paint::Dim => "2",
            Paint::Bold => "1",
        }
    }
}

/// Output settings of one invocation.
pub struct Out {
    pub json: bool,
    quiet: bool,
    color_out: bool,
    color_err: bool,
    err_tty: bool,
    out_tty: bool,
    /// Set once anything went to stdout.
    printed: std::cell::Cell<bool>,
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Out {
    pub fn new(json: bool, quiet: bool) -> Out {
        Out {
            json,
            quiet,
            color_out: !no_color() && std::io::stdout().is_terminal(),
            color_err: !no_color() && std::io::stderr().is_terminal(),
            err_tty: std::io::stderr().is_terminal(),
            out_tty: std::io::stdout().is_terminal(),
            printed: std::cell::Cell::new(false),
        }
    }

    /// Has anything been written to stdout?
    pub fn printed(&self) -> bool {
        self.printed.get()
    }

    /// Text on stdout (a broken pipe is not an error: the write is dropped).
    pub fn line(&self, s: &str) {
        self.printed.set(true);
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{s}");
    }

    /// A line of text made from data (names, paths, notes, reasons…), on
    /// stdout: every control and direction character is escaped
    /// ([`crate::core::redact::shown`]), so a name is never a terminal
    /// command. A line with colours ([`Out::paint`]) goes through
    /// [`Out::line`] and escapes its data parts with `shown` itself.
    pub fn data_line(&self, s: &str) {
        self.line(&crate::core::redact::shown(s));
    }

    /// Coloured text for stdout when it is a terminal.
    pub fn paint(&self, s: &str, p: Paint) -> String {
        if self.color_out {
            format!("\x1b[{}m{s}\x1b[0m", p.code())
        } else {
            s.to_string()
        }
    }

    /// Bytes on stdout, unchanged.
    pub fn raw(&self, b: &[u8]) {
        self.printed.set(true);
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(b);
        let _ = o.flush();
    }

    /// A signed artifact on stdout (a checkpoint, a tlog-proof, a
    /// consistency proof, a cosignature line): its exact bytes when stdout
    /// is a file or a pipe, where the bytes are the product and a signature
    /// covers them; on a terminal, each line through
    /// [`crate::core::redact::shown`], as any name is shown (FORMAT.md
    /// §1.2): a key name or origin may hold direction controls.
    pub fn artifact(&self, b: &[u8]) {
        if self.out_tty {
            self.raw(shown_lines(b).as_bytes());
        } else {
            self.raw(b);
        }
    }

    /// One JSON value on one line of stdout.
    pub fn json<T: Serialize>(&self, v: &T) {
        match serde_json::to_string(v) {
            Ok(s) => self.line(&s),
            Err(e) => self.error(&format!("could not encode JSON output: {e}")),
        }
    }

    fn err_line(&self, prefix: &str, p: Paint, msg: &str) {
        let mut e = std::io::stderr().lock();
        let prefix = if self.color_err {
            format!("\x1b[{}m{prefix}\x1b[0m", p.code())
        } else {
            prefix.to_string()
        };
        // The last line of defence: no secret key in any message, and no
        // control or direction character from a name it quotes (messages
        // are one line).
        let msg = crate::core::redact::redact_message(msg);
        let msg = crate::core::redact::shown(&msg);
        let _ = writeln!(e, "{prefix}{msg}");
    }

    /// A note for the human on stderr (kept out of stdout so JSON stays clean).
    pub fn info(&self, msg: &str) {
        if !self.quiet {
            self.err_line("", Paint::Dim, msg);
        }
    }

    pub fn warn(&self, msg: &str) {
        self.err_line("warning: ", Paint::Warn, msg);
    }

    pub fn error(&self, msg: &str) {
        self.err_line("error: ", Paint::Bad, msg);
    }

    /// A progress bar on stderr, hidden unless stderr is a terminal.
    pub fn progress(&self, total: u64, bytes: bool, msg: &str) -> ProgressBar {
        if self.quiet || !self.err_tty {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let tpl = if bytes {
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {prefix}"
        } else {
            "{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}"
        };
        if let Ok(style) = ProgressStyle::with_template(tpl) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(msg.to_string());
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    }
}

/// `b` as text for a terminal: every line (split at line feeds, which are
/// kept) through [`crate::core::redact::shown`]; bytes that are not UTF-8
/// as U+FFFD.
fn shown_lines(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(b);
    let mut out = String::with_capacity(text.len());
    for (i, l) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&crate::core::redact::shown(l));
    }
    out
}

/// Asks for a passphrase on the terminal without echo; `None` without a terminal.
pub fn prompt_passphrase(prompt: &str) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    rpassword::prompt_password(prompt).ok()
}

/// The longest plugin message or question shown (characters).
const MAX_PLUGIN_TEXT: usize = 500;

/// One question from a plugin on the terminal at a time.
static ASKING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What age plugins show and ask (src/core/plugin.rs, src/cli/plugin_host.rs):
/// on stderr, whatever `--quiet` says (a plugin asking for a touch must be
/// seen); answers are read from the terminal, and only when stdin is one.
pub struct PluginTerminal;

impl PluginTerminal {
    /// A plugin's message on one line of stderr: `age-plugin-NAME: text`.
    pub fn message(&self, plugin: &str, text: &str) {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{}", plugin_text(plugin, text));
    }

    /// A line typed in answer to `prompt` (not secret, so echoed).
    pub fn line(&self, plugin: &str, prompt: &str) -> Result<String, Unanswered> {
        if !std::io::stdin().is_terminal() {
            return Err(Unanswered::NoTerminal);
        }
        let _one = ASKING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "{}: ", plugin_text(plugin, prompt));
            let _ = e.flush();
        }
        let mut answer = String::new();
        match std::io::stdin().read_line(&mut answer) {
            Ok(0) | Err(_) => Err(Unanswered::Declined),
            Ok(_) => Ok(answer.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// A secret (a PIN) typed without echo in answer to `prompt`.
    pub fn secret(&self, plugin: &str, prompt: &str) -> Result<SecretString, Unanswered> {
        if !std::io::stdin().is_terminal() {
            return Err(Unanswered::NoTerminal);
        }
        let _one = ASKING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rpassword::prompt_password(format!("{}: ", plugin_text(plugin, prompt)))
            .map(SecretString::from)
            .map_err(|_| Unanswered::Declined)
    }

    /// A yes/no answer to `message`: the `yes` or `no` word (or its first
    /// letter), asked up to three times.
    pub fn confirm(
        &self,
        plugin: &str,
        message: &str,
        yes: &str,
        no: Option<&str>,
    ) -> Result<bool, Unanswered> {
        let no = no.unwrap_or("no");
        let prompt = format!("{message} [{yes}/{no}]");
        let is = |a: &str, w: &str| {
            a.eq_ignore_ascii_case(w)
                || (a.chars().count() == 1 && w.chars().next().is_some_and(|c| a.starts_with(c)))
        };
        for _ in 0..3 {
            let a = self.line(plugin, &prompt)?;
            let a = a.trim();
            if is(a, yes) {
                return Ok(true);
            }
            if is(a, no) {
                return Ok(false);
            }
        }
        Err(Unanswered::Declined)
    }
}

/// `age-plugin-NAME: text`, one bounded line with no secret key and no
/// control or direction character (the text is the plugin's).
fn plugin_text(plugin: &str, text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = joined.chars().take(MAX_PLUGIN_TEXT).collect();
    let msg = format!("{plugin}: {cut}");
    let msg = crate::core::redact::redact_message(&msg);
    crate::core::redact::shown(&msg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::shown_lines;

    #[test]
    fn artifacts_on_a_terminal_keep_their_lines_and_escape_the_rest() {
        let note =
            "evil\u{202e}gro.elpmaxe/log\n42\nroot\n\n\u{2014} evil\u{202e}gro.elpmaxe/log AAAA\n";
        assert_eq!(
            shown_lines(note.as_bytes()),
            "evil\\u{202e}gro.elpmaxe/log\n42\nroot\n\n\u{2014} evil\\u{202e}gro.elpmaxe/log AAAA\n"
        );
        assert_eq!(shown_lines(b"a\x1b[2Jb\r\n"), "a\\u{1b}[2Jb\\u{d}\n");
        assert_eq!(shown_lines(b"plain\n"), "plain\n");
    }
}
