#!/usr/bin/env bash
# The AMI million-event loopback benchmark with the server in its own process, pinned to one
# core, so the client process's CPU time and memory are the client's alone (docs/benchmarks.md,
# "AMI client"). Runs the scan ceiling, the header-split ceiling and the AmiClient against the
# same server, each in a fresh process.
#   scripts/bench-ami-loopback.sh [--runs N] [--client-cpu LIST] [--server-cpu N]
# --client-cpu pins the client process too (taskset list, e.g. 0); default: not pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5
client_cpu=""
server_cpu=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --client-cpu) client_cpu="$2"; shift 2 ;;
    --server-cpu) server_cpu="$2"; shift 2 ;;
    *) echo "bench-ami-loopback.sh: unknown argument '$1' (expected --runs N, --client-cpu LIST, --server-cpu N)" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-ami-loopback.sh: --runs must be a positive number, got '$runs'" >&2; exit 2; }
command -v taskset >/dev/null || { echo "bench-ami-loopback.sh: taskset (util-linux) is needed to pin the server" >&2; exit 2; }

artifacts=${CTIBRIDGE_BENCH_ARTIFACTS:-/tmp/art-bench}
dotnet build -c Release tests/CtiBridge.Benchmarks --artifacts-path "$artifacts" -v q -nologo >/dev/null
bench="$artifacts/bin/CtiBridge.Benchmarks/release/CtiBridge.Benchmarks"

uptime
coproc SERVER { exec taskset -c "$server_cpu" "$bench" ami-server; }
trap 'exec {SERVER[1]}>&-; wait "$SERVER_PID" 2>/dev/null || true' EXIT
read -r port <&"${SERVER[0]}"
echo "server on 127.0.0.1:$port, pinned to CPU $server_cpu"
pin=()
[[ -n "$client_cpu" ]] && pin=(taskset -c "$client_cpu")
for mode in scan split client; do
  "${pin[@]}" "$bench" ami-client --port "$port" --runs "$runs" --mode "$mode"
done
uptime
