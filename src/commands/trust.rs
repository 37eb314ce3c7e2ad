//! `trust …`: sign the vault, manage writers, and a reader's trust store (pins, hosts).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cli::TrustCommand;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::output::{self, status};
use crate::terminal::sanitize;
use crate::trust::pins::TrustStore;
use crate::trust::sigfile::{canonical_signing_key, SigFile, WriterSet};
use crate::trust::{self, signer, StoreMode};
use crate::workspace::{self, GlobalOptions, Workspace};
use crate::ExitStatus;

/// Runs a `trust` subcommand.
pub fn run(options: GlobalOptions, cmd: TrustCommand) -> Result<ExitStatus> {
    match cmd {
        TrustCommand::Keygen { output } => keygen(&options, output.as_deref()),
        TrustCommand::Sign { add_writer } => sign(&Workspace::resolve(options)?, add_writer.as_deref()),
        TrustCommand::AddWriter { name, key } => add_writer(&Workspace::resolve(options)?, &name, &key),
        TrustCommand::RemoveWriter { name } => remove_writer(&Workspace::resolve(options)?, &name),
        TrustCommand::Status { json } => show(&Workspace::resolve(options)?, json),
        TrustCommand::Anchor => anchor(&Workspace::resolve(options)?),
        TrustCommand::Provision { file, strict } => provision(&Workspace::resolve(options)?, &file, strict),
        TrustCommand::Forget => forget(&Workspace::resolve(options)?),
        TrustCommand::ExportSigners => export_signers(&Workspace::resolve(options)?),
    }
}

fn keygen(options: &GlobalOptions, output: Option<&Path>) -> Result<ExitStatus> {
    let path = match output {
        Some(p) => p.to_path_buf(),
        None => signer::default_signing_key_path()
            .ok_or_else(|| Error::msg("neither $XDG_CONFIG_HOME nor $HOME is set; pass -o FILE"))?,
    };
    let public = signer::write_new(&path, &signer::default_comment())?;
    status(
        options.quiet,
        &format!(
            "wrote signing key to {} (mode 0600) and {}.pub",
            path.display(),
            path.display()
        ),
    );
    output::line(&public)?;
    Ok(ExitStatus::Success)
}

/// Signs the vault as it is now (after a writer reviewed it).
fn sign(ws: &Workspace, add: Option<&str>) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    let mut config = config.clone();
    if let Some(name) = add {
        if !config.file.writers.is_empty() {
            return Err(
                Error::Usage("--add-writer only bootstraps a vault without writers".into())
                    .with_hint("use `agevault trust add-writer NAME KEY`"),
            );
        }
        let candidates = signer::discover(&ws.options.trust.signing_keys)?;
        let Some(first) = candidates.first() else {
            return Err(Error::msg(
                "no signing key found; create one with `agevault trust keygen`, then run this again",
            ));
        };
        if let Some(problem) = crate::secret_path::segment_problem(name) {
            return Err(Error::Usage(format!(
                "writer name `{}` {problem}",
                sanitize(name)
            )));
        }
        config.set_writer(name, Some(&first.public))?;
        config = Config::load(&config.path)?;
    }
    let (mut session, bytes) = ws.open_unverified_for_write()?;
    // A writer signing a config that adds recipients applies the addition (the signature
    // is the review); removals must go through `recipients remove` (offboarding record).
    let drift = workspace::RecipientDrift::between(&config, session.doc.recipients());
    if !drift.removed.is_empty() || drift.added.iter().any(|k| session.doc.was_offboarded(k)) {
        let scratch = Workspace {
            options: ws.options.clone(),
            config: Some(config.clone()),
            vault_path: ws.vault_path.clone(),
        };
        scratch.check_recipient_drift(&session.doc)?;
    }
    for key in &drift.added {
        status(
            ws.options.quiet,
            &format!(
                "agevault: applying the config: the vault is now also encrypted to `{}` ({key})",
                config.recipient_name(key).unwrap_or("?")
            ),
        );
    }
    if !drift.added.is_empty() {
        session.doc.set_recipients(&config.vault_recipient_keys());
    }
    let covered = ws.verify(&bytes).is_ok();
    if !covered {
        // Content nobody signed: a key planted in it must not fingerprint future values.
        crate::lifecycle::exposure::renew_fingerprint_key(&mut session.doc);
    }
    if let Some(p) = &session.prior {
        trust::check_not_removed(&p.vault_id, session.doc.recipients(), &[], &ws.vault_path)?;
    }
    let ciphertext = workspace::encrypt_vault(&ws.vault_path, &mut session.doc)?;
    let (mut store, sig) = workspace::sign_new_version(
        &ws.vault_path,
        &ciphertext,
        session.prior.as_ref(),
        Some(&config),
        &ws.options.trust,
    )?;
    trust::write_signed(&mut store, &ws.vault_path, &ciphertext, &sig)?;
    let signed = Workspace {
        options: ws.options.clone(),
        config: Some(config.clone()),
        vault_path: ws.vault_path.clone(),
    };
    signed.resign_scope_files(&config)?;
    let m = &sig.current.body;
    status(
        ws.options.quiet,
        &format!(
            "signed generation {} of {} (vault id {}) as `{}`; writers: {}; commit {} and {}",
            m.generation,
            ws.vault_path.display(),
            m.vault_id,
            m.writers.name_of(&m.signer).unwrap_or("?"),
            m.writers.names(),
            ws.vault_path.display(),
            trust::sig_path(&ws.vault_path).display()
        ),
    );
    Ok(ExitStatus::Success)
}

