//! `check`: the CI gate — config, format, decryption, document, recipients, rules, rotation, conflicts.

use std::time::SystemTime;

use secrecy::ExposeSecret;
use serde::Serialize;

use crate::cli::CheckArgs;
use crate::crypto;
use crate::document::VaultDocument;
use crate::error::Result;
use crate::git::merge::CONFLICTS;
use crate::lifecycle::policy::{best_match, statuses};
use crate::lifecycle::validate::Rule;
use crate::output;
use crate::workspace::{read_vault_bytes, GlobalOptions, RecipientDrift, Workspace};
use crate::ExitStatus;

#[derive(Serialize)]
struct Outcome {
    name: &'static str,
    ok: bool,
    skipped: bool,
    problems: Vec<String>,
}

#[derive(Default, Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Outcome>,
}

impl Report {
    fn record(&mut self, name: &'static str, problems: Vec<String>) {
        self.checks.push(Outcome {
            name,
            ok: problems.is_empty(),
            skipped: false,
            problems,
        });
    }

    fn skip(&mut self, name: &'static str, why: &str) {
        self.checks.push(Outcome {
            name,
            ok: true,
            skipped: true,
            problems: vec![why.to_owned()],
        });
    }
}

const DECRYPT_CHECKS: [&str; 6] = [
    "decrypt",
    "document",
    "recipients",
    "validate",
    "rotation",
    "conflicts",
];

