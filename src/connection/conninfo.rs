//! Reading a connection string the way libpq does, and completing it from a service file and
//! the environment.
//!
//! A string is a `postgres://` / `postgresql://` URL, a libpq `key=value` list, or a bare
//! database name (as `psql mydb`). [`gather`] turns it into one value per key with libpq's
//! precedence: keys written in the string, then the service's (`service=` or `PGSERVICE`, from
//! `PGSERVICEFILE` or `~/.pg_service.conf`, then `PGSYSCONFDIR/pg_service.conf`), then the `PG*`
//! environment variables. Every key is checked against [`KEYS`]: a key libpq knows but seedsnap
//! does not honour is refused by name, as is a key nobody knows. Errors name the key and where it
//! came from, never a value, since a value may be a password.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::Environment;
use crate::error::ExitKind;

/// Where a setting came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Written in the connection string.
    String,
    /// A line of a service file.
    Service {
        name: String,
        file: PathBuf,
        line: usize,
    },
    /// An environment variable.
    Env(&'static str),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::String => f.write_str("the connection string"),
            Origin::Service { name, file, line } => {
                write!(f, "service \"{name}\" ({}, line {line})", file.display())
            }
            Origin::Env(name) => write!(f, "the environment variable {name}"),
        }
    }
}

/// One resolved setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub origin: Origin,
}

/// The settings of one connection, by key.
pub type Settings = BTreeMap<String, Setting>;

