#!/usr/bin/env bash
# PbxSim load benchmark (docs/benchmarks.md, "PbxSim"): 1 000 registered phones, 50 new calls/s for
# 60 s of model time (about 300 calls up at once), one AMI and one ARI client reading every event.
# Each run is a fresh process, so its peak working set is that run's own.
#   scripts/bench-pbxsim.sh [--runs N] [--cpu LIST] [-- extra pbxsim-load arguments]
# --cpu pins the process (taskset list, e.g. 0); extra arguments: --phones N, --calls-per-second N,
# --talk-seconds N, --seconds N.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
cpu=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --cpu) cpu="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench-pbxsim.sh: unknown argument '$1' (expected --runs N, --cpu LIST, -- pbxsim-load arguments)" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-pbxsim.sh: --runs must be a positive number, got '$runs'" >&2; exit 2; }
pin=()
if [[ -n "$cpu" ]]; then
  command -v taskset >/dev/null || { echo "bench-pbxsim.sh: taskset (util-linux) is needed for --cpu" >&2; exit 2; }
  pin=(taskset -c "$cpu")
fi

artifacts=${CTIBRIDGE_BENCH_ARTIFACTS:-/tmp/art-bench}
dotnet build -c Release tests/CtiBridge.Benchmarks --artifacts-path "$artifacts" -v q -nologo >/dev/null
bench="$artifacts/bin/CtiBridge.Benchmarks/release/CtiBridge.Benchmarks"

uptime
for ((run = 1; run <= runs; run++)); do
  printf 'run %d: ' "$run"
  "${pin[@]}" "$bench" pbxsim-load "${extra[@]}"
done
uptime
