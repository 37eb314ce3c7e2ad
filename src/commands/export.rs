//! `export [PREFIX]`: secrets as .env, JSON or YAML on stdout, or docker-secrets files.

use std::io::IsTerminal;
use std::path::Path;

use secrecy::SecretString;

use crate::cli::{ExportArgs, ExportFormat};
use crate::document::Node;
use crate::error::{Error, Result};
use crate::memdir::is_memory_fs;
use crate::migrate::render;
use crate::output::{self, status};
use crate::secret_path::SecretPath;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// The usage errors of `export` clap cannot express: `--out` with the wrong format.
pub fn check_usage(args: &ExportArgs) -> Result<Option<&SecretPath>> {
    let prefix = args.prefix.as_ref();
    match (args.format, &args.out) {
        (ExportFormat::DockerSecrets, None) => Err(Error::Usage(
            "--format docker-secrets needs --out DIR (a directory on a memory filesystem, e.g. under /dev/shm)".into(),
        )),
        (ExportFormat::DockerSecrets, Some(_)) | (_, None) => Ok(prefix),
        (_, Some(_)) => Err(Error::Usage(
            "--out is only for --format docker-secrets; the other formats go to stdout (redirect it)".into(),
        )),
    }
}

/// Exports the secrets under the prefix.
pub fn run(ws: &Workspace, args: &ExportArgs) -> Result<ExitStatus> {
    let prefix = check_usage(args)?;
    if let Some(dir) = &args.out {
        check_memory_dir(dir, args.force)?;
    } else if std::io::stdout().is_terminal() && !args.force {
        return Err(Error::msg(
            "refusing to print secret values to a terminal; redirect stdout to a file or pipe, or pass --force",
        ));
    }
    let doc = match &prefix {
        Some(p) => ws.read_document_under(&[p.to_string()])?,
        None => ws.read_document()?,
    };
    let leaves: Vec<(String, &SecretString)> = match &prefix {
        None => doc.leaves().collect(),
        Some(p) => match doc.get(p) {
            Some(Node::Tree(_)) => {
                let under = format!("{p}/");
                doc.leaves()
                    .filter_map(|(path, v)| path.strip_prefix(&under).map(|rel| (rel.to_owned(), v)))
                    .collect()
            }
            Some(Node::Leaf(_)) => {
                return Err(Error::msg(format!(
                    "`{p}` is one secret, not a namespace; print it with `agevault get {p}`"
                )))
            }
            None => {
                return Err(Error::msg(format!(
                    "no secret or namespace `{p}` in the vault (list them with `agevault ls`)"
                )))
            }
        },
    };
    match (args.format, &args.out) {
        (ExportFormat::DockerSecrets, Some(dir)) => {
            let written = render::docker_secrets(dir, &leaves)?;
            status(
                ws.options.quiet,
                &format!(
                    "wrote {} secret file(s) (0400) into {}",
                    written.len(),
                    dir.display()
                ),
            );
        }
        (ExportFormat::Env, _) => output::stdout_bytes(render::env(&leaves)?.as_slice())?,
        (ExportFormat::Json, _) => output::stdout_bytes(render::json(&leaves).as_slice())?,
        (ExportFormat::Yaml, _) => output::stdout_bytes(render::yaml(&leaves).as_slice())?,
        (ExportFormat::DockerSecrets, None) => unreachable!("check_usage requires --out"),
    }
    Ok(ExitStatus::Success)
}

/// The directory (or, when it does not exist yet, its nearest existing ancestor) must be
/// on tmpfs/ramfs: files there vanish on reboot and never reach a disk's blocks.
fn check_memory_dir(dir: &Path, force: bool) -> Result<()> {
    let probe = dir
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or_else(|| Path::new("."));
    if !probe.is_dir() {
        return Err(Error::msg(format!("{} is not a directory", probe.display())));
    }
    if !force && !is_memory_fs(probe) {
        return Err(Error::msg(format!(
            "{} is not on a memory filesystem (tmpfs/ramfs), so the secret files would reach a disk; \
             use a directory under /dev/shm or $XDG_RUNTIME_DIR, or pass --force",
            dir.display()
        )));
    }
    Ok(())
}
