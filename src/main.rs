//! The `seedsnap` binary: parse the command line, run the command, map failures to exit codes.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use seedsnap::cli::{database_url, Cli, Command, SourceArgs, TargetArgs};
use seedsnap::config::Config;
use seedsnap::connection::Endpoint;
use seedsnap::connection::{resolve, ProcessEnvironment};
use seedsnap::error::{describe_pg_error, exit_kind, failure, ExitKind};
use seedsnap::import::ImportOptions;
use seedsnap::report::Progress;
use seedsnap::safety;
use seedsnap::{check_config, export, import, plan, verify};

fn main() -> ExitCode {
    // Like other Unix tools: a closed pipe (`seedsnap man | head`) ends the process quietly.
    // SAFETY: restoring the default disposition of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => exit_on_usage_error(&error),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("seedsnap: error: {}", render_error(&error));
            ExitCode::from(exit_kind(&error).code() as u8)
        }
    }
}

/// Prints clap's message (help, version, or a usage error) and exits with its code. A usage
/// error may quote what was typed, such as a URL given where no argument is expected, so
/// passwords are hidden first.
fn exit_on_usage_error(error: &clap::Error) -> ! {
    let text = seedsnap::connection::conninfo::redact_passwords(&error.to_string());
    if error.use_stderr() {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    std::process::exit(error.exit_code())
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

/// The config file the command line points at (`--config`, else `./seedsnap.toml`), loaded
/// and checked; a line on stderr says which file is in use.
fn load_config(cli: &Cli, progress: &Progress) -> Result<Option<Config>> {
    let Some(path) = Config::locate(cli.config.as_deref(), cli.no_config) else {
        return Ok(None);
    };
    let config = Config::load(&path)?;
    progress.always(&format!("config: {}", path.display()));
    Ok(Some(config))
}

fn run(cli: Cli) -> Result<()> {
    let env = ProcessEnvironment;
    let quiet = match &cli.command {
        Command::Export(a) => a.output.quiet,
        Command::Plan(a) => a.quiet,
        Command::Import(a) => a.output.quiet,
        Command::Refresh(a) => a.output.quiet,
        Command::Verify(a) => a.output.quiet,
        Command::CheckConfig(a) => a.output.quiet,
        Command::Completions { .. } | Command::Man => true,
    };
    let progress = Progress::new(!quiet);
    let config = match &cli.command {
        Command::Completions { .. } | Command::Man => None,
        _ => load_config(&cli, &progress)?,
    };
    let config = config.as_ref();
    let source_of = |args: &SourceArgs| -> Result<Endpoint> {
        resolve(
            &database_url(args.source.as_deref(), "source", config, &env)?,
            &env,
        )
    };
    let target_of = |args: &TargetArgs| -> Result<Endpoint> {
        resolve(
            &database_url(args.target.as_deref(), "target", config, &env)?,
            &env,
        )
    };
    match cli.command {
        Command::Export(args) => {
            let options = args.selection.to_options(config)?;
            let source = source_of(&args.source)?;
            let report = export::run(&source, &args.dir.resolve(config), &options, &progress)?;
            if args.output.json {
                print_json(&report)
            } else {
                print!("{}", export::render_summary(&report));
                Ok(())
            }
        }
        Command::Plan(args) => {
            let mut options = args.selection.to_options(config)?;
            options.explain = args.explain.clone();
            let source = source_of(&args.source)?;
            let report = plan::run(&source, &options, &progress)?;
            if let (Some(explanation), plan::PlanFormat::Text) = (&report.explanation, args.format)
            {
                print!("{}", plan::render_explanation(explanation));
                return Ok(());
            }
            match args.format {
                plan::PlanFormat::Text => print!("{}", plan::render_text(&report)),
                plan::PlanFormat::Json => print_json(&report)?,
                plan::PlanFormat::Dot => print!("{}", plan::render_dot(&report)),
                plan::PlanFormat::Mermaid => print!("{}", plan::render_mermaid(&report)),
            }
            Ok(())
        }
        Command::Import(args) => {
            let target = target_of(&args.target)?;
            let report = import::run(
                &target,
                &args.dir.resolve(config),
                &args.target.to_options(config),
                &progress,
            )?;
            if args.output.json {
                print_json(&report)
            } else {
                print!("{}", import::render_summary(&report));
                Ok(())
            }
        }
        Command::Refresh(args) => {
            let selection = args.selection.to_options(config)?;
            let source = source_of(&args.source)?;
            let target = target_of(&args.target)?;
            let dir = args.dir.resolve(config);
            let options = args.target.to_options(config);
            refresh_preflight(&source, &target, &options, &progress)?;
            let exported = export::run(&source, &dir, &selection, &progress)?;
            if !args.output.json {
                print!("{}", export::render_summary(&exported));
            }
            let imported = import::run(&target, &dir, &options, &progress)?;
            if args.output.json {
                print_json(&serde_json::json!({ "export": exported, "import": imported }))
            } else {
                print!("{}", import::render_summary(&imported));
                Ok(())
            }
        }
        Command::CheckConfig(args) => {
            let Some(config) = config else {
                return Err(failure(
                    ExitKind::Usage,
                    format!(
                        "no config file to check: there is no {} in the current directory; \
                         give --config FILE",
                        seedsnap::config::FILE_NAME
                    ),
                ));
            };
            let options = args.selection.to_options(Some(config))?;
            let source = source_of(&args.source)?;
            let report = check_config::run(&source, config, &options, &progress)?;
            if args.output.json {
                print_json(&report)?;
            } else {
                print!("{}", check_config::render(&report));
            }
            check_config::failure_of(&report).map_or(Ok(()), Err)
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
            let report = verify::run(&args.dir.resolve(config))?;
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
