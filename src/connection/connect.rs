//! Reaching a server: each host in turn, each start-up bounded as a whole, each failure named.
//!
//! The `postgres` crate's own `connect_timeout` covers the TCP connect only; a server or proxy
//! that accepts and then never answers would hold it forever. So each attempt runs on a thread
//! of its own and is given up after `connect_timeout`, TLS and authentication included, as libpq
//! does; a given-up thread is left to end with its socket. The sslmode decides the attempts, as
//! in libpq: `allow` tries plaintext, then TLS when the server refuses plaintext; `prefer` asks
//! for TLS, takes plaintext when the server offers no TLS, and tries plaintext again when the
//! server refuses the TLS session (a `hostnossl` rule) or the TLS session cannot be set up (a
//! root certificate that does not trust the server's); `require` and `verify-*` never send a
//! byte of the session in plaintext. Unix sockets never use TLS.

use std::sync::mpsc;
use std::time::Duration;

pub use postgres::config::SslMode as WireMode;
use postgres::Client;

use super::tls::{RootCert, SslMode, TlsPlan, Verify};
use super::HostTarget;
use crate::error::describe_pg_error;

/// Why one attempt failed.
pub enum Failed {
    /// Set-up before any network traffic (a certificate file that cannot be read).
    Setup(anyhow::Error),
    TimedOut(Duration),
    Refused(postgres::Error, Option<String>),
}

/// The wire-level TLS modes to try, in order, for one host.
pub fn attempts(mode: SslMode, socket: bool) -> &'static [WireMode] {
    if socket {
        return &[WireMode::Disable];
    }
    match mode {
        SslMode::Disable => &[WireMode::Disable],
        SslMode::Allow => &[WireMode::Disable, WireMode::Require],
        SslMode::Prefer => &[WireMode::Prefer, WireMode::Disable],
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => &[WireMode::Require],
    }
}

/// Runs `work` on its own thread and waits at most `timeout` for it.
pub fn with_timeout<T: Send + 'static>(
    timeout: Option<Duration>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let Some(timeout) = timeout else {
        return Some(work());
    };
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    receiver.recv_timeout(timeout).ok()
}

/// One start-up on one host; the session, and whether this client's connection is encrypted
/// (a TLS handshake completed: under `prefer` the server may have answered "no TLS").
pub fn attempt(
    target: &HostTarget,
    wire: WireMode,
    plan: &TlsPlan,
    timeout: Option<Duration>,
) -> Result<(Client, bool), Failed> {
    let mut config = target.config.clone();
    config.ssl_mode(wire);
    if plan.direct && wire != WireMode::Disable {
        // TLS from the first byte, no SSLRequest: PostgreSQL 17's direct negotiation.
        config.ssl_negotiation(postgres::config::SslNegotiation::Direct);
    }
    let outcome = if wire == WireMode::Disable {
        // No TLS set-up at all: a missing root certificate does not matter on a socket.
        with_timeout(timeout, move || config.connect(postgres::NoTls))
            .map(|r| r.map(|client| (client, false)).map_err(|e| (e, None)))
    } else {
        let (connector, refusal, handshake) = plan.connector().map_err(Failed::Setup)?;
        with_timeout(timeout, move || config.connect(connector)).map(|r| {
            r.map(|client| {
                let encrypted = handshake.load(std::sync::atomic::Ordering::SeqCst);
                (client, encrypted)
            })
            .map_err(|e| {
                let reason = refusal.lock().unwrap_or_else(|p| p.into_inner()).take();
                (e, reason)
            })
        })
    };
    match outcome {
        None => Err(Failed::TimedOut(timeout.unwrap_or_default())),
        Some(Ok(session)) => Ok(session),
        Some(Err((error, reason))) => Err(Failed::Refused(error, reason)),
    }
}

/// Why no host could be used.
pub enum Unreachable {
    /// The TLS set-up itself is wrong (a certificate file); no host was contacted.
    Setup(anyhow::Error),
    /// Each host's reason, joined.
    Hosts(String),
}

/// A session and how it was reached.
pub struct Session {
    pub client: Client,
    pub target: HostTarget,
    pub wire: WireMode,
    /// This client's connection is encrypted (see [`attempt`]).
    pub encrypted: bool,
    /// Why the first attempt on this host failed, when a second one (`prefer`: plaintext,
    /// `allow`: TLS) made the session.
    pub fallback_from: Option<String>,
}

