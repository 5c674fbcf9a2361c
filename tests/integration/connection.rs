//! Connections as psql makes them: TLS with each sslmode against a TLS-only server (a throwaway
//! CA and certificates made here with the `openssl` command), plaintext servers and require,
//! client certificates, service files, password files, PG* variables, a listener that never
//! answers, every cause of an unreachable server, and the guard's table of names.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::{cluster, export_to_scratch, import, scratch_dir, seedsnap, seedsnap_in, templates};

/// Makes a file readable by its owner alone, as libpq wants key and password files.
fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A free TCP port on loopback (bound, then released for the server to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl (Debian package 'openssl')");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key and a certificate signed by `ca` (or self-signed when `ca` is `None`).
fn make_cert(dir: &Path, name: &str, subject: &str, ca: Option<&str>, san: Option<&str>) {
    let key = format!("{name}.key");
    let crt = format!("{name}.crt");
    let curve = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    match ca {
        None => {
            let mut args = vec!["req", "-x509"];
            args.extend(curve);
            args.extend([
                "-keyout", &key, "-out", &crt, "-days", "3", "-subj", subject,
            ]);
            openssl(dir, &args);
        }
        Some(ca) => {
            let csr = format!("{name}.csr");
            let mut args = vec!["req"];
            args.extend(curve);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", subject]);
            openssl(dir, &args);
            let ext = format!("{name}.ext");
            std::fs::write(
                dir.join(&ext),
                san.map(|s| format!("subjectAltName={s}\n"))
                    .unwrap_or_default(),
            )
            .unwrap();
            let ca_crt = format!("{ca}.crt");
            let ca_key = format!("{ca}.key");
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &ca_crt,
                    "-CAkey",
                    &ca_key,
                    "-CAcreateserial",
                    "-out",
                    &crt,
                    "-days",
                    "3",
                    "-extfile",
                    &ext,
                ],
            );
        }
    }
}

/// A server that accepts only TLS on 127.0.0.1, with its certificates.
pub struct TlsServer {
    pub cluster: Cluster,
    pub port: u16,
    /// Holds ca.crt (the server's CA), wrong-ca.crt, client.crt / client.key (CN=certuser).
    pub certs: PathBuf,
}

impl TlsServer {
    pub fn ca(&self) -> String {
        self.certs.join("ca.crt").display().to_string()
    }
    pub fn wrong_ca(&self) -> String {
        self.certs.join("wrong-ca.crt").display().to_string()
    }
    /// A key=value string for `host` (localhost or 127.0.0.1) with `extra` keys.
    pub fn url(&self, host: &str, extra: &str) -> String {
        format!(
            "host={host} port={} user=seedsnap dbname=postgres {extra}",
            self.port
        )
    }
}

pub fn tls_server() -> &'static TlsServer {
    static SERVER: OnceLock<TlsServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let port = free_port();
        let cluster = Cluster::start_with(
            port,
            |cluster, data| {
                // In the cluster's directory, which the harness removes with it.
                let certs = cluster.dir.join("certs");
                std::fs::create_dir(&certs).map_err(|e| e.to_string())?;
                make_cert(&certs, "ca", "/CN=seedsnap test CA", None, None);
                make_cert(&certs, "wrong-ca", "/CN=some other CA", None, None);
                make_cert(
                    &certs,
                    "server",
                    "/CN=localhost",
                    Some("ca"),
                    Some("DNS:localhost"),
                );
                make_cert(&certs, "client", "/CN=certuser", Some("ca"), None);
                for name in ["server.crt", "server.key", "ca.crt"] {
                    std::fs::copy(certs.join(name), data.join(name)).unwrap();
                    cluster.hand_over(&data.join(name));
                }
                std::fs::write(
                    data.join("pg_hba.conf"),
                    "local all all trust\n\
                     hostssl all nossluser 127.0.0.1/32 reject\n\
                     hostnossl all nossluser 127.0.0.1/32 trust\n\
                     hostssl all pwuser 127.0.0.1/32 scram-sha-256\n\
                     hostssl all certuser 127.0.0.1/32 cert\n\
                     hostssl all all 127.0.0.1/32 trust\n",
                )
                .map_err(|e| e.to_string())
            },
            &[
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "ssl=on",
                "-c",
                "ssl_cert_file=server.crt",
                "-c",
                "ssl_key_file=server.key",
                "-c",
                "ssl_ca_file=ca.crt",
                "-c",
                "log_connections=on",
            ],
        )
        .expect("starting the TLS test server");
        let mut admin = cluster.connect("postgres").unwrap();
        admin
            .batch_execute(
                "CREATE ROLE pwuser LOGIN PASSWORD 'pw-s3cret-word';
                 CREATE ROLE certuser LOGIN;
                 CREATE ROLE nossluser LOGIN;",
            )
            .unwrap();
        let certs = cluster.dir.join("certs");
        TlsServer {
            cluster,
            port,
            certs,
        }
    })
}

