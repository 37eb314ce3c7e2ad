//! `exec`: run a command with secrets injected.

use std::collections::BTreeSet;

use crate::cli::ExecArgs;
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
    }
    for m in &args.env {
        sel.env.push(parse_mapping(m, "--env")?);
    }
    for m in &args.files {
        sel.files.push(parse_mapping(m, "--file")?);
    }
    sel.inherited = inherited_names(clean_env);
    let ids = ws.identities()?;
    let (doc, _, verified) = ws.read_verified(&ids)?;
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
    exec::launch(
        &injections,
        &args.command,
        &LaunchOptions {
            files_as: args.files_as,
            clean_env,
            mask: args.mask,
            allow_disk: args.allow_disk,
        },
    )
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