/// How seedsnap treats a libpq connection key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Honoured as libpq does.
    Same,
    /// Accepted, with a note on how seedsnap differs.
    Accepted(&'static str),
    /// Refused, with the reason.
    Refused(&'static str),
}

/// Every libpq connection key: its environment variable and what seedsnap does with it. The
/// README's connection table is written from this list.
pub const KEYS: &[(&str, Option<&str>, Support)] = &[
    ("host", Some("PGHOST"), Support::Same),
    ("hostaddr", Some("PGHOSTADDR"), Support::Same),
    ("port", Some("PGPORT"), Support::Same),
    ("dbname", Some("PGDATABASE"), Support::Same),
    ("user", Some("PGUSER"), Support::Same),
    ("password", Some("PGPASSWORD"), Support::Same),
    ("passfile", Some("PGPASSFILE"), Support::Same),
    ("service", Some("PGSERVICE"), Support::Same),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT"), Support::Same),
    ("options", Some("PGOPTIONS"), Support::Same),
    ("application_name", Some("PGAPPNAME"), Support::Same),
    ("fallback_application_name", None, Support::Same),
    ("sslmode", Some("PGSSLMODE"), Support::Same),
    ("sslrootcert", Some("PGSSLROOTCERT"), Support::Same),
    ("sslcert", Some("PGSSLCERT"), Support::Same),
    ("sslkey", Some("PGSSLKEY"), Support::Same),
    ("sslnegotiation", Some("PGSSLNEGOTIATION"), Support::Same),
    (
        "target_session_attrs",
        Some("PGTARGETSESSIONATTRS"),
        Support::Same,
    ),
    (
        "load_balance_hosts",
        Some("PGLOADBALANCEHOSTS"),
        Support::Same,
    ),
    ("channel_binding", Some("PGCHANNELBINDING"), Support::Same),
    ("keepalives", None, Support::Same),
    ("keepalives_idle", None, Support::Same),
    ("keepalives_interval", None, Support::Same),
    ("keepalives_count", None, Support::Same),
    ("tcp_user_timeout", None, Support::Same),
    (
        "client_encoding",
        Some("PGCLIENTENCODING"),
        Support::Accepted("ignored: seedsnap always talks UTF8"),
    ),
    (
        "gssencmode",
        Some("PGGSSENCMODE"),
        Support::Accepted("seedsnap never uses GSSAPI encryption; gssencmode=require is refused"),
    ),
    (
        "sslcompression",
        None,
        Support::Accepted("ignored, as by libpq since PostgreSQL 14"),
    ),
    (
        "sslsni",
        Some("PGSSLSNI"),
        Support::Accepted("the host name is always sent; sslsni=0 is refused"),
    ),
    (
        "sslpassword",
        None,
        Support::Refused("encrypted client keys are not supported; decrypt the key file"),
    ),
    (
        "sslcertmode",
        Some("PGSSLCERTMODE"),
        Support::Refused("not supported"),
    ),
    (
        "sslcrl",
        Some("PGSSLCRL"),
        Support::Refused("certificate revocation lists are not supported"),
    ),
    (
        "sslcrldir",
        Some("PGSSLCRLDIR"),
        Support::Refused("certificate revocation lists are not supported"),
    ),
    (
        "ssl_min_protocol_version",
        Some("PGSSLMINPROTOCOLVERSION"),
        Support::Refused("not supported (TLS 1.2 or newer is used)"),
    ),
    (
        "ssl_max_protocol_version",
        Some("PGSSLMAXPROTOCOLVERSION"),
        Support::Refused("not supported"),
    ),
    (
        "requirepeer",
        Some("PGREQUIREPEER"),
        Support::Refused("not supported"),
    ),
    (
        "require_auth",
        Some("PGREQUIREAUTH"),
        Support::Refused("not supported"),
    ),
    (
        "krbsrvname",
        Some("PGKRBSRVNAME"),
        Support::Refused("Kerberos/GSSAPI authentication is not supported"),
    ),
    (
        "gsslib",
        Some("PGGSSLIB"),
        Support::Refused("Kerberos/GSSAPI authentication is not supported"),
    ),
    (
        "gssdelegation",
        Some("PGGSSDELEGATION"),
        Support::Refused("Kerberos/GSSAPI authentication is not supported"),
    ),
    (
        "replication",
        None,
        Support::Refused("replication connections are not what seedsnap needs"),
    ),
];

/// What seedsnap does with `key`, or `None` for a key libpq does not know either.
pub fn support(key: &str) -> Option<Support> {
    KEYS.iter().find(|(k, _, _)| *k == key).map(|(_, _, s)| *s)
}

fn bad_input(message: String) -> anyhow::Error {
    crate::problem::refuse(
        ExitKind::BadInput,
        crate::problem::Problem::unplaced(message).kind(crate::problem::ProblemKind::Connection),
    )
}

/// Checks that a key may be used, naming it and where it came from when not (a service
/// file's line is also the problem's file and line in `--json`).
fn check_key(key: &str, origin: &Origin) -> Result<()> {
    let message = match support(key) {
        Some(Support::Same | Support::Accepted(_)) => return Ok(()),
        Some(Support::Refused(why)) => format!(
            "the connection setting \"{key}\" (from {origin}) is not supported by seedsnap: \
             {why}. Remove it; nothing was read or written."
        ),
        None => format!(
            "unknown connection setting \"{key}\" (in {origin}); see the README's table of \
             connection settings. Nothing was read or written."
        ),
    };
    Err(match origin {
        Origin::Service { file, line, .. } => crate::problem::refuse(
            ExitKind::BadInput,
            crate::problem::Problem::in_file(
                file.display().to_string(),
                Some(*line as u64),
                None,
                message,
            )
            .kind(crate::problem::ProblemKind::Connection),
        ),
        _ => bad_input(message),
    })
}

/// Splits a connection string into its keys and values, in order (a later key wins).
pub fn parse(spec: &str) -> Result<Vec<(String, String)>> {
    let spec = spec.trim();
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        parse_url(spec)
    } else if spec.contains('=') {
        parse_keywords(spec)
    } else if spec.is_empty() {
        Ok(Vec::new())
    } else {
        // `psql mydb`: a bare word is a database name.
        Ok(vec![("dbname".into(), spec.into())])
    }
}