/// Re-signs the vault's current bytes after a config change, restoring the config
/// text if signing fails (so a refused writer change leaves nothing behind).
fn resign_after_config_change(
    ws: &Workspace,
    change: impl FnOnce(&Config) -> Result<()>,
) -> Result<crate::trust::sigfile::Manifest> {
    let config = ws.require_config()?;
    let session = ws.open_for_write()?;
    let bytes = ws.read_ciphertext()?;
    let original = std::fs::read(&config.path).map_err(|e| Error::io("reading config", &config.path, e))?;
    change(config)?;
    let attempt = || -> Result<crate::trust::sigfile::Manifest> {
        let changed = Config::load(&config.path)?;
        let (mut store, sig) = workspace::sign_new_version(
            &ws.vault_path,
            &bytes,
            session.prior.as_ref(),
            Some(&changed),
            &ws.options.trust,
        )?;
        crate::store::replace_atomically(&trust::sig_path(&ws.vault_path), sig.render().as_bytes())?;
        trust::record(&mut store, &ws.vault_path, &sig.current.body, sig.chain.len())?;
        let changed_ws = Workspace {
            options: ws.options.clone(),
            config: Some(changed.clone()),
            vault_path: ws.vault_path.clone(),
        };
        changed_ws.resign_scope_files(&changed)?;
        Ok(sig.current.body)
    };
    attempt().inspect_err(|_| {
        let _ = crate::store::replace_atomically(&config.path, &original);
    })
}

fn parse_key_argument(key: &str) -> Result<String> {
    let text = if key.starts_with("ssh-") {
        key.to_owned()
    } else {
        let path = Path::new(key);
        let meta = std::fs::metadata(path).map_err(|e| Error::io("reading key file", path, e))?;
        if !meta.is_file() || meta.len() > 64 * 1024 {
            return Err(Error::Usage(format!(
                "{} is not a public key file",
                path.display()
            )));
        }
        std::fs::read_to_string(path).map_err(|e| Error::io("reading key file", path, e))?
    };
    canonical_signing_key(&text).map_err(|e| Error::Usage(format!("the writer key is invalid: {e}")))
}

fn add_writer(ws: &Workspace, name: &str, key: &str) -> Result<ExitStatus> {
    if let Some(problem) = crate::secret_path::segment_problem(name) {
        return Err(Error::Usage(format!(
            "writer name `{}` {problem}",
            sanitize(name)
        )));
    }
    let key = parse_key_argument(key)?;
    let config = ws.require_config()?;
    if config.file.writers.contains_key(name) {
        return Err(Error::msg(format!("a writer named `{name}` already exists")));
    }
    let set = config.writer_set()?;
    if let Some(other) = set.name_of(&key) {
        return Err(Error::msg(format!("that key is already writer `{other}`")));
    }
    let m = resign_after_config_change(ws, |c| c.set_writer(name, Some(&key)))?;
    status(
        ws.options.quiet,
        &format!(
            "added writer `{name}`; signed generation {} (writers: {}); commit the config and {}",
            m.generation,
            m.writers.names(),
            trust::sig_path(&ws.vault_path).display()
        ),
    );
    Ok(ExitStatus::Success)
}

