//! Where a database is and how seedsnap talks to it: a connection string means the same
//! database to seedsnap as to `psql`, or seedsnap refuses it before doing anything.
//!
//! - [`conninfo`] reads the string (URL, `key=value` or a bare database name) and completes it
//!   from the service file and the `PG*` environment, refusing keys seedsnap does not honour;
//! - [`passfile`] finds the password in `passfile` / `PGPASSFILE` / `~/.pgpass`;
//! - [`tls`] applies `sslmode`, `sslrootcert`, `sslcert`, `sslkey` and `~/.postgresql/`;
//! - [`connect`] tries each host in turn, bounding each whole start-up (TCP, TLS,
//!   authentication) by `connect_timeout`, and says why a host could not be reached.
//!
//! The `postgres` crate reads none of the libpq environment itself. This module also owns the
//! password-free name printed before any work (`host:port/dbname as user`), the line that says
//! whether the session is encrypted, the session settings pinned on every connection so
//! that COPY text is the same on both ends, and which side of a run a database is ([`Side`]),
//! which a lost connection's error names.

pub mod connect;
pub mod conninfo;
pub mod passfile;
pub mod read_session;
pub mod tls;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use postgres::config::{ChannelBinding, LoadBalanceHosts, TargetSessionAttrs};
use postgres::{Client, Config};

use crate::error::{exit_kind, failure, ExitKind};
use conninfo::{Setting, Settings};
pub use read_session::ReadSession;
use tls::TlsPlan;

/// Settings that change how values are printed as text or how text is read back. Pinned on
/// both ends of every transfer: a database or role default (`ALTER DATABASE … SET DateStyle`)
/// must not swap day and month or drop float digits, and `array_nulls = off` would read the
/// `NULL` element of `{a,NULL}` as the string "NULL". `search_path` is emptied so that every
/// name we print or read is qualified.
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
SET array_nulls = on;
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

/// How long a start-up may take when neither `connect_timeout` nor `PGCONNECT_TIMEOUT` says.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One host of a connection string, with everything needed to reach it.
#[derive(Clone)]
pub struct HostTarget {
    pub config: Config,
    /// The host name, IP address or socket directory, as written.
    pub host: String,
    /// The `hostaddr`, when given: the connection goes over TCP to it, whatever `host` says
    /// (as libpq does; `host` then names the server for TLS and the password file).
    pub address: Option<IpAddr>,
    pub port: u16,
    /// A Unix socket: `host` is a directory and no `hostaddr` is given.
    pub socket: bool,
    /// The password file the password came from (none given in the settings), for a refused
    /// password to say where it was read, as psql does.
    pub password_file: Option<std::path::PathBuf>,
}

impl HostTarget {
    /// `host:port` as the connection's name shows it: the `hostaddr` stands for a socket
    /// directory beside it, since the connection is TCP to that address.
    fn place(&self) -> String {
        match (self.address, self.host.starts_with('/')) {
            (Some(address), true) => host_and_port(&address.to_string(), self.port),
            _ => host_and_port(&self.host, self.port),
        }
    }

    /// `host h port p`, or the socket file's path.
    pub fn label(&self) -> String {
        match (self.socket, self.address) {
            (true, _) => format!("socket {}", self.socket_path().display()),
            (false, Some(address)) if address.to_string() != self.host => {
                format!("host {} (hostaddr {address}) port {}", self.host, self.port)
            }
            (false, _) => format!("host {} port {}", self.host, self.port),
        }
    }

    /// A Unix socket, or a loopback address: the `hostaddr` when given, else `host` (a name
    /// is judged by itself: `localhost` only, it is not resolved).
    pub fn on_this_machine(&self) -> bool {
        match self.address {
            _ if self.socket => true,
            Some(address) => address.to_canonical().is_loopback(),
            None => is_loopback_host(&self.host),
        }
    }

    pub fn socket_path(&self) -> PathBuf {
        Path::new(&self.host).join(format!(".s.PGSQL.{}", self.port))
    }
}

