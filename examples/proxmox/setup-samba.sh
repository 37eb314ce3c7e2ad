#!/usr/bin/env bash
# Create (or update) a Samba account whose password comes from the vault.
#
#   agevault exec -p samba -- ./setup-samba.sh
#
# Input (set by agevault, see the [exec.samba] profile in README.md):
#   SMB_PASSWORD       the password itself, or
#   SMB_PASSWORD_FILE  a path to a file holding it (the *_FILE convention,
#                      e.g. `agevault exec --file SMB_PASSWORD_FILE=samba/password`)
# Optional:
#   SMB_USER  the account (default: share); created as a no-login system user if missing
#   SMB_CT    run smbpasswd inside this LXC container (pct exec) instead of on the host
#
# The password never appears in a command line (argv is world-readable in
# /proc): it reaches smbpasswd on its standard input, written by bash's builtin
# printf through a pipe, never through a temporary file. Never add `set -x`.
set -euo pipefail
umask 077

SMB_USER=${SMB_USER:-share}
SMB_CT=${SMB_CT:-}

die() { printf 'setup-samba: %s\n' "$*" >&2; exit 1; }

if [[ -n ${SMB_PASSWORD:-} && -n ${SMB_PASSWORD_FILE:-} ]]; then
    die "both SMB_PASSWORD and SMB_PASSWORD_FILE are set; set only one"
elif [[ -n ${SMB_PASSWORD_FILE:-} ]]; then
    [[ -r $SMB_PASSWORD_FILE ]] || die "cannot read SMB_PASSWORD_FILE ($SMB_PASSWORD_FILE)"
    password=$(<"$SMB_PASSWORD_FILE")
elif [[ -n ${SMB_PASSWORD:-} ]]; then
    password=$SMB_PASSWORD
else
    die "neither SMB_PASSWORD nor SMB_PASSWORD_FILE is set; run me as: agevault exec -p samba -- $0"
fi
# Nothing started below needs the secret in its environment.
unset SMB_PASSWORD SMB_PASSWORD_FILE

[[ -n $password ]] || die "the password is empty"
# smbpasswd -s reads one line per prompt: a line break would split the password.
[[ $password != *$'\n'* && $password != *$'\r'* ]] || die "the password contains a line break"

# run CMD ARGS…: on the host, or inside container $SMB_CT (stdin is passed through).
run() {
    if [[ -n $SMB_CT ]]; then
        pct exec "$SMB_CT" -- "$@"
    else
        "$@"
    fi
}

run sh -c 'command -v smbpasswd >/dev/null' || die "smbpasswd not found${SMB_CT:+ in CT $SMB_CT}; install samba first"
if ! run id -u "$SMB_USER" >/dev/null 2>&1; then
    printf 'setup-samba: creating system user %s\n' "$SMB_USER" >&2
    run useradd --system --no-create-home --shell /usr/sbin/nologin "$SMB_USER"
fi

# -s: read the new password and its confirmation from stdin, without prompts.
# -a: add the account, or just set the password if it exists.
printf '%s\n%s\n' "$password" "$password" | run smbpasswd -s -a "$SMB_USER" >/dev/null
unset password
run smbpasswd -e "$SMB_USER" >/dev/null
printf 'setup-samba: Samba password for %s set%s\n' "$SMB_USER" "${SMB_CT:+ in CT $SMB_CT}" >&2
