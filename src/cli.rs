//! The command-line interface: every flag is defined and documented here, once.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::lifecycle::generate::Generator;
use crate::secret_path::SecretPath;

/// A secret path argument, parsed once as clap reads the command line. A bad one is a
/// usage error in agevault's own words (`main_entry` prints it, exit 2), before any
/// config or vault is looked for.
fn secret_path(text: &str) -> Result<SecretPath, crate::Error> {
    SecretPath::parse(text).map_err(crate::Error::Usage)
}

/// A `--generate SPEC` argument, parsed once as clap reads the command line.
fn generator(text: &str) -> Result<Generator, crate::Error> {
    Generator::parse(text).map_err(crate::Error::Usage)
}

/// The help heading of the options every command accepts.
const GLOBAL: &str = "Global options";

/// Keep a repository's secrets in one git-committed, age-encrypted JSON file,
/// and hand them to programs at run time without writing plaintext to disk.
#[derive(Debug, Parser)]
#[command(name = "agevault", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Use this config file instead of searching for .agevault.toml upwards from the current directory.
    #[arg(long, global = true, env = "AGEVAULT_CONFIG", value_name = "FILE", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,

    /// Use this vault file instead of the one the config names.
    #[arg(long, global = true, env = "AGEVAULT_VAULT", value_name = "FILE", help_heading = GLOBAL)]
    pub vault: Option<PathBuf>,

    /// Try this identity file first (repeatable). Others are still discovered.
    #[arg(short = 'i', long = "identity", global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub identities: Vec<PathBuf>,

    /// Print only data and errors: no status lines, no progress bars.
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,

    /// Sign writes with this key (OpenSSH ed25519 private key; repeatable). Others are still discovered.
    #[arg(long = "signing-key", global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub signing_keys: Vec<PathBuf>,

    /// Accept a vault generation older than the highest this trust store has seen (a rollback). Loud.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub allow_rollback: bool,

    /// When another writer holds the vault's lock, wait for it (the default; a line on
    /// stderr says so at once), or at most DURATION (`--wait=30s`), then fail.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "forever",
        conflicts_with = "no_wait",
        help_heading = GLOBAL
    )]
    pub wait: Option<String>,

    /// When another writer holds the vault's lock, fail at once instead of waiting.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub no_wait: bool,

    /// Colour the error, hint and warning labels on stderr: `auto` (on a terminal, unless
    /// NO_COLOR is set; CLICOLOR_FORCE=1 forces it on a pipe), `always` or `never`.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto", help_heading = GLOBAL)]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create .agevault.toml and an empty vault in the current directory.
    ///
    /// Generates your identity (0600) if you have none, and adds it as the first
    /// recipient, named after $USER. Refuses to overwrite an existing vault.
    Init(InitArgs),
    /// Generate a new X25519 identity and print its public key.
    Keygen(KeygenArgs),
    /// Show the identities found, their public keys, and which recipient each is.
    Whoami(JsonArgs),
    /// List, add or remove the recipients the vault is encrypted to.
    #[command(subcommand)]
    Recipients(RecipientsCommand),
    /// List secret paths (never values).
    Ls(LsArgs),
    /// Print one secret's value; a namespace prints its subtree as JSON.
    Get(PathArg),
    /// Set a secret from standard input or a hidden prompt (never from argv).
    Set(SetArgs),
    /// Remove a secret, or a whole namespace with -r.
    Rm(RmArgs),
    /// Edit the secrets tree as JSON in $VISUAL / $EDITOR, on a memory filesystem.
    Edit(EditArgs),
    /// Run a command with secrets injected as environment variables or memory files.
    Exec(Box<ExecArgs>),
    /// Replace secret values: with a generator, every overdue one with --due, or all a removed recipient could read.
    Rotate(RotateArgs),
    /// Incident response for a lost or leaked key: the same as `rotate --exposed-to NAME`.
    ///
    /// Removes recipient NAME (if still configured) and re-encrypts without it, rotates
    /// every generator-backed secret NAME could read, runs their after_rotate hooks, and
    /// lists what needs a human. Exits 1 while anything NAME could read is still in use.
    Incident(IncidentArgs),
    /// The host's access record: who decrypted which paths, hash-chained.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Per secret: age, policy, due date, generator, offboarding exposure (never values).
    Status(JsonArgs),
    /// For CI: prove the vault decrypts and is sound (config, format, recipients, rules, rotation, conflicts).
    Check(CheckArgs),
    /// The secrets inventory: path, owner, class, consumers, policy, last rotation, due.
    Inventory(InventoryArgs),
    /// Print shell completions (bash, zsh and fish also complete secret paths, profiles, recipients and scopes).
    Completions(CompletionsArgs),
    /// Print a man page (roff): agevault(1), or a command's (`man exec` is agevault-exec(1)).
    Man(ManArgs),
    /// (Internal: shell completion) Print secret paths, profiles, recipients or scopes, one a line.
    #[command(name = "__complete", hide = true)]
    Complete {
        /// What to list.
        kind: CompleteKind,
    },
    /// Git integration: readable diffs, a per-secret merge driver, a pre-commit scan hook.
    #[command(subcommand)]
    Git(GitCommand),
    /// The vault's git history: per commit, who added, changed or removed which secret paths.
    Log(LogArgs),
    /// Find plaintext copies of vault values and hard-coded secrets in files (exit 1 on findings).
    Scan(ScanArgs),
    /// Signatures and trust: sign the vault, manage writers, provision a host's trust store.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Least privilege: secret paths kept in their own files, read only by their readers.
    #[command(subcommand)]
    Scopes(ScopesCommand),
    /// Import secrets from a .env, JSON, YAML, sops or gpg-encrypted file in one signed write.
    ///
    /// The format is detected from the content unless --format is given. A .env
    /// variable keeps its name as one path segment (`DB_PASSWORD`); nested JSON/YAML
    /// keys become namespaces (`db/password`). Existing paths are refused unless
    /// --overwrite. The source file is never changed. gpg files are decrypted by
    /// `gpg`; sops files by the `sops` binary when it is on PATH, else natively when
    /// their data key is encrypted to age (--sops native|binary chooses).
    Import(ImportArgs),
    /// Export secrets as .env, JSON or YAML on stdout, or as docker-secrets files.
    ///
    /// Refuses a terminal as stdout unless --force (values on a screen). The
    /// docker-secrets format writes one 0400 file per secret into --out DIR, which
    /// must be on a memory filesystem (tmpfs/ramfs) unless --force.
    Export(ExportArgs),
    /// Publish to an OpenBao / HashiCorp Vault server, and generate its per-profile policies.
    ///
    /// The git vault stays the reviewed source of truth; the server becomes the runtime
    /// distribution point (`agevault exec --from openbao`). The server comes from
    /// BAO_ADDR / VAULT_ADDR or `[openbao] addr`, the token from BAO_TOKEN / VAULT_TOKEN,
    /// `[openbao] token_file` or ~/.vault-token, a private CA from BAO_CACERT / VAULT_CACERT.
    #[command(subcommand)]
    Openbao(OpenbaoCommand),
}