/// The first host that accepts a session, or why none did.
pub fn first_reachable(
    targets: &[HostTarget],
    plan: &TlsPlan,
    timeout: Option<Duration>,
    user: &str,
) -> Result<Session, Unreachable> {
    let mut reasons = Vec::new();
    for target in targets {
        let mut first_failure = None;
        for (index, wire) in attempts(plan.mode, target.socket).iter().enumerate() {
            match attempt(target, *wire, plan, timeout) {
                Ok((client, encrypted)) => {
                    return Ok(Session {
                        client,
                        target: target.clone(),
                        wire: *wire,
                        encrypted,
                        fallback_from: first_failure,
                    })
                }
                Err(Failed::Setup(error)) => return Err(Unreachable::Setup(error)),
                Err(failed) => {
                    let text = cause(&failed, target, plan, user);
                    if index == 0 {
                        first_failure = Some(text.clone());
                    }
                    reasons.push(if index == 0 {
                        text
                    } else {
                        format!(
                            "then {} (sslmode={}): {text}",
                            if *wire == WireMode::Disable {
                                "without TLS"
                            } else {
                                "with TLS"
                            },
                            plan.mode.name()
                        )
                    });
                    // The second attempt (`allow`: TLS, `prefer`: plaintext) only when the
                    // server itself refused the first, or, under `prefer`, when the TLS
                    // session could not be set up (a certificate the root certificate does not
                    // trust, a failed handshake): libpq then tries plaintext too.
                    let server_refused =
                        matches!(&failed, Failed::Refused(e, _) if e.as_db_error().is_some());
                    let tls_not_set_up = *wire == WireMode::Prefer && tls_failed(&failed);
                    if !(server_refused || tls_not_set_up) {
                        break;
                    }
                }
            }
        }
    }
    Err(Unreachable::Hosts(reasons.join("; ")))
}

/// Whether an attempt failed while setting up TLS: the certificate check recorded why it
/// refused the server's certificate, or the driver's error is a TLS one.
fn tls_failed(failed: &Failed) -> bool {
    match failed {
        Failed::Refused(_, Some(_)) => true,
        Failed::Refused(error, None) => {
            error.as_db_error().is_none() && chain_text(error).to_lowercase().contains("tls")
        }
        _ => false,
    }
}

/// One host's failure as a person needs it: what happened, where, and what to check.
pub fn cause(failed: &Failed, target: &HostTarget, plan: &TlsPlan, user: &str) -> String {
    let label = target.label();
    let error = match failed {
        Failed::Setup(error) => return error.to_string(),
        Failed::TimedOut(timeout) => {
            return format!(
                "{label}: no complete answer within {} s (connect_timeout): the start-up (TCP, \
                 TLS, authentication) did not finish; is that a PostgreSQL server, and is it \
                 responsive?",
                timeout.as_secs()
            )
        }
        Failed::Refused(error, _) if error.as_db_error().is_some() => {
            // A refused password read from a file: say which file, as psql does.
            let from_file = match (&target.password_file, error.code()) {
                (Some(file), Some(code)) if code.code() == "28P01" => {
                    format!(
                        " (the password was read from the password file {})",
                        file.display()
                    )
                }
                _ => String::new(),
            };
            return format!("{label}: {}{from_file}", describe_pg_error(error));
        }
        Failed::Refused(error, reason) => (error, reason),
    };
    let (error, certificate_refusal) = error;
    let text = chain_text(error);
    if let Some(io) = find_io_error(error) {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused if target.socket => {
                return format!(
                    "connection refused on {label}: the socket file is there but no server \
                     accepts on it (a server that stopped?)"
                )
            }
            std::io::ErrorKind::ConnectionRefused => {
                return format!(
                    "connection refused by {label}: is a server running on that host and \
                     accepting TCP/IP connections on that port?"
                )
            }
            std::io::ErrorKind::NotFound if target.socket => {
                return format!(
                    "no server socket at {}: is a server running locally, with its socket in \
                     {} and on port {}?",
                    target.socket_path().display(),
                    target.host,
                    target.port
                )
            }
            _ if text.contains("lookup address") || text.contains("resolve any addresses") => {
                return format!(
                    "host name \"{}\" not found: it could not be translated to an address (a \
                     typo, or no DNS?)",
                    target.host
                )
            }
            _ => {}
        }
    }
    if text.contains("password missing") {
        return format!(
            "{label}: the server asks for a password for user \"{user}\" and none was given: \
             put it in the URL, PGPASSWORD, or a password file (~/.pgpass, passfile, PGPASSFILE)"
        );
    }
    if text.contains("server does not support TLS") {
        return format!(
            "{label}: the server does not offer TLS, and sslmode={} requires it; nothing was \
             sent in plaintext (use sslmode=prefer or disable only if plaintext is acceptable)",
            plan.mode.name()
        );
    }
    if let Some(reason) = certificate_refusal {
        let reason_lower = reason.to_lowercase();
        if reason_lower.contains("hostname mismatch")
            || reason_lower.contains("ip address mismatch")
        {
            return format!(
                "{label}: the server's certificate does not match the host name \"{}\" \
                 (sslmode=verify-full checks it; connect by the name in the certificate)",
                target.host
            );
        }
        return format!(
            "{label}: the server's certificate is not trusted ({reason}) by {}",
            match &plan.root {
                Some(RootCert::File(path)) => format!("the root certificate {}", path.display()),
                Some(RootCert::System) => "the system's trusted roots".into(),
                None => "any root certificate".into(),
            }
        );
    }
    format!("{label}: {text}")
}

