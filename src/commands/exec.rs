//! `exec`: run a command with secrets injected.

use crate::cli::ExecArgs;
use crate::error::{Error, Result};
use crate::exec::{self, plan::parse_mapping, LaunchOptions, Selection};
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Decrypts, plans every injection, then runs the command.
pub fn run(ws: &Workspace, args: &ExecArgs) -> Result<ExitStatus> {
    let mut sel = Selection {
        only: args.only.clone(),
        allow_override: args.allow_override,
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
        sel.add_profile(profile);
        clean_env |= profile.clean_env;
    }
    for m in &args.env {
        sel.env.push(parse_mapping(m, "--env")?);
    }
    for m in &args.files {
        sel.files.push(parse_mapping(m, "--file")?);
    }
    let doc = ws.read_document()?;
    let injections = exec::plan(&doc, &sel)?;
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
