#!/usr/bin/env bash
# Variant B of README.md: the stack's secrets as docker-secrets files on a memory
# filesystem, exported from the vault before `docker compose up`.
#
#   ./stack.sh up      export compose/** to $SECRETS_DIR, then
#                      docker compose up -d --force-recreate
#                      (also the rotation step: re-export, recreate)
#   ./stack.sh down    docker compose down, then remove the exported files
#
# Settings (environment):
#   SECRETS_DIR  where the files go; must be on tmpfs/ramfs (agevault export refuses
#                a disk). Default /run/agevault-compose/secrets (/run is a tmpfs).
#
# `agevault export --format docker-secrets` writes one 0400 file per secret
# (compose/postgres/password -> $SECRETS_DIR/postgres/password) in 0700
# directories, owned by the user running this script. Never add `set -x`.
set -euo pipefail
umask 077

SECRETS_DIR=${SECRETS_DIR:-/run/agevault-compose/secrets}
# The docker-compose.yml secret `postgres_password` reads this file.
export PG_PASSWORD_FILE=$SECRETS_DIR/postgres/password

die() { printf 'stack.sh: %s\n' "$*" >&2; exit 1; }

# docker compose finds docker-compose.yml here; agevault finds .agevault.toml by
# walking up from here (or $AGEVAULT_CONFIG).
cd "$(dirname "${BASH_SOURCE[0]}")"

up() {
    command -v agevault >/dev/null 2>&1 || die "agevault is not on PATH"
    install -d -m 0700 -- "$(dirname -- "$SECRETS_DIR")"
    # export never replaces an existing file: write a fresh directory beside the
    # live one, then swap, so a failed export (an untrusted vault, a missing key)
    # leaves the running stack its files.
    local next=$SECRETS_DIR.next
    rm -rf -- "$next"
    agevault --quiet export compose --format docker-secrets --out "$next"
    [[ -r $next/postgres/password ]] || die "the vault has no compose/postgres/password"
    rm -rf -- "$SECRETS_DIR"
    mv -- "$next" "$SECRETS_DIR"
    # Running containers still see the file they were started with (a bind mount
    # keeps the replaced file); recreate them so they get the new one.
    docker compose up -d --force-recreate
}

down() {
    local status=0
    docker compose down || status=$?
    rm -rf -- "$SECRETS_DIR" "$SECRETS_DIR.next"
    return "$status"
}

case ${1:-} in
    up) up ;;
    down) down ;;
    *) die "usage: $0 up|down" ;;
esac