/// `openbao …`.
#[derive(Debug, Subcommand)]
pub enum OpenbaoCommand {
    /// Write every secret (under PREFIX) into KV v2 as `{"value": …}`; prints the plan, never values.
    ///
    /// Unchanged values are not rewritten. Every write names the version it replaces
    /// (KV check-and-set), so a concurrent change on the server is never overwritten:
    /// the push reports it and exits 1.
    Push(PushArgs),
    /// One read-only policy and one AppRole per exec profile: exactly the profile's paths.
    ///
    /// Without --apply, prints the policies. With --apply --out DIR, writes them to the
    /// server, enables AppRole at auth/approle if needed, creates role agevault-PROFILE,
    /// and writes DIR/PROFILE.role-id and a fresh DIR/PROFILE.secret-id (0600) for the host.
    Policies(PoliciesArgs),
}

/// Where on the server: shared by `openbao` subcommands.
#[derive(Debug, Args)]
pub struct KvTargetArgs {
    /// KV v2 mount (default: `[openbao] mount`, else `secret`).
    #[arg(long, value_name = "MOUNT")]
    pub mount: Option<String>,
    /// Publish under this path inside the mount (default: `[openbao] prefix`, else none).
    #[arg(long, value_name = "P")]
    pub path_prefix: Option<String>,
}

