//! TLS the way libpq does it: the six `sslmode`s, the root certificate that verifies the server
//! (`sslrootcert`, a file or `system`), the client certificate (`sslcert` / `sslkey`), and the
//! defaults in `~/.postgresql/`.
//!
//! The connector is `postgres-openssl`, the TLS crate made by the `postgres` crate's authors:
//! OpenSSL checks the chain and, for `verify-full`, the host name; `verify-ca` turns the
//! host-name check off and keeps the chain check. A verify callback records why OpenSSL refused a
//! certificate, so the error can say "not trusted" or "does not match the host name".

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;

use super::conninfo::Setting;
use crate::error::ExitKind;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// True when a plaintext session is never acceptable.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

/// Where the certificates that verify the server come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    File(PathBuf),
    /// The platform's trusted roots (`sslrootcert=system`).
    System,
}

/// How much of the server's certificate is checked when TLS is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    Nothing,
    Chain,
    ChainAndHostName,
}

/// Everything TLS needs, decided before connecting.
#[derive(Debug, Clone)]
pub struct TlsPlan {
    pub mode: SslMode,
    pub root: Option<RootCert>,
    /// Client certificate and key files.
    pub client: Option<(PathBuf, PathBuf)>,
    /// `sslnegotiation=direct` (PostgreSQL 17).
    pub direct: bool,
    /// Why `verify-ca` / `verify-full` cannot verify: no root certificate. Reported when TLS
    /// is first needed, since Unix sockets never use it (as in libpq).
    pub missing_root: Option<String>,
    /// What is wrong with the client certificate's key file (missing, readable by others):
    /// reported when TLS is first needed too, as in libpq; a socket or `sslmode=disable`
    /// never reads it.
    pub client_key_problem: Option<String>,
}

fn bad_input(message: String) -> anyhow::Error {
    crate::problem::refuse(
        ExitKind::BadInput,
        crate::problem::Problem::unplaced(message).kind(crate::problem::ProblemKind::Connection),
    )
}

/// The files libpq reads from `~/.postgresql/` when no setting names them.
fn default_file(home: Option<&Path>, name: &str) -> Option<PathBuf> {
    home.map(|h| h.join(".postgresql").join(name))
}

impl TlsPlan {
    /// Decides the plan from the `ssl*` settings and `~/.postgresql/`.
    pub fn decide(
        mode: Option<&Setting>,
        rootcert: Option<&Setting>,
        cert: Option<&Setting>,
        key: Option<&Setting>,
        negotiation: Option<&Setting>,
        home: Option<&Path>,
    ) -> Result<TlsPlan> {
        let system = rootcert.is_some_and(|r| r.value == "system");
        let mode = match mode {
            Some(setting) => SslMode::parse(&setting.value).ok_or_else(|| {
                bad_input(format!(
                    "sslmode {:?} (from {}) is not one of disable, allow, prefer, require, \
                     verify-ca, verify-full",
                    setting.value, setting.origin
                ))
            })?,
            // libpq 16: sslrootcert=system makes verify-full the default.
            None if system => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        if system && mode != SslMode::VerifyFull {
            return Err(bad_input(format!(
                "sslrootcert=system needs sslmode=verify-full (sslmode {} is too weak to be \
                 used with the system's roots, as libpq says)",
                mode.name()
            )));
        }
        let verifying = matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull);
        let mut missing_root = None;
        let root = if system {
            Some(RootCert::System)
        } else {
            let path = rootcert
                .map(|r| PathBuf::from(&r.value))
                .or_else(|| default_file(home, "root.crt"));
            match path {
                Some(path) if path.exists() => Some(RootCert::File(path)),
                Some(path) if verifying => {
                    missing_root = Some(format!(
                        "sslmode={} needs a root certificate to check the server's against, and \
                         {} does not exist: give sslrootcert=FILE (or PGSSLROOTCERT), \
                         sslrootcert=system for the platform's trusted roots, or a weaker \
                         sslmode",
                        mode.name(),
                        path.display()
                    ));
                    None
                }
                None if verifying => {
                    missing_root = Some(format!(
                        "sslmode={} needs a root certificate: give sslrootcert=FILE or \
                         sslrootcert=system (there is no home directory for \
                         ~/.postgresql/root.crt)",
                        mode.name()
                    ));
                    None
                }
                _ => None,
            }
        };
        let cert = cert
            .map(|c| PathBuf::from(&c.value))
            .or_else(|| default_file(home, "postgresql.crt"));
        let key = key
            .map(|k| PathBuf::from(&k.value))
            .or_else(|| default_file(home, "postgresql.key"));
        let mut client_key_problem = None;
        let client = match (cert, key) {
            (Some(cert), Some(key)) if cert.exists() => {
                if !key.exists() {
                    client_key_problem = Some(format!(
                        "the client certificate {} is there but not its private key {}: give \
                         sslkey=FILE (or PGSSLKEY)",
                        cert.display(),
                        key.display()
                    ));
                } else if let Err(problem) = check_key_permissions(&key) {
                    client_key_problem = Some(problem);
                }
                Some((cert, key))
            }
            _ => None,
        };
        let direct = match negotiation.map(|n| n.value.as_str()) {
            None | Some("postgres") => false,
            Some("direct") => true,
            Some(other) => {
                return Err(bad_input(format!(
                    "sslnegotiation {other:?} is not one of postgres, direct"
                )))
            }
        };
        if direct && !mode.requires_tls() {
            return Err(bad_input(
                "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full".into(),
            ));
        }
        Ok(TlsPlan {
            mode,
            root,
            client,
            direct,
            missing_root,
            client_key_problem,
        })
    }