/// A server on 127.0.0.1 that has no TLS at all.
pub fn plain_tcp_server() -> &'static (Cluster, u16) {
    static SERVER: OnceLock<(Cluster, u16)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let port = free_port();
        let cluster = Cluster::start_with(
            port,
            |_, data| {
                std::fs::write(
                    data.join("pg_hba.conf"),
                    "local all all trust\nhost all all 127.0.0.1/32 trust\n",
                )
                .map_err(|e| e.to_string())
            },
            &["-c", "listen_addresses=127.0.0.1", "-c", "ssl=off"],
        )
        .expect("starting the plaintext TCP test server");
        (cluster, port)
    })
}

/// `seedsnap plan` against `source` from a fresh home, with `env`.
fn plan_in(home: &Path, source: &str, env: &[(&str, &str)]) -> crate::Run {
    seedsnap_in(
        home,
        &[
            "plan",
            "--no-config",
            "--format",
            "json",
            "--source",
            source,
        ],
        env,
    )
}

fn plan(source: &str, env: &[(&str, &str)]) -> crate::Run {
    plan_in(&scratch_dir("conn-home"), source, env)
}

#[test]
fn a_tls_only_server_is_reached_with_each_sslmode() {
    let s = tls_server();
    let ca = s.ca();
    // Plaintext is refused by the server's pg_hba.conf (hostssl only).
    plan(&s.url("localhost", "sslmode=disable"), &[])
        .code(6)
        .stderr_has("no pg_hba.conf entry")
        .stderr_has("no encryption");
    // allow: plaintext first, then TLS when the server refuses it.
    plan(&s.url("localhost", "sslmode=allow"), &[])
        .ok()
        .stderr_has("encrypted, TLSv1.3 (the server's certificate is not checked; sslmode=allow)");
    // prefer (also the default) tries TLS first.
    for extra in ["sslmode=prefer", ""] {
        plan(&s.url("localhost", extra), &[])
            .ok()
            .stderr_has("encrypted, TLSv1.3")
            .stderr_has("sslmode=prefer");
    }
    plan(&s.url("localhost", "sslmode=require"), &[])
        .ok()
        .stderr_has("encrypted, TLSv1.3 (the server's certificate is not checked");
    // A socket directory as host beside a hostaddr: TCP to the address, and TLS on it, as
    // libpq does (the driver had no name for the handshake and refused it).
    plan(&s.url("/tmp hostaddr=127.0.0.1", "sslmode=require"), &[])
        .ok()
        .stderr_has("encrypted, TLSv1.3");
    // Direct TLS, as libpq 17 sends it: a PostgreSQL 15 server does not take it.
    plan(
        &s.url("localhost", "sslmode=require sslnegotiation=direct"),
        &[],
    )
    .code(6);
    // verify-ca checks the chain, not the name: 127.0.0.1 is not in the certificate.
    plan(
        &s.url("127.0.0.1", &format!("sslmode=verify-ca sslrootcert={ca}")),
        &[],
    )
    .ok()
    .stderr_has("certificate chain checked, not the host name; sslmode=verify-ca");
    plan(
        &s.url(
            "localhost",
            &format!("sslmode=verify-full sslrootcert={ca}"),
        ),
        &[],
    )
    .ok()
    .stderr_has("certificate and host name checked; sslmode=verify-full");
    // The same from PGSSLMODE and PGSSLROOTCERT, and from a URL.
    plan(
        &s.url("localhost", ""),
        &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &ca)],
    )
    .ok()
    .stderr_has("certificate and host name checked; sslmode=verify-full");
    plan(
        &format!(
            "postgresql://seedsnap@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}",
            s.port
        ),
        &[],
    )
    .ok()
    .stderr_has("sslmode=verify-full");
    // ~/.postgresql/root.crt is the default root certificate.
    let home = scratch_dir("conn-home");
    std::fs::create_dir(home.join(".postgresql")).unwrap();
    std::fs::copy(&ca, home.join(".postgresql/root.crt")).unwrap();
    plan_in(&home, &s.url("localhost", "sslmode=verify-full"), &[])
        .ok()
        .stderr_has("certificate and host name checked");
}