/// `openbao push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Only secrets at or below this vault path.
    pub prefix: Option<String>,
    #[command(flatten)]
    pub target: KvTargetArgs,
    /// Also delete keys under the path prefix (and PREFIX) that the vault no longer holds.
    #[arg(long)]
    pub prune: bool,
    /// Print the plan without writing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// `openbao policies`.
#[derive(Debug, Args)]
pub struct PoliciesArgs {
    #[command(flatten)]
    pub target: KvTargetArgs,
    /// Write the policies and AppRoles to the server (needs --out).
    #[arg(long, requires = "out")]
    pub apply: bool,
    /// With --apply: write PROFILE.role-id and PROFILE.secret-id here (0600; directory 0700).
    #[arg(long, value_name = "DIR", requires = "apply")]
    pub out: Option<PathBuf>,
}

/// Where `exec` reads values from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ExecSource {
    /// The git vault (decrypted with your identity).
    #[default]
    Vault,
    /// An OpenBao / Vault server, logging in with the profile's AppRole (needs -p and --approle-dir).
    Openbao,
}

/// `scopes …`.
#[derive(Debug, Subcommand)]
pub enum ScopesCommand {
    /// List scopes: file, readers, paths, and whether you can read each.
    List(JsonArgs),
    /// Add a scope; secrets its globs match move from the main vault into its own file.
    Add {
        /// The scope's name (letters, digits, . _ -), e.g. prod.
        name: String,
        /// Globs over secret paths (`prod/**`; `*` stays within one segment; `!GLOB` excludes).
        #[arg(long, required = true, num_args = 1.., value_name = "GLOB")]
        paths: Vec<String>,
        /// Recipient names, or role:ROLE.
        #[arg(long, required = true, num_args = 1.., value_name = "NAME")]
        readers: Vec<String>,
        /// The file (default: <vault stem>.<scope>.json.age beside the vault, or .json.gpg
        /// when the readers have OpenPGP keys).
        #[arg(long, value_name = "FILE")]
        file: Option<String>,
    },
    /// Let a recipient (or role:ROLE) read a scope; re-encrypts only that scope's file.
    Grant {
        /// The scope.
        scope: String,
        /// Recipient name or role:ROLE.
        reader: String,
    },
    /// Stop a recipient (or role:ROLE) reading a scope; lists its secrets to rotate.
    Revoke {
        /// The scope.
        scope: String,
        /// Recipient name or role:ROLE, as configured.
        reader: String,
    },
    /// Move a secret (or namespace) into a scope, or back to the main vault with `--to main`.
    Move {
        /// The secret path or namespace.
        path: String,
        /// The scope to move it to, or `main`.
        #[arg(long, value_name = "SCOPE")]
        to: String,
    },
    /// Remove an empty scope and its file.
    Remove {
        /// The scope.
        name: String,
    },
}