/// A database to connect to, fully resolved.
#[derive(Clone)]
pub struct Endpoint {
    targets: Vec<HostTarget>,
    tls: TlsPlan,
    timeout: Option<Duration>,
    load_balance: bool,
    user: String,
    dbname: String,
    /// Whether the line saying if the session is encrypted was printed for this database:
    /// once per run (a refresh connects to each side more than once), shared by clones.
    announced: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The host and port a session reached (of several hosts, the one that answered), shared
    /// by clones: from then on the name says that one.
    reached: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

/// `host:port`, an IPv6 address in brackets (`[::1]:5432`), a socket directory as it is.
fn host_and_port(host: &str, port: u16) -> String {
    match host.contains(':') && !host.starts_with('/') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(f, "Endpoint({})", self.display_name())
    }
}

/// `localhost` or a loopback IP address, as written in the connection string.
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|address| address.to_canonical().is_loopback())
}

/// The host and wire mode a session of [`Endpoint::connect_reached`] used.
#[derive(Clone)]
pub struct Reached {
    endpoint: Endpoint,
    side: Side,
    target: HostTarget,
    wire: connect::WireMode,
}

impl Reached {
    /// Whether the server runs on this machine: a Unix socket, or a loopback address
    /// (`localhost`, `127.0.0.0/8`, `::1`; see [`HostTarget::on_this_machine`]). Its sessions
    /// then share this machine's cores with seedsnap's own threads.
    pub fn on_this_machine(&self) -> bool {
        self.target.on_this_machine()
    }

    /// Another session to the same host, the same way (TLS or not), with the same pinned
    /// settings; silent, as the first session already said which database this is.
    pub fn connect_again(&self) -> Result<Client> {
        let endpoint = &self.endpoint;
        let (mut client, _) =
            connect::attempt(&self.target, self.wire, &endpoint.tls, endpoint.timeout).map_err(
                |failed| {
                    failure(
                        ExitKind::Connection,
                        format!(
                            "cannot open another session to the {} database {}: {}",
                            self.side,
                            endpoint.display_name(),
                            connect::cause(&failed, &self.target, &endpoint.tls, &endpoint.user)
                        ),
                    )
                },
            )?;
        client
            .batch_execute(PINNED_SESSION_SETTINGS)
            .with_context(|| format!("pinning session settings on {}", endpoint.display_name()))?;
        cancel_on_interrupt(&client, self.wire, &endpoint.tls);
        Ok(client)
    }
}

/// Has Ctrl-C or SIGTERM cancel `client`'s running statement (see [`crate::interrupt`]), over
/// the wire the session uses: TLS when it does (a server that requires it refuses a plain
/// cancel request).
fn cancel_on_interrupt(client: &Client, wire: connect::WireMode, tls: &TlsPlan) {
    let token = client.cancel_token();
    let tls = (wire != connect::WireMode::Disable).then(|| tls.clone());
    crate::interrupt::cancel_on_interrupt(move || {
        // Best effort: a cancel that cannot be sent leaves the statement to its next check.
        let _ = match &tls {
            None => token.cancel_query(postgres::NoTls),
            Some(plan) => match plan.connector() {
                Ok((connector, _, _)) => token.cancel_query(connector),
                Err(_) => return,
            },
        };
    });
}

impl Endpoint {
    /// `host:port/dbname as user`, never the password: once a session was opened, the host and port it reached;
    /// before, every host the connection string lists, each with its port.
    pub fn display_name(&self) -> String {
        let reached = self
            .reached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let place = reached.unwrap_or_else(|| {
            self.targets
                .iter()
                .map(HostTarget::place)
                .collect::<Vec<_>>()
                .join(",")
        });
        format!("{place}/{} as {}", self.dbname, self.user)
    }

