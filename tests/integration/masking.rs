//! Masking: `[masking]` and `--mask` against real databases — keys that still resolve, unique
//! values that stay unique, domains that still accept the values, determinism under a key,
//! and no original value anywhere in the snapshot.

use super::*;

const KEY_A: &str = "a throwaway masking key for tests, A";
const KEY_B: &str = "a throwaway masking key for tests, B";

const SCHEMA: &str = r#"
CREATE SCHEMA app;
CREATE DOMAIN app.email_address AS varchar(60)
    CHECK (VALUE ~ '^[a-z0-9._+-]+@[a-z0-9.-]+\.[a-z]{2,}$');
CREATE TABLE app.users (
    id            int PRIMARY KEY,
    email         app.email_address NOT NULL UNIQUE,
    display_name  text NOT NULL,
    phone         varchar(20),
    bio           text,
    api_token     text,
    client_ip     inet,
    profile       jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE app.invites (
    id             int PRIMARY KEY,
    inviter_email  varchar(60) NOT NULL REFERENCES app.users (email),
    note           text
);
CREATE TABLE app.accounts (
    tenant  int,
    handle  varchar(12),
    label   text,
    PRIMARY KEY (tenant, handle)
);
CREATE TABLE app.account_members (
    id      int PRIMARY KEY,
    tenant  int NOT NULL,
    handle  varchar(12) NOT NULL,
    FOREIGN KEY (tenant, handle) REFERENCES app.accounts (tenant, handle)
);
"#;

const DATA: &str = r#"
INSERT INTO app.users
SELECT i, format('user%s.realname@corp-mail.example.net', i), format('Realperson %s Lastnameish', i),
       CASE WHEN i % 5 <> 0 THEN format('+1 (555) 7%s', lpad(i::text, 6, '0')) END,
       format('Bio of user %s: likes Rust & PostgreSQL, since 20%s.', i, 10 + i % 10),
       format('tok-%s-secretvalue', md5(i::text)),
       format('10.1.%s.%s', i / 250, i % 250)::inet,
       jsonb_build_object('theme', 'dark', 'contacts',
                          jsonb_build_array(jsonb_build_object('mail', format('private%s@home-mail.example.org', i))))
  FROM generate_series(1, 120) AS i;
INSERT INTO app.invites
SELECT i, format('user%s.realname@corp-mail.example.net', 1 + (i * 7) % 120), 'invite ' || i
  FROM generate_series(1, 150) AS i;
INSERT INTO app.accounts
SELECT 1 + i % 3, format('hd-%s-qq', lpad(i::text, 5, '0')), 'account ' || i
  FROM generate_series(1, 90) AS i;
INSERT INTO app.account_members
SELECT i, 1 + ((i * 5) % 90) % 3, format('hd-%s-qq', lpad(((i * 5) % 90)::text, 5, '0'))
  FROM generate_series(1, 140) AS i WHERE (i * 5) % 90 > 0;
"#;

const CONFIG: &str = r#"
[masking]
key_env = "TEST_MASK_KEY"
strict = true

[masking.columns]
"app.users.email" = "email"
"app.users.display_name" = "name"
"app.users.phone" = "phone"
"app.users.bio" = "text"
"app.users.api_token" = "null"
"app.users.client_ip" = "keep"
"app.accounts.handle" = "text"
"app.users.profile#contacts[*].mail" = "email"
"#;

/// The masked columns' original values, read from the source.
fn originals(db: &TestDb) -> Vec<String> {
    let mut client = db.client();
    let mut values = Vec::new();
    for sql in [
        "SELECT email::text FROM app.users",
        "SELECT display_name FROM app.users",
        "SELECT phone FROM app.users WHERE phone IS NOT NULL",
        "SELECT bio FROM app.users",
        "SELECT api_token FROM app.users",
        "SELECT handle FROM app.accounts",
        "SELECT profile->'contacts'->0->>'mail' FROM app.users",
    ] {
        for row in client.query(sql, &[]).unwrap() {
            values.push(row.get::<_, String>(0));
        }
    }
    values
}

fn write_config(text: &str) -> PathBuf {
    let cwd = scratch_dir("mask");
    std::fs::write(cwd.join("seedsnap.toml"), text).unwrap();
    cwd
}

/// `seedsnap export` with the config in `cwd`, into `cwd/<name>`, with `key`.
fn export_masked(cwd: &Path, db: &TestDb, name: &str, key: &str, extra: &[&str]) -> Run {
    let url = db.url();
    let mut args = vec!["export", "-q", "--source", &url, "--dir", name];
    args.extend_from_slice(extra);
    seedsnap_in(cwd, &args, &[("TEST_MASK_KEY", key)])
}

#[test]
fn masked_keys_resolve_stay_unique_and_no_original_reaches_the_snapshot() {
    let source = cluster().create_db("mask", None, &format!("{SCHEMA}{DATA}"));
    let cwd = write_config(CONFIG);
    export_masked(&cwd, &source, "snap", KEY_A, &["--limit", "40"]).ok();
    let dir = cwd.join("snap");

    // No original value of a masked column anywhere in the directory, nor the key.
    let mut everything = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        everything.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    for value in originals(&source) {
        assert!(!everything.contains(&value), "{value:?} leaked");
    }
    assert!(!everything.contains(KEY_A));
    assert!(everything.contains("@example.com"));

    // The manifest says what was masked, including the referencing columns.
    let manifest = manifest(&dir);
    let masking = &manifest["masking"];
    assert!(masking["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
    assert_eq!(masking["key_env"], "TEST_MASK_KEY");
    let columns = masking["columns"].as_array().unwrap();
    let via = |column: &str| {
        columns
            .iter()
            .find(|c| c["column"] == column)
            .unwrap_or_else(|| panic!("{column} not in {columns:?}"))["via"]
            .clone()
    };
    assert_eq!(via("app.invites.inviter_email"), "app.users.email");
    assert_eq!(via("app.account_members.handle"), "app.accounts.handle");
    assert_eq!(via("app.users.email"), serde_json::Value::Null);
    assert_eq!(
        via("app.users.profile#contacts[*].mail"),
        serde_json::Value::Null
    );

    // Verify, then import: the unique email, the domain CHECK, the FK to the email and the
    // composite FK with one masked part all hold in a real database.
    // Without the key, verify checks the files and says the masking was not compared.
    let run = seedsnap_in(&cwd, &["verify", "--dir", "snap"], &[]).ok();
    assert!(
        run.stdout.contains(
            "TEST_MASK_KEY (the masking key) is not set: the snapshot's masking was not compared"
        ),
        "{}",
        run.stdout
    );
    let schema_only = SCHEMA.to_string();
    let target = cluster().create_db("mask_test", None, &schema_only);
    import(&target, &dir, &[]).ok();
    assert_eq!(
        target.query_i64(
            "SELECT count(*) FROM app.invites i LEFT JOIN app.users u ON u.email = i.inviter_email
              WHERE u.id IS NULL"
        ),
        0
    );
    assert!(target.query_i64("SELECT count(*) FROM app.invites") > 0);
    assert!(target.query_i64("SELECT count(*) FROM app.account_members") > 0);
    assert_eq!(
        target.query_i64("SELECT count(*) FROM app.users WHERE api_token IS NOT NULL"),
        0
    );
    // Text keeps the shape: same length, letters for letters, digits for digits.
    assert_eq!(
        target.query_i64(
            "SELECT count(*) FROM app.accounts WHERE handle !~ '^[a-z]{2}-[0-9]{5}-[a-z]{2}$'"
        ),
        0
    );
    // Inside the JSON value only the path changed.
    assert_eq!(
        target.query_i64(
            "SELECT count(*) FROM app.users
              WHERE profile->>'theme' <> 'dark'
                 OR profile->'contacts'->0->>'mail' NOT LIKE '%@example.com'"
        ),
        0
    );
    // The kept column is as it was.
    assert_eq!(
        target.query_i64("SELECT count(*) FROM app.users WHERE client_ip::text NOT LIKE '10.1.%'"),
        0
    );

    // Same key: byte-identical; another key: other values, another fingerprint.
    export_masked(&cwd, &source, "again", KEY_A, &["--limit", "40"]).ok();
    assert_eq!(read_dir_files(&dir), read_dir_files(&cwd.join("again")));
    export_masked(&cwd, &source, "other", KEY_B, &["--limit", "40"]).ok();
    let users = |name: &str| std::fs::read_to_string(cwd.join(name).join("app.users.tsv")).unwrap();
    assert_ne!(users("snap"), users("other"));
    assert_eq!(
        users("snap").lines().count(),
        users("other").lines().count()
    );
    assert_ne!(
        manifest["masking"]["fingerprint"],
        super::manifest(&cwd.join("other"))["masking"]["fingerprint"]
    );
    // verify with the config tells a snapshot masked under another key.
    seedsnap_in(
        &cwd,
        &["verify", "--dir", "other"],
        &[("TEST_MASK_KEY", KEY_A)],
    )
    .code(5)
    .stderr_has("masked with another key or other rules");
    let run = seedsnap_in(
        &cwd,
        &["verify", "--dir", "snap"],
        &[("TEST_MASK_KEY", KEY_A)],
    )
    .ok();
    assert!(!run.stdout.contains("not compared"), "{}", run.stdout);
}

#[test]
fn a_missing_key_and_bad_rules_are_refused_with_nothing_written() {
    let source = cluster().create_db("mask", None, &format!("{SCHEMA}{DATA}"));
    let cwd = write_config(CONFIG);
    let url = source.url();

    // No key: a setting missing, refused (exit 4) before anything is read or written,
    // naming the variable.
    seedsnap_in(&cwd, &["export", "--source", &url, "--dir", "snap"], &[])
        .code(4)
        .stderr_has("TEST_MASK_KEY");
    let run = seedsnap_in(
        &cwd,
        &["export", "--json", "--source", &url, "--dir", "snap"],
        &[],
    )
    .code(4);
    let error: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "bad_input", "{}", run.stdout);
    assert!(!cwd.join("snap").exists());

    // Unknown column, a rule on a referencing column alone, null on NOT NULL, a constant that
    // would break a unique key: every problem at once, nothing written.
    let bad = [
        "--mask",
        "app.users.emial=email",
        "--mask",
        "app.invites.inviter_email=email",
        "--mask",
        "app.users.email=keep",
        "--mask",
        "app.users.display_name=null",
        "--mask",
        "app.accounts.handle=constant:x",
        "--virtual-key",
        "app.invites(id) -> app.users(id) when note = 'invite 1'",
        "--mask",
        "app.invites.note=text",
        "--mask",
        "app.users.bio#about=text",
    ];
    let run = export_masked(&cwd, &source, "snap", KEY_A, &bad).code(4);
    for text in [
        "--mask: mask app.users.emial: app.users has no column emial (did you mean email?)",
        "a rule on app.invites.inviter_email alone would break its key: it references app.users.email, which has no rule",
        "app.users.display_name is NOT NULL: the null rule",
        "app.accounts.handle is under a unique key or referenced by a foreign key",
        "app.invites.note decides which table the virtual foreign key",
        "app.users.bio is text: JSON path rules need a json or jsonb column",
    ] {
        assert!(run.stderr.contains(text), "{text:?} not in\n{}", run.stderr);
    }
    assert!(!cwd.join("snap").exists());
    // check-config reports the same problems.
    let mut args = vec!["check-config", "--source", &url];
    args.extend_from_slice(&bad);
    let run = seedsnap_in(&cwd, &args, &[]).code(4);
    for text in ["(did you mean email?)", "alone would break its key"] {
        assert!(run.stdout.contains(text), "{text:?} not in\n{}", run.stdout);
    }
}

#[test]
fn strict_mode_catches_a_personal_column_without_a_rule() {
    let source = cluster().create_db("mask", None, &format!("{SCHEMA}{DATA}"));
    let cwd = write_config(&CONFIG.replace("\"app.users.phone\" = \"phone\"\n", ""));
    export_masked(&cwd, &source, "snap", KEY_A, &[])
        .code(4)
        .stderr_has("[masking] strict: 1 column(s) look personal and have no rule: app.users.phone (name has \"phone\")");
    assert!(!cwd.join("snap").exists());
    // Marking it keep (on the command line here) settles it.
    export_masked(
        &cwd,
        &source,
        "snap",
        KEY_A,
        &["--mask", "app.users.phone=keep"],
    )
    .ok();
    // plan shows the masked columns.
    let url = source.url();
    let plan = seedsnap_in(
        &cwd,
        &[
            "plan",
            "-q",
            "--source",
            &url,
            "--mask",
            "app.users.phone=keep",
        ],
        &[],
    )
    .ok();
    assert!(
        plan.stdout.contains("Masked columns (8):"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("app.invites.inviter_email")
                && l.ends_with("  email (follows app.users.email)")),
        "{}",
        plan.stdout
    );
}

#[test]
fn masked_values_that_a_domain_check_rejects_fail_the_export() {
    let schema = SCHEMA.replace(
        r"CHECK (VALUE ~ '^[a-z0-9._+-]+@[a-z0-9.-]+\.[a-z]{2,}$')",
        "CHECK (VALUE LIKE '%@corp-mail.example.net')",
    );
    let source = cluster().create_db("mask", None, &format!("{schema}{DATA}"));
    let cwd = write_config(CONFIG);
    export_masked(&cwd, &source, "snap", KEY_A, &[])
        .code(4)
        .stderr_has("masked values of app.users.email do not satisfy its type app.email_address");
    assert!(!cwd.join("snap").exists());
}

#[test]
fn an_export_without_the_rules_never_writes_unmasked_values_over_a_masked_snapshot() {
    let source = cluster().create_db("mask", None, &format!("{SCHEMA}{DATA}"));
    let cwd = write_config(CONFIG);
    export_masked(&cwd, &source, "snap", KEY_A, &["--limit", "40"]).ok();
    let dir = cwd.join("snap");
    let before = read_dir_files(&dir);
    let url = source.url();

    // The same export without the config file (as from another directory, or --no-config):
    // refused before anything is written, naming every masked column and the way out.
    let run = seedsnap_in(
        &cwd,
        &[
            "export",
            "-q",
            "--no-config",
            "--source",
            &url,
            "--dir",
            "snap",
        ],
        &[],
    )
    .code(4);
    for text in [
        "config: none (--no-config)",
        "has masked columns that this export would write with the source's values",
        "app.users.email was masked (email)",
        "app.users.profile#contacts[*].mail was masked (email)",
        "No masking rules are in use",
        "--allow-unmasked",
    ] {
        assert!(run.stderr.contains(text), "{text:?} not in\n{}", run.stderr);
    }
    // client_ip was kept (rule keep): it was never masked, so it is not named.
    assert!(!run.stderr.contains("client_ip"), "{}", run.stderr);
    assert_eq!(
        read_dir_files(&dir),
        before,
        "the masked snapshot was changed"
    );

    // A config whose rule for one column became keep: unmasking that column, refused for it
    // alone, with the hint to give it a rule.
    let kept_phone = CONFIG.replace(
        "\"app.users.phone\" = \"phone\"",
        "\"app.users.phone\" = \"keep\"",
    );
    assert_ne!(kept_phone, CONFIG);
    std::fs::write(cwd.join("seedsnap.toml"), &kept_phone).unwrap();
    let run = export_masked(&cwd, &source, "snap", KEY_A, &["--limit", "40", "--json"]).code(4);
    let error: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problems = error["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{}", run.stdout);
    assert_eq!(problems[0]["table"], "app.users");
    assert_eq!(problems[0]["column"], "phone");
    assert_eq!(problems[0]["kind"], "directory");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Add rules for them to [masking.columns]"));
    assert_eq!(
        read_dir_files(&dir),
        before,
        "the masked snapshot was changed"
    );

    // On purpose: replaced, and the phones are the source's again.
    export_masked(
        &cwd,
        &source,
        "snap",
        KEY_A,
        &["--limit", "40", "--allow-unmasked"],
    )
    .ok();
    let users = std::fs::read_to_string(dir.join("app.users.tsv")).unwrap();
    assert!(
        users.contains("+1 (555) 7"),
        "the phones were not written unmasked"
    );
    // A snapshot that never was masked is replaced without a word.
    std::fs::write(cwd.join("seedsnap.toml"), "").unwrap();
    export_masked(&cwd, &source, "plain", KEY_A, &["--limit", "10"]).ok();
    export_masked(&cwd, &source, "plain", KEY_A, &["--limit", "10"]).ok();
    std::fs::remove_dir_all(&cwd).unwrap();
}

#[test]
fn json_masking_changes_only_the_strings_its_paths_reach() {
    let source = cluster().create_db(
        "mask_json",
        None,
        r#"CREATE TABLE docs (id int PRIMARY KEY, body json NOT NULL, b jsonb);
           INSERT INTO docs VALUES
             (1, '{"pi": 3.14159265358979323846264, "a.b": {"email": "dotkey@corp.example.net"},
                   "n": 1.000}',
                 '{"big": 12345678901234567890123, "exp": 1e400, "contact": {"email": "b@corp.example.net"}}');"#,
    );
    let cwd = write_config(
        r#"
[masking]
key_env = "TEST_MASK_KEY"

[masking.columns]
"public.docs.body#\"a.b\".email" = "email"
"public.docs.b#contact.emial" = "email"
"#,
    );
    let url = source.url();
    let run = seedsnap_in(
        &cwd,
        &["export", "-q", "--json", "--source", &url, "--dir", "snap"],
        &[("TEST_MASK_KEY", KEY_A)],
    )
    .ok();
    let file = std::fs::read_to_string(cwd.join("snap/public.docs.tsv")).unwrap();
    assert!(!file.contains("dotkey@corp.example.net"), "{file}");
    // Every digit and the spacing of the json value kept; the jsonb one as the server prints it.
    assert!(
        file.contains(r#"{"pi": 3.14159265358979323846264, "a.b": {"email": ""#),
        "{file}"
    );
    assert!(file.contains(r#""n": 1.000}"#), "{file}");
    let b: String = source
        .client()
        .query_one("SELECT b::text FROM docs", &[])
        .unwrap()
        .get(0);
    assert!(
        b.contains("12345678901234567890123") && file.contains(&b),
        "{file}"
    );
    // The misspelt path masked nothing, and says so.
    let report = json(&run);
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("public.docs.b#contact.emial reached no string in the 1 JSON values"),
        "{warnings:?}"
    );
    // And it loads as it was.
    let target = cluster().create_db(
        "mask_json_test",
        None,
        "CREATE TABLE docs (id int PRIMARY KEY, body json NOT NULL, b jsonb);",
    );
    import(&target, &cwd.join("snap"), &[]).ok();
    let pi: String = target
        .client()
        .query_one("SELECT body->>'pi' FROM docs", &[])
        .unwrap()
        .get(0);
    assert_eq!(pi, "3.14159265358979323846264");
}

#[test]
fn masked_keys_follow_how_their_types_compare() {
    let schema = "CREATE EXTENSION IF NOT EXISTS citext;
        CREATE TABLE members (email citext PRIMARY KEY);
        CREATE TABLE logins (id int PRIMARY KEY, email citext REFERENCES members (email));
        CREATE TABLE codes (code char(12) PRIMARY KEY);
        CREATE TABLE uses (id int PRIMARY KEY, code varchar(12) REFERENCES codes (code));
        CREATE TABLE letters (id int PRIMARY KEY, letter citext UNIQUE);
        CREATE TABLE people (email text PRIMARY KEY);
        CREATE TABLE contacts (id int PRIMARY KEY, email citext REFERENCES people (email));
        CREATE TABLE handles (id int PRIMARY KEY, handle varchar(4));
        CREATE UNIQUE INDEX handles_lower ON handles (lower(handle));";
    let source = cluster().create_db(
        "mask_fold",
        None,
        &format!(
            "{schema}
             INSERT INTO members VALUES ('heidi@corp.example.net'), ('Ivan@Corp.example.net');
             INSERT INTO logins VALUES (1, 'HEIDI@CORP.EXAMPLE.NET'), (2, 'heidi@corp.example.net'),
                                       (3, 'ivan@corp.example.net');
             INSERT INTO codes VALUES ('AB12'), ('CD34');
             INSERT INTO uses VALUES (1, 'AB12'), (2, 'CD34');
             INSERT INTO letters SELECT i, CASE WHEN i <= 13 THEN chr(96 + i) ELSE chr(64 + i) END
               FROM generate_series(1, 26) AS i;
             -- A case-sensitive key holds both spellings; a citext child must not merge them.
             INSERT INTO people VALUES ('Ann@corp.example.net'), ('ann@corp.example.net');
             INSERT INTO contacts VALUES (1, 'Ann@corp.example.net'), (2, 'ann@corp.example.net');
             INSERT INTO handles SELECT i, CASE WHEN i <= 13 THEN chr(96 + i) ELSE chr(64 + i) END
               FROM generate_series(1, 26) AS i;"
        ),
    );
    let cwd = write_config(
        r#"
[masking]
key_env = "TEST_MASK_KEY"

[masking.columns]
"public.members.email" = "email"
"public.codes.code" = "text"
"public.letters.letter" = "text"
"public.handles.handle" = "text"
"public.people.email" = "email"
"#,
    );
    export_masked(&cwd, &source, "snap", KEY_A, &["--limit", "all"]).ok();
    let dir = cwd.join("snap");
    let all = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect::<String>()
        .to_lowercase();
    assert!(
        !all.contains("heidi@")
            && !all.contains("ivan@")
            && !all.contains("ann@")
            && !all.contains("ab12")
    );
    // The snapshot's keys resolve as the server compares them, and its unique values stay
    // unique: verify and a load into the same schema both pass.
    seedsnap_in(
        &cwd,
        &["verify", "--dir", "snap"],
        &[("TEST_MASK_KEY", KEY_A)],
    )
    .ok();
    let target = cluster().create_db("mask_fold_test", None, schema);
    import(&target, &dir, &[]).ok();
    assert_eq!(
        target.query_i64("SELECT count(DISTINCT lower(email)) FROM logins"),
        2
    );
}

#[test]
fn plan_explain_shows_no_masked_value() {
    let source = cluster().create_db(
        "mask_explain",
        None,
        "CREATE TABLE accounts (email text PRIMARY KEY);
         CREATE TABLE sessions (id int PRIMARY KEY, account_email text REFERENCES accounts);
         INSERT INTO accounts SELECT format('erin%s@corp.example.net', i) FROM generate_series(1, 5) i;
         INSERT INTO sessions SELECT i, format('erin%s@corp.example.net', 6 - i)
           FROM generate_series(1, 5) i;",
    );
    let cwd = write_config(
        r#"
[masking]
key_env = "TEST_MASK_KEY"

[masking.columns]
"public.accounts.email" = "email"
"#,
    );
    let url = source.url();
    let run = seedsnap_in(
        &cwd,
        &[
            "plan",
            "-q",
            "--source",
            &url,
            "--limit",
            "1",
            "--table-limit",
            "public.sessions=3",
            "--explain",
            "public.accounts",
        ],
        &[("TEST_MASK_KEY", KEY_A)],
    )
    .ok();
    assert!(run.stdout.contains("(email)=(<masked>)"), "{}", run.stdout);
    assert!(!run.stdout.contains("erin"), "{}", run.stdout);
    // The file is in the order of the masked keys, not of the real addresses (erin1 … erin5).
    export_masked(&cwd, &source, "snap", KEY_A, &[]).ok();
    let file = std::fs::read_to_string(cwd.join("snap/public.accounts.tsv")).unwrap();
    let keys: Vec<&str> = file.lines().skip(1).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn seal_warns_that_it_cannot_vouch_for_hand_edits_of_masked_columns() {
    let source = cluster().create_db("mask_seal", None, &format!("{SCHEMA}{DATA}"));
    let cwd = write_config(CONFIG);
    export_masked(&cwd, &source, "snap", KEY_A, &["--limit", "5"]).ok();
    let users = cwd.join("snap/app.users.tsv");
    let text = std::fs::read_to_string(&users).unwrap();
    std::fs::write(&users, text.replacen("dark", "dusk", 1)).unwrap();
    let run = seedsnap_in(&cwd, &["seal", "--dir", "snap"], &[]).ok();
    assert!(
        run.stdout
            .contains("warning: app.users holds masked columns (")
            && run.stdout.contains("email"),
        "{}",
        run.stdout
    );
    let run = seedsnap_in(&cwd, &["seal", "--json", "--dir", "snap"], &[]).ok();
    assert_eq!(
        json(&run)["changed"],
        serde_json::json!([]),
        "{}",
        run.stdout
    );
}
