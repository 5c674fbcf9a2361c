//! The `seedsnap` binary: parse the command line, run the command, map failures to exit codes.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use seedsnap::cli::{Cli, Command};
use seedsnap::connection::{resolve, ProcessEnvironment};
use seedsnap::error::{describe_pg_error, exit_kind};
use seedsnap::report::Progress;
use seedsnap::{export, plan};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("seedsnap: error: {}", render_error(&error));
            ExitCode::from(exit_kind(&error).code() as u8)
        }
    }
}

/// The error and its causes on one line; server errors with their detail and hint.
fn render_error(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        if let Some(pg) = cause.downcast_ref::<postgres::Error>() {
            parts.push(describe_pg_error(pg));
            break;
        }
        parts.push(cause.to_string());
    }
    parts.join(": ")
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let env = ProcessEnvironment;
    match cli.command {
        Command::Export(args) => {
            let progress = Progress::new(!args.output.quiet);
            let source = resolve(&args.source.source, &env)?;
            let report = export::run(
                &source,
                &args.dir.dir,
                &args.selection.to_options(),
                &progress,
            )?;
            if args.output.json {
                print_json(&report)
            } else {
                print!("{}", export::render_summary(&report));
                Ok(())
            }
        }
        Command::Plan(args) => {
            let progress = Progress::new(!args.quiet);
            let source = resolve(&args.source.source, &env)?;
            let report = plan::run(&source, &args.selection.to_options(), &progress)?;
            match args.format {
                plan::PlanFormat::Text => print!("{}", plan::render_text(&report)),
                plan::PlanFormat::Json => print_json(&report)?,
                plan::PlanFormat::Dot => print!("{}", plan::render_dot(&report)),
            }
            Ok(())
        }
        Command::Import(_) | Command::Refresh(_) | Command::Verify(_) => {
            let _ = Path::new("");
            anyhow::bail!("not built yet")
        }
    }
}