/// `trust …`.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Sign the vault as it is now: migrates an unsigned vault, or applies a reviewed config change.
    ///
    /// Re-encrypts the vault to the configured recipients and signs the next generation
    /// with your signing key, which must be a writer (or `--add-writer NAME` adds it
    /// first, allowed only while the vault has no writers yet).
    Sign {
        /// Add your signing key to [writers] under this name first (for a vault without writers).
        #[arg(long, value_name = "NAME")]
        add_writer: Option<String>,
    },
    /// Create an Ed25519 signing key (OpenSSH format, 0600) and print its public key.
    Keygen {
        /// Write it here (and FILE.pub). Default: ~/.config/agevault/signing-key.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Add a writer and sign the change as a current writer.
    AddWriter {
        /// A unique name (letters, digits, . _ -).
        name: String,
        /// "ssh-ed25519 AAAA…", or a .pub file holding it.
        key: String,
    },
    /// Remove a writer and sign the change as another current writer.
    RemoveWriter {
        /// The writer's name.
        name: String,
    },
    /// Show the vault's signature and what this trust store has pinned for it.
    Status {
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a trust anchor (vault id, writers, generation) to provision hosts with.
    Anchor,
    /// Pin the vault here from an anchor file (non-interactive; for hosts).
    Provision {
        /// The anchor file `agevault trust anchor` printed.
        file: PathBuf,
        /// From now on, never pin an unknown vault on first use in this trust store.
        #[arg(long)]
        strict: bool,
    },
    /// Forget what this trust store pinned for this vault path (and its vault id).
    Forget,
    /// Print an allowed-signers file for `ssh-keygen -Y verify -n agevault`.
    ExportSigners,
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Name for your recipient entry (default: $USER).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Create an OpenPGP vault (default name secrets.json.gpg), encrypted by gpg to this
    /// key's 40-hex fingerprint instead of an age identity. Its public key must be in
    /// your gpg keyring; gpg-agent does the private-key work (smartcards included).
    #[arg(long, value_name = "FINGERPRINT")]
    pub pgp: Option<String>,
}

/// `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the identity here (`-` for stdout). Default: ~/.config/agevault/identity.txt.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Protect the identity with a passphrase (asked twice on the terminal).
    #[arg(long)]
    pub passphrase: bool,
}

/// `--json` for listing commands.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// `recipients …`.
#[derive(Debug, Subcommand)]
pub enum RecipientsCommand {
    /// List name, role and key of each recipient.
    List(JsonArgs),
    /// Add a recipient and re-encrypt the vault to it.
    Add {
        /// A unique name (letters, digits, . _ -).
        name: String,
        /// age1…, "ssh-ed25519 AAAA…", "ssh-rsa AAAA…", a plugin recipient, or, for a .gpg
        /// vault or scope file, pgp:FINGERPRINT (40 hex digits; the public key must be in
        /// your gpg keyring).
        #[arg(required_unless_present = "key_file", conflicts_with = "key_file")]
        key: Option<String>,
        /// Read the key from this file instead (a `.pub` file, or the output of
        /// `age-keygen -y`), or from standard input with `-`.
        #[arg(long, value_name = "FILE|-")]
        key_file: Option<PathBuf>,
        /// host, developer, ci, or free text.
        #[arg(long, default_value = "developer")]
        role: String,
        /// Also make it a reader of these scopes (comma-separated).
        #[arg(long, value_delimiter = ',', value_name = "SCOPE,…")]
        scopes: Vec<String>,
    },
    /// Remove a recipient, re-encrypt, and list the secrets that must now be rotated.
    Remove {
        /// The recipient's name.
        name: String,
        /// Remove it even when it is your own last key (you could no longer decrypt the vault).
        #[arg(long)]
        force: bool,
    },
}

/// `ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only paths at or below this prefix.
    #[arg(value_parser = secret_path)]
    pub prefix: Option<SecretPath>,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
    /// Also list the scopes you cannot read (their paths stay hidden).
    #[arg(long)]
    pub all: bool,
}

/// A single secret path.
#[derive(Debug, Args)]
pub struct PathArg {
    /// A secret path such as samba/password.
    #[arg(value_parser = secret_path)]
    pub path: SecretPath,
}

/// `rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// A secret path such as samba/password, or a namespace such as samba (needs -r).
    #[arg(value_parser = secret_path)]
    pub path: SecretPath,
    /// Remove a namespace and every secret under it.
    #[arg(short, long)]
    pub recursive: bool,
}