    /// The database name the connection string asks for (the server may report another one
    /// after connecting, which the guard judges again).
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// The `sslmode` in force.
    pub fn ssl_mode(&self) -> tls::SslMode {
        self.tls.mode
    }

    /// The bound on each host's start-up; `None` waits as long as it takes.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Opens a session, says on stderr whether it is encrypted, and pins the text-output
    /// settings.
    pub fn connect(&self, side: Side) -> Result<Client> {
        Ok(self.connect_reached(side)?.0)
    }

    /// [`Endpoint::connect`], and the host it reached: more sessions to the very same server
    /// (the export's parallel readers, which import the first session's snapshot) are opened
    /// through it.
    pub fn connect_reached(&self, side: Side) -> Result<(Client, Reached)> {
        // Until a session is open again, the name lists every host: a failure here names them.
        *self.reached.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let mut targets = self.targets.clone();
        if self.load_balance {
            connect::shuffle(&mut targets);
        }
        let connect::Session {
            mut client,
            target,
            wire,
            encrypted,
            fallback_from,
        } = connect::first_reachable(&targets, &self.tls, self.timeout, &self.user).map_err(
            |unreachable| match unreachable {
                connect::Unreachable::Setup(error) => error.context(format!(
                    "cannot connect to the {side} database {}",
                    self.display_name()
                )),
                connect::Unreachable::Hosts(causes) => failure(
                    ExitKind::Connection,
                    format!(
                        "cannot connect to the {side} database {}: {causes}",
                        self.display_name()
                    ),
                ),
            },
        )?;
        *self.reached.lock().unwrap_or_else(|p| p.into_inner()) = Some(target.place());
        if !self
            .announced
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let security = connect::security(
                &mut client,
                &target,
                &self.tls,
                wire,
                encrypted,
                fallback_from.as_deref(),
            );
            eprintln!(
                "seedsnap: {side} database {}: {security}",
                self.display_name()
            );
        }
        client
            .batch_execute(PINNED_SESSION_SETTINGS)
            .with_context(|| format!("pinning session settings on {}", self.display_name()))?;
        cancel_on_interrupt(&client, wire, &self.tls);
        let reached = Reached {
            endpoint: self.clone(),
            side,
            target,
            wire,
        };
        Ok((client, reached))
    }
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

fn bad_input(message: String) -> anyhow::Error {
    crate::problem::refuse(
        ExitKind::BadInput,
        crate::problem::Problem::unplaced(message).kind(crate::problem::ProblemKind::Connection),
    )
}

/// The text of a setting, when set and not empty.
fn value<'a>(settings: &'a Settings, key: &str) -> Option<&'a str> {
    settings
        .get(key)
        .map(|s| s.value.as_str())
        .filter(|v| !v.is_empty())
}

/// A setting that must be a whole number, named with its origin when it is not.
fn number<T: std::str::FromStr>(settings: &Settings, key: &str) -> Result<Option<T>> {
    let Some(setting) = settings.get(key).filter(|s| !s.value.is_empty()) else {
        return Ok(None);
    };
    setting.value.trim().parse().map(Some).map_err(|_| {
        bad_input(format!(
            "{key} {:?} (from {}) is not a valid number",
            setting.value, setting.origin
        ))
    })
}

fn one_of<'a>(
    setting: Option<&'a Setting>,
    key: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>> {
    match setting {
        None => Ok(None),
        Some(s) if allowed.contains(&s.value.as_str()) => Ok(Some(s.value.as_str())),
        Some(s) => Err(bad_input(format!(
            "{key} {:?} (from {}) is not supported: seedsnap takes {}",
            s.value,
            s.origin,
            allowed.join(", ")
        ))),
    }
}

/// `connect_timeout` as libpq reads it: 0 or less waits forever, 1 means 2 seconds.
pub fn connect_timeout(settings: &Settings) -> Result<Option<Duration>> {
    Ok(match number::<i64>(settings, "connect_timeout")? {
        None => Some(DEFAULT_CONNECT_TIMEOUT),
        Some(seconds) if seconds <= 0 => None,
        Some(seconds) => Some(Duration::from_secs(seconds.max(2) as u64)),
    })
}

