//! `init`: a config, an empty vault, and (if needed) the user's first identity.

use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::config::{ConfigFile, CONFIG_NAME, DEFAULT_PGP_VAULT, DEFAULT_VAULT};
use crate::document::VaultDocument;
use crate::error::{Error, Result};
use crate::keys;
use crate::output::status;
use crate::store;
use crate::vault_format::VaultFormat;
use crate::workspace::GlobalOptions;
use crate::ExitStatus;

/// Creates `.agevault.toml` and an empty vault here.
pub fn run(options: &GlobalOptions, args: &InitArgs) -> Result<ExitStatus> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading", ".", e))?;
    let config_path = options.config.clone().unwrap_or_else(|| cwd.join(CONFIG_NAME));
    let config_dir = config_path
        .parent()
        .map_or_else(|| cwd.clone(), Path::to_path_buf);
    let vault_rel = options.vault.clone().unwrap_or_else(|| {
        PathBuf::from(if args.pgp.is_some() {
            DEFAULT_PGP_VAULT
        } else {
            DEFAULT_VAULT
        })
    });
    let pgp_key = args.pgp.as_deref().map(pgp_recipient).transpose()?;
    check_vault_kind(&vault_rel, pgp_key.as_deref())?;
    let vault_path = config_dir.join(&vault_rel);
    refuse_existing(&vault_path, &config_path)?;
    let name = recipient_name(args)?;

    let public = match pgp_key {
        Some(key) => key,
        None => first_public_key(options)?,
    };
    let signing_key = first_signing_key(options)?;
    let config_text = initial_config(&vault_rel.display().to_string(), &name, &public, &signing_key);
    ConfigFile::parse(&config_text).map_err(Error::msg)?;
    write_config_and_vault(options, &config_path, &config_text, &vault_path, &public)?;
    add_git_entries(&config_dir, &vault_rel)?;
    status(
        options.quiet,
        &format!(
            "created {} and {} encrypted to `{name}` ({public}), signed by writer `{name}` ({signing_key})",
            config_path.display(),
            vault_path.display()
        ),
    );
    status(options.quiet, &next_steps(&config_dir, &vault_rel));
    Ok(ExitStatus::Success)
}

/// Refuses a vault name of one format with a key of the other: a `.gpg` vault needs
/// --pgp, and --pgp needs a `.gpg` vault.
fn check_vault_kind(vault_rel: &Path, pgp_key: Option<&str>) -> Result<()> {
    match (VaultFormat::of(vault_rel), pgp_key) {
        (VaultFormat::Pgp, None) => Err(Error::Usage(format!(
            "{} is an OpenPGP vault (its name ends in .gpg), encrypted by gpg to OpenPGP keys: pass --pgp \
             FINGERPRINT (yours: `gpg --list-secret-keys --with-colons`, the fpr line), or name the vault \
             ….age for an age vault",
            vault_rel.display()
        ))),
        (VaultFormat::Age, Some(_)) => Err(Error::Usage(format!(
            "--pgp creates an OpenPGP vault, whose name ends in .gpg, but {} is an age file name; drop --vault \
             (the default is {DEFAULT_PGP_VAULT}) or name it ….json.gpg",
            vault_rel.display()
        ))),
        _ => Ok(()),
    }
}

/// Refuses to overwrite an existing vault or config.
fn refuse_existing(vault_path: &Path, config_path: &Path) -> Result<()> {
    if vault_path.exists() {
        return Err(Error::msg(format!(
            "{} already exists; refusing to overwrite a vault",
            vault_path.display()
        ))
        .with_hint("remove it first if you really mean to start over"));
    }
    if config_path.exists() {
        return Err(Error::msg(format!(
            "{} already exists; refusing to overwrite it",
            config_path.display()
        )));
    }
    Ok(())
}

/// The first recipient's (and writer's) name: --name, else `$USER` when it is a valid
/// name, else "me".
fn recipient_name(args: &InitArgs) -> Result<String> {
    let name = match &args.name {
        Some(n) => n.clone(),
        None => std::env::var("USER")
            .ok()
            .filter(|u| crate::secret_path::segment_problem(u).is_none())
            .unwrap_or_else(|| "me".to_owned()),
    };
    if let Some(problem) = crate::secret_path::segment_problem(&name) {
        return Err(Error::Usage(format!("recipient name `{name}` {problem}")));
    }
    Ok(name)
}

