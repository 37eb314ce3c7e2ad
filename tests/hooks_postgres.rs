//! The worked example of an `after_rotate` hook against a real PostgreSQL server:
//! `rotate db/password` runs `ALTER ROLE` with the new value from a memory file, and
//! afterwards the database accepts the new password and refuses the old one. The
//! Compose example's hook (psql's `\password` over stdin) is run the same way.
//!
//! Needs the Debian `postgresql` package (`.ci/run` installs it). Without it the test
//! fails: a skipped test would let the example rot unnoticed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{all_output, assert_no_leak, stderr, Sandbox};

/// The system user the throwaway cluster runs as when the tests run as root
/// (PostgreSQL refuses to run as root).
const PG_USER: &str = "agevault-pg";

fn pg_bin(name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
    {
        return p;
    }
    let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.into_iter().rev().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is missing: `{name}` is neither on PATH nor in /usr/lib/postgresql/*/bin. \
             Install the Debian package `postgresql` (and `postgresql-client`), e.g. by running .ci/run as root"
        )
    })
}

fn is_root() -> bool {
    // SAFETY-free: `id -u` keeps the test free of libc.
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

/// Runs a PostgreSQL server binary as the cluster's user.
fn as_pg_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", PG_USER, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn ensure_pg_user() {
    if !is_root() {
        return;
    }
    let exists = Command::new("id")
        .arg(PG_USER)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let out = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_USER,
            ])
            .output()
            .expect("useradd (passwd package) is needed to run PostgreSQL as a non-root user");
        // A parallel run may have created it in the meantime.
        assert!(
            out.status.success() || String::from_utf8_lossy(&out.stderr).contains("already exists"),
            "useradd {PG_USER}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway cluster listening only on a Unix socket; stopped on drop.
struct Cluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    socket: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Cluster {
        let initdb = pg_bin("initdb");
        let pg_ctl = pg_bin("pg_ctl");
        ensure_pg_user();
        let dir = tempfile::Builder::new().prefix("agevault-pg-").tempdir().unwrap();
        let data = dir.path().join("data");
        let socket = dir.path().join("sock");
        fs::create_dir(&socket).unwrap();
        ok(
            &Command::new("chmod").arg("755").arg(dir.path()).output().unwrap(),
            "chmod",
        );
        if is_root() {
            ok(
                &Command::new("chown")
                    .arg(PG_USER)
                    .arg(dir.path())
                    .arg(&socket)
                    .output()
                    .unwrap(),
                "chown",
            );
        }
        ok(
            &as_pg_user(&initdb)
                .args(["-U", "postgres", "--auth-local=trust", "-D"])
                .arg(&data)
                .output()
                .unwrap(),
            "initdb",
        );
        // The superuser over the socket without a password (the hook's admin path);
        // every other role with its password, which is what the test proves.
        let hba = data.join("pg_hba.conf");
        fs::write(&hba, "local all postgres trust\nlocal all all scram-sha-256\n").unwrap();
        if is_root() {
            ok(
                &Command::new("chown").arg(PG_USER).arg(&hba).output().unwrap(),
                "chown hba",
            );
        }
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        let opts = format!("-k {} -p {port} -c listen_addresses=''", socket.display());
        ok(
            &as_pg_user(&pg_ctl)
                .args(["-w", "-t", "60", "-D"])
                .arg(&data)
                .args(["-l"])
                .arg(dir.path().join("log"))
                .args(["-o", &opts, "start"])
                .output()
                .unwrap(),
            "pg_ctl start",
        );
        Cluster {
            _dir: dir,
            data,
            socket,
            port,
        }
    }

    /// psql as `user`, SQL on stdin, password (if any) in PGPASSWORD.
    fn psql(&self, user: &str, password: Option<&str>, sql: &str) -> Output {
        use std::io::Write;
        let mut cmd = Command::new("psql");
        cmd.args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.socket)
            .args(["-p", &self.port.to_string(), "-U", user, "-d", "postgres"])
            .env_remove("PGPASSWORD")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(p) = password {
            cmd.env("PGPASSWORD", p);
        }
        let mut child = cmd.spawn().expect("psql (postgresql-client) must be installed");
        child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_pg_user(&pg_bin("pg_ctl"))
            .args(["-D"])
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[test]
fn rotate_runs_alter_role_on_a_real_postgresql_and_the_new_password_works() {
    let pg = Cluster::start();
    let sb = Sandbox::init();
    sb.test(&["set", "db/password", "--generate", "password:24"])
        .run()
        .success();
    let old = sb.get("db/password");
    // Create the role with the vault's value, the way a provisioning script would:
    // through `exec`, the password in a memory file, read by psql's \set, never in argv.
    let script = sb.root.path().join("create.sh");
    fs::write(
        &script,
        format!(
            "psql -X -q -v ON_ERROR_STOP=1 -h {sock} -p {port} -U postgres -d postgres <<'SQL'\n\
             \\set pw `cat \"$PW_FILE\"`\n\
             CREATE ROLE app LOGIN PASSWORD :'pw';\n\
             SQL\n",
            sock = pg.socket.display(),
            port = pg.port
        ),
    )
    .unwrap();
    let out = sb
        .test(&["exec", "--file", "PW_FILE=db/password", "--", "sh"])
        .arg(&script)
        .run();
    ok(&out, "create role");
    ok(
        &pg.psql("app", Some(&old), "select current_user;"),
        "login with the first password",
    );

    // The hook from the README, pointed at this cluster.
    sb.append_config(&format!(
        "[hooks.\"db/password\"]\n\
         after_rotate = '''\n\
         psql -X -q -v ON_ERROR_STOP=1 -h {sock} -p {port} -U postgres -d postgres <<'SQL'\n\
         \\set newpw `cat \"$AGEVAULT_NEW_FILE\"`\n\
         ALTER ROLE app PASSWORD :'newpw';\n\
         SQL\n\
         '''\n\
         timeout = \"30s\"\n",
        sock = pg.socket.display(),
        port = pg.port
    ));
    let out = sb.test(&["rotate", "db/password"]).run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(
        stderr(&out).contains("rotated db/password (hook succeeded)"),
        "{}",
        stderr(&out)
    );
    let new = sb.get("db/password");
    assert_ne!(new, old);
    assert_no_leak(&out, &new);
    assert_no_leak(&out, &old);

    // The database now has the new password, and not the old one.
    let login = pg.psql("app", Some(&new), "select current_user;");
    ok(&login, "login with the rotated password");
    assert_eq!(String::from_utf8_lossy(&login.stdout).trim(), "app");
    let refused = pg.psql("app", Some(&old), "select 1;");
    assert!(!refused.status.success(), "the old password still works");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // A consumer through `exec` gets the new value and logs in.
    let out = sb
        .test(&[
            "exec",
            "--env",
            "PGPASSWORD=db/password",
            "--",
            "psql",
            "-X",
            "-t",
            "-A",
            "-h",
        ])
        .arg(&pg.socket)
        .args([
            "-p",
            &pg.port.to_string(),
            "-U",
            "app",
            "-d",
            "postgres",
            "-c",
            "select 42",
        ])
        .run();
    ok(&out, "exec psql");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");

    // The server stopped: the hook fails, the vault keeps the value the database has.
    as_pg_user(&pg_bin("pg_ctl"))
        .args(["-D"])
        .arg(&pg.data)
        .args(["-m", "fast", "stop"])
        .output()
        .unwrap();
    let out = sb.test(&["rotate", "db/password"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert!(
        stderr(&out).contains("agevault rotate --retry-hooks db/password"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        sb.get("db/password"),
        new,
        "the value the database accepts must stay current"
    );
}

/// The `after_rotate` hook of examples/compose/README.md, taken from the README: it
/// pipes psql's `\password` and the new value twice into `docker compose exec -T db
/// psql`. A stub `docker` runs the real psql against a throwaway cluster instead of
/// the container (where the image's POSTGRES_USER `app` is the superuser over the
/// local socket; here that role is `postgres`).
#[test]
fn the_compose_example_hook_sets_the_role_password_over_stdin() {
    let pg = Cluster::start();
    let sb = Sandbox::init();
    sb.test(&["set", "compose/postgres/password", "--generate", "password:32"])
        .run()
        .success();
    let old = sb.get("compose/postgres/password");
    let create = sb
        .test(&[
            "exec",
            "--file",
            "PW_FILE=compose/postgres/password",
            "--",
            "sh",
            "-c",
        ])
        .arg(format!(
            "psql -X -q -v ON_ERROR_STOP=1 -h {sock} -p {port} -U postgres -d postgres <<'SQL'\n\
             \\set pw `cat \"$PW_FILE\"`\n\
             CREATE ROLE app LOGIN PASSWORD :'pw';\n\
             SQL\n",
            sock = pg.socket.display(),
            port = pg.port
        ))
        .run();
    ok(&create, "create role");

    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose/README.md")).unwrap();
    let start = readme
        .find("```toml\n[hooks.\"compose/postgres/password\"]")
        .expect("the hook in examples/compose/README.md");
    let block = &readme[start + "```toml\n".len()..];
    let hook = &block[..block.find("```").unwrap()];
    let compose_dir = sb.root.path().join("compose");
    fs::create_dir_all(&compose_dir).unwrap();
    let cd = "cd /srv/infra/examples/compose\n";
    assert!(hook.contains(cd), "{hook}");
    sb.append_config(&hook.replace(cd, &format!("cd {}\n", compose_dir.display())));

    let bin = sb.root.path().join("stub-bin");
    fs::create_dir_all(&bin).unwrap();
    let calls = sb.root.path().join("docker-calls.txt");
    fs::write(
        bin.join("docker"),
        format!(
            "#!/bin/sh\n\
             printf '%s | %s\\n' \"$PWD\" \"$*\" >> '{calls}'\n\
             [ \"$1 $2 $3 $4 $5\" = 'compose exec -T db psql' ] || exit 99\n\
             shift 5\n\
             n=$#\n\
             for a in \"$@\"; do [ \"$a\" = app ] && a=postgres; set -- \"$@\" \"$a\"; done\n\
             shift \"$n\"\n\
             exec psql -h '{sock}' -p {port} \"$@\"\n",
            calls = calls.display(),
            sock = pg.socket.display(),
            port = pg.port
        ),
    )
    .unwrap();
    ok(
        &Command::new("chmod")
            .arg("755")
            .arg(bin.join("docker"))
            .output()
            .unwrap(),
        "chmod stub",
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());

    let out = sb
        .test(&["rotate", "compose/postgres/password"])
        .env("PATH", &path)
        .run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(
        stderr(&out).contains("rotated compose/postgres/password (hook succeeded)"),
        "{}",
        stderr(&out)
    );
    let new = sb.get("compose/postgres/password");
    assert_ne!(new, old);
    assert_no_leak(&out, &new);
    assert_no_leak(&out, &old);
    let recorded = fs::read_to_string(&calls).unwrap();
    assert_eq!(
        recorded,
        format!(
            "{} | compose exec -T db psql -X -q -v ON_ERROR_STOP=1 -U app -d app\n",
            compose_dir.display()
        )
    );

    let login = pg.psql("app", Some(&new), "select current_user;");
    ok(&login, "login with the rotated password");
    assert_eq!(String::from_utf8_lossy(&login.stdout).trim(), "app");
    let refused = pg.psql("app", Some(&old), "select 1;");
    assert!(!refused.status.success(), "the old password still works");
}