#[test]
fn certificates_that_do_not_fit_are_refused() {
    let s = tls_server();
    plan(
        &s.url(
            "localhost",
            &format!("sslmode=verify-ca sslrootcert={}", s.wrong_ca()),
        ),
        &[],
    )
    .code(6)
    .stderr_has(&format!(
        "host localhost port {}: the server's certificate is not trusted",
        s.port
    ))
    .stderr_has(&format!("by the root certificate {}", s.wrong_ca()));
    plan(
        &s.url(
            "127.0.0.1",
            &format!("sslmode=verify-full sslrootcert={}", s.ca()),
        ),
        &[],
    )
    .code(6)
    .stderr_has("the server's certificate does not match the host name \"127.0.0.1\"");
    // A root certificate in ~/.postgresql makes require check the chain, as in libpq.
    let home = scratch_dir("conn-home");
    std::fs::create_dir(home.join(".postgresql")).unwrap();
    std::fs::copy(s.wrong_ca(), home.join(".postgresql/root.crt")).unwrap();
    plan_in(&home, &s.url("localhost", "sslmode=require"), &[])
        .code(6)
        .stderr_has("not trusted");
    // prefer (the default) then tries plaintext, as libpq does: a user the server lets in
    // without TLS gets a plaintext session, said so; the others are refused on both counts.
    let nossl = format!(
        "host=localhost port={} user=nossluser dbname=postgres",
        s.port
    );
    plan_in(&home, &nossl, &[])
        .ok()
        .stderr_has("as nossluser: NOT encrypted (sslmode=prefer: TLS failed")
        // Which side refused: here this client, the server's certificate.
        .stderr_has("certificate is not trusted");
    plan_in(&home, &s.url("localhost", ""), &[])
        .code(6)
        .stderr_has("not trusted")
        .stderr_has("then without TLS (sslmode=prefer)");
    // verify-full without any root certificate: refused before connecting, naming the file.
    plan(&s.url("localhost", "sslmode=verify-full"), &[])
        .code(4)
        .stderr_has(".postgresql/root.crt does not exist");
}

#[test]
fn require_never_falls_back_to_plaintext() {
    let (_, port) = plain_tcp_server();
    let url = format!("host=127.0.0.1 port={port} user=seedsnap dbname=postgres");
    for mode in ["require", "verify-ca", "verify-full"] {
        let ca = tls_server().ca();
        plan(&url, &[("PGSSLMODE", mode), ("PGSSLROOTCERT", &ca)])
            .code(6)
            .stderr_has(&format!(
                "host 127.0.0.1 port {port}: the server does not offer TLS, and sslmode={mode} \
                 requires it"
            ));
    }
    // A socket directory as host with a hostaddr is TCP to the hostaddr (as in libpq):
    // sslmode applies there too, it is not a socket.
    let beside_socket = format!(
        "host={} hostaddr=127.0.0.1 port={port} user=seedsnap dbname=postgres sslmode=require",
        cluster().socket_dir.display()
    );
    plan(&beside_socket, &[])
        .code(6)
        .stderr_has("(hostaddr 127.0.0.1)")
        .stderr_has("the server does not offer TLS, and sslmode=require requires it");
    // prefer takes plaintext, and says so.
    plan(&url, &[])
        .ok()
        .stderr_has("NOT encrypted (sslmode=prefer: the server offers no TLS)");
    plan(&format!("{url} sslmode=disable"), &[])
        .ok()
        .stderr_has("NOT encrypted (sslmode=disable)");
    // A server that offers TLS but refuses it to this user (hostnossl): prefer tries
    // plaintext again, as libpq does; require does not.
    let s = tls_server();
    let nossl = format!(
        "host=localhost port={} user=nossluser dbname=postgres",
        s.port
    );
    plan(&nossl, &[])
        .ok()
        .stderr_has("as nossluser: NOT encrypted (sslmode=prefer");
    plan(&format!("{nossl} sslmode=require"), &[])
        .code(6)
        .stderr_has("pg_hba.conf rejects connection");
}

