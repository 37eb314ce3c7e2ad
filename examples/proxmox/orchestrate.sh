#!/usr/bin/env bash
# Provision this Proxmox VE host with secrets from the infrastructure
# repository's agevault vault. Run as root from the repository checkout:
#
#   ./orchestrate.sh            # every step: samba, then jwt
#   ./orchestrate.sh jwt        # only push the JWT signing key into the container
#
# The host's private key is /etc/agevault/identity.txt (0600, root). The first
# run creates it and prints its public key; a developer then adds that key with
#   agevault recipients add pve1 age1… --role host
# and commits the re-encrypted vault. After a `git pull` here, this script works.
#
# Settings (environment):
#   JWT_CT     container that receives the JWT signing key (default: 101)
#   JWT_OWNER  owner of /run/secrets/jwt-key inside it (default: root)
#   SMB_USER / SMB_CT  passed through to setup-samba.sh
#   AGEVAULT_IDENTITY_FILE  another host identity path (default /etc/agevault/identity.txt)
#
# No secret is ever written to a persistent disk, put on a command line, or
# printed: agevault hands values to the child as env vars or as 0600 files on a
# memory filesystem that it removes when the child exits. Never add `set -x`.
set -euo pipefail
umask 077

# agevault finds /etc/agevault/identity.txt by itself; naming it explicitly makes
# failures clearer (agevault never passes this variable on to the child).
HOST_IDENTITY=${AGEVAULT_IDENTITY_FILE:-/etc/agevault/identity.txt}
HOST_NAME=$(hostname -s 2>/dev/null || echo pve1)
JWT_CT=${JWT_CT:-101}
JWT_OWNER=${JWT_OWNER:-root}

log() { printf '%s orchestrate: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Work next to this script: `./setup-samba.sh` resolves here, and agevault finds
# the repository's .agevault.toml by walking up from here (or $AGEVAULT_CONFIG).
cd "$(dirname "${BASH_SOURCE[0]}")"

[[ $(id -u) -eq 0 ]] || die "run as root: the host identity $HOST_IDENTITY is root's alone"
command -v agevault >/dev/null 2>&1 || die "agevault is not on PATH"

# --- the host identity ------------------------------------------------------
if [[ ! -e $HOST_IDENTITY ]]; then
    log "no host identity yet; creating $HOST_IDENTITY"
    pubkey=$(agevault --quiet keygen -o "$HOST_IDENTITY")
    cat >&2 <<EOF

This host's public key is:

    $pubkey

On a developer machine, in the infrastructure repository:

    agevault recipients add $HOST_NAME $pubkey --role host
    git commit -am "agevault: add host $HOST_NAME" && git push

then \`git pull\` here and run $0 again.
EOF
    exit 3
fi
perms=$(stat -c '%a %U' "$HOST_IDENTITY")
[[ $perms == "600 root" ]] || die "$HOST_IDENTITY must be mode 600 and owned by root (it is: $perms)"
export AGEVAULT_IDENTITY_FILE=$HOST_IDENTITY

# --- trust: pin this vault before its first use ------------------------------
# The host only runs a vault whose signature chains to the writers in the anchor a
# developer made with `agevault trust anchor > anchor.json` and copied here. The
# store is strict: an unknown vault is never trusted on first use.
ANCHOR=${AGEVAULT_ANCHOR:-/etc/agevault/anchor.json}
if agevault --quiet trust status --json 2>/dev/null | grep -q '"pinned_vault_id": null'; then
    [[ -f $ANCHOR ]] || die "this host has not pinned the vault yet: copy the anchor from a writer (\`agevault trust anchor > anchor.json\`) to $ANCHOR"
    agevault --quiet trust provision "$ANCHOR" --strict
fi

# Fail early, with agevault's own explanation (which keys it tried, and whether
# they are configured recipients), if this host cannot decrypt the vault.
if ! agevault --quiet ls >/dev/null; then
    die "this host cannot read the vault; has a developer run \`agevault recipients add $HOST_NAME …\` and did you \`git pull\`?"
fi

# --- steps -------------------------------------------------------------------------
step_samba() {
    log "samba: setting the Samba password from samba/password"
    # The [exec.samba] profile maps SMB_PASSWORD to samba/password. Only that
    # secret reaches setup-samba.sh; agevault replaces itself with the script.
    agevault --quiet exec -p samba -- ./setup-samba.sh
}

step_jwt() {
    log "jwt: pushing logos/jwt-key into CT $JWT_CT as /run/secrets/jwt-key"
    pct status "$JWT_CT" | grep -q 'status: running' || die "CT $JWT_CT is not running"
    # /run is a tmpfs inside the container, so the key never lands on its disk either
    # (and it is gone after a container restart: re-run this step, e.g. from a hookscript).
    pct exec "$JWT_CT" -- install -d -m 0755 /run/secrets
    # agevault writes the key to a 0600 file in a fresh 0700 directory on a memory
    # filesystem, puts that file's path in JWT_KEY_FILE, and removes it as soon as
    # the shell exits. The container id and owner are passed as arguments, so the
    # quoted script stays constant and nothing is interpolated into it.
    # shellcheck disable=SC2016 # $JWT_KEY_FILE, $1, $2 are expanded by the child shell
    agevault --quiet exec --file JWT_KEY_FILE=logos/jwt-key -- \
        sh -c 'pct push "$1" "$JWT_KEY_FILE" /run/secrets/jwt-key --user "$2" --group "$2" --perms 0400' \
        sh "$JWT_CT" "$JWT_OWNER"
}

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(samba jwt)
for step in "${steps[@]}"; do
    case $step in
        samba) step_samba ;;
        jwt) step_jwt ;;
        *) die "unknown step '$step' (steps: samba, jwt)" ;;
    esac
done
log "done: ${steps[*]}"
