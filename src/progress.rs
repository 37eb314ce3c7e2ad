//! Progress bars for long work (`scan --history`, `log`, `rotate` with hooks, `import`,
//! `openbao push`): on stderr, only for a person watching.
//!
//! A bar is drawn only when stderr is a terminal and the command is not `-q`; otherwise
//! every call here does nothing, so a pipe, a log file or CI gets exactly the output it
//! got before. A bar is cleared when it finishes (or is dropped, on an error), so what
//! stays on the screen is the command's own output. Nothing a bar shows is a secret:
//! messages are counts, stage names and secret paths at most.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar on the screen now, so that anything else written to the terminal (a status
/// line, a warning, a passphrase prompt) can take it off the screen first.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `f` with the current bar (if any) off the screen. Everything agevault writes to
/// stderr or asks on the terminal goes through here, so a line never lands inside a bar.
pub fn suspend_active<R>(f: impl FnOnce() -> R) -> R {
    let bar = ACTIVE.lock().ok().and_then(|a| a.clone());
    suspended(bar.as_ref(), f)
}

thread_local! {
    /// Inside a suspension already: indicatif's suspend is not reentrant (it would wait
    /// for its own lock), and the bar is off the screen anyway.
    static SUSPENDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn suspended<R>(bar: Option<&ProgressBar>, f: impl FnOnce() -> R) -> R {
    match bar {
        Some(bar) if !SUSPENDED.with(std::cell::Cell::get) => bar.suspend(|| {
            SUSPENDED.with(|s| s.set(true));
            let result = f();
            SUSPENDED.with(|s| s.set(false));
            result
        }),
        _ => f(),
    }
}

/// One progress display: a bar with a known length, or a spinner for stages whose
/// length is unknown. Hidden when nobody is watching.
pub struct Progress {
    bar: Option<ProgressBar>,
}

/// Whether a bar may be drawn: stderr is a terminal that can redraw a line (`TERM` set,
/// not `dumb`) and not `-q`.
pub fn visible(quiet: bool) -> bool {
    !quiet && stderr_is_capable_terminal()
}

/// Whether stderr is a terminal that understands escape codes: `TERM` is set and not
/// `dumb` (git and the `console` crate decide the same way). Colour uses the same test.
pub fn stderr_is_capable_terminal() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_some_and(|t| !t.is_empty() && t != "dumb")
}

impl Progress {
    /// A bar of `len` steps, labelled `what` ("scanning history").
    pub fn bar(quiet: bool, len: u64, what: &str) -> Progress {
        Progress::new(quiet, Some(len), what)
    }

    /// A spinner labelled `what`, for work counted in stages rather than steps.
    pub fn spinner(quiet: bool, what: &str) -> Progress {
        Progress::new(quiet, None, what)
    }

    /// A progress display that never draws anything.
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }

    fn new(quiet: bool, len: Option<u64>, what: &str) -> Progress {
        if !visible(quiet) {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        bar.set_style(if len.is_some() {
            bar_style()
        } else {
            spinner_style()
        });
        bar.set_prefix(what.to_owned());
        // Redrawn on its own, so the clock (and a spinner) moves during one long step.
        bar.enable_steady_tick(Duration::from_millis(150));
        if let Ok(mut active) = ACTIVE.lock() {
            *active = Some(bar.clone());
        }
        Progress { bar: Some(bar) }
    }

    /// Starts another phase: a new label and length, from zero (a spinner becomes a bar).
    pub fn restart(&self, len: u64, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(0);
            bar.set_message(String::new());
            bar.set_prefix(what.to_owned());
            bar.set_length(len);
            bar.set_style(bar_style());
            // Each phase is shown at least once, however quickly the previous one went.
            bar.force_draw();
        }
    }

    /// One more step done.
    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// The text after the counter (a stage, or the item being worked on). Untrusted
    /// names in it must be escaped by the caller (`terminal::sanitize`).
    pub fn message(&self, text: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.into());
        }
    }

    /// Runs `f` with the bar off the screen: for output of our own or of a child
    /// (a hook), and for anything that may prompt on the terminal.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        suspended(self.bar.as_ref(), f)
    }

    /// Clears the bar.
    pub fn finish(self) {}
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg} ({elapsed})")
        .map_or_else(|_| ProgressStyle::default_bar(), |s| s.progress_chars("=> "))
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} {wide_msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            if let Ok(mut active) = ACTIVE.lock() {
                *active = None;
            }
            bar.finish_and_clear();
        }
    }
}
