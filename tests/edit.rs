//! `agevault edit` driven by real `$EDITOR` scripts.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{all_output, assert_no_leak, echoed, stderr, unique, Answer, Outcome, Sandbox};

/// Where editor scripts record the path of the file they were given.
fn seen_path(sb: &Sandbox) -> PathBuf {
    sb.root.path().join("editor-saw-path")
}

/// Writes an executable `sh` editor script into the sandbox root. The script
/// finds the file (its last argument) in `$F` and records it in `seen_path`.
fn editor(sb: &Sandbox, name: &str, body: &str) -> PathBuf {
    editor_in(sb, sb.root.path(), name, body)
}

fn editor_in(sb: &Sandbox, dir: &Path, name: &str, body: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    let text = format!(
        "#!/bin/sh\nset -e\nfor F; do :; done\nprintf '%s\\n' \"$F\" > '{}'\n{body}\n",
        seen_path(sb).display()
    );
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `agevault edit` with `EDITOR` set to `editor_cmd`; stdin is not a terminal.
fn edit(sb: &Sandbox, editor_cmd: &str) -> Outcome {
    sb.test(&["edit"]).env("EDITOR", editor_cmd).run()
}

/// The file the editor was given; asserts its private directory is gone.
fn assert_temp_removed(sb: &Sandbox) -> PathBuf {
    let seen = fs::read_to_string(seen_path(sb)).expect("the editor script did not run");
    let file = PathBuf::from(seen.trim_end());
    assert!(
        !file.exists(),
        "the plaintext file {} outlived the edit",
        file.display()
    );
    let dir = file.parent().unwrap();
    assert!(
        !dir.exists(),
        "the temp directory {} outlived the edit",
        dir.display()
    );
    file
}

/// Asserts a failed edit: exit 1, one error line naming `needle`, no panic, no value leaked.
fn assert_edit_failed(out: &Output, needle: &str, secrets: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "stdout+stderr: {}", all_output(out));
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert!(err.contains("nothing was changed"), "{err}");
    common::error_and_hint(&err);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    assert!(!err.contains("Re-open"), "prompted without a terminal: {err}");
    for secret in secrets {
        assert_no_leak(out, secret);
    }
    err
}

/// The decrypted document as JSON.
fn document(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&sb.age_decrypt()).unwrap()
}

fn updated(doc: &serde_json::Value, path: &str) -> Option<String> {
    doc["meta"][path]["updated"].as_str().map(str::to_owned)
}

#[test]
fn sed_edit_changes_the_value_and_touches_its_meta() {
    let old = unique("old-db-pw");
    let new = unique("new-db-pw");
    let other = unique("other-value");
    let sb = Sandbox::with_secrets(&[("db/password", &old), ("other/key", &other)]);
    let before = document(&sb);
    let other_updated = updated(&before, "other/key").expect("set records meta");

    let script = editor(&sb, "sed.sh", &format!("sed -i 's/{old}/{new}/' \"$F\""));
    let out = edit(&sb, script.to_str().unwrap());
    assert!(out.status.success(), "{}", all_output(&out));
    assert_no_leak(&out, &old);
    assert_no_leak(&out, &new);
    assert_no_leak(&out, &other);

    assert_eq!(sb.get("db/password"), new);
    assert_eq!(sb.get("other/key"), other);
    let after = document(&sb);
    let stamp = updated(&after, "db/password").expect("meta.updated of the changed path");
    assert!(
        stamp.ends_with('Z') && stamp.contains('T'),
        "not RFC 3339: {stamp}"
    );
    assert_eq!(
        updated(&after, "other/key").as_deref(),
        Some(other_updated.as_str())
    );
    assert_temp_removed(&sb);
}