/// Resolves a connection string the way libpq would, filling the gaps from its service and
/// `env`. Nothing is contacted.
pub fn resolve(spec: &str, env: &dyn Environment) -> Result<Endpoint> {
    let settings = conninfo::gather(spec, env)?;
    let user = value(&settings, "user")
        .map(str::to_string)
        .or_else(os_user)
        .or_else(|| env.var("USER"))
        .or_else(|| env.var("LOGNAME"))
        .unwrap_or_else(|| "postgres".to_string());
    let dbname = value(&settings, "dbname").unwrap_or(&user).to_string();
    let tls = TlsPlan::decide(
        settings.get("sslmode"),
        settings.get("sslrootcert"),
        settings.get("sslcert"),
        settings.get("sslkey"),
        settings.get("sslnegotiation"),
        env.home().as_deref(),
    )?;
    let timeout = connect_timeout(&settings)?;
    one_of(
        settings.get("gssencmode"),
        "gssencmode",
        &["disable", "prefer"],
    )?;
    one_of(settings.get("sslsni"), "sslsni", &["1"])?;
    let load_balance = one_of(
        settings.get("load_balance_hosts"),
        "load_balance_hosts",
        &["disable", "random"],
    )? == Some("random");

    let mut base = Config::new();
    base.user(&user).dbname(&dbname);
    base.application_name(
        value(&settings, "application_name")
            .or_else(|| value(&settings, "fallback_application_name"))
            .unwrap_or("seedsnap"),
    );
    if let Some(options) = value(&settings, "options") {
        base.options(options);
    }
    if let Some(timeout) = timeout {
        base.connect_timeout(timeout);
    }
    match one_of(
        settings.get("target_session_attrs"),
        "target_session_attrs",
        &["any", "read-write", "read-only"],
    )? {
        Some("read-write") => base.target_session_attrs(TargetSessionAttrs::ReadWrite),
        Some("read-only") => base.target_session_attrs(TargetSessionAttrs::ReadOnly),
        _ => &mut base,
    };
    match one_of(
        settings.get("channel_binding"),
        "channel_binding",
        &["disable", "prefer", "require"],
    )? {
        Some("disable") => base.channel_binding(ChannelBinding::Disable),
        Some("require") => base.channel_binding(ChannelBinding::Require),
        _ => &mut base,
    };
    if let Some(on) = one_of(settings.get("keepalives"), "keepalives", &["0", "1"])? {
        base.keepalives(on == "1");
    }
    if let Some(seconds) = number::<u64>(&settings, "keepalives_idle")? {
        base.keepalives_idle(Duration::from_secs(seconds));
    }
    if let Some(seconds) = number::<u64>(&settings, "keepalives_interval")? {
        base.keepalives_interval(Duration::from_secs(seconds));
    }
    if let Some(count) = number::<u32>(&settings, "keepalives_count")? {
        base.keepalives_retries(count);
    }
    if let Some(ms) = number::<u64>(&settings, "tcp_user_timeout")? {
        base.tcp_user_timeout(Duration::from_millis(ms));
    }
    base.load_balance_hosts(LoadBalanceHosts::Disable);

    let targets = host_targets(&settings, &base, &user, &dbname, env)?;
    Ok(Endpoint {
        targets,
        tls,
        timeout,
        load_balance,
        user,
        dbname,
        announced: Default::default(),
        reached: Default::default(),
    })
}