    /// What is checked of the server's certificate: a root certificate that exists makes
    /// `allow`, `prefer` and `require` check the chain too, as in libpq.
    pub fn verify(&self) -> Verify {
        match self.mode {
            SslMode::VerifyFull => Verify::ChainAndHostName,
            SslMode::VerifyCa => Verify::Chain,
            _ if self.root.is_some() => Verify::Chain,
            _ => Verify::Nothing,
        }
    }

    /// A connector for one attempt, the slot where it records why a certificate was refused,
    /// and the flag it raises once a TLS handshake agreed on keys: the proof that this
    /// client's own connection is encrypted (the server's `pg_stat_ssl` describes the server's
    /// side, which behind a proxy is another connection).
    pub fn connector(&self) -> Result<ConnectorFor> {
        if let Some(problem) = self
            .missing_root
            .as_ref()
            .or(self.client_key_problem.as_ref())
        {
            return Err(bad_input(problem.clone()));
        }
        let tls_error = |what: String, e: openssl::error::ErrorStack| {
            bad_input(format!("{what}: {}", first_reason(&e)))
        };
        let mut builder = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| tls_error("cannot set up TLS".into(), e))?;
        match &self.root {
            Some(RootCert::File(path)) => builder.set_ca_file(path).map_err(|e| {
                tls_error(
                    format!("cannot read the root certificate file {}", path.display()),
                    e,
                )
            })?,
            Some(RootCert::System) => builder
                .set_default_verify_paths()
                .map_err(|e| tls_error("cannot load the system's trusted roots".into(), e))?,
            None => {}
        }
        if let Some((cert, key)) = &self.client {
            builder.set_certificate_chain_file(cert).map_err(|e| {
                tls_error(
                    format!("cannot read the client certificate {}", cert.display()),
                    e,
                )
            })?;
            builder
                .set_private_key_file(key, SslFiletype::PEM)
                .map_err(|e| {
                    tls_error(format!("cannot read the client key {}", key.display()), e)
                })?;
            builder.check_private_key().map_err(|e| {
                tls_error(
                    format!(
                        "the client key {} does not belong to the certificate {}",
                        key.display(),
                        cert.display()
                    ),
                    e,
                )
            })?;
        }
        let refusal = Arc::new(Mutex::new(None));
        let verify = self.verify();
        if verify == Verify::Nothing {
            builder.set_verify(SslVerifyMode::NONE);
        } else {
            let slot = Arc::clone(&refusal);
            builder.set_verify_callback(SslVerifyMode::PEER, move |ok, context| {
                if !ok {
                    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert_with(|| context.error().error_string().to_string());
                }
                ok
            });
        }
        // OpenSSL hands every secret a handshake derives to this callback (meant for key
        // logging): nothing is logged, the call itself is the evidence.
        let handshake = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let raised = Arc::clone(&handshake);
        builder.set_keylog_callback(move |_, _| {
            raised.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        if self.direct {
            postgres_openssl::set_postgresql_alpn(&mut builder)
                .map_err(|e| tls_error("cannot set up direct TLS".into(), e))?;
        }
        let mut connector = MakeTlsConnector::new(builder.build());
        if verify != Verify::ChainAndHostName {
            connector.set_callback(|config, _host| {
                config.set_verify_hostname(false);
                Ok(())
            });
        }
        Ok((connector, refusal, handshake))
    }
}

/// A connector for one attempt, with what it records (see [`TlsPlan::connector`]).
pub type ConnectorFor = (
    MakeTlsConnector,
    Arc<Mutex<Option<String>>>,
    Arc<std::sync::atomic::AtomicBool>,
);

/// libpq refuses a private key that group or others can read (unless root owns it, 0640).
fn check_key_permissions(key: &Path) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(metadata) = std::fs::metadata(key) else {
        return Ok(());
    };
    let mode = metadata.permissions().mode();
    let root_owned_ok = metadata.uid() == 0 && mode & 0o037 == 0;
    if mode & 0o077 != 0 && !root_owned_ok {
        return Err(format!(
            "the private key file {} has group or world access; it must be 0600 or less \
             (chmod 0600 it)",
            key.display()
        ));
    }
    Ok(())
}

