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
    let server = openbao::connect(config)?;
    let token = openbao::operator_token(config)?;
    // Scopes will add documents here; each is read (and verified) the same way.
    let doc = ws.read_document()?;
    let leaves: Vec<_> = doc
        .leaves()
        .filter(|(path, _)| under.as_ref().map_or(true, |u| is_under(path, u)))
        .collect();

    // One request per secret, twice (compare, then write): a bar on a terminal.
    let progress = Progress::bar(ws.options.quiet, leaves.len() as u64, "comparing with the server");
    let mut plan = Vec::new();
    let mut unchanged = 0usize;
    for (path, value) in &leaves {
        progress.inc();
        match kv::read(&server, &token, &target, path)? {
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
    if args.prune {
        let held: BTreeSet<&str> = leaves.iter().map(|(p, _)| p.as_str()).collect();
        let under_text = under.as_ref().map(ToString::to_string);
        for key in kv::list(&server, &token, &target, under_text.as_deref())? {
            if !held.contains(key.as_str()) {
                plan.push((key, Action::Delete));
            }
        }
    }

    let place = format!(
        "{} at {}{}",
        target.mount,
        server.addr,
        target
            .prefix
            .as_ref()
            .map_or_else(String::new, |p| format!(", prefix {p}"))
    );
    if args.dry_run {
        progress.finish();
        for (path, action) in &plan {
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
        return Ok(ExitStatus::Success);
    }

    let values: std::collections::BTreeMap<&str, &secrecy::SecretString> =
        leaves.iter().map(|(p, v)| (p.as_str(), *v)).collect();
    let mut done = Vec::new();
    let mut conflicts = Vec::new();
    // Paths another writer stored first, with our value: check-and-set refused our write.
    let mut raced = 0usize;
    progress.restart(plan.len() as u64, "writing to the server");
    for (path, action) in &plan {
        progress.inc();
        let outcome = match action {
            Action::Create { cas } | Action::Update { cas } => {
                let value = values
                    .get(path.as_str())
                    .ok_or_else(|| Error::msg("internal: planned a path without a value"))?;
                match kv::write(&server, &token, &target, path, value, *cas)? {
                    Written::Stored => Some(action.verb()),
                    Written::Conflict => {
                        // Someone wrote it since we read it. If they wrote our value, fine;
                        // otherwise theirs stays and the user decides.
                        match kv::read(&server, &token, &target, path)? {
                            Entry::Present { value: now, .. }
                                if now.expose_secret() == value.expose_secret() =>
                            {
                                unchanged += 1;
                                raced += 1;
                                None
                            }
                            _ => {
                                conflicts.push(path.clone());
                                None
                            }
                        }
                    }
                }
            }
            Action::Delete => {
                kv::destroy(&server, &token, &target, path)?;
                Some("delete")
            }
        };
        if let Some(verb) = outcome {
            output::line(&format!("{verb:<7} {path}"))?;
            done.push(verb);
        }
    }
    progress.finish();
    output::status(
        ws.options.quiet,
        &format!(
            "pushed to {place}: {}{}",
            summary(&done, unchanged),
            if raced > 0 {
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