/// One [`HostTarget`] per host of `host` / `hostaddr`, each with its port and password.
fn host_targets(
    settings: &Settings,
    base: &Config,
    user: &str,
    dbname: &str,
    env: &dyn Environment,
) -> Result<Vec<HostTarget>> {
    let split = |key: &str| -> Vec<String> {
        settings
            .get(key)
            .filter(|s| !s.value.is_empty())
            .map(|s| s.value.split(',').map(|v| v.trim().to_string()).collect())
            .unwrap_or_default()
    };
    let names = split("host");
    let addrs = split("hostaddr");
    if !names.is_empty() && !addrs.is_empty() && names.len() != addrs.len() {
        return Err(bad_input(format!(
            "could not match {} host names to {} hostaddr values",
            names.len(),
            addrs.len()
        )));
    }
    let count = names.len().max(addrs.len()).max(1);
    let ports = split("port");
    if ports.len() > 1 && ports.len() != count {
        return Err(bad_input(format!(
            "could not match {} port numbers to {count} hosts",
            ports.len()
        )));
    }
    let passfile = passfile::pgpass_path(value(settings, "passfile"), env);
    let mut targets = Vec::new();
    for i in 0..count {
        let name = names.get(i).cloned().unwrap_or_default();
        let addr = addrs.get(i).cloned().unwrap_or_default();
        let port_text = ports.get(i).or(ports.first()).cloned().unwrap_or_default();
        let port: u16 = if port_text.is_empty() {
            5432
        } else {
            port_text.parse().map_err(|_| {
                bad_input(format!(
                    "port {port_text:?} (from {}) is not a port number",
                    settings["port"].origin
                ))
            })?
        };
        let host = match (name.is_empty(), addr.is_empty()) {
            (false, _) => name,
            (true, false) => addr.clone(),
            (true, true) => default_host().to_string(),
        };
        let mut config = base.clone();
        // A socket directory beside a hostaddr is no host for the driver's TCP connection: it
        // would have no name for TLS and refuse it ("no hostname provided"), where libpq
        // connects. The address stands in; `host` still keys the password file.
        if host.starts_with('/') && addr.is_empty() {
            config.host_path(&host);
        } else if host.starts_with('/') {
            config.host(&addr);
        } else {
            config.host(&host);
        }
        let address = match addr.is_empty() {
            true => None,
            false => Some(addr.parse::<IpAddr>().map_err(|_| {
                bad_input(format!(
                    "hostaddr {addr:?} (from {}) is not an IP address",
                    settings["hostaddr"].origin
                ))
            })?),
        };
        if let Some(ip) = address {
            config.hostaddr(ip);
        }
        // With a hostaddr the driver connects over TCP even when host is a socket directory,
        // so TLS (sslmode) applies: it is a socket only without one.
        let socket = host.starts_with('/') && address.is_none();
        config.port(port);
        let mut password_file = None;
        let password = value(settings, "password").map(str::to_string).or_else(|| {
            let path = passfile.as_deref()?;
            let found = passfile::pgpass_lookup(path, &host, port, dbname, user)?;
            password_file = Some(path.to_path_buf());
            Some(found)
        });
        if let Some(password) = password {
            config.password(password);
        }
        targets.push(HostTarget {
            config,
            host,
            address,
            port,
            socket,
            password_file,
        });
    }
    Ok(targets)
}

/// The name of the user the process runs as, which libpq takes when no user is given.
fn os_user() -> Option<String> {
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `entry` and `buffer`, whose sizes it is given, and sets
    // `found` to `&entry` or null; the name is read only when it succeeded.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buffer`, NUL-terminated by getpwuid_r.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    name.to_str().ok().map(str::to_string)
}

