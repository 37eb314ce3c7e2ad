//! The global options and their environment variables: `--quiet`, `AGEVAULT_CONFIG`,
//! `AGEVAULT_VAULT`, and the identity under `$XDG_CONFIG_HOME`.

mod common;

use std::fs;

use common::Sandbox;

#[test]
fn quiet_drops_status_lines_but_keeps_data_and_errors() {
    let sb = Sandbox::init();
    sb.test(&["set", "a"])
        .stdin("loud-value-1")
        .run()
        .success()
        .stdout_is("")
        .stderr_is("set `a`\n");
    sb.test(&["-q", "set", "b"])
        .stdin("quiet-value-2")
        .run()
        .success()
        .stdout_is("")
        .stderr_is("");
    sb.test(&["--quiet", "rm", "b"])
        .run()
        .success()
        .stdout_is("")
        .stderr_is("");
    // Data still goes to stdout…
    sb.test(&["-q", "get", "a"])
        .run()
        .success()
        .stdout_is("loud-value-1")
        .stderr_is("");
    sb.test(&["ls", "--quiet"])
        .run()
        .success()
        .stdout_is("a\n")
        .stderr_is("");
    // …and errors to stderr.
    sb.test(&["-q", "get", "b"])
        .run()
        .code(1)
        .stdout_is("")
        .stderr_has("`b`");
}

#[test]
fn agevault_config_names_the_config_from_anywhere_and_the_flag_wins() {
    let sb = Sandbox::with_secrets(&[("db/password", "config-env-value-3")]);
    let elsewhere = sb.root.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    // Outside the repository no config is found by searching upwards…
    sb.test(&["ls"])
        .current_dir(&elsewhere)
        .run()
        .code(1)
        .stderr_has("no .agevault.toml found");
    // …but AGEVAULT_CONFIG names it, and the vault is found relative to it.
    sb.test(&["ls"])
        .current_dir(&elsewhere)
        .env("AGEVAULT_CONFIG", sb.config())
        .run()
        .success()
        .stdout_is("db/password\n");
    sb.test(&["get", "db/password"])
        .current_dir(&elsewhere)
        .env("AGEVAULT_CONFIG", sb.config())
        .run()
        .success()
        .stdout_is("config-env-value-3");
    // The variable replaces the search: inside the repo, a missing file is an error.
    let missing = sb.root.path().join("missing.toml");
    sb.test(&["ls"])
        .env("AGEVAULT_CONFIG", &missing)
        .run()
        .code(1)
        .stdout_is("")
        .stderr_has(missing.to_str().unwrap());
    // --config beats the variable.
    sb.test(&["--config", sb.config().to_str().unwrap(), "ls"])
        .current_dir(&elsewhere)
        .env("AGEVAULT_CONFIG", &missing)
        .run()
        .success()
        .stdout_is("db/password\n");
}

#[test]
fn agevault_vault_overrides_the_configured_vault_and_the_flag_wins() {
    let sb = Sandbox::with_secrets(&[("k", "vault-env-value-4")]);
    let elsewhere = sb.root.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    // From a directory without a config, the variable alone is enough to read.
    sb.test(&["get", "k"])
        .current_dir(&elsewhere)
        .env("AGEVAULT_VAULT", sb.vault())
        .run()
        .success()
        .stdout_is("vault-env-value-4");
    // In the repo it replaces the vault the config names.
    let missing = sb.root.path().join("missing.json.age");
    sb.test(&["ls"])
        .env("AGEVAULT_VAULT", &missing)
        .run()
        .code(1)
        .stdout_is("")
        .stderr_has(&format!("vault {} does not exist", missing.display()));
    // --vault beats the variable.
    sb.test(&["--vault", sb.vault().to_str().unwrap(), "ls"])
        .env("AGEVAULT_VAULT", &missing)
        .run()
        .success()
        .stdout_is("k\n");
}

#[test]
fn the_identity_lives_under_xdg_config_home_when_it_is_set() {
    let sb = Sandbox::empty();
    let xdg = sb.root.path().join("xdg");
    fs::create_dir(&xdg).unwrap();
    let identity = xdg.join("agevault/identity.txt");
    sb.test(&["-q", "init"])
        .env("XDG_CONFIG_HOME", &xdg)
        .run()
        .success();
    assert!(identity.is_file(), "no identity at {}", identity.display());
    assert!(
        !sb.identity().exists(),
        "init wrote ~/.config/agevault/identity.txt although XDG_CONFIG_HOME is set"
    );
    let public = common::public_key(&identity);
    sb.test(&["-q", "set", "x/secret"])
        .env("XDG_CONFIG_HOME", &xdg)
        .stdin("xdg-value-5")
        .run()
        .success();
    sb.test(&["get", "x/secret"])
        .env("XDG_CONFIG_HOME", &xdg)
        .run()
        .success()
        .stdout_is("xdg-value-5");
    sb.test(&["whoami"])
        .env("XDG_CONFIG_HOME", &xdg)
        .run()
        .success()
        .stdout_has(&format!("{}\t{public}\trecipient `alice`", identity.display()));
    // Without the variable the default (~/.config) holds nothing: no key decrypts.
    sb.test(&["get", "x/secret"])
        .run()
        .code(1)
        .stdout_is("")
        .stderr_has("no identity can decrypt");
}
