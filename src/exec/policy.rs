//! Which variable names a secret may set.
//!
//! Two kinds of names reach the child:
//!
//! - **derived** names (`llm-api-key/openai` → `LLM_API_KEY_OPENAI`, in the default
//!   mode, with `--only` and a profile's `only`): nobody chose them, so whoever can
//!   write a vault path — a forger holding only the public keys, or a trusted writer
//!   making a mistake — chooses them. A derived name may never set a [reserved]
//!   variable nor replace one the child would inherit, whatever the flags say.
//! - **explicit** names (`--env`/`--file`, a profile's `env`/`files`): a person wrote
//!   the name down and it was reviewed with the command line or the config, so it may
//!   replace an inherited variable, and may set a reserved one with `--allow-override`.

/// Variables that change how common programs load, run, find files, talk to the
/// network or trust certificates, grouped by who reads them. Matched ASCII
/// case-insensitively: `PREFIX*` matches names starting with PREFIX, `*SUFFIX`
/// names ending with SUFFIX, anything else the whole name.
const RESERVED: &[(&str, &[&str])] = &[
    (
        "the dynamic loader and the C library read it",
        &[
            "LD_*",
            "DYLD_*",
            "GCONV_PATH",
            "GLIBC_TUNABLES",
            "LOCPATH",
            "LOCALE_ARCHIVE",
            "NLSPATH",
            "MALLOC_*",
            "HOSTALIASES",
            "RES_OPTIONS",
            "LOCALDOMAIN",
            "LANG",
            "LANGUAGE",
            "LC_*",
            "TZ",
            "TZDIR",
        ],
    ),
    (
        "shells read it",
        &[
            "PATH",
            "IFS",
            "ENV",
            "BASH_*",
            "BASHOPTS",
            "SHELLOPTS",
            "PS1",
            "PS2",
            "PS3",
            "PS4",
            "PROMPT_COMMAND",
            "CDPATH",
            "FPATH",
            "ZDOTDIR",
            "HISTFILE",
            "INPUTRC",
            "POSIXLY_CORRECT",
            "SHELL",
            "TERM*",
        ],
    ),
    (
        "it tells programs who the user is and where their files are",
        &[
            "HOME",
            "USER",
            "LOGNAME",
            "PWD",
            "OLDPWD",
            "TMPDIR",
            "TMP",
            "TEMP",
            "XDG_*",
            "MAIL",
            "DISPLAY",
            "XAUTHORITY",
            "DBUS_*",
        ],
    ),
    (
        "build tools read it",
        &[
            "MAKEFLAGS",
            "MAKELEVEL",
            "MFLAGS",
            "MAKEFILES",
            "GNUMAKEFLAGS",
            "MAKE",
            "CC",
            "CXX",
            "CPP",
            "LD",
            "AR",
            "AS",
            "CFLAGS",
            "CXXFLAGS",
            "CPPFLAGS",
            "LDFLAGS",
            "PKG_CONFIG*",
            "CMAKE_*",
            "CARGO*",
            "RUSTC*",
            "RUSTDOC*",
            "RUSTFLAGS",
            "RUSTUP_*",
            "CGO_*",
            "GCCGO",
            "NIX_*",
        ],
    ),
    (
        "language runtimes and package managers read it",
        &[
            "PYTHON*",
            "PIP_*",
            "VIRTUAL_ENV",
            "NODE_*",
            "NPM_CONFIG_*",
            "YARN_*",
            "PERL5*",
            "PERLLIB",
            "PERL_*",
            "RUBY*",
            "GEM_*",
            "BUNDLE_*",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "JAVA_HOME",
            "CLASSPATH",
            "MAVEN_OPTS",
            "GRADLE_OPTS",
            "DOTNET_*",
            "COMPLUS_*",
            "CORECLR_*",
            "LUA_*",
            "PHPRC",
            "PHP_INI_SCAN_DIR",
            "R_PROFILE*",
            "R_ENVIRON*",
            "TCLLIBPATH",
        ],
    ),
    (
        "pagers, editors and sudo read it",
        &[
            "LESS*",
            "PAGER",
            "MANPAGER",
            "MANOPT",
            "MANPATH",
            "SYSTEMD_*",
            "EDITOR",
            "VISUAL",
            "BROWSER",
            "SUDO_*",
        ],
    ),
    ("network clients send their traffic through it", &["*_PROXY"]),
    (
        "TLS libraries and HTTP clients trust certificates or log keys with it",
        &[
            "SSL_CERT_*",
            "SSLKEYLOGFILE",
            "OPENSSL_*",
            "CURL_CA_BUNDLE",
            "CURL_HOME",
            "REQUESTS_CA_BUNDLE",
            "WGETRC",
            "NETRC",
        ],
    ),
    (
        "git, ssh, gpg and kerberos read it",
        &["GIT_*", "SSH_*", "GNUPGHOME", "GPG_*", "KRB5*"],
    ),
    (
        "container, cluster and cloud clients read it",
        &[
            "DOCKER_*",
            "CONTAINERS_*",
            "CONTAINER_HOST",
            "KUBECONFIG",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CA_BUNDLE",
            "TF_CLI_*",
            "ANSIBLE_CONFIG",
        ],
    ),
    ("agevault reads it", &["AGEVAULT_*"]),
];