/// libpq's compiled-in default on Debian is the socket directory `/var/run/postgresql`.
fn default_host() -> &'static str {
    if Path::new("/var/run/postgresql").is_dir() {
        "/var/run/postgresql"
    } else {
        "localhost"
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) struct FakeEnv(pub HashMap<&'static str, String>, pub Option<PathBuf>);
    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
        fn home(&self) -> Option<PathBuf> {
            self.1.clone()
        }
    }

    #[test]
    fn loopback_hosts_are_told_from_others() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "db.example.com",
            "10.0.0.5",
            "192.168.1.1",
            "::2",
            "localhost.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    pub(crate) fn env(pairs: &[(&'static str, &str)]) -> FakeEnv {
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
    fn connect_timeout_reads_as_in_libpq_with_a_ten_second_default() {
        let timeout = |spec: &str| {
            connect_timeout(&conninfo::gather(spec, &env(&[])).unwrap()).map_err(|e| e.to_string())
        };
        assert_eq!(timeout(""), Ok(Some(Duration::from_secs(10))));
        assert_eq!(timeout("connect_timeout=0"), Ok(None));
        assert_eq!(
            timeout("connect_timeout=1"),
            Ok(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            timeout("connect_timeout=30"),
            Ok(Some(Duration::from_secs(30)))
        );
        let error = timeout("connect_timeout=soon").unwrap_err();
        assert!(error.contains("connect_timeout \"soon\""), "{error}");
        let e = env(&[("PGCONNECT_TIMEOUT", "x")]);
        let error = resolve("host=h", &e).unwrap_err().to_string();
        assert!(error.contains("PGCONNECT_TIMEOUT"), "{error}");
    }

    #[test]
    fn several_hosts_take_their_own_ports_and_passwords() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let passfile = dir.path().join("pgpass");
        std::fs::write(
            &passfile,
            "a:1:*:u:pa\n/run/pg:2:*:u:pb\nlocalhost:2:*:u:pc\n",
        )
        .unwrap();
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        let spec = format!(
            "host=a,/run/pg port=1,2 user=u dbname=d passfile={}",
            passfile.display()
        );
        let endpoint = resolve(&spec, &env(&[])).unwrap();
        // Before a session, every host with its own port; after, the one reached.
        assert_eq!(endpoint.display_name(), "a:1,/run/pg:2/d as u");
        let labels: Vec<String> = endpoint.targets.iter().map(|t| t.label()).collect();
        assert_eq!(labels, ["host a port 1", "socket /run/pg/.s.PGSQL.2"]);
        let passwords: Vec<Option<&[u8]>> = endpoint
            .targets
            .iter()
            .map(|t| t.config.get_password())
            .collect();
        assert_eq!(passwords, [Some(&b"pa"[..]), Some(&b"pb"[..])]);
        let v6 = resolve("host=::1 port=5 user=u dbname=d", &env(&[])).unwrap();
        assert_eq!(v6.display_name(), "[::1]:5/d as u");
        assert!(resolve("host=a,b,c port=1,2", &env(&[])).is_err());
        assert!(resolve("host=a hostaddr=not-an-ip", &env(&[])).is_err());
    }

    #[test]
    fn a_hostaddr_means_tcp_even_beside_a_socket_directory() {
        let target = |spec: &str| resolve(spec, &env(&[])).unwrap().targets.remove(0);
        // libpq and the driver connect over TCP to the hostaddr: TLS applies, not a socket.
        let tcp = target("host=/run/pg hostaddr=192.0.2.2 port=5 user=u dbname=d");
        assert!(!tcp.socket);
        assert_eq!(tcp.label(), "host /run/pg (hostaddr 192.0.2.2) port 5");
        assert!(!tcp.on_this_machine());
        let socket = target("host=/run/pg port=5 user=u dbname=d");
        assert!(socket.socket && socket.on_this_machine());
        // The hostaddr, not the name, says where the server is.
        assert!(target("host=db.example hostaddr=127.0.0.1").on_this_machine());
        assert!(!target("host=localhost hostaddr=192.0.2.2").on_this_machine());
        assert!(target("host=::ffff:127.0.0.1").on_this_machine());
        assert!(!target("host=db.example").on_this_machine());
        assert_eq!(
            target("host=h hostaddr=10.0.0.1 port=7").label(),
            "host h (hostaddr 10.0.0.1) port 7"
        );
        assert_eq!(
            target("hostaddr=10.0.0.1 port=7").label(),
            "host 10.0.0.1 port 7"
        );
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
}
