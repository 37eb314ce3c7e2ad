//! `check`: the CI gate — config, format, decryption, document, recipients, rules, rotation, conflicts.

use std::time::SystemTime;

use secrecy::ExposeSecret;
use serde::Serialize;

use crate::cli::CheckArgs;
use crate::config::scopes::VaultFile;
use crate::document::VaultDocument;
use crate::error::Result;
use crate::git::merge::CONFLICTS;
use crate::lifecycle::exposure::{exposures, is_public};
use crate::lifecycle::policy::{best_match, glob_match, statuses};
use crate::lifecycle::rotation::{NEXT_SUFFIX, PREVIOUS_SUFFIX};
use crate::lifecycle::validate::{validate, Findings};
use crate::output;
use crate::terminal::sanitize;
use crate::vault_format::{self, VaultFormat};
use crate::workspace::{read_vault_bytes, GlobalOptions, RecipientDrift, Workspace};
use crate::ExitStatus;

#[derive(Serialize)]
struct Outcome {
    name: &'static str,
    ok: bool,
    skipped: bool,
    problems: Vec<String>,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

#[derive(Default, Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Outcome>,
}

impl Report {
    fn record(&mut self, name: &'static str, problems: Vec<String>) {
        self.record_with_warnings(name, problems, Vec::new());
    }

    fn record_with_warnings(&mut self, name: &'static str, problems: Vec<String>, warnings: Vec<String>) {
        self.checks.push(Outcome {
            name,
            ok: problems.is_empty(),
            skipped: false,
            problems,
            warnings,
            notes: Vec::new(),
        });
    }

    fn skip(&mut self, name: &'static str, why: &str) {
        self.checks.push(Outcome {
            name,
            ok: true,
            skipped: true,
            problems: vec![why.to_owned()],
            warnings: Vec::new(),
            notes: Vec::new(),
        });
    }
}

