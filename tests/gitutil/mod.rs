//! Running the real `git` CLI in a sandbox, with agevault on PATH (for drivers and hooks).
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{Sandbox, Test};

/// The directory of the agevault binary under test, first on PATH.
pub fn path_with_agevault() -> OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_agevault"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut dirs = vec![bin];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap()
}

/// PATH without the agevault binary's directory.
pub fn path_without_agevault() -> OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_agevault"))
        .parent()
        .map(Path::to_path_buf);
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    std::env::join_paths(dirs.into_iter().filter(|d| Some(d) != bin.as_ref())).unwrap()
}

/// `git ARGS` in `dir` as `author`, with an empty global config (HOME is the sandbox's).
pub fn git_in(sb: &Sandbox, dir: &Path, author: &str, args: &[&str]) -> Output {
    let email = format!("{}@example.org", author.to_lowercase());
    Command::new("git")
        .env_clear()
        .env("PATH", path_with_agevault())
        .env("HOME", sb.home())
        .env("USER", crate::common::USER)
        .env("LANG", "C.UTF-8")
        .env("AGEVAULT_TRUST_DIR", sb.trust_dir())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", author)
        .env("GIT_AUTHOR_EMAIL", &email)
        .env("GIT_COMMITTER_NAME", author)
        .env("GIT_COMMITTER_EMAIL", &email)
        .env("GIT_PAGER", "cat")
        .env("GIT_MERGE_AUTOEDIT", "no")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the git CLI must be installed")
}

/// `git ARGS` in the sandbox repo as Alice.
pub fn git(sb: &Sandbox, args: &[&str]) -> Output {
    git_in(sb, &sb.repo(), "Alice", args)
}

/// `git ARGS` as Alice; asserts success and returns stdout.
pub fn git_ok(sb: &Sandbox, args: &[&str]) -> String {
    let out = git(sb, args);
    assert!(
        out.status.success(),
        "git {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git ARGS` as `author`; asserts success.
pub fn git_as(sb: &Sandbox, author: &str, args: &[&str]) -> String {
    let out = git_in(sb, &sb.repo(), author, args);
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The agevault binary in the sandbox with itself on PATH (as git's drivers see it).
pub fn agevault(sb: &Sandbox, args: &[&str]) -> Test {
    sb.test(args).env("PATH", path_with_agevault())
}

/// A sandbox after `init` and `git init`, with `git setup` done and a first commit.
pub fn repo_with_setup(secrets: &[(&str, &str)]) -> Sandbox {
    let sb = Sandbox::with_secrets(secrets);
    git_ok(&sb, &["init", "-q", "-b", "main"]);
    agevault(&sb, &["git", "setup"]).run().success();
    git_ok(&sb, &["add", "-A"]);
    git_ok(&sb, &["commit", "-q", "-m", "initial secrets"]);
    sb
}
