//! A throwaway PostgreSQL cluster for the tests, started once per test binary from the
//! installed server binaries (`initdb`, `postgres`). As root it runs as the `postgres` OS user,
//! because the server refuses to run as root. It listens only on a Unix socket in its own
//! temporary directory and dies with the test process (PR_SET_PDEATHSIG). Tests create their
//! own databases through [`Cluster::create_db`] and touch no other. When the test process
//! exits, its servers are stopped and its directories (clusters and [`scratch_root`]) removed;
//! a run that was killed leaves them to the next run, which removes them at start.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Cluster {
    pub bindir: PathBuf,
    pub dir: PathBuf,
    pub socket_dir: PathBuf,
    pub port: u16,
    /// `(uid, gid)` the server runs as when the tests run as root.
    pub run_as: Option<(u32, u32)>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| Cluster::start(5432).expect("starting the test PostgreSQL cluster"))
}

/// Where the server binaries are: $SEEDSNAP_PG_BINDIR, the newest /usr/lib/postgresql/*/bin,
/// `pg_config --bindir`, or the directory of `initdb` on PATH.
pub fn find_bindir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("SEEDSNAP_PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Some(dir) = path.parent().filter(|_| path.exists()) {
            return Ok(dir.to_path_buf());
        }
    }
    Err(
        "PostgreSQL server binaries (initdb, postgres) not found. On Debian or Ubuntu: \
         apt-get install postgresql; or set SEEDSNAP_PG_BINDIR"
            .into(),
    )
}

fn postgres_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("running id");
        assert!(
            out.status.success(),
            "the tests run as root, so the server must run as the 'postgres' OS user, which \
             does not exist (apt-get install postgresql creates it)"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    Some((id("-u"), id("-g")))
}

fn chown(path: &Path, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: valid NUL-terminated path.
        let rc = unsafe { libc::chown(c.as_ptr(), uid, gid) };
        assert_eq!(rc, 0, "chown {}", path.display());
    }
}

fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// The directory of this test process's scratch directories; removed at exit.
pub fn scratch_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir();
        remove_stale(&base);
        let root = base.join(format!("seedsnap-test-{}-scratch", std::process::id()));
        std::fs::create_dir_all(&root).expect("creating the scratch root");
        remove_at_exit(root.clone());
        root
    })
}