/// Writes the config, then the empty vault encrypted to `public` and its first
/// signature (which covers the config); the config is removed again when signing fails.
fn write_config_and_vault(
    options: &GlobalOptions,
    config_path: &Path,
    config_text: &str,
    vault_path: &Path,
    public: &str,
) -> Result<()> {
    // The config goes first: the first signature covers it.
    store::replace_atomically(config_path, config_text.as_bytes())?;
    let config = crate::config::Config::load(config_path)?;
    let mut doc = VaultDocument::new(vec![public.to_owned()]);
    let ciphertext = crate::workspace::encrypt_vault(vault_path, &mut doc)?;
    let signed =
        crate::workspace::sign_new_version(vault_path, &ciphertext, None, Some(&config), &options.trust)
            .and_then(|(mut trust_store, sig)| {
                crate::trust::write_signed(&mut trust_store, vault_path, &ciphertext, &sig)
            });
    if let Err(e) = signed {
        let _ = std::fs::remove_file(config_path);
        return Err(e);
    }
    Ok(())
}

/// Routes the vault and its signature to agevault's git drivers (`.gitattributes`) and
/// keeps the lock file and what a writer killed mid-write leaves out of git
/// (`.gitignore`).
fn add_git_entries(config_dir: &Path, vault_rel: &Path) -> Result<()> {
    add_line(
        &config_dir.join(".gitattributes"),
        &format!("{} diff=agevault merge=agevault", vault_rel.display()),
    )?;
    add_line(
        &config_dir.join(".gitattributes"),
        &format!(
            "{} merge=agevault-sig",
            crate::trust::sig_path(vault_rel).display()
        ),
    )?;
    let lock = store::lock_path(vault_rel);
    add_line(&config_dir.join(".gitignore"), &lock.display().to_string())?;
    // What a writer killed mid-write leaves behind (the next write removes it).
    for file in [vault_rel.to_path_buf(), crate::trust::sig_path(vault_rel)] {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let pattern = file.with_file_name(format!("{}*", store::temp_prefix(&name)));
        add_line(&config_dir.join(".gitignore"), &pattern.display().to_string())?;
    }
    Ok(())
}

/// What a new user does next: a first secret, git's drivers and hook, the first commit.
/// `git setup` matters before the first merge: without its merge driver git writes
/// conflict markers into the armored vault.
fn next_steps(config_dir: &Path, vault_rel: &Path) -> String {
    let sig = crate::trust::sig_path(vault_rel);
    let in_git = git2::Repository::discover(config_dir).is_ok();
    let git = if in_git {
        "  agevault git setup        # readable diffs, per-secret merges, a pre-commit leak scan: \
         before the first merge\n"
            .to_owned()
    } else {
        "  git init && agevault git setup   # readable diffs, per-secret merges, a pre-commit leak scan: \
         before the first merge\n"
            .to_owned()
    };
    format!(
        "next steps:\n  \
         agevault set db/password  # a value from standard input or a hidden prompt\n{git}  \
         git add .agevault.toml .gitattributes .gitignore {} {} && git commit\n  \
         agevault exec -- CMD      # run CMD with the secrets as environment variables",
        vault_rel.display(),
        sig.display()
    )
}

/// `pgp:FINGERPRINT` for `--pgp`, once gpg shows the key can be encrypted to.
fn pgp_recipient(given: &str) -> Result<String> {
    let key = if crate::pgp::is_pgp_key(given) {
        keys::canonical_key(given)
    } else {
        keys::canonical_key(&format!("{}{given}", crate::pgp::KEY_PREFIX))
    };
    let fingerprint = crate::pgp::parse_fingerprint(&key)
        .map_err(|problem| Error::Usage(format!("--pgp {}: {problem}", crate::terminal::sanitize(given))))?;
    crate::pgp::check_usable(&fingerprint)?;
    Ok(key)
}