fn percent_decode(text: &str, part: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(byte) = hex else {
                return Err(bad_input(format!(
                    "the connection URL has an invalid percent-encoding in its {part}"
                )));
            };
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| bad_input(format!("the connection URL's {part} is not valid UTF-8")))
}

/// `postgres://[user[:password]@][host][:port][,host[:port]…][/dbname][?key=value&…]`.
fn parse_url(spec: &str) -> Result<Vec<(String, String)>> {
    let rest = spec.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (netloc, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut pairs = Vec::new();
    let hostlist = match netloc.rfind('@') {
        Some(at) => {
            let userinfo = &netloc[..at];
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                pairs.push(("user".into(), percent_decode(user, "user name")?));
            }
            if let Some(password) = password {
                pairs.push(("password".into(), percent_decode(password, "password")?));
            }
            &netloc[at + 1..]
        }
        None => netloc,
    };
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    if !hostlist.is_empty() {
        for item in hostlist.split(',') {
            let (host, port) = if let Some(v6) = item.strip_prefix('[') {
                let Some((host, after)) = v6.split_once(']') else {
                    return Err(bad_input(
                        "the connection URL has an IPv6 address without its closing \"]\"".into(),
                    ));
                };
                (host, after.strip_prefix(':').unwrap_or(""))
            } else {
                match item.rsplit_once(':') {
                    Some((h, p)) => (h, p),
                    None => (item, ""),
                }
            };
            hosts.push(percent_decode(host, "host")?);
            ports.push(percent_decode(port, "port")?);
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            pairs.push(("host".into(), hosts.join(",")));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            pairs.push(("port".into(), ports.join(",")));
        }
    }
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        pairs.push(("dbname".into(), percent_decode(path, "database name")?));
    }
    for param in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let Some((key, value)) = param.split_once('=') else {
            // Not echoed: it may be a password typed without its key.
            return Err(bad_input(
                "the connection URL has a parameter without \"=value\" after its \"?\"".into(),
            ));
        };
        let key = percent_decode(key, "parameters")?;
        let value = percent_decode(value, &format!("parameter \"{key}\""))?;
        // libpq's JDBC compatibility: ssl=true means sslmode=require.
        if key == "ssl" && value == "true" {
            pairs.push(("sslmode".into(), "require".into()));
        } else {
            pairs.push((key, value));
        }
    }
    Ok(pairs)
}

/// `key=value key='quoted \' value'`, with libpq's quoting and backslash escapes.
fn parse_keywords(spec: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = spec.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            // The stray word is not echoed: it may be a password typed without its key.
            return Err(bad_input(match pairs.last() {
                Some((previous, _)) => format!(
                    "the connection string has a word without \"=value\" after the setting \
                     \"{previous}\"; write key=value pairs"
                ),
                None => "the connection string does not start with key=value; write key=value \
                         pairs"
                    .to_string(),
            }));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(bad_input(format!(
                            "unterminated quoted value of \"{key}\" in the connection string"
                        )))
                    }
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

/// The service files to search, in libpq's order: the user's, then the system's.
pub fn service_files(env: &dyn Environment) -> Vec<PathBuf> {
    let user = env
        .var("PGSERVICEFILE")
        .map(PathBuf::from)
        .or_else(|| env.home().map(|h| h.join(".pg_service.conf")));
    let system = env
        .var("PGSYSCONFDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SYSCONFDIR))
        .join("pg_service.conf");
    user.into_iter().chain([system]).collect()
}

/// Where Debian's libpq looks for `pg_service.conf` without `PGSYSCONFDIR`.
pub const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// The keys of `service` in a service file's text: `None` when the file has no such section.
pub fn service_section(
    text: &str,
    service: &str,
    file: &Path,
) -> Result<Option<Vec<(String, Setting)>>> {
    let mut found: Option<Vec<(String, Setting)>> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let number = index + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            if found.is_some() {
                break;
            }
            let name = name.strip_suffix(']').ok_or_else(|| {
                bad_input(format!(
                    "{}, line {number}: a section header without its closing \"]\"",
                    file.display()
                ))
            })?;
            if name == service {
                found = Some(Vec::new());
            }
            continue;
        }
        let Some(keys) = found.as_mut() else {
            continue;
        };
        let Some((key, value)) = line.split_once('=') else {
            return Err(bad_input(format!(
                "{}, line {number}: expected key=value in service \"{service}\"",
                file.display()
            )));
        };
        let key = key.trim();
        let origin = Origin::Service {
            name: service.to_string(),
            file: file.to_path_buf(),
            line: number,
        };
        if key == "service" {
            return Err(bad_input(format!(
                "{}, line {number}: a service may not name another service",
                file.display()
            )));
        }
        check_key(key, &origin)?;
        keys.push((
            key.to_string(),
            Setting {
                value: value.trim().to_string(),
                origin,
            },
        ));
    }
    Ok(found)
}

