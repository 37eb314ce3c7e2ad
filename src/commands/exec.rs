//! `exec`: run a command with secrets injected.

use std::collections::BTreeSet;

use crate::cli::{ExecArgs, ExecSource};
use crate::error::{Error, Result};
use crate::exec::{self, plan::parse_mapping, policy, LaunchOptions, Selection, CLEAN_ENV_KEEP};
use crate::workspace::Workspace;
use crate::ExitStatus;

/// The host setting that forbids derived names for every `exec` on this machine.
pub const EXPLICIT_ONLY_ENV: &str = "AGEVAULT_EXEC_EXPLICIT_ONLY";

/// Decrypts, plans every injection, then runs the command.
pub fn run(ws: &Workspace, args: &ExecArgs) -> Result<ExitStatus> {
    let mut sel = Selection {
        only: args.only.clone(),
        allow_override: args.allow_override,
        explicit_only: explicit_only(args)?,
        ..Selection::default()
    };
    let mut clean_env = args.clean_env;
    let mut needed_scopes: Vec<String> = Vec::new();
    if let Some(name) = &args.profile {
        let config = ws.require_config()?;
        let profile = config.file.exec.get(name).ok_or_else(|| {
            let names: Vec<&str> = config.file.exec.keys().map(String::as_str).collect();
            Error::msg(format!(
                "no profile [exec.{name}] in {}; profiles: {}",
                config.path.display(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ))
        })?;
        sel.add_profile(name, profile);
        clean_env |= profile.clean_env;
        for scope in &profile.scopes {
            if !config.file.scopes.contains_key(scope) {
                return Err(Error::msg(format!(
                    "profile [exec.{name}] needs scope `{scope}`, which {} does not define",
                    config.path.display()
                )));
            }
        }
        // A profile that names scopes and nothing else injects everything in them.
        if profile.env.is_empty() && profile.files.is_empty() && profile.only.is_empty() {
            let prefixes = scope_prefixes(config, &profile.scopes);
            if let Some((_, only)) = &mut sel.profile {
                only.extend(prefixes);
            }
        }
        needed_scopes.extend(profile.scopes.iter().cloned());
    }
    if args.strip_prefix.is_some() {
        sel.strip_prefix.clone_from(&args.strip_prefix);
    }
    for m in &args.env {
        sel.env.push(parse_mapping(m, "--env")?);
    }
    for m in &args.files {
        sel.files.push(parse_mapping(m, "--file")?);
    }
    sel.inherited = inherited_names(clean_env);
    let options = LaunchOptions {
        files_as: files_as(args.files_as),
        clean_env,
        mask: args.mask,
        allow_disk: args.allow_disk,
        supervise: false,
    };
    if args.from == ExecSource::Openbao {
        return run_from_openbao(ws, args, &sel, options);
    }
    let (doc, verified) = read_needed(ws, &sel, &needed_scopes)?;
    let injections = exec::plan(&doc, &sel)?;
    // Recorded before anything is handed out: a required record that cannot be
    // written stops the run here.
    crate::audit::record(
        &crate::audit::Access {
            command: "exec",
            vault: &ws.vault_path,
            vault_id: &verified.manifest.vault_id,
            generation: verified.manifest.generation,
            profile: args.profile.as_deref(),
            paths: injections.iter().map(|i| i.path.clone()).collect(),
        },
        &crate::audit::Settings::from(ws.config.as_ref().map(|c| &c.file.audit))?,
    )?;
    exec::launch(&injections, &args.command, &options).map(ExitStatus::External)
}

/// `--files-as` in the terms of the exec engine.
fn files_as(flag: crate::cli::FilesAs) -> exec::FilesAs {
    match flag {
        crate::cli::FilesAs::Tmpfs => exec::FilesAs::Tmpfs,
        crate::cli::FilesAs::Memfd => exec::FilesAs::Memfd,
    }
}

/// `--from openbao`: log in with the profile's AppRole, read exactly the mapped paths,
/// run the child with the same engine, and revoke the token when the child ends.
fn run_from_openbao(
    ws: &Workspace,
    args: &ExecArgs,
    sel: &Selection,
    mut options: LaunchOptions,
) -> Result<ExitStatus> {
    use crate::openbao::{self, approle, policy};
    let usage = |what: &str| Error::Usage(format!("--from openbao {what}"));
    let profile = args
        .profile
        .as_deref()
        .ok_or_else(|| usage("needs -p PROFILE: each profile has its own AppRole and policy"))?;
    let dir = args
        .approle_dir
        .as_deref()
        .ok_or_else(|| usage("needs --approle-dir DIR holding PROFILE.role-id and PROFILE.secret-id"))?;
    if !args.only.is_empty() {
        return Err(usage(
            "cannot take --only: the profile's policy grants exact paths; map them with --env or --file",
        ));
    }
    let config = ws.require_config()?;
    let target = openbao::Target::resolve(Some(config), None, None)?;
    if let Some(p) = config.file.exec.get(profile) {
        // A profile the policies skipped (it selects by prefix) has no AppRole to log in with.
        policy::for_profile(profile, p, &target).map_err(Error::msg)?;
    }
    // The profile decides what the child receives: it must come from a signed config,
    // which the vault's signature covers (no identity is needed to check it).
    ws.verify(&ws.read_ciphertext()?)?;
    let paths: BTreeSet<String> = sel.env.iter().chain(&sel.files).map(|m| m.path.clone()).collect();
    let paths: Vec<String> = paths.into_iter().collect();
    let server = openbao::connect(Some(config))?;
    let creds = approle::read_credentials(dir, profile)?;
    let token = approle::login(&server, policy::APPROLE_MOUNT, profile, &creds)?;
    drop(creds);
    options.supervise = true;
    let outcome = openbao::read_paths(&server, &token, &target, &paths).and_then(|doc| {
        let injections = exec::plan(&doc, sel)?;
        exec::launch(&injections, &args.command, &options).map(ExitStatus::External)
    });
    if let Err(e) = approle::revoke_self(&server, &token) {
        crate::diagnostics::warning(&format!(
            "{e}; the token expires on its own within {}",
            approle::TOKEN_TTL
        ));
    }
    outcome
}

/// Reads only the vault files the selection needs (with scopes): a needed scope this
/// user cannot read fails here, before anything runs, naming the scope and its readers.
fn read_needed(
    ws: &Workspace,
    sel: &Selection,
    scopes: &[String],
) -> Result<(crate::document::VaultDocument, crate::trust::Verified)> {
    let explicit = !sel.env.is_empty() || !sel.files.is_empty() || sel.profile.is_some();
    if !ws.has_scopes() || (sel.only.is_empty() && !explicit) {
        return ws.read_document_verified_under(None);
    }
    let mut wanted: Vec<String> = sel.only.clone();
    if let Some((_, only)) = &sel.profile {
        wanted.extend(only.iter().cloned());
    }
    wanted.extend(sel.env.iter().chain(&sel.files).map(|m| m.path.clone()));
    if let Some(config) = &ws.config {
        wanted.extend(scope_prefixes(config, scopes));
    }
    ws.read_document_verified_under(Some(&wanted))
}

/// The literal prefixes of the scopes' globs (`prod/**` → `prod`), to select them.
fn scope_prefixes(config: &crate::config::Config, scopes: &[String]) -> Vec<String> {
    scopes
        .iter()
        .filter_map(|s| config.file.scopes.get(s))
        .flat_map(|s| s.paths.iter())
        .filter(|p| !p.starts_with('!'))
        .map(|p| {
            p.split(['*', '?', '[', '{'])
                .next()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// `--explicit-only` or the host setting, phrased for error messages.
fn explicit_only(args: &ExecArgs) -> Result<Option<String>> {
    if args.explicit_only {
        return Ok(Some("--explicit-only".to_owned()));
    }
    let Some(value) = std::env::var_os(EXPLICIT_ONLY_ENV) else {
        return Ok(None);
    };
    match value.to_str().and_then(policy::parse_switch) {
        Some(true) => Ok(Some(format!("this host ({EXPLICIT_ONLY_ENV}=1)"))),
        Some(false) => Ok(None),
        None => Err(Error::Usage(format!(
            "{EXPLICIT_ONLY_ENV} must be 1 or 0 (also true/false, yes/no, on/off), got `{}`",
            crate::terminal::sanitize(&value.to_string_lossy())
        ))),
    }
}

/// The names the child would inherit from us: all of ours, or under
/// `--clean-env` only the allow-list.
fn inherited_names(clean_env: bool) -> BTreeSet<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| !clean_env || CLEAN_ENV_KEEP.contains(&k.as_str()))
        .collect()
}
