//! The `seedsnap` binary: parse the command line, run the command, map failures to exit codes.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use seedsnap::cli::{database_url, Cli, Command, SourceArgs, TargetArgs};
use seedsnap::config::Config;
use seedsnap::connection::Endpoint;
use seedsnap::connection::{resolve, ProcessEnvironment, Side};
use seedsnap::error::{describe_pg_error, exit_kind, failure, ExitKind};
use seedsnap::report::Progress;
use seedsnap::{check_config, export, import, plan, refresh, verify};

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

/// Prints a report: as JSON, or as the command's human summary.
fn emit<R: serde::Serialize>(report: &R, json: bool, render: impl Fn(&R) -> String) -> Result<()> {
    if json {
        print_json(report)
    } else {
        print!("{}", render(report));
        Ok(())
    }
}

fn run(cli: Cli) -> Result<()> {
    let env = ProcessEnvironment;
    let progress = Progress::new(cli.command.shows_progress());
    let config = if cli.command.reads_config() {
        load_config(&cli, &progress)?
    } else {
        None
    };
    let config = config.as_ref();
    let source_of = |args: &SourceArgs| -> Result<Endpoint> {
        resolve(
            &database_url(args.source.as_deref(), Side::Source, config, &env)?,
            &env,
        )
    };
    let target_of = |args: &TargetArgs| -> Result<Endpoint> {
        resolve(
            &database_url(args.target.as_deref(), Side::Target, config, &env)?,
            &env,
        )
    };
    match cli.command {
        Command::Export(args) => {
            let options = args.selection.to_options(config)?;
            let source = source_of(&args.source)?;
            let report = export::run(&source, &args.dir.resolve(config), &options, &progress)?;
            emit(&report, args.output.json, export::render_summary)
        }
        Command::Plan(args) => {
            let mut options = args.selection.to_options(config)?;
            options.explain = args.explain.clone();
            let source = source_of(&args.source)?;
            let report = plan::run(&source, &options, &progress)?;
            print!("{}", plan::render(&report, args.format)?);
            Ok(())
        }
        Command::Import(args) => {
            let target = target_of(&args.target)?;
            let dir = args.dir.resolve(config);
            let options = args.target.to_options(config);
            let report = import::run(&target, &dir, &options, &progress)?;
            emit(&report, args.output.json, import::render_summary)
        }
        Command::Refresh(args) => {
            let selection = args.selection.to_options(config)?;
            let source = source_of(&args.source)?;
            let target = target_of(&args.target)?;
            let dir = args.dir.resolve(config);
            let options = args.target.to_options(config);
            let json = args.output.json;
            let report = refresh::run(
                &source,
                &target,
                &dir,
                &selection,
                &options,
                &progress,
                |exported| {
                    if !json {
                        print!("{}", export::render_summary(exported));
                    }
                },
            )?;
            // Through a JSON value, whose keys are sorted: refresh has always printed them so.
            let value = serde_json::to_value(&report)?;
            emit(&value, json, |_| import::render_summary(&report.import))
        }
        Command::CheckConfig(args) => {
            let config = config.ok_or_else(no_config_to_check)?;
            let options = args.selection.to_options(Some(config))?;
            let source = source_of(&args.source)?;
            let report = check_config::run(&source, config, &options, &progress)?;
            emit(&report, args.output.json, check_config::render)?;
            check_config::failure_of(&report).map_or(Ok(()), Err)
        }
        Command::Verify(args) => {
            let masking = config.map(Config::masking);
            let report = verify::run(&args.dir.resolve(config), masking.as_ref())?;
            emit(&report, args.output.json, verify::render_summary)?;
            verify::failure_of(&report).map_or(Ok(()), Err)
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
    }
}

/// `check-config` without a config file.
fn no_config_to_check() -> anyhow::Error {
    failure(
        ExitKind::Usage,
        format!(
            "no config file to check: there is no {} in the current directory; give --config \
             FILE",
            seedsnap::config::FILE_NAME
        ),
    )
}