/// The public key of the user's identity, generating one when none exists.
fn first_public_key(options: &GlobalOptions) -> Result<String> {
    let set = keys::discover(&options.identities)?;
    if let Some(key) = set.found.iter().flat_map(|f| f.public_keys.iter()).next() {
        return Ok(key.clone());
    }
    if !set.found.is_empty() {
        return Err(Error::msg(
            "your identity's public key cannot be derived (passphrase-protected or plugin)",
        )
        .with_hint("run `agevault init` after `agevault keygen`, or edit .agevault.toml by hand"));
    }
    let path = keys::default_identity_path()
        .ok_or_else(|| Error::msg("neither $XDG_CONFIG_HOME nor $HOME is set; pass --identity FILE"))?;
    let (text, public) = keys::generate_identity();
    keys::write_private_file(&path, text.as_bytes())?;
    status(
        options.quiet,
        &format!(
            "generated your identity in {} (mode 0600); back it up",
            path.display()
        ),
    );
    Ok(public)
}

/// The public key the user signs with: the first signing key found, else a new one
/// at the default path.
fn first_signing_key(options: &GlobalOptions) -> Result<String> {
    if let Some(c) = crate::trust::signer::discover(&options.trust.signing_keys)?
        .into_iter()
        .next()
    {
        return Ok(c.public);
    }
    let path = crate::trust::signer::default_signing_key_path()
        .ok_or_else(|| Error::msg("neither $XDG_CONFIG_HOME nor $HOME is set; pass --signing-key FILE"))?;
    let public = crate::trust::signer::write_new(&path, &crate::trust::signer::default_comment())?;
    status(
        options.quiet,
        &format!(
            "generated your signing key in {} (mode 0600); back it up",
            path.display()
        ),
    );
    Ok(public)
}

/// Appends `line` to a text file unless it is already there.
fn add_line(path: &Path, line: &str) -> Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("reading", path, e)),
    };
    if existing.lines().any(|l| l.trim() == line) {
        return Ok(());
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    store::replace_atomically(path, text.as_bytes())
}

/// The text of a new `.agevault.toml`: the vault, its first recipient and writer.
///
/// Built with toml_edit, which quotes keys and values as TOML needs (a dotted name
/// such as `john.doe` is one key, not nested tables).
fn initial_config(vault: &str, name: &str, public: &str, signing_key: &str) -> String {
    use toml_edit::{value, DocumentMut, Item, Table};
    let mut doc = DocumentMut::new();
    doc.insert("vault", value(vault));
    if let Some(mut key) = doc.key_mut("vault") {
        key.leaf_decor_mut()
            .set_prefix("# agevault configuration: holds no secret; commit it.\n");
    }
    let mut recipient = Table::new();
    recipient.insert("key", value(public));
    recipient.insert("role", value("developer"));
    recipient.decor_mut().set_prefix("\n");
    let mut recipients = Table::new();
    recipients.set_implicit(true);
    recipients.insert(name, Item::Table(recipient));
    doc.insert("recipients", Item::Table(recipients));
    let mut writers = Table::new();
    writers.insert(name, value(signing_key));
    writers.decor_mut().set_prefix(
        "\n# Who may sign new vault versions (ssh-ed25519 keys); readers verify every version.\n",
    );
    doc.insert("writers", Item::Table(writers));
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_config_is_the_text_it_always_was() {
        assert_eq!(
            initial_config(
                "secrets.json.age",
                "alice",
                "age1xyz",
                "ssh-ed25519 AAAAC3 alice@host"
            ),
            "# agevault configuration: holds no secret; commit it.\n\
             vault = \"secrets.json.age\"\n\n\
             [recipients.alice]\nkey = \"age1xyz\"\nrole = \"developer\"\n\n\
             # Who may sign new vault versions (ssh-ed25519 keys); readers verify every version.\n\
             [writers]\nalice = \"ssh-ed25519 AAAAC3 alice@host\"\n"
        );
        // A dotted name is quoted; a path with a quote or backslash is escaped.
        let text = initial_config("a\\b\"c.age", "john.doe", "age1xyz", "ssh-ed25519 K");
        assert!(text.contains("[recipients.\"john.doe\"]\n"), "{text}");
        assert!(text.contains("\n\"john.doe\" = \"ssh-ed25519 K\"\n"), "{text}");
        let parsed: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(parsed["vault"].as_str(), Some("a\\b\"c.age"));
        assert_eq!(parsed["recipients"]["john.doe"]["key"].as_str(), Some("age1xyz"));
    }
}