#[test]
fn editor_writing_new_json_adds_and_removes_paths() {
    let keep = unique("keep");
    let gone = unique("gone");
    let added = unique("added");
    let sb = Sandbox::with_secrets(&[("keep/me", &keep), ("drop/me", &gone)]);
    let body = format!(
        "cat > \"$F\" <<'EOF'\n{{\n  \"keep\": {{ \"me\": \"{keep}\" }},\n  \"fresh\": {{ \"pem\": \"line1\\nline2\\n\" }},\n  \"new\": \"{added}\"\n}}\nEOF"
    );
    let script = editor(&sb, "rewrite.sh", &body);
    let out = edit(&sb, script.to_str().unwrap());
    assert!(out.status.success(), "{}", all_output(&out));
    for v in [&keep, &gone, &added] {
        assert_no_leak(&out, v);
    }

    assert_eq!(sb.get("new"), added);
    assert_eq!(sb.get("fresh/pem"), "line1\nline2\n");
    assert_eq!(sb.get("keep/me"), keep);
    let ls = sb.test(&["ls"]).run();
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(!listing.contains("drop/me"), "{listing}");
    let doc = document(&sb);
    assert!(updated(&doc, "new").is_some());
    assert!(updated(&doc, "fresh/pem").is_some());
    assert!(
        doc["meta"].get("drop/me").is_none(),
        "meta of a removed path kept: {doc}"
    );
    assert!(!doc["secrets"].to_string().contains(&gone));
    assert_temp_removed(&sb);
}

#[test]
fn visual_wins_over_editor() {
    let old = unique("v-old");
    let by_visual = unique("by-visual");
    let by_editor = unique("by-editor");
    let sb = Sandbox::with_secrets(&[("app/token", &old)]);
    let visual = editor(&sb, "visual.sh", &format!("sed -i 's/{old}/{by_visual}/' \"$F\""));
    let plain = editor(&sb, "editor.sh", &format!("sed -i 's/{old}/{by_editor}/' \"$F\""));
    let out = sb
        .test(&["edit"])
        .env("VISUAL", &visual)
        .env("EDITOR", &plain)
        .run();
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(sb.get("app/token"), by_visual);
}

#[test]
fn editor_command_is_split_like_a_shell() {
    let old = unique("split-old");
    let new = unique("split-new");
    let sb = Sandbox::with_secrets(&[("svc/key", &old)]);
    // A directory with a space, quoted inside $EDITOR as a shell would need it.
    let dir = sb.root.path().join("my editors");
    let args_file = sb.root.path().join("editor-args");
    let body = format!(
        "printf '%s\\n' \"$#\" \"$1\" > '{}'\nsed -i 's/{old}/{new}/' \"$F\"",
        args_file.display()
    );
    let script = editor_in(&sb, &dir, "ed it.sh", &body);
    let cmd = format!("sh '{}' --flag", script.display());
    let out = edit(&sb, &cmd);
    assert!(out.status.success(), "{}", all_output(&out));
    let args = fs::read_to_string(&args_file).unwrap();
    assert_eq!(args, "2\n--flag\n", "the script saw other arguments");
    assert_eq!(sb.get("svc/key"), new);
    assert_temp_removed(&sb);
}

