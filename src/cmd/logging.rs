//! Logs and progress on stderr.
//!
//! Levels: errors only with `-q`; debug with `-v` (trace with `-vv`); otherwise info when
//! stderr is a terminal and only warnings and errors when it is not (cron mails nothing
//! on a good night). `--log-format json` writes one JSON object per line for log
//! shippers. Progress (indicatif: a bar over the input's bytes while a log is read,
//! spinners for other long steps) appears only on a terminal, in text format; log lines
//! are printed above it.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogFormat;

static BARS: OnceLock<Option<MultiProgress>> = OnceLock::new();
static QUIET: OnceLock<bool> = OnceLock::new();
/// With `-vv`: when logging started; every line ends with the time since then and the
/// process's memory.
static STARTED: OnceLock<Option<std::time::Instant>> = OnceLock::new();

/// True with `-q`: nothing but errors, not even the summary on stdout.
pub fn is_quiet() -> bool {
    QUIET.get().copied().unwrap_or(false)
}

/// Installs the global subscriber; call once, first thing.
pub fn init(quiet: bool, verbose: u8, format: LogFormat) {
    let tty = std::io::stderr().is_terminal();
    let _ = QUIET.set(quiet);
    let _ = STARTED.set((!quiet && verbose >= 2).then(std::time::Instant::now));
    let level = match (quiet, verbose) {
        (true, _) => Level::ERROR,
        (false, 0) if tty => Level::INFO,
        (false, 0) => Level::WARN,
        (false, 1) => Level::DEBUG,
        (false, _) => Level::TRACE,
    };
    let bars = (tty && level >= Level::INFO && format == LogFormat::Text)
        .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
    let _ = BARS.set(bars.clone());
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(Stderr { bars });
    let _ = match format {
        LogFormat::Text => builder.event_format(Plain).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

/// A spinner for a step that may take a while; hidden unless progress is shown.
pub fn step(message: impl Into<String>) -> ProgressBar {
    let Some(Some(bars)) = BARS.get() else {
        return ProgressBar::hidden();
    };
    let pb = bars.add(ProgressBar::new_spinner());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        pb.set_style(style);
    }
    pb.set_message(message.into());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A bar over the bytes of an input being read (`total`): how much, how fast, the time
/// left; a spinner when the size is unknown; hidden unless progress is shown (a terminal,
/// text logs, not `-q`), so cron sees nothing. The bar follows
/// [`churnrisk::ingest::progress::bytes_read`] until it is finished or dropped.
pub fn reading(message: impl Into<String>, total: Option<u64>) -> ProgressBar {
    let Some(Some(bars)) = BARS.get() else {
        return ProgressBar::hidden();
    };
    let Some(total) = total.filter(|t| *t > 0) else {
        return step(message);
    };
    let pb = bars.add(ProgressBar::new(total));
    let template = "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} [{elapsed}]";
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(message.into());
    let start = churnrisk::ingest::progress::bytes_read();
    let weak = pb.downgrade();
    std::thread::spawn(move || {
        while let Some(pb) = weak.upgrade().filter(|pb| !pb.is_finished()) {
            let read = churnrisk::ingest::progress::bytes_read().saturating_sub(start);
            pb.set_position(read.min(total));
            drop(pb);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    pb
}

/// Writes each log record to stderr in one piece, above any progress bars.
#[derive(Clone)]
struct Stderr {
    bars: Option<MultiProgress>,
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Record;

    fn make_writer(&'a self) -> Record {
        Record {
            buf: Vec::with_capacity(256),
            bars: self.bars.clone(),
        }
    }
}

struct Record {
    buf: Vec<u8>,
    bars: Option<MultiProgress>,
}

impl Write for Record {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let emit = |buf: &[u8]| {
            let _ = std::io::stderr().lock().write_all(buf);
        };
        match &self.bars {
            Some(bars) => bars.suspend(|| emit(&self.buf)),
            None => emit(&self.buf),
        }
    }
}

/// `churnrisk: message`, with `warning:`/`error:`/`debug:` before the message below info.
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let prefix = match *event.metadata().level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            Level::INFO => "",
            Level::DEBUG => "debug: ",
            Level::TRACE => "trace: ",
        };
        write!(writer, "churnrisk: {prefix}")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        if let Some(Some(started)) = STARTED.get() {
            // With -vv each line also says when it was written and how much memory the
            // process holds, and its peak so far: where a run spends its time and reaches
            // its peak.
            write!(writer, " [at {:.2} s", started.elapsed().as_secs_f64())?;
            if let Some((now, peak)) = memory_mb() {
                write!(writer, ", rss {now} MB, peak {peak} MB")?;
            }
            write!(writer, "]")?;
        }
        writeln!(writer)
    }
}

/// Resident and peak resident memory of this process in MB (Linux; `None` elsewhere).
fn memory_mb() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
