#!/usr/bin/env bash
# ARI REST round trips with the loopback server in its own process pinned to one core and the
# client pinned to the other, so the client's added time and CPU per call are its own
# (docs/benchmarks.md, "ARI client"). Each run first warms up until every connection it can use
# is open (so no connect, and no lost SYN's one-second retransmit, falls in the timed part) and
# prints how many connections were opened while timing (should be 0). Above 1 in flight it also
# runs a raw-socket client (no HTTP stack) as the floor any client would hit. Each in-flight count
# runs AriClient over its own HTTP/1.1 transport (the default, RestTransport=Sockets) and over
# .NET's HttpClient (RestTransport=HttpClient) for comparison.
# --connections takes a list (e.g. "32 96"): above 1 in flight each count is run in turn (the
# client's MaxConnections, the service's ari.maxConnections). --syscalls 1 counts, with perf stat,
# the system calls and context switches of the client and of the server per call (warm-up included).
# --client-env "VAR=VALUE ..." runs every client (not the server) with those environment variables,
# e.g. "DOTNET_TieredCompilation=0" for the steady state of a long-running service, or a thread-pool
# knob to compare (docs/benchmarks.md, "User CPU per call").
#   scripts/bench-ari-rest.sh [--calls N] [--in-flight "1 200"] [--connections "32"] [--syscalls 0|1] [--client-env "VAR=VALUE ..."]
set -euo pipefail
cd "$(dirname "$0")/.."
calls=20000
in_flight="1 200"
connections="32"
syscalls=0
client_env=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --calls) calls="$2"; shift 2 ;;
    --in-flight) in_flight="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --syscalls) syscalls="$2"; shift 2 ;;
    --client-env)
      read -r -a client_env <<<"$2"
      for assignment in "${client_env[@]}"; do
        [[ "$assignment" =~ ^[A-Za-z_][A-Za-z0-9_]*=.*$ ]] || { echo "bench-ari-rest.sh: --client-env takes VAR=VALUE words, not '$assignment'" >&2; exit 2; }
      done
      shift 2 ;;
    *) echo "bench-ari-rest.sh: unknown argument '$1' (expected --calls N, --in-flight \"LIST\", --connections \"LIST\", --syscalls 0|1, --client-env \"VAR=VALUE ...\")" >&2; exit 2 ;;
  esac
done
command -v taskset >/dev/null || { echo "bench-ari-rest.sh: taskset (util-linux) is needed to pin the processes" >&2; exit 2; }
if [[ "$syscalls" == 1 ]]; then
  command -v perf >/dev/null || { echo "bench-ari-rest.sh: --syscalls 1 needs perf (linux-tools) with the syscalls tracepoints" >&2; exit 2; }
fi

artifacts=${CTIBRIDGE_BENCH_ARTIFACTS:-/tmp/art-bench}
dotnet build -c Release tests/CtiBridge.Benchmarks --artifacts-path "$artifacts" -v q -nologo >/dev/null
bench="$artifacts/bin/CtiBridge.Benchmarks/release/CtiBridge.Benchmarks"

uptime
[[ ${#client_env[@]} -gt 0 ]] && echo "clients run with: ${client_env[*]}"
coproc SERVER { exec taskset -c 1 "$bench" ari-server; }
trap 'exec {SERVER[1]}>&-; wait "$SERVER_PID" 2>/dev/null || true' EXIT
read -r port <&"${SERVER[0]}"
echo "server on 127.0.0.1:$port, pinned to CPU 1; client pinned to CPU 0"
events=syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,syscalls:sys_enter_sched_yield,syscalls:sys_enter_poll,context-switches
# One client run; with --syscalls 1 under perf stat (and the server counted for the same span),
# then the counts divided by the calls made (warm-up included).
client() {
  if [[ "$syscalls" != 1 ]]; then
    env "${client_env[@]}" taskset -c 0 "$bench" ari-client --port "$port" "$@"
    return
  fi
  local out srv cli
  out=$(mktemp); srv=$(mktemp); cli=$(mktemp)
  perf stat -x, -e "$events" -p "$SERVER_PID" -o "$srv" & local counting=$!
  perf stat -x, -e "$events" -o "$cli" -- env "${client_env[@]}" taskset -c 0 "$bench" ari-client --port "$port" "$@" | tee "$out"
  kill -INT "$counting"; wait "$counting" 2>/dev/null || true
  local made
  made=$(( $(grep -o 'warm-up [0-9]*' "$out" | awk '{print $2}') + $(grep -o '[0-9]* calls:' "$out" | awk '{print $1}') ))
  for side in cli srv; do
    local file=$cli; [[ $side == srv ]] && file=$srv
    awk -F, -v n="$made" -v side="$side" 'BEGIN{printf "// syscalls per call (%s, %d calls):", side == "cli" ? "client" : "server", n}
      /^[0-9]/{e=$3; sub(/^syscalls:sys_enter_/, "", e); printf " %s %.2f", e, $1/n} END{print ""}' "$file"
  done
  rm -f "$out" "$srv" "$cli"
}
for k in $in_flight; do
  n=$calls
  [[ "$k" == 1 ]] && n=$(( calls / 4 ))
  for c in $connections; do
    for transport in Sockets HttpClient; do
      client --in-flight "$k" --calls "$n" --connections "$c" --transport "$transport"
    done
    # One call at a time the connection count makes no difference: run the first count only.
    [[ "$k" == 1 ]] && break
  done
  # The floor for any client at this many calls in flight: plain sockets, no HTTP stack.
  if [[ "$k" != 1 ]]; then
    client --in-flight "$k" --calls "$n" --raw 1
  fi
done
uptime