/// `set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// A secret path such as samba/password.
    #[arg(value_parser = secret_path)]
    pub path: SecretPath,
    /// Refused: values on the command line leak through /proc and shell history.
    #[arg(hide = true)]
    pub value: Option<String>,
    /// Generate the value instead of reading it: password:LEN, alnum:LEN, hex:BYTES,
    /// base64:BYTES, base64url:BYTES, uuid, ed25519, age, rsa:2048|3072|4096, p256,
    /// x509:CN=NAME,days=N[,san=NAME]…[,key=p256|rsa:BITS][,csr]. Key pairs store the
    /// public half at PATH.pub; x509 stores the certificate at PATH.crt (PATH.csr with csr).
    /// Remembered for `rotate`.
    #[arg(long, value_name = "SPEC", value_parser = generator)]
    pub generate: Option<Generator>,
    /// Store an empty value read from standard input (refused by default: an empty
    /// pipe is usually an unset variable or a closed stdin, not a value).
    #[arg(long)]
    pub allow_empty: bool,
    /// Store the value even if it breaks a [validate] rule.
    #[arg(long)]
    pub force: bool,
}

/// `rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Secret paths to rotate (with --retry-hooks: the staged paths to retry; default all).
    #[arg(
        required_unless_present_any = ["due", "exposed_to", "retry_hooks"],
        conflicts_with_all = ["due", "exposed_to"],
        value_parser = secret_path
    )]
    pub paths: Vec<SecretPath>,
    /// Incident response: remove recipient NAME if it still is one (re-encrypting without
    /// it), rotate every generator-backed secret it could read, run their hooks, and list
    /// the ones that need a human. Exits 1 while any value NAME could read is still in use.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["due", "retry_hooks", "keep_previous", "generate"])]
    pub exposed_to: Option<String>,
    /// Keep the old value readable as PATH.previous (and PATH.pub.previous) for this long
    /// (e.g. 24h), so tokens signed with the old key still verify; `check` fails after it.
    #[arg(long, value_name = "DURATION")]
    pub keep_previous: Option<String>,
    /// Run the after_rotate hooks of values a failed hook left staged at PATH.next again;
    /// on success the staged value replaces the old one.
    #[arg(long, conflicts_with_all = ["due", "generate"])]
    pub retry_hooks: bool,
    /// Store a new value even if it breaks a [validate] rule.
    #[arg(long)]
    pub force: bool,
    /// Generator to use (and remember); default: the one remembered in the secret's meta,
    /// else the value is read like `set` reads it.
    #[arg(long, value_name = "SPEC", value_parser = generator)]
    pub generate: Option<Generator>,
    /// Rotate every overdue or exposed secret that has a generator; list those that need a human (exit 1).
    #[arg(long)]
    pub due: bool,
    /// Show what would be rotated without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Accept an empty new value from standard input (refused by default).
    #[arg(long)]
    pub allow_empty: bool,
}

/// `incident`.
#[derive(Debug, Args)]
pub struct IncidentArgs {
    /// The recipient whose key leaked or was lost.
    pub name: String,
    /// Show what would be done without changing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// `audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the access record (time, user, host, vault, generation, command, paths).
    Show {
        /// Only records at or after this time: RFC 3339, or an age such as 24h or 7d.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Print JSON lines as stored.
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain: exit 1 when a record was edited, removed or reordered.
    Verify,
}

/// `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Run only the checks that need no key (config, file format).
    #[arg(long)]
    pub no_decrypt: bool,
    /// Print a machine-readable report.
    #[arg(long)]
    pub json: bool,
    /// Also compare the vault with what OpenBao holds (by keyed fingerprint) and report drift per path.
    #[arg(long, conflicts_with = "no_decrypt")]
    pub openbao: bool,
}

/// Output formats of `inventory`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum InventoryFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
    /// A Markdown table.
    Markdown,
}

/// `inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = InventoryFormat::Table)]
    pub format: InventoryFormat,
    /// Print machine-readable JSON (the same as --format json, like every other listing).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

/// `edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// Allow the plaintext on a disk-backed directory when no memory filesystem exists.
    #[arg(long)]
    pub allow_disk: bool,
    /// Save even if a changed value breaks a [validate] rule.
    #[arg(long)]
    pub force: bool,
}

