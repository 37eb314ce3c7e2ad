//! One module per subcommand; `run` dispatches to them.

mod audit;
mod check;
mod completions;
mod edit;
mod exec;
mod export;
mod get;
mod git;
mod import;
mod init;
mod inventory;
mod keygen;
mod log;
mod ls;
mod openbao;
mod recipients;
mod rm;
pub(crate) mod rotate;
mod scan;
mod scopes;
mod set;
mod status;
mod trust;
mod whoami;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::workspace::{GlobalOptions, Workspace};
use crate::ExitStatus;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitStatus> {
    let options = GlobalOptions {
        config: cli.config,
        vault: cli.vault,
        identities: cli.identities,
        quiet: cli.quiet,
        trust: crate::trust::TrustOptions {
            allow_rollback: cli.allow_rollback,
            signing_keys: cli.signing_keys,
        },
    };
    crate::store::set_lock_policy(crate::store::LockPolicy {
        wait: lock_wait(cli.wait.as_deref(), cli.no_wait)?,
        quiet: cli.quiet,
    });
    check_usage(&cli.command)?;
    match cli.command {
        Command::Init(args) => init::run(&options, &args),
        Command::Keygen(args) => keygen::run(&options, &args),
        Command::Whoami(args) => whoami::run(options, args.json),
        Command::Recipients(cmd) => recipients::run(&Workspace::resolve(options)?, cmd),
        Command::Ls(args) => ls::run(&Workspace::resolve(options)?, &args),
        Command::Get(args) => get::run(&Workspace::resolve(options)?, &args.path),
        Command::Set(args) => set::run(&Workspace::resolve(options)?, &args),
        Command::Rm(args) => rm::run(&Workspace::resolve(options)?, &args),
        Command::Edit(args) => edit::run(&Workspace::resolve(options)?, &args),
        Command::Exec(args) => exec::run(&Workspace::resolve(options)?, &args),
        Command::Rotate(args) => rotate::run(&Workspace::resolve(options)?, &args),
        Command::Incident(args) => {
            rotate::incident_run(&Workspace::resolve(options)?, &args.name, args.dry_run)
        }
        Command::Audit(cmd) => audit::run(options, cmd),
        Command::Status(args) => status::run(&Workspace::resolve(options)?, args.json),
        Command::Check(args) => check::run(options, &args),
        Command::Inventory(args) => inventory::run(
            &Workspace::resolve(options)?,
            if args.json {
                crate::cli::InventoryFormat::Json
            } else {
                args.format
            },
        ),
        Command::Completions(args) => completions::completions(args.shell),
        Command::Man(args) => completions::man(&args),
        Command::Complete { kind } => completions::complete(options, kind),
        Command::Git(cmd) => git::run(options, cmd),
        Command::Log(args) => log::run(&Workspace::resolve(options)?, &args),
        Command::Scan(args) => scan::run(options, &args),
        Command::Trust(cmd) => trust::run(options, cmd),
        Command::Scopes(cmd) => scopes::run(&Workspace::resolve(options)?, cmd),
        Command::Import(args) => import::run(&Workspace::resolve(options)?, &args),
        Command::Export(args) => export::run(&Workspace::resolve(options)?, &args),
        Command::Openbao(cmd) => openbao::run(&Workspace::resolve(options)?, cmd),
    }
}

/// `--wait[=DURATION]` / `--no-wait`.
fn lock_wait(wait: Option<&str>, no_wait: bool) -> Result<crate::store::LockWait> {
    use crate::store::LockWait;
    match wait {
        _ if no_wait => Ok(LockWait::Never),
        None | Some("forever") => Ok(LockWait::Forever),
        Some(text) => humantime::parse_duration(text)
            .map(LockWait::AtMost)
            .map_err(|e| {
                crate::Error::Usage(format!("--wait={}: {e}", crate::terminal::sanitize(text))).with_hint(
                    "give a duration such as 30s or 2m, or --wait alone to wait as long as it takes",
                )
            }),
    }
}

/// Usage errors that need no config or vault are reported before either is looked for,
/// so they exit 2 whatever the directory holds.
fn check_usage(command: &Command) -> Result<()> {
    match command {
        Command::Set(args) => set::check_usage(args),
        Command::Export(args) => export::check_usage(args).map(drop),
        _ => Ok(()),
    }
}

/// The error for a path the vault does not hold: names a conflicted path as such, and
/// offers the closest existing path or namespace when the name looks like a typo.
fn missing_path(
    ws: &Workspace,
    doc: &crate::document::VaultDocument,
    path: &crate::secret_path::SecretPath,
) -> crate::Error {
    let wanted = path.to_string();
    if crate::git::unresolved_conflicts(doc).contains(&wanted) {
        return crate::Error::msg(format!(
            "`{wanted}` has an unresolved merge conflict (both branches changed it; the values wait under \
             `{}/{wanted}`)",
            crate::git::merge::CONFLICTS,
        ))
        .with_hint(format!(
            "run `agevault edit`, set `{wanted}` and delete `{}`",
            crate::git::merge::CONFLICTS
        ));
    }
    // With scopes, `doc` holds only the files the path routes to; a typo in the first
    // segment may point into another one, so suggest from everything readable.
    let everything = if ws.has_scopes() {
        ws.read_document().ok()
    } else {
        None
    };
    let leaves: Vec<String> = everything
        .as_ref()
        .unwrap_or(doc)
        .leaves()
        .map(|(p, _)| p)
        .collect();
    let known = crate::suggest::paths_and_namespaces(&leaves);
    let missing = crate::Error::msg(format!("no secret `{wanted}` in the vault"));
    match crate::suggest::closest(&wanted, known.iter().map(String::as_str)) {
        Some(near) => missing.with_hint(format!("did you mean `{near}`? (`agevault ls` lists them)")),
        None => missing.with_hint("`agevault ls` lists the secrets you can read"),
    }
}