fn find_io_error(error: &postgres::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = cause.source();
    }
    None
}

/// The error and all its causes, each once.
fn chain_text(error: &postgres::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Whether the session is encrypted, with what was checked: decided by this client's own
/// connection (`encrypted`, see [`attempt`]); the TLS version is the server's, from
/// `pg_stat_ssl`, when the server sees TLS too. A proxy in between (PgBouncer, a cloud SQL
/// proxy) may take plaintext from seedsnap and speak TLS to the server, or the reverse: then the
/// two sides disagree, and this says which is which.
pub fn security(
    client: &mut Client,
    session_target: &HostTarget,
    plan: &TlsPlan,
    wire: WireMode,
    encrypted: bool,
    fallback_from: Option<&str>,
) -> String {
    if session_target.socket {
        return "not encrypted (Unix socket; TLS is not used on sockets)".into();
    }
    let checked = match plan.verify() {
        Verify::Nothing => "the server's certificate is not checked",
        Verify::Chain => "certificate chain checked, not the host name",
        Verify::ChainAndHostName => "certificate and host name checked",
    };
    let row = client.query_opt(
        "SELECT version FROM pg_catalog.pg_stat_ssl \
          WHERE pid = pg_catalog.pg_backend_pid() AND ssl",
        &[],
    );
    let server_sees_tls = match &row {
        Ok(Some(_)) => Some(true),
        Ok(None) => Some(false),
        Err(_) => None,
    };
    if !encrypted && server_sees_tls == Some(true) {
        return format!(
            "NOT encrypted (sslmode={}): this client's connection is plaintext; the server \
             reports TLS on its side, so something in between (a proxy, a pooler) speaks TLS to \
             it",
            plan.mode.name()
        );
    }
    if encrypted && server_sees_tls != Some(true) {
        return format!(
            "encrypted ({checked}; sslmode={}){}",
            plan.mode.name(),
            match server_sees_tls {
                Some(false) =>
                    "; the server reports no TLS on its side: a proxy in between \
                                ends it",
                _ => "",
            }
        );
    }
    match row {
        Ok(Some(row)) => format!(
            "encrypted, {} ({checked}; sslmode={})",
            row.get::<_, Option<String>>(0)
                .unwrap_or_else(|| "TLS".into()),
            plan.mode.name()
        ),
        Ok(None) => format!(
            "NOT encrypted (sslmode={}{})",
            plan.mode.name(),
            match (plan.mode, wire) {
                (SslMode::Disable, _) => "",
                (SslMode::Allow, _) => ": the server accepted plaintext",
                (_, WireMode::Disable) => match fallback_from {
                    Some(why) => {
                        return format!(
                            "NOT encrypted (sslmode={}: TLS failed, {why}; the server accepted \
                             plaintext)",
                            plan.mode.name()
                        );
                    }
                    None => {
                        ": TLS failed (the server refused it, or this client its certificate) \
                         and the server accepted plaintext"
                    }
                },
                _ => ": the server offers no TLS",
            }
        ),
        Err(_) if plan.mode.requires_tls() => {
            format!("encrypted ({checked}; sslmode={})", plan.mode.name())
        }
        // seedsnap's own connection made no TLS handshake: plaintext, whatever the server says.
        Err(_) => format!("NOT encrypted (sslmode={})", plan.mode.name()),
    }
}

/// Shuffles hosts for `load_balance_hosts=random`.
pub fn shuffle(targets: &mut [HostTarget]) {
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    for i in (1..targets.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        targets.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmodes_decide_the_attempts() {
        assert_eq!(attempts(SslMode::Disable, false), &[WireMode::Disable]);
        assert_eq!(
            attempts(SslMode::Allow, false),
            &[WireMode::Disable, WireMode::Require]
        );
        assert_eq!(
            attempts(SslMode::Prefer, false),
            &[WireMode::Prefer, WireMode::Disable]
        );
        for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            // Never a plaintext fallback.
            assert_eq!(attempts(mode, false), &[WireMode::Require]);
        }
        assert_eq!(attempts(SslMode::VerifyFull, true), &[WireMode::Disable]);
    }

    #[test]
    fn a_timeout_gives_up_on_work_that_never_ends() {
        let started = std::time::Instant::now();
        let result = with_timeout(Some(Duration::from_millis(100)), || {
            std::thread::sleep(Duration::from_secs(5));
        });
        assert!(result.is_none());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(with_timeout(None, || 7), Some(7));
    }
}