/// The settings of a connection string, completed from its service and the environment.
pub fn gather(spec: &str, env: &dyn Environment) -> Result<Settings> {
    let mut settings = Settings::new();
    for (key, value) in parse(spec)? {
        check_key(&key, &Origin::String)?;
        settings.insert(
            key,
            Setting {
                value,
                origin: Origin::String,
            },
        );
    }
    let service = match settings.get("service") {
        Some(s) => Some(s.value.clone()),
        None => env.var("PGSERVICE"),
    };
    if let Some(service) = service {
        for (key, setting) in load_service(&service, env)? {
            settings.entry(key).or_insert(setting);
        }
    }
    for (key, variable, _) in KEYS {
        let Some(variable) = variable else { continue };
        if settings.contains_key(*key) || *key == "service" {
            continue;
        }
        if let Some(value) = env.var(variable) {
            let origin = Origin::Env(variable);
            check_key(key, &origin)?;
            settings.insert(key.to_string(), Setting { value, origin });
        }
    }
    Ok(settings)
}

fn load_service(service: &str, env: &dyn Environment) -> Result<Vec<(String, Setting)>> {
    let files = service_files(env);
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Some(keys) = service_section(&text, service, file)? {
            return Ok(keys);
        }
    }
    Err(bad_input(format!(
        "service \"{service}\" is not defined in any service file (searched {}); set \
         PGSERVICEFILE or write it to ~/.pg_service.conf. Nothing was read or written.",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Hides passwords in text that may hold a connection string: the password of a URL's
/// `user:password@` and the value of `password=`.
pub fn redact_passwords(text: &str) -> String {
    let url = regex::Regex::new(r"(?i)(postgres(?:ql)?://[^:@/\s]*:)[^@\s]*@").expect("regex");
    let text = url.replace_all(text, "${1}***@");
    let keyword =
        regex::Regex::new(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)").expect("regex");
    keyword.replace_all(&text, "${1}***").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(spec: &str) -> Vec<(String, String)> {
        parse(spec).unwrap()
    }

    fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn urls_split_like_libpq() {
        assert_eq!(
            pairs("postgresql://al%40ice:p%3Ass@db.example:6543/app%20db?sslmode=verify-full&application_name=x"),
            p(&[
                ("user", "al@ice"),
                ("password", "p:ss"),
                ("host", "db.example"),
                ("port", "6543"),
                ("dbname", "app db"),
                ("sslmode", "verify-full"),
                ("application_name", "x"),
            ])
        );
        assert_eq!(
            pairs("postgres://a:1,[::1]:2,c/d"),
            p(&[("host", "a,::1,c"), ("port", "1,2,"), ("dbname", "d")])
        );
        assert_eq!(
            pairs("postgres://%2Fvar%2Frun%2Fpostgresql/d?ssl=true"),
            p(&[
                ("host", "/var/run/postgresql"),
                ("dbname", "d"),
                ("sslmode", "require")
            ])
        );
        assert_eq!(pairs("postgres://"), p(&[]));
        assert!(parse("postgres://h/d?sslmode").is_err());
        assert!(parse("postgres://u:%zz@h/d").is_err());
    }

    #[test]
    fn keyword_strings_follow_libpq_quoting() {
        assert_eq!(
            pairs(r"host = h  password='it\'s a secret' dbname=a\ b"),
            p(&[
                ("host", "h"),
                ("password", "it's a secret"),
                ("dbname", "a b")
            ])
        );
        assert_eq!(pairs("mydb"), p(&[("dbname", "mydb")]));
        let error = parse("host=h password='unterminated").unwrap_err();
        assert!(!error.to_string().contains("unterminated'"), "{error}");
        let error = parse("host=h hunter2 port=1").unwrap_err().to_string();
        assert!(error.contains("after the setting \"host\""), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let error = parse("postgres://h/d?hunter2").unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn unknown_and_unsupported_keys_are_named() {
        let e = crate::connection::tests::env(&[]);
        let error = gather("host=h bogus_key=1 password=hunter2", &e).unwrap_err();
        assert!(error.to_string().contains("\"bogus_key\""), "{error}");
        assert!(!error.to_string().contains("hunter2"));
        let error = gather("sslcrl=/x", &e).unwrap_err();
        assert!(error.to_string().contains("\"sslcrl\""), "{error}");
        let e = crate::connection::tests::env(&[("PGSSLCRL", "/x")]);
        let error = gather("host=h", &e).unwrap_err();
        assert!(error.to_string().contains("PGSSLCRL"), "{error}");
    }

    #[test]
    fn service_sections_are_read_with_their_lines() {
        let text = "# c\n[other]\nhost=o\n[demo]\nhost = d.example\ndbname=app\n\n[next]\nhost=n\n";
        let keys = service_section(text, "demo", Path::new("f"))
            .unwrap()
            .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].0, "host");
        assert_eq!(keys[0].1.value, "d.example");
        assert_eq!(
            keys[1].1.origin,
            Origin::Service {
                name: "demo".into(),
                file: "f".into(),
                line: 6
            }
        );
        assert_eq!(service_section(text, "none", Path::new("f")).unwrap(), None);
        let error = service_section("[demo]\nnonsense\n", "demo", Path::new("f")).unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
        let error = service_section("[demo]\nfoo=1\n", "demo", Path::new("f")).unwrap_err();
        assert!(error.to_string().contains("\"foo\""), "{error}");
    }

    #[test]
    fn precedence_is_string_then_service_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("services");
        std::fs::write(&file, "[demo]\nhost=from-service\nport=7000\ndbname=svc\n").unwrap();
        let file_text = file.display().to_string();
        let e = crate::connection::tests::env(&[
            ("PGSERVICEFILE", file_text.as_str()),
            ("PGSERVICE", "demo"),
            ("PGHOST", "from-env"),
            ("PGUSER", "env-user"),
        ]);
        let s = gather("dbname=explicit", &e).unwrap();
        assert_eq!(s["dbname"].value, "explicit");
        assert_eq!(s["host"].value, "from-service");
        assert_eq!(s["port"].value, "7000");
        assert_eq!(s["user"].value, "env-user");
        let error = gather("service=missing", &e).unwrap_err();
        assert!(error.to_string().contains("\"missing\""), "{error}");
    }

    #[test]
    fn passwords_are_redacted() {
        let text = "unexpected argument 'postgresql://app:SECRET@host/db' and password=hunter2 \
                    and password = 'a b'";
        let redacted = redact_passwords(text);
        assert!(!redacted.contains("SECRET"), "{redacted}");
        assert!(!redacted.contains("hunter2"), "{redacted}");
        assert!(!redacted.contains("a b"), "{redacted}");
        assert!(
            redacted.contains("postgresql://app:***@host/db"),
            "{redacted}"
        );
        assert_eq!(redact_passwords("postgres://u@h/d"), "postgres://u@h/d");
    }
}
