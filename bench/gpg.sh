#!/usr/bin/env bash
# `agevault get` on a GPG vault next to the same secrets in an age vault, and stock
# `gpg -d` / `age -d` of the same files: what the gpg process costs per command.
#
#   bench/gpg.sh                               # builds the release binary first
#   AGEVAULT_BIN=target/debug/agevault BENCH_RUNS=50 bench/gpg.sh
#   BENCH_SECRETS=100 BENCH_WARMUP=5
#
# Needs gpg, gpg-agent, age, hyperfine and python3. Everything lives in a temporary
# directory under /tmp (gpg-agent's socket path must stay short), removed on exit with
# its gpg-agent.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${AGEVAULT_BIN:-$("$here/build-release.sh")}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
RUNS=${BENCH_RUNS:-100}
WARMUP=${BENCH_WARMUP:-10}
SECRETS=${BENCH_SECRETS:-100}
for tool in gpg gpgconf age hyperfine python3; do
    command -v "$tool" >/dev/null || { echo "bench/gpg.sh needs $tool" >&2; exit 1; }
done

work=$(mktemp -d /tmp/avbench.XXXXXX)
export GNUPGHOME=$work/g HOME=$work/home AGEVAULT_TRUST_DIR=$work/trust AGEVAULT_AUDIT_DIR=$work/audit
trap 'gpgconf --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p -m 700 "$GNUPGHOME"
mkdir -p "$HOME" "$work/age" "$work/gpg"

gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key 'Bench <bench@example.org>' future-default default never 2>/dev/null
fpr=$(gpg --batch --with-colons --list-keys bench@example.org 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')

python3 - "$SECRETS" > "$work/tree.json" <<'EOF'
import json, secrets, sys
n = int(sys.argv[1])
print(json.dumps({f"svc{s:02d}": {f"key{k}": secrets.token_urlsafe(24) for k in range(10)} for s in range(max(n // 10, 1))}))
EOF
(cd "$work/age" && "$BIN" -q init --name bench && EDITOR="cp $work/tree.json" "$BIN" -q edit)
(cd "$work/gpg" && "$BIN" -q init --name bench --pgp "$fpr" && EDITOR="cp $work/tree.json" "$BIN" -q edit)
rm -f "$work/tree.json"

age_cfg=$work/age/.agevault.toml
gpg_cfg=$work/gpg/.agevault.toml
identity=$HOME/.config/agevault/identity.txt
# Both return the same value (and pin each vault in the trust store before timing).
a=$("$BIN" --config "$age_cfg" get svc00/key0)
g=$("$BIN" --config "$gpg_cfg" get svc00/key0)
[ "$a" = "$g" ] || { echo "the two vaults disagree" >&2; exit 1; }
gpg --batch --quiet --decrypt "$work/gpg/secrets.json.gpg" 2>/dev/null | grep -qF -- "$g"

hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$work/r.json" \
    -n "agevault get (age vault)" "$BIN --config $age_cfg get svc00/key0" \
    -n "agevault get (GPG vault)" "$BIN --config $gpg_cfg get svc00/key0" \
    -n "gpg -d (stock)" "gpg --batch --quiet --decrypt $work/gpg/secrets.json.gpg" \
    -n "age -d (stock)" "age -d -i $identity $work/age/secrets.json.age" >/dev/null

python3 - "$work/r.json" "$SECRETS" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
m = {r["command"]: r for r in results}
print(f"{sys.argv[2]} secrets, medians of hyperfine -N:\n")
# user+system: the CPU of the command and the children it waited for (gpg), not
# gpg-agent's (a daemon); it moves less with the machine's load than wall time.
print("| command | median (ms) | mean ± σ (ms) | min (ms) | CPU user+sys, mean (ms) |")
print("|---|---:|---:|---:|---:|")
for name, r in m.items():
    cpu = (r['user'] + r['system']) * 1000
    print(f"| `{name}` | {r['median']*1000:.2f} | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} | {r['min']*1000:.2f} | {cpu:.2f} |")
med = {k: v["median"] * 1000 for k, v in m.items()}
g, a, sg = med["agevault get (GPG vault)"], med["agevault get (age vault)"], med["gpg -d (stock)"]
print()
print("| ratio (medians) | value |")
print("|---|---:|")
print(f"| get on the GPG vault / get on the age vault | {g / a:.2f}x ({g - a:+.2f} ms) |")
print(f"| get on the GPG vault / stock gpg -d | {g / sg:.2f}x ({g - sg:+.2f} ms) |")
EOF
