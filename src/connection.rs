//! Where a database is and how seedsnap talks to it.
//!
//! Owns the resolution of a connection string (a `postgres://` URL or a libpq `key=value`
//! string) the way libpq would complete it: whatever the string leaves out comes from `PGHOST`
//! (a host name or a socket directory), `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE` and
//! `~/.pgpass` (or `PGPASSFILE`). The `postgres` crate reads none of these itself. It also owns
//! the password-free name printed before any work (`host:port/dbname as user`), the session
//! settings pinned on every connection so that COPY text is the same on both ends, and which
//! side of a run a database is ([`Side`]), which a lost connection's error names.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use postgres::config::Host;
use postgres::{Client, Config, NoTls};

use crate::error::{exit_kind, failure, ExitKind};

/// Settings that change how values are printed as text. Pinned on both ends of every transfer:
/// a database or role default (`ALTER DATABASE … SET DateStyle`) must not swap day and month or
/// drop float digits. `search_path` is emptied so that every name we print or read is qualified.
pub const PINNED_SESSION_SETTINGS: &str = "\
SET client_encoding = 'UTF8';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET TimeZone = 'UTC';
SET extra_float_digits = 3;
SET bytea_output = 'hex';
SET standard_conforming_strings = on;
SET lc_monetary = 'C';
SET xmloption = content;
SELECT pg_catalog.set_config('search_path', '', false);
";

/// Which database of a run: the one read, or the one written. Typed, so that no spelling of a
/// string can silently name the other one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl Side {
    /// The word in messages, flags (`--source`) and config sections (`[source]`).
    pub fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }

    /// The environment variable that holds the side's URL.
    pub fn variable(self) -> &'static str {
        match self {
            Side::Source => "SEEDSNAP_SOURCE",
            Side::Target => "SEEDSNAP_TARGET",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The libpq environment, as a lookup function so that tests can supply their own.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    fn home(&self) -> Option<PathBuf>;
}

/// The real process environment.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }
}

/// A database to connect to, fully resolved.
#[derive(Clone)]
pub struct Endpoint {
    config: Config,
    host: String,
    port: u16,
    user: String,
    dbname: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(f, "Endpoint({})", self.display_name())
    }
}

impl Endpoint {
    /// `host:port/dbname as user`; never the password.
    pub fn display_name(&self) -> String {
        format!(
            "{}:{}/{} as {}",
            self.host, self.port, self.dbname, self.user
        )
    }

    /// Opens a session and pins the text-output settings.
    pub fn connect(&self, side: Side) -> Result<Client> {
        let mut client = self.config.connect(NoTls).map_err(|e| {
            failure(
                ExitKind::Connection,
                format!(
                    "cannot connect to the {side} database {}: {}. Check that the server is \
                     running and that the URL, PGHOST/PGPORT and credentials are right.",
                    self.display_name(),
                    crate::error::describe_pg_error(&e)
                ),
            )
        })?;
        client
            .batch_execute(PINNED_SESSION_SETTINGS)
            .with_context(|| format!("pinning session settings on {}", self.display_name()))?;
        Ok(client)
    }
}