/// Directories removed when the test process exits, after stopping any server in them.
static AT_EXIT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn remove_at_exit(dir: PathBuf) {
    let mut dirs = AT_EXIT.lock().unwrap_or_else(|e| e.into_inner());
    if dirs.is_empty() {
        extern "C" fn clean_up() {
            let dirs = AT_EXIT.lock().unwrap_or_else(|e| e.into_inner());
            for dir in dirs.iter() {
                stop_servers_in(dir);
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        // SAFETY: registers a plain function without arguments, run once at process exit.
        unsafe {
            libc::atexit(clean_up);
        }
    }
    dirs.push(dir);
}

/// Sends an immediate shutdown (SIGQUIT) to the server of every data directory in `dir`, and
/// waits (up to 10 s) until each has removed its `postmaster.pid`, that is, has exited.
fn stop_servers_in(dir: &Path) {
    let mut pid_files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let pid_file = entry.path().join("postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            // SAFETY: a signal to the server process this test run started.
            unsafe {
                libc::kill(pid, libc::SIGQUIT);
            }
            pid_files.push(pid_file);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_files.iter().any(|f| f.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes the directories of earlier test runs whose process is gone.
fn remove_stale(base: &Path) {
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("seedsnap-test-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        {
            if !process_alive(pid) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

impl Cluster {
    pub fn start(port: u16) -> Result<Cluster, String> {
        Cluster::start_with(port, |_, _| Ok(()), &[])
    }

    /// A cluster whose data directory `setup` adjusts after `initdb` (pg_hba.conf, certificate
    /// files), started with `extra` server arguments (`-c listen_addresses=127.0.0.1` to accept
    /// TCP on loopback, which later arguments allow since they override earlier ones).
    pub fn start_with(
        port: u16,
        setup: impl FnOnce(&Cluster, &Path) -> Result<(), String>,
        extra: &[&str],
    ) -> Result<Cluster, String> {
        let bindir = find_bindir()?;
        let run_as = postgres_user();
        let base = std::env::temp_dir();
        remove_stale(&base);
        let dir = base.join(format!(
            "seedsnap-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        remove_at_exit(dir.clone());
        chown(&dir, run_as);
        let cluster = Cluster {
            bindir,
            socket_dir: dir.clone(),
            dir,
            port,
            run_as,
        };
        cluster.init("data")?;
        setup(&cluster, &cluster.data_dir("data"))?;
        cluster.spawn("data", extra)?;
        Ok(cluster)
    }

    /// Gives a file written by the test to the server's OS user, readable by it alone.
    pub fn hand_over(&self, path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        chown(path, self.run_as);
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bindir.join(program));
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command.env_remove("PGDATA").env("LC_ALL", "C");
        command
    }

    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn init(&self, data: &str) -> Result<(), String> {
        let out = self
            .command("initdb")
            .args(["-D"])
            .arg(self.data_dir(data))
            .args([
                "-U",
                "seedsnap",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// A cluster of its own, for a test that stops or restarts servers.
    pub fn private(port: u16) -> &'static Cluster {
        Box::leak(Box::new(
            Cluster::start(port).expect("starting a private test cluster"),
        ))
    }

    /// Starts `postgres` on a data directory, from a thread that lives as long as the test
    /// process, so PR_SET_PDEATHSIG stops the server when the tests end.
    pub fn spawn(&self, data: &str, extra: &[&str]) -> Result<(), String> {
        self.spawn_on(data, self.port, extra)
    }

    pub fn spawn_on(&self, data: &str, port: u16, extra: &[&str]) -> Result<(), String> {
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data_dir(data))
            .arg("-k")
            .arg(&self.socket_dir)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=", "-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=100", "-c", "shared_buffers=128MB"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(self.dir.join(format!("{data}.log")))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            );
        // SAFETY: prctl is async-signal-safe; it runs after the uid change in the child.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT);
                Ok(())
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = command.spawn().map(|_child| ()).map_err(|e| e.to_string());
            let _ = tx.send(result);
            loop {
                std::thread::park();
            }
        });
        rx.recv().map_err(|e| e.to_string())??;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if postgres::Client::connect(&self.url_on(port, "postgres"), postgres::NoTls).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "the test server did not start; see {}",
            self.dir.join(format!("{data}.log")).display()
        ))
    }

    /// A libpq keyword string for a database of this cluster.
    pub fn url(&self, dbname: &str) -> String {
        self.url_on(self.port, dbname)
    }

    /// The same for a server of this directory listening on another port (a standby).
    pub fn url_on(&self, port: u16, dbname: &str) -> String {
        format!(
            "host={} port={port} user=seedsnap dbname={dbname}",
            self.socket_dir.display()
        )
    }

    /// Stops the server of a data directory: `fast` (SIGINT) or `immediate` (SIGQUIT).
    pub fn stop(&self, data: &str, mode: &str) {
        let pid_file = self.data_dir(data).join("postmaster.pid");
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .expect("postmaster.pid")
            .lines()
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let signal = if mode == "immediate" {
            libc::SIGQUIT
        } else {
            libc::SIGINT
        };
        // SAFETY: signalling a process we started.
        unsafe { libc::kill(pid, signal) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while process_alive(pid as u32) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // A postmaster killed with SIGQUIT leaves its pid file; the next start cleans up.
    }

    /// A streaming standby of the cluster's `data`, in `name`, listening on `port`.
    pub fn start_standby(&self, name: &str, port: u16) -> Result<(), String> {
        let out = self
            .command("pg_basebackup")
            .arg("-d")
            .arg(self.url("postgres"))
            .arg("-D")
            .arg(self.data_dir(name))
            .args(["-R", "-X", "stream", "--no-sync"])
            .output()
            .map_err(|e| format!("running pg_basebackup: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_basebackup failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        self.spawn_on(name, port, &["-c", "hot_standby=on"])
    }

    pub fn connect(&self, dbname: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Client::connect(&self.url(dbname), postgres::NoTls)
    }

    /// A unique database name with the given prefix.
    pub fn unique_name(&self, prefix: &str) -> String {
        format!(
            "{prefix}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// Creates a database (optionally from a template) and runs `sql` in it.
    pub fn create_db(&'static self, prefix: &str, template: Option<&str>, sql: &str) -> TestDb {
        let options = template
            .map(|t| format!(" TEMPLATE \"{t}\""))
            .unwrap_or_default();
        self.create_db_with(prefix, &options, sql)
    }

    /// [`Cluster::create_db`] with the options of `CREATE DATABASE` spelled out (`TEMPLATE
    /// template0 LC_CTYPE 'C.UTF-8'`, say).
    pub fn create_db_with(&'static self, prefix: &str, options: &str, sql: &str) -> TestDb {
        let name = self.unique_name(prefix);
        let mut admin = self.connect("postgres").expect("connect to postgres");
        let template = options;
        // Creating from a template needs it free of other sessions; retry briefly.
        let mut attempts = 0;
        loop {
            match admin.batch_execute(&format!("CREATE DATABASE \"{name}\"{template}")) {
                Ok(()) => break,
                Err(e) if attempts < 50 => {
                    attempts += 1;
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("CREATE DATABASE {name}: {e}"),
            }
        }
        let db = TestDb {
            name,
            cluster: self,
        };
        if !sql.is_empty() {
            db.execute(sql);
        }
        db
    }
}

/// A database a test created; dropped when the test ends.
pub struct TestDb {
    pub name: String,
    cluster: &'static Cluster,
}

impl TestDb {
    pub fn url(&self) -> String {
        self.cluster.url(&self.name)
    }

    pub fn client(&self) -> postgres::Client {
        self.cluster
            .connect(&self.name)
            .expect("connect to test database")
    }

    pub fn execute(&self, sql: &str) {
        self.client()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("in {}: {e:?}\n{sql}", self.name));
    }

    pub fn query_i64(&self, sql: &str) -> i64 {
        self.client()
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{e:?}: {sql}"))
            .get(0)
    }

    /// Every user table's content and every sequence's state, as one comparable string.
    pub fn fingerprint(&self) -> String {
        let mut client = self.client();
        let tables = client
            .query(
                "SELECT format('%I.%I', n.nspname, c.relname), c.relkind = 'S'
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind IN ('r', 'S')
                    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                    AND n.nspname NOT LIKE 'pg_toast%'
                  ORDER BY 1",
                &[],
            )
            .unwrap();
        let mut out = String::new();
        for row in tables {
            let name: String = row.get(0);
            let sequence: bool = row.get(1);
            let sql = if sequence {
                format!("SELECT last_value || ':' || is_called FROM {name}")
            } else {
                format!(
                    "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '')
                       FROM {name} AS t"
                )
            };
            let digest: String = client.query_one(&sql, &[]).unwrap().get(0);
            out.push_str(&format!("{name} {digest}\n"));
        }
        out
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = self.cluster.connect("postgres") {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}
