#!/usr/bin/env bash
# ARI REST round trips with the loopback server in its own process pinned to one core and the
# client pinned to the other, so the client's added time and CPU per call are its own
# (docs/benchmarks.md, "ARI client"). Each run first warms up until every connection it can use
# is open (so no connect, and no lost SYN's one-second retransmit, falls in the timed part) and
# prints how many connections were opened while timing (should be 0). Above 1 in flight it also
# runs a raw-socket client (no HTTP stack) as the floor any client would hit. Each in-flight count
# runs AriClient over its own HTTP/1.1 transport (the default, RestTransport=Sockets) and over
# .NET's HttpClient (RestTransport=HttpClient) for comparison.
#   scripts/bench-ari-rest.sh [--calls N] [--in-flight "1 200"] [--connections C]
set -euo pipefail
cd "$(dirname "$0")/.."
calls=20000
in_flight="1 200"
connections=32
while [[ $# -gt 0 ]]; do
  case "$1" in
    --calls) calls="$2"; shift 2 ;;
    --in-flight) in_flight="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    *) echo "bench-ari-rest.sh: unknown argument '$1' (expected --calls N, --in-flight \"LIST\", --connections C)" >&2; exit 2 ;;
  esac
done
command -v taskset >/dev/null || { echo "bench-ari-rest.sh: taskset (util-linux) is needed to pin the processes" >&2; exit 2; }

artifacts=${CTIBRIDGE_BENCH_ARTIFACTS:-/tmp/art-bench}
dotnet build -c Release tests/CtiBridge.Benchmarks --artifacts-path "$artifacts" -v q -nologo >/dev/null
bench="$artifacts/bin/CtiBridge.Benchmarks/release/CtiBridge.Benchmarks"

uptime
coproc SERVER { exec taskset -c 1 "$bench" ari-server; }
trap 'exec {SERVER[1]}>&-; wait "$SERVER_PID" 2>/dev/null || true' EXIT
read -r port <&"${SERVER[0]}"
echo "server on 127.0.0.1:$port, pinned to CPU 1; client pinned to CPU 0"
for k in $in_flight; do
  n=$calls
  [[ "$k" == 1 ]] && n=$(( calls / 4 ))
  for transport in Sockets HttpClient; do
    taskset -c 0 "$bench" ari-client --port "$port" --in-flight "$k" --calls "$n" --connections "$connections" --transport "$transport"
  done
  # The floor for any client at this many calls in flight: plain sockets, no HTTP stack.
  if [[ "$k" != 1 ]]; then
    taskset -c 0 "$bench" ari-client --port "$port" --in-flight "$k" --calls "$n" --raw 1
  fi
done
uptime