/// Runs every check and reports; exit 0 only when all pass.
pub fn run(options: GlobalOptions, args: &CheckArgs) -> Result<ExitStatus> {
    let mut report = Report::default();
    let ws = match Workspace::resolve(options) {
        Ok(ws) => {
            report.record("config", Vec::new());
            Some(ws)
        }
        Err(e) => {
            report.record("config", vec![e.to_string()]);
            None
        }
    };
    if let Some(ws) = &ws {
        run_checks(ws, args, &mut report);
    }
    report.ok = report.checks.iter().all(|c| c.ok);
    if args.json {
        output::json(&report)?;
    } else {
        for c in &report.checks {
            for p in &c.problems {
                if c.skipped {
                    output::line(&format!("skipped {}: {p}", c.name))?;
                } else {
                    output::line(&format!("FAIL {}: {p}", c.name))?;
                }
            }
        }
        let passed = report.checks.iter().filter(|c| c.ok && !c.skipped).count();
        let failed = report.checks.iter().filter(|c| !c.ok).count();
        output::line(&if failed == 0 {
            format!("ok: {passed} checks passed")
        } else {
            format!("{failed} check(s) failed, {passed} passed")
        })?;
    }
    Ok(if report.ok {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn run_checks(ws: &Workspace, args: &CheckArgs, report: &mut Report) {
    let no_decrypt = args.no_decrypt;
    let bytes = match read_vault_bytes(&ws.vault_path) {
        Ok(b) => b,
        Err(e) => {
            report.record("format", vec![e.to_string()]);
            return;
        }
    };
    let format = crypto::check_format(&bytes)
        .err()
        .map(|reason| format!("{}: {reason}", ws.vault_path.display()));
    let format_ok = format.is_none();
    report.record("format", format.into_iter().collect());
    let signature = ws.verify(&bytes);
    let trusted = signature.is_ok();
    report.record(
        "signature",
        signature
            .as_ref()
            .err()
            .map(ToString::to_string)
            .into_iter()
            .collect(),
    );
    if let Ok(verified) = &signature {
        report.record("generation", generation_problems(ws, verified));
    }
    if no_decrypt {
        for name in DECRYPT_CHECKS {
            report.skip(name, "not run (--no-decrypt)");
        }
        return;
    }
    if !format_ok {
        return;
    }
    if !trusted {
        for name in DECRYPT_CHECKS {
            report.skip(
                name,
                "not run: the vault is not trusted (see the signature check)",
            );
        }
        if args.openbao {
            report.skip(
                "openbao",
                "not run: the vault is not trusted (see the signature check)",
            );
        }
        return;
    }
    let decrypted = ws.identities().and_then(|ids| {
        if ids.identities.is_empty() {
            return Err(crate::Error::msg(
                "no identity found; in CI set AGEVAULT_IDENTITY to the key text from a CI secret, or use --no-decrypt",
            ));
        }
        ws.decrypt(&bytes, &ids)
    });
    let plaintext = match decrypted {
        Ok(p) => {
            report.record("decrypt", Vec::new());
            p
        }
        Err(e) => {
            report.record("decrypt", vec![e.to_string()]);
            if args.openbao {
                report.skip("openbao", "not run: the vault did not decrypt");
            }
            return;
        }
    };
    let doc = match ws.parse(&plaintext) {
        Ok(d) => {
            report.record("document", Vec::new());
            d
        }
        Err(e) => {
            report.record("document", vec![e.to_string()]);
            return;
        }
    };
    let doc = if ws.has_scopes() {
        match scoped_document(ws, report) {
            Some(d) => d,
            None => return,
        }
    } else {
        doc
    };
    report.record("recipients", recipient_problems(ws, &doc));
    report.record("validate", validation_problems(ws, &doc));
    report.record("rotation", rotation_problems(ws, &doc));
    report.record("conflicts", conflict_problems(&doc));
    if args.openbao {
        report.record(
            "openbao",
            openbao_problems(ws, &doc).unwrap_or_else(|e| vec![e.to_string()]),
        );
    }
}

/// Drift between the vault and the server, per path, compared by keyed fingerprint
/// (HMAC under the vault's fingerprint key): values are never printed, and the
/// fingerprints shown are the ones `git diff` of the vault shows.
fn openbao_problems(ws: &Workspace, doc: &VaultDocument) -> Result<Vec<String>> {
    use crate::git::fingerprint::FingerprintKey;
    use crate::openbao::kv::{self, Entry};
    use crate::openbao::{self, Target};
    let config = ws.config.as_ref();
    let target = Target::resolve(config, None, None)?;
    let server = openbao::connect(config)?;
    let token = openbao::operator_token(config)?;
    let key = FingerprintKey::of(doc).unwrap_or_else(FingerprintKey::generate);
    let mut problems = Vec::new();
    let mut held = std::collections::BTreeSet::new();
    for (path, value) in doc.leaves() {
        let ours = value.expose_secret().as_bytes();
        match kv::read(&server, &token, &target, &path)? {
            Entry::Present { value: theirs, .. } => {
                let theirs = theirs.expose_secret().as_bytes();
                if key.digest(ours) != key.digest(theirs) {
                    problems.push(format!(
                        "`{path}` differs on OpenBao (vault {}, server {} at {}); run `agevault openbao push`",
                        key.fingerprint(ours),
                        key.fingerprint(theirs),
                        target.data_path(&path)
                    ));
                }
            }
            Entry::Absent { .. } => problems.push(format!(
                "`{path}` is missing on OpenBao ({}); run `agevault openbao push`",
                target.data_path(&path)
            )),
        }
        held.insert(path);
    }
    // Keys the vault does not hold are drift only under a prefix of our own: a bare
    // mount is shared with whatever else the server stores.
    if target.prefix.is_some() {
        for extra in kv::list(&server, &token, &target, None)? {
            if !held.contains(&extra) {
                problems.push(format!(
                    "`{}` is on OpenBao ({}) but not in the vault; remove it with `agevault openbao push --prune`",
                    crate::terminal::sanitize(&extra),
                    target.data_path(&crate::terminal::sanitize(&extra))
                ));
            }
        }
    }
    Ok(problems)
}

/// In a git work tree: the vault's generation must not be lower than in the previous
/// commit (HEAD, or HEAD's parent when the work tree matches HEAD), it must be the same
/// vault, and its writers must be reached from that commit's writers by signed changes.
fn generation_problems(ws: &Workspace, verified: &crate::trust::Verified) -> Vec<String> {
    use crate::trust::sigfile::SigFile;
    let Ok(repo) = git2::Repository::discover(ws.vault_path.parent().unwrap_or(std::path::Path::new(".")))
    else {
        return Vec::new();
    };
    let Ok(rel) = crate::git::repo::relative_path(&repo, &crate::trust::sig_path(&ws.vault_path)) else {
        return Vec::new();
    };
    let current = crate::trust::read_sig(&ws.vault_path).ok().flatten();
    // The nearest earlier commit (first parents) with a signature: deleting the
    // signature in one commit and forging in the next is compared with the last good one.
    let head = crate::git::signatures::at_commit(&repo, "HEAD", &rel);
    let start = usize::from(head.is_some() && head == current);
    let mut found = None;
    for n in start..start + 1000 {
        let rev = if n == 0 {
            "HEAD".to_owned()
        } else {
            format!("HEAD~{n}")
        };
        if repo.revparse_single(&rev).is_err() {
            break;
        }
        if let Some(sig) =
            crate::git::signatures::at_commit(&repo, &rev, &rel).and_then(|b| SigFile::parse(&b).ok())
        {
            found = Some((if n == 1 { "HEAD^".to_owned() } else { rev }, sig));
            break;
        }
    }
    let Some((label, previous)) = found else {
        return Vec::new();
    };
    let label = label.as_str();
    let prev = &previous.current.body;
    let now = &verified.manifest;
    let mut problems = Vec::new();
    if prev.vault_id != now.vault_id {
        problems.push(format!(
            "the vault id changed from {} ({label}) to {}: the vault was replaced",
            prev.vault_id, now.vault_id
        ));
        return problems;
    }
    if now.generation < prev.generation {
        problems.push(format!(
            "generation {} is lower than generation {} in {label}: a rollback to an older vault",
            now.generation, prev.generation
        ));
    } else if now.generation == prev.generation && now.vault_sha256 != prev.vault_sha256 {
        problems.push(format!(
            "the vault changed but its generation {} did not grow past {label}'s",
            now.generation
        ));
    }
    if let Err(e) = crate::trust::chain_reaches(
        &prev.writers,
        previous.chain.len(),
        &now.writers,
        &verified.sig.chain,
        &now.signer,
    ) {
        problems.push(format!("against {label}: {e}"));
    }
    problems
}

/// With scopes: every scope file's format and signature (also those this key cannot
/// read, which are named), and the combined document of those it reads.
fn scoped_document(ws: &Workspace, report: &mut Report) -> Option<VaultDocument> {
    let mut problems = Vec::new();
    for file in ws.vault_files().iter().skip(1).filter(|f| f.path.exists()) {
        match read_vault_bytes(&file.path) {
            Ok(bytes) => {
                if let Err(reason) = crypto::check_format(&bytes) {
                    problems.push(format!("{}: {reason}", file.label()));
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let loaded = ws
        .identities()
        .and_then(|ids| ws.load(&ids, crate::vaultset::Want::All, false));
    match loaded {
        Ok(loaded) => {
            let unreadable: Vec<String> = loaded.unreadable().map(|p| p.file.label()).collect();
            report.record("scopes", problems);
            if !unreadable.is_empty() {
                report.skip(
                    "scopes-content",
                    &format!(
                        "not checked with this key (format and signature were): {}",
                        unreadable.join(", ")
                    ),
                );
            }
            Some(loaded.doc)
        }
        Err(e) => {
            problems.push(e.to_string());
            report.record("scopes", problems);
            None
        }
    }
}

fn recipient_problems(ws: &Workspace, doc: &VaultDocument) -> Vec<String> {
    match &ws.config {
        Some(config) => RecipientDrift::between(config, &doc.recipients).problems(config, doc),
        None => Vec::new(),
    }
}

fn validation_problems(ws: &Workspace, doc: &VaultDocument) -> Vec<String> {
    let Some(config) = &ws.config else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    // Each rule is compiled once, however many secrets it applies to.
    let mut compiled: std::collections::BTreeMap<&str, Option<Rule>> = std::collections::BTreeMap::new();
    for (path, value) in doc.leaves() {
        let Some((pattern, rule_text)) = best_match(&config.file.validate, &path) else {
            continue;
        };
        let rule = compiled
            .entry(pattern)
            .or_insert_with(|| match Rule::parse(rule_text) {
                Ok(r) => Some(r),
                Err(e) => {
                    problems.push(format!("[validate] `{pattern}`: {e}"));
                    None
                }
            });
        let Some(rule) = rule else {
            continue;
        };
        // Pass or fail only: details about a value would make `check` an oracle.
        if !rule.check(value.expose_secret()) {
            problems.push(format!(
                "`{path}` fails the rule `{rule_text}` from [validate] `{pattern}`; fix it with `agevault set {path}`"
            ));
        }
    }
    problems
}

fn rotation_problems(ws: &Workspace, doc: &VaultDocument) -> Vec<String> {
    statuses(doc, ws.config.as_ref().map(|c| &c.file), SystemTime::now())
        .into_iter()
        .filter(|s| s.overdue)
        .map(|s| {
            format!(
                "`{}` is overdue (policy {}, due {}); run `agevault rotate {}`",
                s.path,
                s.policy.as_deref().unwrap_or("?"),
                s.due.as_deref().unwrap_or("now"),
                if s.generator.is_some() {
                    "--due".to_owned()
                } else {
                    s.path.clone()
                }
            )
        })
        .collect()
}

fn conflict_problems(doc: &VaultDocument) -> Vec<String> {
    crate::git::unresolved_conflicts(doc)
        .into_iter()
        .map(|p| {
            format!(
                "unresolved merge conflict at `{p}`; run `agevault edit`, set `{p}` and delete the `{CONFLICTS}` namespace"
            )
        })
        .collect()
}
