//! The `dunwell` binary: parses the command line, sets up logging, and turns errors into a
//! message and a non-zero exit code.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = dunwell::cli::Cli::parse();
    init_logging(&cli);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = dunwell::cli::run(cli, &mut out).and_then(|()| out.flush().map_err(Into::into));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Line breaks are the message's own (a list of problems); everything else a
            // terminal would act on is shown escaped, whoever wrote it.
            eprintln!("error: {}", dunwell::text::escape_keep_lines(&dunwell::cli::describe(&e)));
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (journald under systemd). The daemon writes one JSON object per line
/// when dunwell.toml says `log_format = "json"`, for log shippers; everything else writes
/// lines for people, coloured only at a terminal (a log file or a pipe gets no escape codes).
fn init_logging(cli: &dunwell::cli::Cli) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DUNWELL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = matches!(cli.command, dunwell::cli::Command::Run(_))
        && dunwell::config::Config::discover(cli.config.as_deref())
            .is_ok_and(|c| c.log_format == dunwell::config::LogFormat::Json);
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(io::stderr).with_target(false);
    if json {
        builder.json().flatten_event(true).with_current_span(false).init();
    } else {
        builder.with_ansi(io::stderr().is_terminal()).without_time().init();
    }
}

/// `dunwell plan | head` closes the pipe early; that is not an error worth reporting.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}