#[test]
fn unchanged_edit_leaves_the_vault_byte_identical() {
    let value = unique("same");
    let sb = Sandbox::with_secrets(&[("a/b", &value)]);
    let before = sb.vault_bytes();
    let out = edit(&sb, "true");
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(stderr(&out).contains("no changes"), "{}", stderr(&out));
    assert_no_leak(&out, &value);
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn reformatting_without_changes_leaves_the_vault_byte_identical() {
    let value = unique("compact");
    let sb = Sandbox::with_secrets(&[("a/b", &value), ("c", "d")]);
    let before = sb.vault_bytes();
    // Same tree, other key order and no whitespace.
    let body = format!("printf '%s' '{{\"c\":\"d\",\"a\":{{\"b\":\"{value}\"}}}}' > \"$F\"");
    let script = editor(&sb, "compact.sh", &body);
    let out = edit(&sb, script.to_str().unwrap());
    assert!(out.status.success(), "{}", all_output(&out));
    assert_eq!(sb.vault_bytes(), before);
    assert_temp_removed(&sb);
}

#[test]
fn invalid_json_is_reported_with_its_line_and_changes_nothing() {
    let value = unique("inv-json");
    let typed = unique("typed-in-editor");
    let sb = Sandbox::with_secrets(&[("x/y", &value)]);
    let before = sb.vault_bytes();
    let body = format!("printf '{{\\n  \"x\": \"{typed}\",\\n}}\\n' > \"$F\"");
    let script = editor(&sb, "broken.sh", &body);
    let out = edit(&sb, script.to_str().unwrap());
    let err = assert_edit_failed(&out, "line", &[&value, &typed]);
    assert!(err.contains("invalid JSON"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("column"), "{err}");
    assert_eq!(sb.vault_bytes(), before);
    assert_temp_removed(&sb);
}

#[test]
fn a_number_leaf_is_rejected_naming_its_path() {
    let value = unique("num-leaf");
    let sb = Sandbox::with_secrets(&[("db/password", &value)]);
    let before = sb.vault_bytes();
    let body = format!("printf '%s' '{{\"db\": {{\"password\": \"{value}\", \"port\": 5432}}}}' > \"$F\"");
    let script = editor(&sb, "number.sh", &body);
    let out = edit(&sb, script.to_str().unwrap());
    let err = assert_edit_failed(&out, "db/port", &[&value, "5432"]);
    assert!(err.contains("number"), "{err}");
    assert_eq!(sb.vault_bytes(), before);
    assert_temp_removed(&sb);
}

#[test]
fn a_duplicate_key_is_rejected() {
    let first = unique("dup-first");
    let second = unique("dup-second");
    let sb = Sandbox::with_secrets(&[("k", &first)]);
    let before = sb.vault_bytes();
    let body = format!("printf '%s' '{{\"k\": \"{first}\", \"k\": \"{second}\"}}' > \"$F\"");
    let script = editor(&sb, "dup.sh", &body);
    let out = edit(&sb, script.to_str().unwrap());
    let err = assert_edit_failed(&out, "duplicate key", &[&first, &second]);
    assert!(err.contains("`k`"), "{err}");
    assert_eq!(sb.vault_bytes(), before);
    assert_eq!(sb.get("k"), first);
}

#[test]
fn a_bad_path_segment_is_rejected() {
    let value = unique("seg-ok");
    let evil = unique("seg-evil");
    let sb = Sandbox::with_secrets(&[("ok", &value)]);
    let before = sb.vault_bytes();
    for (n, key) in ["../x", "..", "a b", ""].iter().enumerate() {
        let body = format!("printf '%s' '{{\"ok\": \"{value}\", \"{key}\": \"{evil}\"}}' > \"$F\"");
        let script = editor(&sb, &format!("seg{n}.sh"), &body);
        let out = edit(&sb, script.to_str().unwrap());
        let err = assert_edit_failed(&out, &format!("`{key}`"), &[&value, &evil]);
        assert!(err.contains("invalid secrets tree"), "{err}");
        assert_eq!(sb.vault_bytes(), before, "{key:?} changed the vault");
        assert_temp_removed(&sb);
    }
}

#[test]
fn other_shapes_are_rejected() {
    let value = unique("shape");
    let sb = Sandbox::with_secrets(&[("s", &value)]);
    let before = sb.vault_bytes();
    for (n, (json, needle)) in [
        (r#"{"s": null}"#, "`s` is null"),
        (r#"{"s": ["a"]}"#, "`s` is an array"),
        (r#"{"s": true}"#, "`s` is a boolean"),
        (r#"["s"]"#, "invalid JSON"),
        ("", "invalid JSON"),
    ]
    .iter()
    .enumerate()
    {
        let script = editor(
            &sb,
            &format!("shape{n}.sh"),
            &format!("printf '%s' '{json}' > \"$F\""),
        );
        let out = edit(&sb, script.to_str().unwrap());
        assert_edit_failed(&out, needle, &[&value]);
        assert_eq!(sb.vault_bytes(), before);
    }
}

#[test]
fn a_failing_editor_changes_nothing() {
    let value = unique("fail-old");
    let typed = unique("fail-new");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let before = sb.vault_bytes();
    let body = format!("sed -i 's/{value}/{typed}/' \"$F\"\nexit 3");
    let script = editor(&sb, "fail.sh", &body);
    let out = edit(&sb, script.to_str().unwrap());
    assert_edit_failed(&out, "exited with code 3", &[&value, &typed]);
    assert_eq!(sb.vault_bytes(), before);
    assert_eq!(sb.get("a"), value);
    assert_temp_removed(&sb);
}

#[test]
fn an_editor_killed_by_a_signal_changes_nothing() {
    let value = unique("sig-old");
    let typed = unique("sig-new");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let before = sb.vault_bytes();
    let body = format!("sed -i 's/{value}/{typed}/' \"$F\"\nkill -TERM $$");
    let script = editor(&sb, "killed.sh", &body);
    let out = edit(&sb, script.to_str().unwrap());
    assert_edit_failed(&out, "signal 15", &[&value, &typed]);
    assert_eq!(sb.vault_bytes(), before);
    assert_temp_removed(&sb);
}

#[test]
fn a_deleted_file_changes_nothing() {
    let value = unique("del");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let before = sb.vault_bytes();
    let script = editor(&sb, "delete.sh", "rm -f \"$F\"");
    let out = edit(&sb, script.to_str().unwrap());
    assert_edit_failed(&out, "deleted", &[&value]);
    assert_eq!(sb.vault_bytes(), before);
    assert_temp_removed(&sb);
}

#[test]
fn a_missing_editor_is_one_clear_error() {
    let value = unique("missing-editor");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let before = sb.vault_bytes();
    let missing = sb.root.path().join("no-such-editor");
    let out = edit(&sb, missing.to_str().unwrap());
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("no-such-editor"), "{err}");
    common::error_and_hint(&err);
    assert!(!err.contains("panicked"), "{err}");
    assert_no_leak(&out, &value);
    assert_eq!(sb.vault_bytes(), before);
    // No plaintext directory of this run may be left behind.
    let leftovers: Vec<_> = fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("agevault-edit-")
                && fs::read_dir(e.path()).is_ok_and(|d| {
                    d.flatten()
                        .any(|f| fs::read_to_string(f.path()).is_ok_and(|t| t.contains(&value)))
                })
        })
        .collect();
    assert!(leftovers.is_empty(), "plaintext left in /dev/shm: {leftovers:?}");
}

#[test]
fn the_editor_sees_a_private_file_on_tmpfs() {
    let value = unique("private");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let report = sb.root.path().join("stat-report");
    let body = format!(
        "{{ stat -c %a \"$F\"; stat -c %a \"$(dirname \"$F\")\"; stat -f -c %T \"$F\"; \
         grep -c '{value}' \"$F\"; }} > '{}'",
        report.display()
    );
    let script = editor(&sb, "stat.sh", &body);
    let out = edit(&sb, script.to_str().unwrap());
    assert!(out.status.success(), "{}", all_output(&out));
    let lines: Vec<String> = fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines,
        ["600", "700", "tmpfs", "1"],
        "file mode, dir mode, fs type, value present"
    );
    let file = assert_temp_removed(&sb);
    let dir = file.parent().unwrap();
    assert_eq!(dir.parent().unwrap(), Path::new("/dev/shm"));
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("agevault-edit-"), "{name}");
}

#[test]
fn xdg_runtime_dir_is_preferred_when_it_is_a_memory_filesystem() {
    let value = unique("xdg");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let runtime = tempfile::Builder::new()
        .prefix("agevault-test-xdg-")
        .tempdir_in("/dev/shm")
        .unwrap();
    let script = editor(&sb, "xdg.sh", "true");
    let out = sb
        .test(&["edit"])
        .env("EDITOR", &script)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .run();
    assert!(out.status.success(), "{}", all_output(&out));
    let file = assert_temp_removed(&sb);
    assert_eq!(file.parent().unwrap().parent().unwrap(), runtime.path());

    // A disk-backed XDG_RUNTIME_DIR is not used: /dev/shm is.
    let disk = sb.root.path().join("disk-runtime");
    fs::create_dir_all(&disk).unwrap();
    let out = sb
        .test(&["edit"])
        .env("EDITOR", &script)
        .env("XDG_RUNTIME_DIR", &disk)
        .run();
    assert!(out.status.success(), "{}", all_output(&out));
    let file = assert_temp_removed(&sb);
    assert_eq!(file.parent().unwrap().parent().unwrap(), Path::new("/dev/shm"));
    assert_eq!(fs::read_dir(&disk).unwrap().count(), 0);
}

#[test]
fn a_stale_edit_directory_of_a_dead_process_is_swept() {
    let sb = Sandbox::with_secrets(&[("a", &unique("stale"))]);
    // A PID no process can have: above the kernel's PID_MAX_LIMIT (2^22), so it is
    // certainly gone and can never be reused while the test runs.
    let dead = (1u32 << 22) + 1;
    let stale = PathBuf::from(format!("/dev/shm/agevault-edit-{dead}-{:x}", std::process::id()));
    let _ = fs::remove_dir_all(&stale);
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("secrets.json"), "{\"left\": \"behind\"}").unwrap();
    // Something alive (this test process) must be kept.
    let live = PathBuf::from(format!(
        "/dev/shm/agevault-edit-{}-{}",
        std::process::id(),
        "0aaa"
    ));
    let _ = fs::create_dir(&live);

    let out = edit(&sb, "true");
    let live_survived = live.exists();
    let _ = fs::remove_dir_all(&live);
    let stale_survived = stale.exists();
    let _ = fs::remove_dir_all(&stale);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(!stale_survived, "stale {} was not swept", stale.display());
    assert!(live_survived, "the directory of a live process was swept");
}