#[test]
fn client_certificates_authenticate() {
    let s = tls_server();
    let certs = &s.certs;
    let key = certs.join("client.key");
    private(&key);
    let client = format!(
        "user=certuser sslcert={} sslkey={}",
        certs.join("client.crt").display(),
        key.display()
    );
    plan(
        &format!("host=localhost port={} dbname=postgres {client}", s.port),
        &[],
    )
    .ok()
    .stderr_has("as certuser: encrypted");
    // The same from ~/.postgresql/postgresql.crt and postgresql.key.
    let home = scratch_dir("conn-home");
    std::fs::create_dir(home.join(".postgresql")).unwrap();
    std::fs::copy(
        certs.join("client.crt"),
        home.join(".postgresql/postgresql.crt"),
    )
    .unwrap();
    std::fs::copy(&key, home.join(".postgresql/postgresql.key")).unwrap();
    private(&home.join(".postgresql/postgresql.key"));
    plan_in(
        &home,
        &format!(
            "host=localhost port={} dbname=postgres user=certuser",
            s.port
        ),
        &[],
    )
    .ok();
    // Without one, the server refuses and says why.
    plan(
        &format!(
            "host=localhost port={} dbname=postgres user=certuser",
            s.port
        ),
        &[],
    )
    .code(6)
    .stderr_has("connection requires a valid client certificate")
    .stderr_has("then without TLS (sslmode=prefer): host localhost port");
}

#[test]
fn passwords_come_from_passfiles_and_settings_from_service_files() {
    let s = tls_server();
    let url = format!("host=localhost port={} dbname=postgres user=pwuser", s.port);
    plan(&url, &[])
        .code(6)
        .stderr_has("the server asks for a password for user \"pwuser\" and none was given");
    let dir = scratch_dir("conn-files");
    let passfile = dir.join("passfile");
    std::fs::write(
        &passfile,
        format!("localhost:{}:*:pwuser:pw-s3cret-word\n", s.port),
    )
    .unwrap();
    private(&passfile);
    let passfile_text = passfile.display().to_string();
    for run in [
        plan(&format!("{url} passfile={passfile_text}"), &[]),
        plan(&url, &[("PGPASSFILE", &passfile_text)]),
    ] {
        let run = run.ok();
        assert!(!run.stderr.contains("pw-s3cret-word") && !run.stdout.contains("pw-s3cret-word"));
    }
    // A wrong password from the file: the refusal says which file it came from.
    let wrong = dir.join("wrong-passfile");
    std::fs::write(
        &wrong,
        format!("localhost:{}:*:pwuser:not-the-word\n", s.port),
    )
    .unwrap();
    private(&wrong);
    plan(&format!("{url} passfile={}", wrong.display()), &[])
        .code(6)
        .stderr_has(&format!(
            "(the password was read from the password file {})",
            wrong.display()
        ));
    // A service file names host, port, user and TLS; PGHOST does not override it, explicit
    // keys do.
    let services = dir.join("services.conf");
    std::fs::write(
        &services,
        format!(
            "# team services\n[demo]\nhost=localhost\nport={}\nuser=pwuser\ndbname=nosuchdb\n\
             sslmode=verify-full\nsslrootcert={}\npassfile={passfile_text}\n",
            s.port,
            s.ca()
        ),
    )
    .unwrap();
    let services_text = services.display().to_string();
    plan(
        "dbname=postgres",
        &[
            ("PGSERVICE", "demo"),
            ("PGSERVICEFILE", &services_text),
            ("PGHOST", "/nonexistent"),
        ],
    )
    .ok()
    .stderr_has(&format!(
        "localhost:{}/postgres as pwuser: encrypted, TLSv1.3 (certificate and host name checked",
        s.port
    ));
    // service= in the string, from ~/.pg_service.conf; the service's dbname applies.
    let home = scratch_dir("conn-home");
    std::fs::copy(&services, home.join(".pg_service.conf")).unwrap();
    plan_in(&home, "service=demo", &[])
        .code(6)
        .stderr_has("database \"nosuchdb\" does not exist");
    // PGSYSCONFDIR/pg_service.conf.
    let sysconf = scratch_dir("conn-sysconf");
    std::fs::copy(&services, sysconf.join("pg_service.conf")).unwrap();
    plan(
        "service=demo dbname=postgres",
        &[("PGSYSCONFDIR", sysconf.to_str().unwrap())],
    )
    .ok();
    // A service nobody defines, and a service line seedsnap does not know.
    plan("service=nowhere", &[("PGSERVICEFILE", &services_text)])
        .code(4)
        .stderr_has("service \"nowhere\" is not defined in any service file");
    std::fs::write(&services, "[demo]\nhost=localhost\nsslcrl=/x\n").unwrap();
    plan("service=demo", &[("PGSERVICEFILE", &services_text)])
        .code(4)
        .stderr_has("\"sslcrl\"")
        .stderr_has("line 3");
    // In --json the problem carries the service file and its line.
    let run = seedsnap_in(
        &scratch_dir("conn-home"),
        &["plan", "--no-config", "--json", "--source", "service=demo"],
        &[("PGSERVICEFILE", &services_text)],
    )
    .code(4);
    let error: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problem = &error["error"]["problems"][0];
    assert_eq!(problem["file"], services_text.as_str(), "{}", run.stdout);
    assert_eq!(problem["line"], 3, "{}", run.stdout);
    assert_eq!(problem["kind"], "connection");
}

