//! Passwords from a password file (`passfile`, `PGPASSFILE`, `~/.pgpass`), matched as libpq
//! matches them.

use std::path::{Path, PathBuf};

use super::Environment;

pub fn pgpass_path(explicit: Option<&str>, env: &dyn Environment) -> Option<PathBuf> {
    explicit
        .map(PathBuf::from)
        .or_else(|| env.home().map(|home| home.join(".pgpass")))
}

/// libpq's compiled-in socket directory, which a password file calls `localhost`: Debian's, and
/// PostgreSQL's own default.
const DEFAULT_SOCKET_DIRECTORIES: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// Looks a password up in a `.pgpass` file (`host:port:db:user:password`, `*` matches anything,
/// `\` escapes `:` and `\`; the password ends at an unescaped `:`). Like libpq, a file readable
/// by group or others is ignored; the default socket directory (and no host at all) matches the
/// host name `localhost`, any other socket directory only its own path.
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
    let host = match host.is_empty() || DEFAULT_SOCKET_DIRECTORIES.contains(&host) {
        true => "localhost",
        false => host,
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
            ':' if fields.len() < 5 => fields.push(String::new()),
            // libpq ends the password at an unescaped colon.
            ':' => break,
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_matching_follows_libpq() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(
            &path,
            "# comment\nother:5432:*:u:nope\nlocalhost:5432:app\\:x:u:pa\\:ss\n\
             localhost:5433:*:u:pa:ss\n/srv/pg:5432:*:u:bypath\n*:*:*:u:fallback\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            pgpass_lookup(&path, "/var/run/postgresql", 5432, "app:x", "u").as_deref(),
            Some("pa:ss")
        );
        // An unescaped colon ends the password, as in libpq.
        assert_eq!(
            pgpass_lookup(&path, "localhost", 5433, "z", "u").as_deref(),
            Some("pa")
        );
        // Another socket directory is matched by its path, not as localhost.
        assert_eq!(
            pgpass_lookup(&path, "/srv/pg", 5432, "app:x", "u").as_deref(),
            Some("bypath")
        );
        assert_eq!(
            pgpass_lookup(&path, "/srv/other", 5433, "z", "u").as_deref(),
            Some("fallback")
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