fn remove_writer(ws: &Workspace, name: &str) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    if !config.file.writers.contains_key(name) {
        return Err(Error::msg(format!(
            "no writer named `{}`; writers: {}",
            sanitize(name),
            config.writer_set()?.names()
        )));
    }
    if config.file.writers.len() == 1 {
        return Err(Error::msg(
            "cannot remove the last writer: nobody could sign changes any more",
        ));
    }
    let m = resign_after_config_change(ws, |c| c.set_writer(name, None))?;
    status(
        ws.options.quiet,
        &format!(
            "removed writer `{name}`; signed generation {} (writers: {}); commit the config and {}",
            m.generation,
            m.writers.names(),
            trust::sig_path(&ws.vault_path).display()
        ),
    );
    Ok(ExitStatus::Success)
}

/// A trust anchor: what a host pins.
#[derive(Serialize, Deserialize)]
struct Anchor {
    vault_id: String,
    file: String,
    generation: u64,
    /// Writer changes already in the chain (later versions must extend it).
    #[serde(default)]
    chain: usize,
    writers: std::collections::BTreeMap<String, String>,
}

fn verified_now(ws: &Workspace) -> Result<trust::Verified> {
    let bytes = ws.read_ciphertext()?;
    ws.verify(&bytes)
}

fn anchor(ws: &Workspace) -> Result<ExitStatus> {
    let v = verified_now(ws)?;
    let a = Anchor {
        vault_id: v.manifest.vault_id.clone(),
        file: v.manifest.file.clone(),
        generation: v.manifest.generation,
        chain: v.sig.chain.len(),
        writers: v
            .manifest
            .writers
            .iter()
            .map(|(n, k)| (n.clone(), k.clone()))
            .collect(),
    };
    output::json(&a)?;
    Ok(ExitStatus::Success)
}

fn provision(ws: &Workspace, file: &Path, strict: bool) -> Result<ExitStatus> {
    let meta = std::fs::metadata(file).map_err(|e| Error::io("reading anchor", file, e))?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return Err(Error::msg(format!("{} is not an anchor file", file.display())));
    }
    let text = std::fs::read(file).map_err(|e| Error::io("reading anchor", file, e))?;
    let a: Anchor = serde_json::from_slice(&text)
        .map_err(|e| Error::msg(format!("{} is not an anchor file ({e})", file.display())))?;
    let writers =
        WriterSet::new(a.writers.clone()).map_err(|e| Error::msg(format!("{}: {e}", file.display())))?;
    if a.vault_id.len() != 32 || !a.vault_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::msg(format!(
            "{}: the vault id is malformed",
            file.display()
        )));
    }
    if writers.is_empty() {
        return Err(Error::msg(format!(
            "{}: the anchor names no writer",
            file.display()
        )));
    }
    let mut store = TrustStore::open()?;
    if let Some(existing) = store.location(&ws.vault_path) {
        if existing != a.vault_id {
            return Err(Error::Trust(format!(
                "{} is already pinned to vault {existing}",
                ws.vault_path.display()
            ))
            .with_hint("run `agevault trust forget` first to replace it"));
        }
    }
    let location = trust::pins::location_key(&ws.vault_path);
    let file_name = trust::generation_key(&ws.vault_path);
    store.update(|pins| {
        pins.locations.insert(location, a.vault_id.clone());
        let pin = pins.vaults.entry(a.vault_id.clone()).or_default();
        pin.writers = a.writers.clone();
        let g = pin.generations.entry(file_name).or_insert(0);
        *g = (*g).max(a.generation);
        pin.chain = pin.chain.max(a.chain);
    })?;
    if strict {
        store.set_strict()?;
    }
    status(
        ws.options.quiet,
        &format!(
            "pinned {} as vault {} (writers: {}, generation ≥ {}) in {}{}",
            ws.vault_path.display(),
            a.vault_id,
            writers.names(),
            a.generation,
            store.dir.display(),
            if strict {
                "; first use no longer pins in this store"
            } else {
                ""
            }
        ),
    );
    if ws.vault_path.exists() {
        let bytes = ws.read_ciphertext()?;
        ws.verify(&bytes)?;
        status(ws.options.quiet, "the vault there verifies against it");
    }
    Ok(ExitStatus::Success)
}

