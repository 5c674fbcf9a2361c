//! The `seedsnap` binary: parse the command line, run the command, map failures to exit codes.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use seedsnap::cli::{Cli, Command};
use seedsnap::connection::Endpoint;
use seedsnap::connection::{resolve, ProcessEnvironment};
use seedsnap::error::{describe_pg_error, exit_kind};
use seedsnap::import::ImportOptions;
use seedsnap::report::Progress;
use seedsnap::safety;
use seedsnap::{export, import, plan, verify};

fn main() -> ExitCode {
    // Like other Unix tools: a closed pipe (`seedsnap man | head`) ends the process quietly.
    // SAFETY: restoring the default disposition of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
                plan::PlanFormat::Mermaid => print!("{}", plan::render_mermaid(&report)),
            }
            Ok(())
        }
        Command::Import(args) => {
            let progress = Progress::new(!args.output.quiet);
            let target = resolve(&args.target.target, &env)?;
            let report = import::run(&target, &args.dir.dir, &args.target.to_options(), &progress)?;
            if args.output.json {
                print_json(&report)
            } else {
                print!("{}", import::render_summary(&report));
                Ok(())
            }
        }
        Command::Refresh(args) => {
            let progress = Progress::new(!args.output.quiet);
            let source = resolve(&args.source.source, &env)?;
            let target = resolve(&args.target.target, &env)?;
            let options = args.target.to_options();
            refresh_preflight(&source, &target, &options, &progress)?;
            let exported = export::run(
                &source,
                &args.dir.dir,
                &args.selection.to_options(),
                &progress,
            )?;
            if !args.output.json {
                print!("{}", export::render_summary(&exported));
            }
            let imported = import::run(&target, &args.dir.dir, &options, &progress)?;
            if args.output.json {
                print_json(&serde_json::json!({ "export": exported, "import": imported }))
            } else {
                print!("{}", import::render_summary(&imported));
                Ok(())
            }
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "seedsnap", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Verify(args) => {
            let _progress = Progress::new(!args.output.quiet);
            let report = verify::run(&args.dir.dir)?;
            if args.output.json {
                print_json(&report)?;
            } else {
                print!("{}", verify::render_summary(&report));
            }
            match verify::failure_of(&report) {
                Some(error) => Err(error),
                None => Ok(()),
            }
        }
    }
}

/// Before a refresh exports anything: the target must pass the guard and must not be the
/// source, so a refused refresh does not even replace the snapshot directory.
fn refresh_preflight(
    source: &Endpoint,
    target: &Endpoint,
    options: &ImportOptions,
    progress: &Progress,
) -> Result<()> {
    progress.always(&format!(
        "refresh: from {} into {}",
        source.display_name(),
        target.display_name()
    ));
    let (_target_client, target_identity) = import::open_target(target, options, None)?;
    let mut source_client = export::open_source(source)?;
    let source_identity = export::source_info(&mut source_client)?;
    safety::check_not_source(
        &target_identity,
        &source_identity,
        seedsnap::snapshot::manifest::SnapshotKind::Export,
    )
}