/// How `--file` secrets are delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum FilesAs {
    /// 0600 files in a fresh 0700 directory on a memory filesystem, removed afterwards.
    #[default]
    Tmpfs,
    /// Sealed anonymous memory files, passed as /proc/self/fd/N; nothing to clean up.
    Memfd,
}

/// `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Use the [exec.NAME] profile from .agevault.toml.
    #[arg(short, long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Inject only the secrets under this prefix (repeatable).
    #[arg(long, value_name = "PREFIX")]
    pub only: Vec<String>,
    /// Inject the secret at PATH as env var NAME (repeatable).
    #[arg(long = "env", value_name = "NAME=PATH")]
    pub env: Vec<String>,
    /// Write the secret at PATH to a memory file and put its path in NAME (repeatable).
    #[arg(long = "file", value_name = "NAME=PATH")]
    pub files: Vec<String>,
    /// How --file secrets are delivered.
    #[arg(long, value_enum, default_value_t = FilesAs::Tmpfs)]
    pub files_as: FilesAs,
    /// Start the child from an empty environment plus PATH, HOME, USER, LANG, TERM and the secrets.
    #[arg(long)]
    pub clean_env: bool,
    /// Replace every secret value in the child's stdout and stderr with *****.
    #[arg(long)]
    pub mask: bool,
    /// Let explicit mappings (--env, --file, a profile's env/files) set PATH, LD_PRELOAD,
    /// MAKEFLAGS and other reserved variables. Names derived from secret paths never may.
    #[arg(long)]
    pub allow_override: bool,
    /// Refuse every name derived from a secret path (default mode, --only, a profile's
    /// only): inject only explicit mappings. The host setting AGEVAULT_EXEC_EXPLICIT_ONLY=1
    /// does the same for every run.
    #[arg(long)]
    pub explicit_only: bool,
    /// Remove this prefix from secret paths before deriving names (`prod` makes
    /// prod/db/password arrive as DB_PASSWORD).
    #[arg(long, value_name = "PREFIX")]
    pub strip_prefix: Option<String>,
    /// Allow memory files on a disk-backed directory when no memory filesystem exists.
    #[arg(long)]
    pub allow_disk: bool,
    /// Where the values come from. `openbao` logs in with the profile's AppRole, reads
    /// exactly the profile's paths and revokes its token when the child ends.
    #[arg(long, value_enum, default_value_t = ExecSource::Vault)]
    pub from: ExecSource,
    /// With --from openbao: the directory holding PROFILE.role-id and PROFILE.secret-id.
    #[arg(long, value_name = "DIR")]
    pub approle_dir: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(required = true, last = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (`exec`, `recipients add`); none: agevault(1).
    pub command: Vec<String>,
    /// Write every page (agevault.1, agevault-exec.1, …) into this directory instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

/// `--color WHEN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always, even on a pipe or with NO_COLOR.
    Always,
    /// Never.
    Never,
}

impl From<ColorWhen> for crate::diagnostics::ColorChoice {
    fn from(when: ColorWhen) -> Self {
        match when {
            ColorWhen::Auto => crate::diagnostics::ColorChoice::Auto,
            ColorWhen::Always => crate::diagnostics::ColorChoice::Always,
            ColorWhen::Never => crate::diagnostics::ColorChoice::Never,
        }
    }
}

/// What `__complete` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompleteKind {
    /// Secret paths (from the vault files you can read).
    Paths,
    /// `[exec.*]` profile names.
    Profiles,
    /// Recipient names.
    Recipients,
    /// Scope names.
    Scopes,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// `git …`.