fn first_reason(stack: &openssl::error::ErrorStack) -> String {
    stack
        .errors()
        .iter()
        .map(|e| e.reason().unwrap_or("unknown error").to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::conninfo::Origin;

    fn s(value: &str) -> Setting {
        Setting {
            value: value.into(),
            origin: Origin::String,
        }
    }

    #[test]
    fn modes_and_their_verification() {
        let home = tempfile::tempdir().unwrap();
        let plan = |mode: Option<&str>, root: Option<&str>| {
            TlsPlan::decide(
                mode.map(s).as_ref(),
                root.map(s).as_ref(),
                None,
                None,
                None,
                Some(home.path()),
            )
        };
        let prefer = plan(None, None).unwrap();
        assert_eq!(prefer.mode, SslMode::Prefer);
        assert_eq!(prefer.verify(), Verify::Nothing);
        assert_eq!(
            plan(Some("require"), None).unwrap().verify(),
            Verify::Nothing
        );
        // verify-* without a root certificate is refused before any TLS connection.
        let error = plan(Some("verify-ca"), None)
            .unwrap()
            .connector()
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("root.crt"), "{error}");
        assert!(plan(Some("verify-full"), Some("/no/such/file"))
            .unwrap()
            .connector()
            .is_err());
        // A root certificate that exists makes require check the chain.
        let root = home.path().join("ca.pem");
        std::fs::write(&root, "x").unwrap();
        let root = root.to_str().unwrap();
        assert_eq!(
            plan(Some("require"), Some(root)).unwrap().verify(),
            Verify::Chain
        );
        assert_eq!(
            plan(Some("verify-ca"), Some(root)).unwrap().verify(),
            Verify::Chain
        );
        assert_eq!(
            plan(Some("verify-full"), Some(root)).unwrap().verify(),
            Verify::ChainAndHostName
        );
        // sslrootcert=system defaults to verify-full and refuses weaker modes.
        assert_eq!(
            plan(None, Some("system")).unwrap().mode,
            SslMode::VerifyFull
        );
        assert!(plan(Some("require"), Some("system")).is_err());
        let error = plan(Some("required"), None).unwrap_err().to_string();
        assert!(error.contains("\"required\""), "{error}");
    }

    #[test]
    fn a_client_certificate_needs_its_private_key_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".postgresql");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("postgresql.crt"), "c").unwrap();
        let decide = || TlsPlan::decide(None, None, None, None, None, Some(home.path()));
        // Said when TLS is first needed (a connector), as libpq does: a Unix socket or
        // sslmode=disable never reads the key.
        let problem = |plan: TlsPlan| plan.connector().err().unwrap().to_string();
        assert!(problem(decide().unwrap()).contains("postgresql.key"));
        std::fs::write(dir.join("postgresql.key"), "k").unwrap();
        std::fs::set_permissions(
            dir.join("postgresql.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(problem(decide().unwrap()).contains("chmod 0600"));
        std::fs::set_permissions(
            dir.join("postgresql.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let plan = decide().unwrap();
        assert!(plan.client.is_some() && plan.client_key_problem.is_none());
    }
}
