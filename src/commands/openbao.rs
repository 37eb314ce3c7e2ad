//! `openbao push` and `openbao policies`: publishing the vault to OpenBao / Vault.

use std::collections::BTreeSet;

use secrecy::ExposeSecret;

use crate::cli::{OpenbaoCommand, PoliciesArgs, PushArgs};
use crate::error::{Error, Result};
use crate::openbao::kv::{self, Entry, Written};
use crate::openbao::{self, approle, policy, Target};
use crate::output;
use crate::progress::Progress;
use crate::secret_path::SecretPath;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Dispatches `openbao …`.
pub fn run(ws: &Workspace, cmd: OpenbaoCommand) -> Result<ExitStatus> {
    match cmd {
        OpenbaoCommand::Push(args) => push(ws, &args),
        OpenbaoCommand::Policies(args) => policies(ws, &args),
    }
}

/// What push does to one path.
enum Action {
    Create { cas: u64 },
    Update { cas: u64 },
    Delete,
}

impl Action {
    fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Update { .. } => "update",
            Action::Delete => "delete",
        }
    }
}

/// `openbao push`: compares the vault's secrets (under PREFIX) with the server's, then
/// writes what differs with check-and-set (and, with --prune, deletes what the vault
/// does not hold); --dry-run prints the plan only.
fn push(ws: &Workspace, args: &PushArgs) -> Result<ExitStatus> {
    let under = args
        .prefix
        .as_deref()
        .map(|p| SecretPath::parse(p.trim_end_matches('/')).map_err(Error::Usage))
        .transpose()?;
    let config = ws.config.as_ref();
    let target = Target::resolve(
        config,
        args.target.mount.as_deref(),
        args.target.path_prefix.as_deref(),
    )?;
    if args.prune && target.prefix.is_none() && under.is_none() {
        return Err(Error::Usage(
            "--prune deletes every key the vault does not hold, so it needs a boundary: a path prefix \
             (--path-prefix or [openbao] prefix) or a PREFIX argument"
                .into(),
        ));
    }
    let remote = Remote {
        server: openbao::connect(config)?,
        token: openbao::operator_token(config)?,
        target,
    };
    // Scopes will add documents here; each is read (and verified) the same way.
    let doc = ws.read_document()?;
    let leaves: Vec<_> = doc
        .leaves()
        .filter(|(path, _)| under.as_ref().map_or(true, |u| is_under(path, u)))
        .collect();

    // One request per secret, twice (compare, then write): a bar on a terminal.
    let progress = Progress::bar(ws.options.quiet, leaves.len() as u64, "comparing with the server");
    let (mut plan, unchanged) = remote.compare(&leaves, &progress)?;
    if args.prune {
        plan.extend(remote.prune(&leaves, under.as_ref())?);
    }
    let place = remote.place();
    if args.dry_run {
        progress.finish();
        return print_plan(ws, &plan, unchanged, &place);
    }

    let values: std::collections::BTreeMap<&str, &secrecy::SecretString> =
        leaves.iter().map(|(p, v)| (p.as_str(), *v)).collect();
    progress.restart(plan.len() as u64, "writing to the server");
    let applied = remote.apply(&plan, &values, &progress)?;
    progress.finish();
    report_push(ws, &place, &applied, unchanged)
}

/// Where a push goes: the server, the operator's token, and the mount and prefix.
struct Remote {
    server: openbao::Server,
    token: secrecy::SecretString,
    target: Target,
}

/// What a push did: the verbs of the writes made, the paths left to another writer's
/// value, and how many our value reached first through a concurrent push.
struct Applied {
    done: Vec<&'static str>,
    conflicts: Vec<String>,
    raced: usize,
}