const DECRYPT_CHECKS: [&str; 11] = [
    "decrypt",
    "document",
    "recipients",
    "validate",
    "rotation",
    "exposure",
    "overlap",
    "staged",
    "profiles",
    "coverage",
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
            for n in &c.notes {
                output::line(&format!("note {}: {n}", c.name))?;
            }
            for w in &c.warnings {
                output::line(&format!("warning {}: {w}", c.name))?;
            }
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

/// Runs every check in order into `report`; a check whose input failed is skipped, with
/// the reason.
fn run_checks(ws: &Workspace, args: &CheckArgs, report: &mut Report) {
    let bytes = match read_vault_bytes(&ws.vault_path) {
        Ok(b) => b,
        Err(e) => {
            report.record("format", vec![e.to_string()]);
            return;
        }
    };
    let format = vault_format::check(&ws.vault_path, &bytes)
        .err()
        .map(|reason| format!("{}: {reason}", ws.vault_path.display()));
    let format_ok = format.is_none();
    report.record("format", format.into_iter().collect());
    pgp_recipients(ws, report);
    let verified = check_signature(ws, &bytes, report);
    if args.no_decrypt {
        if ws.has_scopes() {
            // The main vault's verified id anchors the scope files.
            let problems = match &verified {
                Some(verified) => ws.verify_scope_files(&verified.manifest.vault_id),
                None => vec!["scope files not verified: the main vault's signature failed".to_owned()],
            };
            report.record("scopes", problems);
        }
        for name in DECRYPT_CHECKS {
            report.skip(name, "not run (--no-decrypt)");
        }
        return;
    }
    if !format_ok {
        return;
    }
    if verified.is_none() {
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
    if let Some(doc) = read_checked_document(ws, args, &bytes, report) {
        check_contents(ws, args, &doc, report);
    }
}

/// The signature check (and, when it passes, the generation check); returns the
/// verified version.
fn check_signature(ws: &Workspace, bytes: &[u8], report: &mut Report) -> Option<crate::trust::Verified> {
    let signature = ws.verify(bytes);
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
    signature.ok()
}

/// The decrypt and document checks (and, with scopes, the combined view's); returns the
/// document the content checks read, or `None` when one of these failed.
fn read_checked_document(
    ws: &Workspace,
    args: &CheckArgs,
    bytes: &[u8],
    report: &mut Report,
) -> Option<VaultDocument> {
    let decrypted = ws.identities().and_then(|ids| {
        // An OpenPGP vault's keys are gpg-agent's, not identity files.
        if ids.identities.is_empty() && VaultFormat::of(&ws.vault_path) == VaultFormat::Age {
            return Err(crate::Error::msg(
                "no identity found; in CI set AGEVAULT_IDENTITY to the key text from a CI secret, or use --no-decrypt",
            ));
        }
        ws.decrypt(bytes, &ids)
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
            return None;
        }
    };
    let doc = match ws.parse(&plaintext) {
        Ok(d) => {
            report.record("document", Vec::new());
            d
        }
        Err(e) => {
            report.record("document", vec![e.to_string()]);
            return None;
        }
    };
    if ws.has_scopes() {
        scoped_document(ws, report)
    } else {
        Some(doc)
    }
}

/// The checks of the decrypted document: recipients, validation rules, rotation,
/// exposure, overlap windows, staged values, profiles, coverage, merge conflicts and
/// (with --openbao) drift from the server.
fn check_contents(ws: &Workspace, args: &CheckArgs, doc: &VaultDocument, report: &mut Report) {
    report.record("recipients", recipient_problems(ws, doc));
    let findings = match &ws.config {
        Some(c) => validate(doc, &c.file, None, SystemTime::now()),
        None => Findings::default(),
    };
    report.record_with_warnings("validate", findings.problems, findings.warnings);
    report.record("rotation", rotation_problems(ws, doc));
    let (problems, warnings) = exposure_problems(ws, doc);
    report.record_with_warnings("exposure", problems, warnings);
    report.record("overlap", overlap_problems(doc));
    report.record("staged", staged_problems(doc));
    report.record("profiles", profile_problems(ws, doc));
    report.record("coverage", coverage_problems(ws, doc));
    report.record("conflicts", conflict_problems(doc));
    if args.openbao {
        report.record(
            "openbao",
            openbao_problems(ws, doc).unwrap_or_else(|e| vec![e.to_string()]),
        );
    }
}

/// Drift between the vault and the server, per path, compared by keyed fingerprint
/// (HMAC under the vault's fingerprint key): values are never printed, and the
/// fingerprints shown are the ones `git diff` of the vault shows.
fn openbao_problems(ws: &Workspace, doc: &VaultDocument) -> Result<Vec<String>> {
    use crate::fingerprint::FingerprintKey;
    use crate::openbao::kv::{self, Entry};
    use crate::openbao::{self, Target};
    let config = ws.config.as_ref();
    let target = Target::resolve(config, None, None)?;
    let server = openbao::connect(config)?;
    let token = openbao::operator_token(config)?;
    let key = doc.fingerprint_key().unwrap_or_else(FingerprintKey::generate);
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

/// Secrets still holding a value a removed recipient could read.
fn exposure_problems(ws: &Workspace, doc: &VaultDocument) -> (Vec<String>, Vec<String>) {
    let config = ws.config.as_ref().map(|c| &c.file);
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for (path, list) in exposures(doc, config, SystemTime::now()) {
        for e in list {
            let line = format!(
                "`{path}` still holds a value removed recipient `{}` could read (removed {}); run `agevault rotate \
                 --exposed-to {}`",
                e.name, e.removed, e.name
            );
            if e.overdue {
                problems.push(line);
            } else {
                warnings.push(format!("{line} (within its [policy] exposure_grace)"));
            }
        }
    }
    (problems, warnings)
}

/// `PATH.previous` values kept past their overlap window.
fn overlap_problems(doc: &VaultDocument) -> Vec<String> {
    let now = SystemTime::now();
    doc.leaves()
        .filter_map(|(path, _)| {
            let base = path.strip_suffix(PREVIOUS_SUFFIX)?;
            let until = doc.meta(&path).and_then(|m| m.keep_until());
            let over = until
                .and_then(crate::clock::parse_rfc3339)
                .map_or(true, |t| t <= now);
            over.then(|| {
                format!(
                    "`{path}` (the value `{base}` had before its last rotation) is kept past its overlap window ({}); \
                     remove it with `agevault rm {path}`",
                    until.map_or_else(|| "no window recorded".to_owned(), |u| format!("ended {u}"))
                )
            })
        })
        .collect()
}

/// New values staged by a rotation whose hook has not succeeded yet.
fn staged_problems(doc: &VaultDocument) -> Vec<String> {
    doc.leaves()
        .filter_map(|(path, _)| {
            let base = doc.meta(&path)?.staged_for()?.to_owned();
            Some(format!(
                "`{path}` holds a new value for `{base}` whose after_rotate hook has not succeeded; fix the hook's \
                 cause and run `agevault rotate --retry-hooks {base}`"
            ))
        })
        .collect()
}

/// Every exec profile and hook mapping must name an existing secret.
fn profile_problems(ws: &Workspace, doc: &VaultDocument) -> Vec<String> {
    let Some(config) = &ws.config else {
        return Vec::new();
    };
    let exists = |path: &str| {
        crate::secret_path::SecretPath::parse(path)
            .ok()
            .is_some_and(|p| matches!(doc.get(&p), Some(crate::document::Node::Leaf(_))))
    };
    let mut problems = Vec::new();
    for (name, profile) in &config.file.exec {
        for (kind, map) in [("env", &profile.env), ("files", &profile.files)] {
            for (var, path) in map {
                if !exists(path) {
                    problems.push(format!(
                        "profile [exec.{name}] {kind} maps {var} to `{path}`, which is not a secret in the vault; \
                         `agevault exec -p {name}` would fail; set it or fix the mapping"
                    ));
                }
            }
        }
        for prefix in &profile.only {
            let found = doc
                .leaves()
                .any(|(p, _)| p == *prefix || p.starts_with(&format!("{prefix}/")));
            if !found {
                problems.push(format!(
                    "profile [exec.{name}] only = `{prefix}` matches no secret in the vault"
                ));
            }
        }
    }
    for (pattern, hook) in &config.file.hooks {
        for (kind, map) in [("env", &hook.env), ("files", &hook.files)] {
            for (var, path) in map {
                if !exists(path) {
                    problems.push(format!(
                        "[hooks.\"{pattern}\"] {kind} maps {var} to `{path}`, which is not a secret in the vault"
                    ));
                }
            }
        }
    }
    problems
}

/// `[policy] require`: owner, rotation and validate coverage for the matching secrets.
fn coverage_problems(ws: &Workspace, doc: &VaultDocument) -> Vec<String> {
    let Some(config) = &ws.config else {
        return Vec::new();
    };
    let policy = &config.file.policy;
    let mut problems = Vec::new();
    for (path, _) in doc.leaves() {
        let covered = policy.paths.is_empty() || policy.paths.iter().any(|g| glob_match(g, &path));
        // Generated companions and staged/previous values follow their secret.
        let derived = path.ends_with(PREVIOUS_SUFFIX) || path.ends_with(NEXT_SUFFIX);
        if !covered || derived {
            continue;
        }
        let public = is_public(&path, Some(&config.file));
        for item in &policy.require {
            let missing = match item.as_str() {
                "owner" => best_match(&config.file.secrets, &path)
                    .and_then(|(_, i)| i.owner.as_ref())
                    .is_none(),
                // A public value has nothing to rotate.
                "rotation" => !public && best_match(&config.file.rotation, &path).is_none(),
                "validate" => best_match(&config.file.validate, &path).is_none(),
                _ => false,
            };
            if missing {
                let table = match item.as_str() {
                    "owner" => "an owner in [secrets.\"PATH\"]",
                    "rotation" => "a [rotation] policy",
                    _ => "a [validate] rule",
                };
                problems.push(format!("`{path}` lacks {table}, which [policy] require demands"));
            }
        }
    }
    problems
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
                if let Err(reason) = vault_format::check(&file.path, &bytes) {
                    problems.push(format!("{}: {reason}", file.label()));
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let loaded = ws
        .identities()
        .and_then(|ids| ws.load(&ids, crate::workspace::Want::All, false));
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

/// For each OpenPGP vault file, without any key: the key ids its session keys are
/// encrypted to, matched (through the gpg keyring, subkeys included) with the recipients
/// the config says read it. A key id nobody configured is a reader outside the config; a
/// configured recipient with no key id in the file cannot decrypt it.
fn pgp_recipients(ws: &Workspace, report: &mut Report) {
    let files: Vec<VaultFile> = ws
        .vault_files()
        .into_iter()
        .filter(|f| VaultFormat::of(&f.path) == VaultFormat::Pgp && f.path.exists())
        .collect();
    if files.is_empty() {
        return;
    }
    let mut outcome = Outcome {
        name: "pgp-recipients",
        ok: true,
        skipped: false,
        problems: Vec::new(),
        warnings: Vec::new(),
        notes: Vec::new(),
    };
    for file in &files {
        check_pgp_file(ws, file, &mut outcome);
    }
    outcome.ok = outcome.problems.is_empty();
    report.checks.push(outcome);
}

/// [`pgp_recipients`] for one file: reads its key ids and the configured recipients'
/// keys from the gpg keyring, and matches the two.
fn check_pgp_file(ws: &Workspace, file: &VaultFile, outcome: &mut Outcome) {
    let Ok(ids) =
        read_vault_bytes(&file.path).and_then(|b| vault_format::pgp_key_ids(&b).map_err(crate::Error::msg))
    else {
        // The format check names what is wrong with it.
        return;
    };
    let configured: Vec<(String, String)> = file
        .recipients
        .iter()
        .filter_map(|k| crate::pgp::parse_fingerprint(k).ok().map(|f| (k.clone(), f)))
        .collect();
    let fingerprints: Vec<String> = configured.iter().map(|(_, f)| f.clone()).collect();
    let keys = match crate::pgp::gpg::list_keys(&fingerprints) {
        Ok(keys) => keys,
        Err(e) => {
            outcome.warnings.push(format!(
                "{}: its key ids ({}) cannot be matched with recipients: {e}",
                file.label(),
                ids.join(", ")
            ));
            return;
        }
    };
    let (owner, unmapped) = key_id_owners(ws, file, &ids, &configured, &keys, outcome);
    report_key_ids(file, &ids, &owner, unmapped, outcome);
}

/// Which configured recipient owns each of the file's key ids, and whether some
/// recipient's key is missing from the keyring (so an unowned id may be theirs). A
/// recipient with none of its key ids in the file is a problem.
fn key_id_owners<'a>(
    ws: &Workspace,
    file: &VaultFile,
    ids: &'a [String],
    configured: &[(String, String)],
    keys: &[crate::pgp::KeyInfo],
    outcome: &mut Outcome,
) -> (std::collections::BTreeMap<&'a str, String>, bool) {
    let name_of = |key: &str| {
        ws.config
            .as_ref()
            .and_then(|c| c.recipient_name(key))
            .map_or_else(|| "?".to_owned(), sanitize)
    };
    let mut owner: std::collections::BTreeMap<&str, String> = std::collections::BTreeMap::new();
    let mut unmapped = false;
    for (key, fingerprint) in configured {
        let Some(info) = keys.iter().find(|k| k.fingerprint == *fingerprint) else {
            unmapped = true;
            outcome.warnings.push(format!(
                "{}: recipient `{}` ({key}) cannot be matched with the file's key ids: its public key is not in \
                 this gpg keyring (`gpg --import` it)",
                file.label(),
                name_of(key)
            ));
            continue;
        };
        let in_file: Vec<&String> = ids.iter().filter(|id| info.key_ids.contains(id)).collect();
        if in_file.is_empty() {
            outcome.problems.push(format!(
                "{} is not encrypted to recipient `{}` ({key}): none of its key ids ({}) is among the file's \
                 ({}), so it cannot decrypt this version; a write applying the config re-encrypts it \
                 (`agevault recipients add NAME KEY` for a recipient added by hand)",
                file.label(),
                name_of(key),
                info.key_ids.join(", "),
                ids.join(", ")
            ));
        }
        for id in in_file {
            owner.insert(id, name_of(key));
        }
    }
    (owner, unmapped)
}

/// Notes the file's key ids with their owners, and reports each id no configured
/// reader owns (only a warning when `unmapped`: it may be a missing public key's).
fn report_key_ids(
    file: &VaultFile,
    ids: &[String],
    owner: &std::collections::BTreeMap<&str, String>,
    unmapped: bool,
    outcome: &mut Outcome,
) {
    let shown: Vec<String> = ids
        .iter()
        .map(|id| match owner.get(id.as_str()) {
            Some(name) => format!("{id} (`{name}`)"),
            None => id.clone(),
        })
        .collect();
    outcome.notes.push(format!(
        "{} is encrypted to OpenPGP key id(s) {}",
        file.label(),
        shown.join(", ")
    ));
    for id in ids.iter().filter(|id| !owner.contains_key(id.as_str())) {
        let line = format!(
            "{} is also encrypted to OpenPGP key id {id}, which is no configured reader's key: someone outside \
             the config can decrypt it (a hand-made or forged file?); a write re-encrypts it to the configured \
             readers, and `git log -p` shows where it came from",
            file.label()
        );
        if unmapped {
            outcome.warnings.push(format!(
                "{line} (or it belongs to a recipient whose public key is missing here)"
            ));
        } else {
            outcome.problems.push(line);
        }
    }
}

fn recipient_problems(ws: &Workspace, doc: &VaultDocument) -> Vec<String> {
    match &ws.config {
        Some(config) => RecipientDrift::between(config, doc.recipients()).problems(config, doc),
        None => Vec::new(),
    }
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