/// Resolves a connection string the way libpq would, filling the gaps from `env`.
pub fn resolve(spec: &str, env: &dyn Environment) -> Result<Endpoint> {
    let spec = spec.trim();
    let mut config = Config::from_str(spec).map_err(|e| {
        failure(
            ExitKind::BadInput,
            // The crate's message never echoes the string, which may hold a password.
            format!("the connection string is not valid: {e}"),
        )
    })?;

    if config.get_hosts().is_empty() {
        let host = env
            .var("PGHOST")
            .unwrap_or_else(|| default_host().to_string());
        for part in host.split(',') {
            if part.starts_with('/') {
                config.host_path(part);
            } else {
                config.host(part);
            }
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = env.var("PGPORT") {
            let port: u16 = port.parse().map_err(|_| {
                failure(
                    ExitKind::BadInput,
                    format!("PGPORT is not a port number: {port:?}"),
                )
            })?;
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        let user = env
            .var("PGUSER")
            .or_else(|| env.var("USER"))
            .or_else(|| env.var("LOGNAME"))
            .unwrap_or_else(|| "postgres".to_string());
        config.user(&user);
    }
    let user = config.get_user().unwrap_or_default().to_string();
    if config.get_dbname().is_none() {
        let dbname = env.var("PGDATABASE").unwrap_or_else(|| user.clone());
        config.dbname(&dbname);
    }
    let dbname = config.get_dbname().unwrap_or_default().to_string();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let host = config
        .get_hosts()
        .iter()
        .map(host_text)
        .collect::<Vec<_>>()
        .join(",");

    if config.get_password().is_none() {
        if let Some(password) = env.var("PGPASSWORD") {
            config.password(password);
        } else if let Some(path) = pgpass_path(env) {
            let first_host = config
                .get_hosts()
                .first()
                .map(host_text)
                .unwrap_or_default();
            if let Some(password) = pgpass_lookup(&path, &first_host, port, &dbname, &user) {
                config.password(password);
            }
        }
    }
    if config.get_connect_timeout().is_none() {
        let seconds = env
            .var("PGCONNECT_TIMEOUT")
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(10);
        config.connect_timeout(Duration::from_secs(seconds.max(2)));
    }
    if config.get_application_name().is_none() {
        config.application_name("seedsnap");
    }
    Ok(Endpoint {
        config,
        host,
        port,
        user,
        dbname,
    })
}

fn host_text(host: &Host) -> String {
    match host {
        Host::Tcp(name) => name.clone(),
        Host::Unix(path) => path.display().to_string(),
    }
}

/// libpq's compiled-in default on Debian is the socket directory `/var/run/postgresql`.
fn default_host() -> &'static str {
    if Path::new("/var/run/postgresql").is_dir() {
        "/var/run/postgresql"
    } else {
        "localhost"
    }
}

fn pgpass_path(env: &dyn Environment) -> Option<PathBuf> {
    env.var("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env.home().map(|home| home.join(".pgpass")))
}

/// Looks a password up in a `.pgpass` file (`host:port:db:user:password`, `*` matches anything,
/// `\` escapes `:` and `\`). Like libpq, a file readable by group or others is ignored, and a
/// socket path matches the host name `localhost`.
pub fn pgpass_lookup(
    path: &Path,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path).ok()?;
    if metadata.permissions().mode() & 0o077 != 0 {
        eprintln!(
            "seedsnap: warning: password file {} has group or world access; it is ignored \
             (chmod 0600 it)",
            path.display()
        );
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let host = if host.is_empty() || host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .map(split_pgpass_line)
        .find(|fields| {
            fields.len() >= 5
                && fields[..4]
                    .iter()
                    .zip(wanted)
                    .all(|(field, value)| field == "*" || field == value)
        })
        .map(|fields| fields[4].clone())
}

fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().unwrap().push(next);
                }
            }
            // The password is the rest of the line, colons included.
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// Adds which database was lost to an error that is a lost or refused connection.
pub fn name_lost_connection(
    error: anyhow::Error,
    side: Side,
    endpoint: &Endpoint,
) -> anyhow::Error {
    let already_named = error
        .chain()
        .any(|c| c.to_string().contains(&endpoint.display_name()));
    if exit_kind(&error) == ExitKind::Connection && !already_named {
        error.context(format!(
            "lost the connection to the {side} database {}",
            endpoint.display_name()
        ))
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<&'static str, String>, Option<PathBuf>);
    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
        fn home(&self) -> Option<PathBuf> {
            self.1.clone()
        }
    }

    fn env(pairs: &[(&'static str, &str)]) -> FakeEnv {
        FakeEnv(
            pairs.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            None,
        )
    }

    #[test]
    fn url_parts_win_over_environment() {
        let e = env(&[("PGHOST", "elsewhere"), ("PGDATABASE", "other")]);
        let endpoint = resolve("postgres://alice:secret@db.example:6543/demo", &e).unwrap();
        assert_eq!(endpoint.display_name(), "db.example:6543/demo as alice");
    }

    #[test]
    fn environment_fills_gaps_including_socket_directories() {
        let e = env(&[
            ("PGHOST", "/run/pg"),
            ("PGPORT", "5439"),
            ("PGUSER", "bob"),
            ("PGDATABASE", "app_test"),
        ]);
        let endpoint = resolve("", &e).unwrap();
        assert_eq!(endpoint.display_name(), "/run/pg:5439/app_test as bob");
    }

    #[test]
    fn database_defaults_to_user() {
        let e = env(&[("PGHOST", "h"), ("PGUSER", "carol")]);
        let endpoint = resolve("port=5000", &e).unwrap();
        assert_eq!(endpoint.display_name(), "h:5000/carol as carol");
    }

    #[test]
    fn display_and_debug_never_show_the_password() {
        let e = env(&[("PGPASSWORD", "envsecret")]);
        let endpoint = resolve("host=h user=u password=kwsecret dbname=d", &e).unwrap();
        assert!(!endpoint.display_name().contains("secret"));
        assert!(!format!("{endpoint:?}").contains("secret"));
    }

    #[test]
    fn bad_strings_do_not_echo_passwords() {
        let e = env(&[]);
        let error = resolve("host=h password=hunter2 bogus_key=1", &e).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn pgpass_matching_follows_libpq() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(
            &path,
            "# comment\nother:5432:*:u:nope\nlocalhost:5432:app\\:x:u:pa:ss\n*:*:*:u:fallback\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            pgpass_lookup(&path, "/var/run/postgresql", 5432, "app:x", "u").as_deref(),
            Some("pa:ss")
        );
        assert_eq!(
            pgpass_lookup(&path, "db", 1, "z", "u").as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_lookup(&path, "db", 1, "z", "v"), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(pgpass_lookup(&path, "db", 1, "z", "u"), None);
    }
}