#[test]
fn options_and_application_name_reach_the_server() {
    let s = tls_server();
    plan(
        &s.url("localhost", ""),
        &[("PGOPTIONS", "-c work_mem=nonsense")],
    )
    .code(6)
    .stderr_has("invalid value for parameter \"work_mem\": \"nonsense\"");
    plan(
        &s.url("localhost", ""),
        &[("PGAPPNAME", "seedsnap-probe-app")],
    )
    .ok();
    plan(
        &s.url("localhost", "application_name=seedsnap-probe-key"),
        &[],
    )
    .ok();
    let log = std::fs::read_to_string(s.cluster.dir.join("data.log")).unwrap();
    assert!(log.contains("application_name=seedsnap-probe-app"), "{log}");
    assert!(log.contains("application_name=seedsnap-probe-key"), "{log}");
}

#[test]
fn a_server_that_never_answers_is_given_up_within_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Accept and hold every connection without a byte in reply.
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let url = format!("host=127.0.0.1 port={port} user=u dbname=d");
    for (source, env) in [
        (format!("{url} connect_timeout=2"), vec![]),
        (url.clone(), vec![("PGCONNECT_TIMEOUT", "2")]),
        (format!("{url} sslmode=disable connect_timeout=2"), vec![]),
    ] {
        let started = Instant::now();
        plan(&source, &env).code(6).stderr_has(&format!(
            "host 127.0.0.1 port {port}: no complete answer within 2 s (connect_timeout)"
        ));
        let took = started.elapsed();
        eprintln!("gave up on the silent listener after {took:?}");
        assert!(
            took < Duration::from_secs(6),
            "gave up after {took:?}, not about 2 s"
        );
    }
    // Per host: the silent one is given up, the next one is used, and named.
    let (_, good) = plain_tcp_server();
    plan(
        &format!(
            "host=127.0.0.1,127.0.0.1 port={port},{good} user=seedsnap dbname=postgres \
             connect_timeout=2"
        ),
        &[],
    )
    .ok()
    .stderr_has(&format!(
        "source database 127.0.0.1:{good}/postgres as seedsnap: NOT encrypted"
    ));
}