impl Remote {
    /// Reads each secret from the server: the plan to create or update those that
    /// differ, and how many are unchanged.
    fn compare(
        &self,
        leaves: &[(String, &secrecy::SecretString)],
        progress: &Progress,
    ) -> Result<(Vec<(String, Action)>, usize)> {
        let mut plan = Vec::new();
        let mut unchanged = 0usize;
        for (path, value) in leaves {
            progress.inc();
            match kv::read(&self.server, &self.token, &self.target, path)? {
                Entry::Present {
                    value: current,
                    version,
                } => {
                    if current.expose_secret() == value.expose_secret() {
                        unchanged += 1;
                    } else {
                        plan.push((path.clone(), Action::Update { cas: version }));
                    }
                }
                Entry::Absent { version } => plan.push((path.clone(), Action::Create { cas: version })),
            }
        }
        Ok((plan, unchanged))
    }

    /// The deletions of --prune: every key on the server (under `under`) that the vault
    /// does not hold.
    fn prune(
        &self,
        leaves: &[(String, &secrecy::SecretString)],
        under: Option<&SecretPath>,
    ) -> Result<Vec<(String, Action)>> {
        let held: BTreeSet<&str> = leaves.iter().map(|(p, _)| p.as_str()).collect();
        let under_text = under.map(ToString::to_string);
        Ok(
            kv::list(&self.server, &self.token, &self.target, under_text.as_deref())?
                .into_iter()
                .filter(|key| !held.contains(key.as_str()))
                .map(|key| (key, Action::Delete))
                .collect(),
        )
    }

    /// The mount, server and prefix, as messages name them.
    fn place(&self) -> String {
        format!(
            "{} at {}{}",
            self.target.mount,
            self.server.addr,
            self.target
                .prefix
                .as_ref()
                .map_or_else(String::new, |p| format!(", prefix {p}"))
        )
    }

    /// Carries out `plan`, printing each write made. A check-and-set refusal leaves the
    /// other writer's value, unless it is ours already.
    fn apply(
        &self,
        plan: &[(String, Action)],
        values: &std::collections::BTreeMap<&str, &secrecy::SecretString>,
        progress: &Progress,
    ) -> Result<Applied> {
        let mut applied = Applied {
            done: Vec::new(),
            conflicts: Vec::new(),
            raced: 0,
        };
        for (path, action) in plan {
            progress.inc();
            let outcome = match action {
                Action::Create { cas } | Action::Update { cas } => {
                    let value = values
                        .get(path.as_str())
                        .ok_or_else(|| Error::msg("internal: planned a path without a value"))?;
                    match kv::write(&self.server, &self.token, &self.target, path, value, *cas)? {
                        Written::Stored => Some(action.verb()),
                        Written::Conflict => {
                            // Someone wrote it since we read it. If they wrote our value, fine;
                            // otherwise theirs stays and the user decides.
                            match kv::read(&self.server, &self.token, &self.target, path)? {
                                Entry::Present { value: now, .. }
                                    if now.expose_secret() == value.expose_secret() =>
                                {
                                    applied.raced += 1;
                                    None
                                }
                                _ => {
                                    applied.conflicts.push(path.clone());
                                    None
                                }
                            }
                        }
                    }
                }
                Action::Delete => {
                    kv::destroy(&self.server, &self.token, &self.target, path)?;
                    Some("delete")
                }
            };
            if let Some(verb) = outcome {
                output::line(&format!("{verb:<7} {path}"))?;
                applied.done.push(verb);
            }
        }
        Ok(applied)
    }
}

/// --dry-run: prints the plan, one line per path, and what it would do in sum.
fn print_plan(
    ws: &Workspace,
    plan: &[(String, Action)],
    unchanged: usize,
    place: &str,
) -> Result<ExitStatus> {
    for (path, action) in plan {
        output::line(&format!("{:<7} {path}", action.verb()))?;
    }
    output::status(
        ws.options.quiet,
        &format!(
            "dry run, nothing written; the plan for {place}: {}",
            summary(&plan.iter().map(|(_, a)| a.verb()).collect::<Vec<_>>(), unchanged)
                .replace(" created", " to create")
                .replace(" updated", " to update")
                .replace(" deleted", " to delete")
        ),
    );
    Ok(ExitStatus::Success)
}