#[derive(Debug, Subcommand)]
pub enum GitCommand {
    /// Configure the diff and merge drivers and install the pre-commit hook (idempotent).
    ///
    /// Writes `diff.agevault.textconv` and `merge.agevault.*` into the repository's
    /// .git/config, makes .gitattributes route the vault to both, and installs a
    /// pre-commit hook running `agevault scan --staged`. An existing hook is chained
    /// (it keeps running first) or left alone with instructions, never overwritten.
    Setup(GitSetupArgs),
    /// (Internal: git's diff driver) Print a vault as secret paths with keyed fingerprints.
    #[command(hide = true)]
    Textconv {
        /// The vault version git hands over.
        file: PathBuf,
    },
    /// (Internal: git's merge driver for VAULT.sig) Takes the signature the vault's merge made.
    #[command(hide = true)]
    MergeSig {
        /// The common ancestor's version (%O).
        base: PathBuf,
        /// Our version (%A); the result is written here.
        ours: PathBuf,
        /// Their version (%B).
        theirs: PathBuf,
        /// The signature's path in the repository (%P).
        path: Option<String>,
    },
    /// (Internal: git's merge driver) Three-way merge of vault versions, per secret path.
    #[command(hide = true)]
    MergeDriver {
        /// The common ancestor's version (%O).
        base: PathBuf,
        /// Our version (%A); the result is written here.
        ours: PathBuf,
        /// Their version (%B).
        theirs: PathBuf,
        /// The vault's path in the repository (%P), for messages.
        path: Option<String>,
    },
}

/// `git setup`.
#[derive(Debug, Args)]
pub struct GitSetupArgs {
    /// Make git call this binary by its absolute path instead of `agevault` on PATH.
    #[arg(long)]
    pub absolute: bool,
}

/// `log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only changes at or below this secret path or namespace.
    #[arg(value_parser = secret_path)]
    pub path: Option<SecretPath>,
    /// Show at most the N newest commits that changed the vault (like `git log -n`).
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    pub max_count: Option<usize>,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan (default: the whole repository, or the current directory outside git).
    pub paths: Vec<PathBuf>,
    /// Scan the staged versions that differ from HEAD: what `git commit` is about to record.
    #[arg(long, conflicts_with = "history")]
    pub staged: bool,
    /// Scan every file version in the history of HEAD.
    #[arg(long)]
    pub history: bool,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import (read only, never modified).
    pub file: PathBuf,
    /// The source format (default: detected from the content).
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// Put every imported path under this namespace (e.g. `prod`).
    #[arg(long, value_name = "PATH", value_parser = secret_path)]
    pub prefix: Option<SecretPath>,
    /// List the paths that would be imported, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace secrets that already exist at an imported path.
    #[arg(long)]
    pub overwrite: bool,
    /// How a sops file is decrypted (default: auto, the `sops` binary when it is on
    /// PATH, else natively).
    #[arg(long, value_enum, value_name = "HOW")]
    pub sops: Option<SopsMode>,
}

/// How `import` decrypts a sops file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SopsMode {
    /// The `sops` binary when it is on PATH, else natively.
    Auto,
    /// agevault itself: age recipients only, your age identities (and SOPS_AGE_KEY_FILE, SOPS_AGE_KEY).
    Native,
    /// `sops decrypt`, with whatever keys sops finds (age, PGP, KMS).
    Binary,
}

/// Formats `import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// `NAME=value` lines (.env).
    Env,
    /// A JSON object (nested objects are namespaces).
    Json,
    /// A YAML mapping (nested mappings are namespaces).
    Yaml,
    /// A sops-encrypted JSON, YAML or .env file (age: read natively; otherwise the `sops` binary).
    Sops,
    /// An OpenPGP-encrypted JSON, YAML or .env file (needs `gpg`).
    Gpg,
}

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only secrets under this namespace; exported paths are relative to it.
    #[arg(value_parser = secret_path)]
    pub prefix: Option<SecretPath>,
    /// The output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The directory for --format docker-secrets (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write values to a terminal, or docker-secrets to a directory on a disk.
    #[arg(long)]
    pub force: bool,
}

/// Formats `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// `NAME="value"` lines, names as `exec` derives them.
    Env,
    /// Nested JSON, as `agevault get` prints a namespace.
    Json,
    /// Nested YAML, every value double-quoted.
    Yaml,
    /// One 0400 file per secret in --out DIR (for `*_FILE` / /run/secrets).
    DockerSecrets,
}