#[test]
fn unreachable_servers_say_why() {
    let closed = free_port();
    plan(
        &format!("host=127.0.0.1 port={closed} user=u dbname=d"),
        &[],
    )
    .code(6)
    .stderr_has(&format!(
        "connection refused by host 127.0.0.1 port {closed}"
    ));
    plan("host=no-such-host.invalid user=u dbname=d", &[])
        .code(6)
        .stderr_has("host name \"no-such-host.invalid\" not found");
    plan("host=/nonexistent-dir port=5439 user=u dbname=d", &[])
        .code(6)
        .stderr_has("no server socket at /nonexistent-dir/.s.PGSQL.5439");
    // An export refused at connection time leaves no directory behind.
    let dir = scratch_dir("conn-export").join("snapshot");
    seedsnap(&[
        "export",
        "--no-config",
        "--source",
        &format!("host=127.0.0.1 port={closed} user=u dbname=d"),
        "--dir",
        dir.to_str().unwrap(),
    ])
    .code(6);
    assert!(!dir.exists());
    // Two hosts: both reasons.
    plan(
        &format!("host=127.0.0.1,/nonexistent-dir port={closed},5439 user=u dbname=d"),
        &[],
    )
    .code(6)
    .stderr_has("connection refused by host 127.0.0.1")
    .stderr_has("no server socket at /nonexistent-dir/.s.PGSQL.5439");
}

#[test]
fn unknown_and_unsupported_settings_are_refused_by_name_without_passwords() {
    for (source, env, named) in [
        (
            "host=h password=hunter2 bogus_key=1",
            vec![],
            "\"bogus_key\"",
        ),
        (
            "postgres://u:hunter2@h/d?sslmode=require&frobnicate=1",
            vec![],
            "\"frobnicate\"",
        ),
        ("host=h sslcrl=/x password=hunter2", vec![], "\"sslcrl\""),
        (
            "host=h",
            vec![("PGSSLCRL", "/x"), ("PGPASSWORD", "hunter2")],
            "PGSSLCRL",
        ),
        (
            "host=h sslmode=required password=hunter2",
            vec![],
            "sslmode \"required\"",
        ),
        (
            "host=h target_session_attrs=standby password=hunter2",
            vec![],
            "target_session_attrs \"standby\"",
        ),
    ] {
        let run = plan(source, &env).code(4).stderr_has(named);
        assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    }
    // A URL with a password typed where no argument belongs (a pg_dump habit).
    let run = seedsnap(&["export", "postgresql://app:SECRET@host/db"]).code(2);
    assert!(!run.stderr.contains("SECRET"), "{}", run.stderr);
    assert!(
        run.stderr.contains("postgresql://app:***@host/db"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_guard_takes_whole_test_words_and_never_production_words() {
    let demo = crate::demo_db();
    let dir = export_to_scratch(&demo, &[]);
    for (prefix, deciding) in [
        ("latest", "none of its words (latest"),
        ("contest", "none of its words (contest"),
        ("attestation", "none of its words (attestation"),
        ("prod_test", "the production word \"prod\""),
        ("LiveTest", "the production word \"live\""),
        ("prod2_test", "the production word \"prod\""),
    ] {
        let db = cluster().create_db(prefix, Some(&templates().empty), "");
        let before = db.fingerprint();
        import(&db, &dir, &[])
            .code(3)
            .stderr_has("does not look like a test database")
            .stderr_has(deciding);
        assert_eq!(db.fingerprint(), before, "{prefix}");
    }
    for prefix in ["AppTest", "myapp-test", "test_app", "app_test2"] {
        let db = cluster().create_db(prefix, Some(&templates().empty), "");
        import(&db, &dir, &["--dry-run"]).ok();
    }
}

/// A name the guard refuses is refused before any connection: no server listens on the port,
/// and the answer is still the guard's (exit 3), not a connection error; a refresh exports
/// nothing.
#[test]
fn a_refused_name_is_refused_before_connecting() {
    let demo = crate::demo_db();
    let dir = export_to_scratch(&demo, &[]);
    let manifest = std::fs::read(dir.join("manifest.json")).unwrap();
    let port = free_port();
    let target = format!("postgresql://nobody@127.0.0.1:{port}/prod_latest");
    let run = seedsnap(&[
        "import",
        "--target",
        &target,
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let run = run.code(3).stderr_has("the production word \"prod\"");
    assert!(
        !run.stderr.contains("cannot connect") && !run.stderr.contains("checked"),
        "the guard came after a connection attempt or a read of the snapshot: {}",
        run.stderr
    );
    seedsnap(&[
        "refresh",
        "--source",
        &demo.url(),
        "--target",
        &target,
        "--dir",
        dir.to_str().unwrap(),
    ])
    .code(3)
    .stderr_has("the production word \"prod\"");
    assert_eq!(std::fs::read(dir.join("manifest.json")).unwrap(), manifest);
}
