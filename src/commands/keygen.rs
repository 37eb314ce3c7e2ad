//! `keygen`: a new X25519 identity, optionally passphrase-protected.

use secrecy::ExposeSecret;

use crate::cli::KeygenArgs;
use crate::error::{Error, Result};
use crate::keys;
use crate::output::{self, status};
use crate::terminal::prompt_hidden;
use crate::workspace::GlobalOptions;
use crate::ExitStatus;

/// Generates an identity, writes it 0600 and prints its public key.
pub fn run(options: &GlobalOptions, args: &KeygenArgs) -> Result<ExitStatus> {
    let (text, public) = keys::generate_identity();
    let to_stdout = args.output.as_deref().is_some_and(|p| p.as_os_str() == "-");
    let contents: Vec<u8> = if args.passphrase {
        let first = prompt_hidden("Passphrase for the new identity: ")?;
        if first.expose_secret().is_empty() {
            return Err(Error::msg(
                "an empty passphrase protects nothing; run without --passphrase instead",
            ));
        }
        let second = prompt_hidden("Repeat the passphrase: ")?;
        if first.expose_secret() != second.expose_secret() {
            return Err(Error::msg("the passphrases differ; nothing was written"));
        }
        crate::crypto::encrypt_with_passphrase(text.as_bytes(), first)?
    } else {
        text.as_bytes().to_vec()
    };
    let contents = zeroize::Zeroizing::new(contents);
    if to_stdout {
        output::stdout_bytes(&contents)?;
        status(options.quiet, &format!("public key: {public}"));
        return Ok(ExitStatus::Success);
    }
    let path = match &args.output {
        Some(p) => p.clone(),
        None => keys::default_identity_path()
            .ok_or_else(|| Error::msg("neither $XDG_CONFIG_HOME nor $HOME is set; pass -o FILE"))?,
    };
    keys::write_private_file(&path, &contents)?;
    status(
        options.quiet,
        &format!("wrote identity to {} (mode 0600)", path.display()),
    );
    output::line(&public)?;
    Ok(ExitStatus::Success)
}