/// Says what the push did; paths left to another writer's value make it an error.
fn report_push(ws: &Workspace, place: &str, applied: &Applied, unchanged: usize) -> Result<ExitStatus> {
    let Applied {
        done,
        conflicts,
        raced,
    } = applied;
    // Paths another writer stored first, with our value, count as unchanged.
    let unchanged = unchanged + raced;
    output::status(
        ws.options.quiet,
        &format!(
            "pushed to {place}: {}{}",
            summary(done, unchanged),
            if *raced > 0 {
                format!(" ({raced} of them written by a concurrent push first)")
            } else {
                String::new()
            }
        ),
    );
    if !conflicts.is_empty() {
        return Err(Error::msg(format!(
            "{} path(s) changed on the server during this push and were not overwritten (check-and-set): {}",
            conflicts.len(),
            conflicts.join(", ")
        ))
        .with_hint("run `agevault openbao push` again to publish the vault's values over them"));
    }
    Ok(ExitStatus::Success)
}

fn is_under(path: &str, prefix: &SecretPath) -> bool {
    let prefix = prefix.to_string();
    path == prefix
        || path
            .strip_prefix(&prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn summary(verbs: &[&str], unchanged: usize) -> String {
    let count = |v: &str| verbs.iter().filter(|x| **x == v).count();
    format!(
        "{} created, {} updated, {} deleted, {unchanged} unchanged",
        count("create"),
        count("update"),
        count("delete")
    )
}

fn policies(ws: &Workspace, args: &PoliciesArgs) -> Result<ExitStatus> {
    let config = ws.require_config()?;
    let target = Target::resolve(
        Some(config),
        args.target.mount.as_deref(),
        args.target.path_prefix.as_deref(),
    )?;
    let mut list = Vec::new();
    for (name, profile) in &config.file.exec {
        match policy::for_profile(name, profile, &target) {
            Ok(p) => list.push(p),
            Err(why) => crate::diagnostics::warning(&format!("skipped: {why}")),
        }
    }
    if list.is_empty() {
        return Err(Error::msg(format!(
            "{} has no exec profile with explicit paths",
            config.path.display()
        ))
        .with_hint("add [exec.NAME] with env or files first"));
    }
    let Some(out) = args.out.as_deref().filter(|_| args.apply) else {
        for p in &list {
            output::line(&format!(
                "# policy and AppRole {} (exec profile `{}`)",
                p.name, p.profile
            ))?;
            output::line(&p.hcl)?;
        }
        return Ok(ExitStatus::Success);
    };
    // The policies decide what hosts can read: apply them only from a signed config.
    ws.verify(&ws.read_ciphertext()?)?;
    let server = openbao::connect(Some(config))?;
    let token = openbao::operator_token(Some(config))?;
    if approle::ensure_enabled(&server, &token, policy::APPROLE_MOUNT)? {
        output::status(
            ws.options.quiet,
            &format!(
                "enabled the AppRole auth method at auth/{}",
                policy::APPROLE_MOUNT
            ),
        );
    }
    for p in &list {
        policy::put(&server, &token, p)?;
        approle::put_role(&server, &token, policy::APPROLE_MOUNT, &p.name, &p.name)?;
        let role_id = approle::role_id(&server, &token, policy::APPROLE_MOUNT, &p.name)?;
        let secret_id = approle::new_secret_id(&server, &token, policy::APPROLE_MOUNT, &p.name)?;
        approle::write_credentials(out, &p.profile, &role_id, &secret_id)?;
        output::line(&format!(
            "{}: policy and AppRole applied ({} path(s)); wrote {} and {}",
            p.name,
            p.paths.len(),
            approle::role_id_file(out, &p.profile).display(),
            approle::secret_id_file(out, &p.profile).display()
        ))?;
    }
    Ok(ExitStatus::Success)
}
