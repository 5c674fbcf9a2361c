//! The `seedsnap` binary: parse the command line, run the command, map failures to exit codes.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use clap::Parser;

use seedsnap::cli::{database_url, Cli, Command, SourceArgs, TargetArgs};
use seedsnap::config::Config;
use seedsnap::connection::Endpoint;
use seedsnap::connection::{resolve, ProcessEnvironment, Side};
use seedsnap::error::{describe_pg_error, exit_kind, failure, json_object, ExitKind};
use seedsnap::problem::problems_of;
use seedsnap::report::Progress;
use seedsnap::snapshot::retired;
use seedsnap::{check_config, export, import, plan, refresh, seal, verify};

fn main() -> ExitCode {
    // Like other Unix tools: a closed pipe (`seedsnap man | head`) ends the process quietly.
    // SAFETY: restoring the default disposition of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The export reads on up to eight threads; glibc would give each its own malloc arena,
    // and memory freed in one stays reserved there (wide_1000: 2-3 MB of peak RSS). Two
    // arenas are enough for threads that mostly wait on the server.
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => exit_on_usage_error(&error),
    };
    let json = cli.command.wants_json();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let error = seedsnap::interrupt::explain(error);
            let message = render_error(&error);
            let kind = exit_kind(&error);
            eprintln!("seedsnap: error: {message}");
            if json && !JSON_PRINTED.load(Ordering::Relaxed) {
                let mut object = json_object(kind, &message, problems_of(&error));
                if let Some(left) = error.downcast_ref::<import::SequencesLeftAdvanced>() {
                    object["error"]["sequences_left_advanced"] = serde_json::json!(left.0);
                }
                println!("{object}");
            }
            ExitCode::from(kind.code() as u8)
        }
    }
}

/// Set once a command printed its JSON document (a report that carries its own error).
static JSON_PRINTED: AtomicBool = AtomicBool::new(false);

/// A report and the failure it ends with, as one JSON document: the report's fields plus
/// `error` (see [`json_object`]).
fn print_json_failure(report: &impl serde::Serialize, error: &anyhow::Error) -> Result<()> {
    let mut value = serde_json::to_value(report)?;
    if let (Some(object), serde_json::Value::Object(extra)) = (
        value.as_object_mut(),
        json_object(exit_kind(error), &render_error(error), problems_of(error)),
    ) {
        object.extend(extra);
    }
    JSON_PRINTED.store(true, Ordering::Relaxed);
    print_json(&value)
}

/// Prints a report that may end in a failure: with `--json` one document carrying the error,
/// else the human summary; then returns the failure.
fn emit_checked<R: serde::Serialize>(
    report: &R,
    json: bool,
    render: impl Fn(&R) -> String,
    failed: Option<anyhow::Error>,
) -> Result<()> {
    match (&failed, json) {
        (Some(error), true) => print_json_failure(report, error)?,
        _ => emit(report, json, render)?,
    }
    failed.map_or(Ok(()), Err)
}

/// Prints clap's message (help, version, or a usage error) and exits with its code. A usage
/// error may quote what was typed, such as a URL given where no argument is expected, so
/// passwords are hidden first.
fn exit_on_usage_error(error: &clap::Error) -> ! {
    let mut text = seedsnap::connection::conninfo::redact_passwords(&error.to_string());
    if error.kind() == clap::error::ErrorKind::UnknownArgument
        && std::env::args().any(|a| a.contains("://") || a.contains("dbname="))
    {
        text.push_str(
            "\nA connection string goes after --source or --target (or in SEEDSNAP_SOURCE / \
             SEEDSNAP_TARGET, which keeps its password out of the process list).\n",
        );
    }
    if error.use_stderr() {
        eprint!("{text}");
        // A machine asking for JSON gets an error object for a bad command line too.
        if std::env::args().any(|a| a == "--json") {
            let first = text.lines().next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            println!("{}", json_object(ExitKind::Usage, first, &[]));
        }
    } else {
        print!("{text}");
    }
    std::process::exit(error.exit_code())
}

