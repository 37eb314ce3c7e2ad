//! The CI examples run as the CI runs them: each `run:` script of
//! examples/ci/github-actions.yml under `bash -e` (GitHub's default shell, which has no
//! pipefail), with the built binary on PATH instead of the install step. A bad vault
//! must fail the step; the JSON report must be kept.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::Sandbox;

/// The `run: |` block of the step named `step` in a workflow file.
fn run_block(workflow: &str, step: &str) -> String {
    let lines: Vec<&str> = workflow.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with("- name:") && l.contains(step))
        .unwrap_or_else(|| panic!("no step named {step}"));
    let run = (start..lines.len())
        .find(|&i| lines[i].trim_start().starts_with("run: |"))
        .unwrap_or_else(|| panic!("step {step} has no `run: |` block"));
    let indent = lines[run].len() - lines[run].trim_start().len();
    lines[run + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .map(|l| l.trim_start())
        .collect::<Vec<_>>()
        .join("\n")
}

fn workflow() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/github-actions.yml")).unwrap()
}

/// Runs `script` as GitHub's default shell does (`bash -e {0}`), in the sandbox's repo,
/// with the CI identity in AGEVAULT_IDENTITY and the built agevault on PATH.
fn run_like_github(sb: &Sandbox, script: &str) -> Output {
    let file = sb.root.path().join("step.sh");
    fs::write(&file, script).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_agevault"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let identity = fs::read_to_string(sb.identity()).unwrap();
    Command::new("bash")
        .arg("-e")
        .arg(&file)
        .env_clear()
        .env("PATH", path)
        .env("HOME", sb.root.path().join("ci-home"))
        .env("AGEVAULT_TRUST_DIR", sb.root.path().join("ci-trust"))
        .env("AGEVAULT_AUDIT_DIR", sb.audit_dir())
        .env("AGEVAULT_IDENTITY", identity.trim())
        .current_dir(sb.repo())
        .output()
        .unwrap()
}

#[test]
fn the_github_full_check_step_fails_on_a_bad_vault_and_keeps_its_report() {
    let sb = Sandbox::with_secrets(&[("db/url", "postgres://db.lan/app")]);
    let script = run_block(&workflow(), "Full check");
    assert!(script.contains("set -euo pipefail"), "{script}");
    assert!(script.contains("agevault check --json"), "{script}");

    let out = run_like_github(&sb, &script);
    assert!(
        out.status.success(),
        "a sound vault fails CI: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(sb.repo().join("agevault-check.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], true);

    // A rule the value breaks: the step must fail, and the report still says why.
    sb.test(&["set", "db/url", "--force"])
        .stdin("not a url")
        .run()
        .success();
    sb.append_config("[validate]\n\"db/url\" = \"url\"\n");
    let out = run_like_github(&sb, &script);
    assert_eq!(out.status.code(), Some(1), "the step passed on a bad vault");
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(sb.repo().join("agevault-check.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], false);
    assert!(!report.to_string().contains("not a url"), "a value in the report");

    // What the example used to say passes under GitHub's default shell: the bug it fixes.
    let old = run_like_github(&sb, "agevault check --json | tee agevault-check.json\n");
    assert!(
        old.status.success(),
        "bash -e without pipefail should have hidden the failure"
    );
}

#[test]
fn no_example_installs_from_the_users_repository() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci");
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        for bad in ["--git", "--path", "| tee"] {
            let offending: Vec<&str> = text
                .lines()
                .filter(|l| l.contains(bad) && !l.trim_start().starts_with('#'))
                .collect();
            let piped_safely = bad == "| tee" && text.contains("set -euo pipefail");
            assert!(
                offending.is_empty() || piped_safely,
                "{}: {offending:?}",
                path.display()
            );
        }
        assert!(
            text.contains("set -euo pipefail"),
            "{}: no pipefail",
            path.display()
        );
        assert!(
            text.contains("cargo install --locked agevault --version"),
            "{}",
            path.display()
        );
    }
    // Every run block of the GitHub workflow starts strict.
    let workflow = workflow();
    for step in [
        "Install agevault",
        "Keyless checks",
        "Full check",
        "No plaintext copies",
    ] {
        assert!(
            run_block(&workflow, step).starts_with("set -euo pipefail"),
            "{step}"
        );
    }
}

#[test]
fn the_keyless_step_fails_on_a_damaged_vault() {
    let sb = Sandbox::init();
    let script = run_block(&workflow(), "Keyless checks");
    assert!(run_like_github(&sb, &script).status.success());
    let mut bytes = sb.vault_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    fs::write(sb.vault(), bytes).unwrap();
    let out = run_like_github(&sb, &script);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
