//! Hostile input, hostile repositories and crashes (issue 9): nothing lost, nothing leaked, no crash.

mod common;

use common::{all_output, stderr, Sandbox};

// ------------------------------------------------------------ empty values

#[test]
fn set_refuses_an_empty_value_from_a_pipe_or_closed_stdin() {
    let sb = Sandbox::with_secrets(&[("api/key", "kept-value-0001")]);
    let before = sb.vault_bytes();
    for input in ["", "\n", "\r\n"] {
        let out = sb.cmd(&["set", "api/key"]).write_stdin(input).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{input:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("empty value for `api/key`"), "{err}");
        assert!(err.contains("--allow-empty"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // A closed stdin reads like /dev/null.
    let out = sb
        .cmd(&["set", "api/key"])
        .pipe_stdin("/dev/null")
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        sb.vault_bytes(),
        before,
        "a refused empty value changed the vault"
    );
    assert_eq!(sb.get("api/key"), "kept-value-0001");

    sb.cmd(&["set", "api/key", "--allow-empty"])
        .write_stdin("")
        .assert()
        .success();
    assert_eq!(sb.get("api/key"), "");
}

#[test]
fn rotate_without_generator_and_without_a_value_refuses() {
    let sb = Sandbox::with_secrets(&[("api/key", "kept-value-0002")]);
    let before = sb.vault_bytes();
    let out = sb
        .cmd(&["rotate", "api/key"])
        .pipe_stdin("/dev/null")
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(err.contains("`api/key`") && err.contains("no generator"), "{err}");
    assert!(!all_output(&out).contains("rotated"), "{}", all_output(&out));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(sb.vault_bytes(), before);
    assert_eq!(sb.get("api/key"), "kept-value-0002");
    // A piped value still rotates.
    sb.cmd(&["rotate", "api/key"])
        .write_stdin("new-value-0002\n")
        .assert()
        .success();
    assert_eq!(sb.get("api/key"), "new-value-0002");
}
