#!/usr/bin/env bash
# provision-backup-share.sh AFTER the migration: the same step as before.sh, with
# the password of the Samba account `backup` in the vault at samba/backup/password.
#
#   ./after.sh                      # from the repository checkout, as before
#
# How the password travels (never in a file on disk, never in any process's argv):
#
#   1. Started without SMB_PW_FILE, this script runs itself again under
#        agevault exec --file SMB_PW_FILE=samba/backup/password -- bash after.sh
#      agevault decrypts the vault in memory and writes the value to a 0600 file in
#      a fresh 0700 directory on a memory filesystem ($XDG_RUNTIME_DIR, else
#      /dev/shm); SMB_PW_FILE holds that file's path. agevault removes the
#      directory when this script exits (also on Ctrl-C, and after a crash at the
#      next run).
#   2. bash reads the file itself ($(<FILE): no `cat`, the value is in no argv).
#   3. bash's builtin printf writes the password and its confirmation into a pipe
#      to `smbpasswd -a -s`, which reads both lines from stdin. Not a here-string
#      or here-document: some bash versions back those with a temporary file.
#
# Give SMB_PW_FILE yourself (any *_FILE-style path) to skip step 1, e.g. under
# `agevault exec -p samba`. Settings: SMB_USER (default: backup).
# Never add `set -x`: it would print the password.
set -euo pipefail
umask 077

SMB_USER=${SMB_USER:-backup}

die() { printf 'after.sh: %s\n' "$*" >&2; exit 1; }

if [[ -z ${SMB_PW_FILE:-} ]]; then
    command -v agevault >/dev/null 2>&1 || die "agevault is not on PATH"
    exec agevault --quiet exec --file SMB_PW_FILE=samba/backup/password -- \
        "$BASH" "${BASH_SOURCE[0]}" "$@"
fi

[[ -r $SMB_PW_FILE ]] || die "cannot read SMB_PW_FILE ($SMB_PW_FILE)"
password=$(<"$SMB_PW_FILE")
[[ -n $password ]] || die "samba/backup/password is empty"
# smbpasswd -s reads one line per prompt: a line break would split the password.
[[ $password != *$'\n'* && $password != *$'\r'* ]] \
    || die "samba/backup/password contains a line break"

printf '%s\n%s\n' "$password" "$password" | smbpasswd -a -s "$SMB_USER"
unset password
