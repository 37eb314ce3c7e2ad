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
    check_usage(&cli.command)?;
    match cli.command {
        Command::Init(args) => init::run(&options, &args),
        Command::Keygen(args) => keygen::run(&options, &args),
        Command::Whoami(args) => whoami::run(options, args.json),
        Command::Recipients(cmd) => recipients::run(&Workspace::resolve(options)?, cmd),
        Command::Ls(args) => ls::run(&Workspace::resolve(options)?, &args),
        Command::Get(args) => get::run(&Workspace::resolve(options)?, &args.path),
        Command::Set(args) => set::run(&Workspace::resolve(options)?, &args),
        Command::Rm(args) => rm::run(&Workspace::resolve(options)?, &args.path),
        Command::Edit(args) => edit::run(&Workspace::resolve(options)?, &args),
        Command::Exec(args) => exec::run(&Workspace::resolve(options)?, &args),
        Command::Rotate(args) => rotate::run(&Workspace::resolve(options)?, &args),
        Command::Incident(args) => {
            rotate::incident_run(&Workspace::resolve(options)?, &args.name, args.dry_run)
        }
        Command::Audit(cmd) => audit::run(options, cmd),
        Command::Status(args) => status::run(&Workspace::resolve(options)?, args.json),
        Command::Check(args) => check::run(options, &args),
        Command::Inventory(args) => inventory::run(&Workspace::resolve(options)?, args.format),
        Command::Completions(args) => completions::completions(args.shell),
        Command::Man => completions::man(),
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

/// Usage errors that need no config or vault are reported before either is looked for,
/// so they exit 2 whatever the directory holds.
fn check_usage(command: &Command) -> Result<()> {
    match command {
        Command::Get(args) | Command::Rm(args) => parse_path(&args.path).map(drop),
        Command::Set(args) => set::check_usage(args).map(drop),
        Command::Import(args) => import::check_usage(args).map(drop),
        Command::Export(args) => export::check_usage(args).map(drop),
        _ => Ok(()),
    }
}

/// Parses a path argument, as a usage error when it is invalid.
fn parse_path(text: &str) -> Result<crate::secret_path::SecretPath> {
    crate::secret_path::SecretPath::parse(text).map_err(crate::Error::Usage)
}