/// Go's own variables are `GO` plus letters and digits (`GOFLAGS`, `GOPROXY`,
/// `GO111MODULE`, `GOTOOLCHAIN`); requiring no `_` keeps `GOOGLE_API_KEY` usable.
const GO_REASON: &str = "the Go toolchain reads it";

/// Why `name` is reserved (who reads it), or `None` when a secret may set it freely.
pub fn reserved(name: &str) -> Option<&'static str> {
    if starts_with_ignoring_case(name, "GO") && !name.contains('_') {
        return Some(GO_REASON);
    }
    RESERVED
        .iter()
        .find(|(_, patterns)| patterns.iter().any(|p| matches(p, name)))
        .map(|(reason, _)| *reason)
}

/// Not globset: these are a fixed list of names with one `*` at either end, not globs
/// over paths, and a prefix or suffix test needs no compiled matcher. Compared without
/// regard to ASCII case, and without allocating (`exec` checks every derived name).
fn matches(pattern: &str, name: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        starts_with_ignoring_case(name, prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        name.len() >= suffix.len()
            && name.as_bytes()[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    } else {
        name.eq_ignore_ascii_case(pattern)
    }
}

fn starts_with_ignoring_case(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len() && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Parses the host switch `AGEVAULT_EXEC_EXPLICIT_ONLY`: unset, empty, `0`, `false`,
/// `no`, `off` → off; `1`, `true`, `yes`, `on` → on; anything else is an error
/// (a typo must not silently leave derived names on).
pub fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Some(false),
        "1" | "true" | "yes" | "on" => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names() {
        for name in [
            "LD_PRELOAD",
            "DYLD_INSERT_LIBRARIES",
            "PATH",
            "IFS",
            "ENV",
            "BASH_ENV",
            "SHELLOPTS",
            "PS4",
            "PROMPT_COMMAND",
            "HOME",
            "USER",
            "SHELL",
            "TMPDIR",
            "XDG_CONFIG_HOME",
            "MAKEFLAGS",
            "MAKELEVEL",
            "MFLAGS",
            "LESSOPEN",
            "LESS",
            "PAGER",
            "MANPAGER",
            "GIT_SSH_COMMAND",
            "SSH_AUTH_SOCK",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "NODE_OPTIONS",
            "NPM_CONFIG_REGISTRY",
            "npm_config_registry",
            "PERL5OPT",
            "PERLLIB",
            "RUBYOPT",
            "GEM_HOME",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "CLASSPATH",
            "RUSTC_WRAPPER",
            "RUSTFLAGS",
            "CARGO_HOME",
            "GOFLAGS",
            "GOPROXY",
            "GO111MODULE",
            "HTTP_PROXY",
            "https_proxy",
            "All_Proxy",
            "NO_PROXY",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "OPENSSL_CONF",
            "CURL_CA_BUNDLE",
            "REQUESTS_CA_BUNDLE",
            "NIX_PATH",
            "EDITOR",
            "VISUAL",
            "TERM",
            "TERMINFO",
            "LANG",
            "LC_ALL",
            "TZ",
            "GCONV_PATH",
            "LOCPATH",
            "MALLOC_CHECK_",
            "GLIBC_TUNABLES",
            "HOSTALIASES",
            "RES_OPTIONS",
            "LOCALDOMAIN",
            "SUDO_ASKPASS",
            "DOCKER_HOST",
            "KUBECONFIG",
            "AWS_CONFIG_FILE",
            "SSLKEYLOGFILE",
            "AGEVAULT_EXEC_EXPLICIT_ONLY",
        ] {
            assert!(reserved(name).is_some(), "{name} is not reserved");
        }
        for name in [
            "SAMBA_PASSWORD",
            "LLM_API_KEY_OPENAI",
            "DB_URL",
            "GOOGLE_API_KEY",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "JWT_KEY_FILE",
            "PROXY_PASSWORD",
            "HOMEPAGE_TOKEN",
            "SVC00_API_KEY",
        ] {
            assert_eq!(reserved(name), None, "{name} is reserved");
        }
    }

    #[test]
    fn switch_values() {
        assert_eq!(parse_switch("1"), Some(true));
        assert_eq!(parse_switch("yes"), Some(true));
        assert_eq!(parse_switch(""), Some(false));
        assert_eq!(parse_switch("0"), Some(false));
        assert_eq!(parse_switch("ture"), None);
    }
}