#[test]
fn edit_refuses_an_unsigned_config_change_before_opening_the_editor() {
    let value = unique("drift");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let before = sb.vault_bytes();
    let bob = common::age_keygen(&sb.root.path().join("bob.txt"));
    let mut config = fs::read_to_string(sb.config()).unwrap();
    config.push_str(&format!(
        "\n[recipients.bob]\nkey = \"{bob}\"\nrole = \"developer\"\n"
    ));
    fs::write(sb.config(), config).unwrap();
    let script = editor(&sb, "never.sh", "true");
    let out = edit(&sb, script.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(err.contains("agevault trust sign"), "{err}");
    assert_no_leak(&out, &value);
    assert!(!seen_path(&sb).exists(), "the editor ran despite the drift");
    assert_eq!(sb.vault_bytes(), before);
}

#[test]
fn a_value_in_the_wrong_place_is_not_quoted_in_the_error() {
    let value = unique("misplaced");
    let typed = unique("typed-alone");
    let sb = Sandbox::with_secrets(&[("a", &value)]);
    let before = sb.vault_bytes();
    for (n, json) in [format!("\"{typed}\""), "918273645".to_owned()]
        .iter()
        .enumerate()
    {
        let script = editor(
            &sb,
            &format!("scalar{n}.sh"),
            &format!("printf '%s' '{json}' > \"$F\""),
        );
        let out = edit(&sb, script.to_str().unwrap());
        assert_edit_failed(&out, "expected an object", &[&value, &typed, "918273645"]);
        assert_eq!(sb.vault_bytes(), before);
        assert_temp_removed(&sb);
    }
}

/// Runs `agevault edit` on a pseudo-terminal, answering each `(prompt, answer)`.
fn edit_on_tty(sb: &Sandbox, editor_cmd: &str, answers: &[Answer]) -> Output {
    let cmd = format!("'{}' edit", env!("CARGO_BIN_EXE_agevault"));
    sb.run_on_tty(&cmd, &[("EDITOR", editor_cmd)], answers)
}

#[test]
fn on_a_terminal_invalid_json_offers_to_reopen_the_editor() {
    let sb = Sandbox::with_secrets(&[("db/password", "tty-old-value-1")]);
    // First run breaks the JSON, the second (after "y") fixes it with a new value.
    let counter = sb.root.path().join("runs");
    let script = editor(
        &sb,
        "twice.sh",
        &format!(
            "if [ -e '{c}' ]; then printf '{{\"db\": {{\"password\": \"tty-new-value-1\"}}}}' > \"$F\"; \
             else touch '{c}'; printf '{{ broken' > \"$F\"; fi",
            c = counter.display()
        ),
    );
    let out = edit_on_tty(
        &sb,
        &script.display().to_string(),
        &[echoed("Re-open the editor", "y")],
    );
    let text = all_output(&out);
    assert!(text.contains("invalid JSON"), "{text}");
    assert!(text.contains("Re-open the editor"), "{text}");
    assert_eq!(sb.get("db/password"), "tty-new-value-1", "{text}");
    assert!(!text.contains("tty-old-value-1"));

    // Saying no discards the change.
    fs::remove_file(&counter).unwrap();
    let before = sb.vault_bytes();
    let out = edit_on_tty(
        &sb,
        &script.display().to_string(),
        &[echoed("Re-open the editor", "n")],
    );
    assert!(
        all_output(&out).contains("nothing was changed"),
        "{}",
        all_output(&out)
    );
    assert_eq!(sb.vault_bytes(), before);
    assert_temp_removed(&sb);
}