fn forget(ws: &Workspace) -> Result<ExitStatus> {
    let mut store = TrustStore::open()?;
    let location = trust::pins::location_key(&ws.vault_path);
    let Some(id) = store.location(&ws.vault_path).map(str::to_owned) else {
        status(ws.options.quiet, "nothing is pinned for this vault path");
        return Ok(ExitStatus::Success);
    };
    store.update(|pins| {
        pins.locations.remove(&location);
        if !pins.locations.values().any(|v| *v == id) {
            pins.vaults.remove(&id);
        }
    })?;
    status(
        ws.options.quiet,
        &format!(
            "forgot the pin of {} (vault {id}); the next read pins it again",
            ws.vault_path.display()
        ),
    );
    Ok(ExitStatus::Success)
}

fn export_signers(ws: &Workspace) -> Result<ExitStatus> {
    let v = verified_now(ws)?;
    for (name, key) in v.manifest.writers.iter() {
        output::line(&format!(
            "{name} namespaces=\"{},{}\" {key}",
            crate::trust::sigfile::NAMESPACE_VAULT,
            crate::trust::sigfile::NAMESPACE_WRITERS
        ))?;
    }
    Ok(ExitStatus::Success)
}

#[derive(Serialize)]
struct StatusReport {
    vault: String,
    signature: String,
    verified: bool,
    problem: Option<String>,
    vault_id: Option<String>,
    generation: Option<u64>,
    signer: Option<String>,
    writers: Vec<String>,
    pinned_vault_id: Option<String>,
    pinned_generation: Option<u64>,
    trust_store: String,
}

fn show(ws: &Workspace, json: bool) -> Result<ExitStatus> {
    let bytes = ws.read_ciphertext()?;
    let sig = trust::read_sig(&ws.vault_path)?;
    let parsed = sig.as_deref().and_then(|b| SigFile::parse(b).ok());
    let mut store = TrustStore::open()?;
    let result = trust::verify(
        &mut store,
        &ws.vault_path,
        &bytes,
        sig.as_deref(),
        ws.config_trust()?.as_ref(),
        &ws.options.trust,
        StoreMode::ReadOnly,
        true,
        None,
    );
    let pinned = store.location(&ws.vault_path).map(str::to_owned);
    let pinned_generation = pinned
        .as_deref()
        .and_then(|id| store.vault(id))
        .map(|p| trust::highest_generation(p, &ws.vault_path));
    let current = parsed.as_ref().map(|s| &s.current.body);
    let report = StatusReport {
        vault: ws.vault_path.display().to_string(),
        signature: trust::sig_path(&ws.vault_path).display().to_string(),
        verified: result.is_ok(),
        problem: result.as_ref().err().map(ToString::to_string),
        vault_id: current.map(|m| m.vault_id.clone()),
        generation: result
            .as_ref()
            .ok()
            .map(|v| v.manifest.generation)
            .or(current.map(|m| m.generation)),
        signer: result.as_ref().ok().map(|v| v.signer_name.clone()),
        writers: current
            .map(|m| m.writers.iter().map(|(n, k)| format!("{n} {k}")).collect())
            .unwrap_or_default(),
        pinned_vault_id: pinned,
        pinned_generation,
        trust_store: store.dir.display().to_string(),
    };
    if json {
        output::json(&report)?;
    } else {
        output::line(&format!(
            "vault:      {}\nsignature:  {}\nverified:   {}",
            report.vault,
            report.signature,
            match &report.problem {
                None => "yes".to_owned(),
                Some(p) => format!("NO: {p}"),
            }
        ))?;
        if let Some(id) = &report.vault_id {
            output::line(&format!("vault id:   {id}"))?;
        }
        if let Some(g) = report.generation {
            output::line(&format!("generation: {g}"))?;
        }
        if let Some(s) = &report.signer {
            output::line(&format!("signed by:  {}", sanitize(s)))?;
        }
        for w in &report.writers {
            output::line(&format!("writer:     {}", sanitize(w)))?;
        }
        output::line(&format!(
            "pinned:     {} (trust store {})",
            match (&report.pinned_vault_id, report.pinned_generation) {
                (Some(id), Some(g)) => format!("vault {id}, generation ≥ {g}"),
                (Some(id), None) => format!("vault {id}"),
                _ => "not yet".to_owned(),
            },
            report.trust_store
        ))?;
    }
    Ok(if report.verified {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