/// The error and its causes on one line; server errors with their detail and hint. The
/// sequences an import that did not commit left advanced (its outermost context) come last,
/// after what stopped it.
fn render_error(error: &anyhow::Error) -> String {
    let left = error
        .downcast_ref::<import::SequencesLeftAdvanced>()
        .map(ToString::to_string);
    let mut parts: Vec<String> = Vec::new();
    // Wherever the sequences' context is (an interrupted import's has one more outside it).
    let causes = error
        .chain()
        .filter(|cause| left.is_none() || Some(cause.to_string()) != left);
    for cause in causes {
        if let Some(pg) = cause.downcast_ref::<postgres::Error>() {
            parts.push(describe_pg_error(pg));
            break;
        }
        parts.push(cause.to_string());
    }
    let mut text = parts.join(": ");
    if let Some(left) = left {
        text.push_str(&format!("; {left}"));
    }
    text
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The config file the command line points at (`--config`, else the nearest `seedsnap.toml`
/// in the current directory or its parents), loaded and checked; a line on stderr says which
/// file is in use, or that none is.
fn load_config(cli: &Cli, progress: &Progress) -> Result<Option<Config>> {
    let Some(path) = Config::locate(cli.config.as_deref(), cli.no_config) else {
        progress.always(match cli.no_config {
            true => "config: none (--no-config)",
            false => "config: none (no seedsnap.toml in this directory or its parents)",
        });
        return Ok(None);
    };
    let mut config = Config::load(&path)?;
    config.found_by_search = cli.config.is_none();
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
            // The commands that stop cleanly on Ctrl-C; the others end at once, as before.
            seedsnap::interrupt::install();
            let mut options = args.selection.to_options(config)?;
            options.jobs = args.read.jobs();
            options.allow_unmasked = args.replace.allow_unmasked;
            let source = source_of(&args.source)?;
            let report = export::run(&source, &args.dir.resolve(config), &options, &progress)?;
            emit(&report, args.output.json, export::render_summary)
        }
        Command::Plan(args) => {
            let mut options = args.selection.to_options(config)?;
            options.explain = args.explain.clone();
            let source = source_of(&args.source)?;
            let report = plan::run(&source, &options, &progress)?;
            let format = if args.json {
                plan::PlanFormat::Json
            } else {
                args.format
            };
            print!("{}", plan::render(&report, format)?);
            Ok(())
        }
        Command::Import(args) => {
            seedsnap::interrupt::install();
            let target = target_of(&args.target)?;
            let dir = args.dir.resolve(config);
            let options = args.target.to_options(config);
            let report = import::run(&target, &dir, &options, &progress)?;
            emit(&report, args.output.json, import::render_summary)
        }
        Command::Refresh(args) => {
            seedsnap::interrupt::install();
            let mut selection = args.selection.to_options(config)?;
            selection.jobs = args.read.jobs();
            selection.allow_unmasked = args.replace.allow_unmasked;
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
            emit(&value, json, |_| {
                format!(
                    "{}{}",
                    import::render_summary(&report.import),
                    retired::render(&report.left_from_previous_snapshot, 20)
                )
            })
        }
        Command::CheckConfig(args) => {
            let config = config.ok_or_else(no_config_to_check)?;
            let options = args.selection.to_options(Some(config))?;
            let source = source_of(&args.source)?;
            let report = check_config::run(&source, config, &options, &progress)?;
            let failed = check_config::failure_of(&report);
            emit_checked(&report, args.output.json, check_config::render, failed)
        }
        Command::Verify(args) => {
            let masking = config.map(Config::masking);
            let dir = args.dir.resolve(config);
            let report = match args.overlay.clone().or_else(|| config?.overlay()) {
                None => verify::run(&dir, masking.as_ref())?,
                Some(overlay) => verify::run_with_overlay(&dir, &overlay, masking.as_ref())?,
            };
            let failed = verify::failure_of(&report);
            emit_checked(&report, args.output.json, verify::render_summary, failed)
        }
        Command::Seal(args) => {
            let report = seal::run(&args.dir.resolve(config))?;
            emit(&report, args.output.json, seal::render)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "seedsnap", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { command, out_dir } => man_pages(command.as_deref(), out_dir.as_deref()),
    }
}

/// `check-config` without a config file.
fn no_config_to_check() -> anyhow::Error {
    failure(
        ExitKind::Usage,
        format!(
            "no config file to check: there is no {} in the current directory or its parents; \
             give --config FILE",
            seedsnap::config::FILE_NAME
        ),
    )
}
/// `seedsnap man`: the top-level page, one subcommand's (`seedsnap-import(1)`), or every page
/// written into a directory.
fn man_pages(name: Option<&str>, out_dir: Option<&std::path::Path>) -> Result<()> {
    let mut top = <Cli as clap::CommandFactory>::command();
    // Built, so that each subcommand's page lists the global options (--config, --no-config)
    // that its --help lists.
    top.build();
    let page = |command: clap::Command, title: String| -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        // The page's NAME is `seedsnap-import`; clap takes names with a 'static lifetime.
        let name: &'static str = Box::leak(title.into_boxed_str());
        clap_mangen::Man::new(command.name(name)).render(&mut bytes)?;
        Ok(bytes)
    };
    let subcommands: Vec<clap::Command> = top
        .get_subcommands()
        .filter(|c| c.get_name() != "help")
        .cloned()
        .collect();
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("seedsnap.1"),
            page(top.clone(), "seedsnap".into())?,
        )?;
        for command in subcommands {
            let title = format!("seedsnap-{}", command.get_name());
            std::fs::write(dir.join(format!("{title}.1")), page(command, title)?)?;
        }
        return Ok(());
    }
    let bytes = match name {
        None => page(top.clone(), "seedsnap".into())?,
        Some(name) => {
            let Some(command) = subcommands.into_iter().find(|c| c.get_name() == name) else {
                return Err(failure(
                    ExitKind::Usage,
                    format!("seedsnap has no subcommand {name:?}; see seedsnap --help"),
                ));
            };
            page(command, format!("seedsnap-{name}"))?
        }
    };
    std::io::Write::write_all(&mut std::io::stdout(), &bytes)?;
    Ok(())
}
