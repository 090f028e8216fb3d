#!/usr/bin/env bash
# Issue 12's fan-out benchmark (docs/benchmarks.md, "Live event fan-out"): the real service with call
# control carrying N concurrent calls from PbxSim (arrivals at a steady rate, agents talking 25-35 s)
# while M Server-Sent Events clients hold /api/events over loopback. Prints one line: calls up and
# process CPU without clients and with them, events and deliveries per second, and the delivery
# latency (the event's own time -> a client has read it) p50/p90/p99/p99.9/max over every delivery.
# Every client must also have received every event once and in order, or the run fails.
# The benchmark is an explicit test (its short version is in the suite) against PbxSim and PostgreSQL.
#   scripts/bench-fanout.sh [--calls 300] [--clients 1000] [--seconds 60] [--quiet-seconds 20]
# About 2 minutes plus the measured window; bounded (arrivals stop after the window, waits bounded).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
calls=300
clients=1000
seconds=60
quiet=20
while [[ $# -gt 0 ]]; do
  case "$1" in
    --calls) calls="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --quiet-seconds) quiet="$2"; shift 2 ;;
    *) echo "bench-fanout.sh: unknown argument '$1' (expected --calls N, --clients N, --seconds N, --quiet-seconds N)" >&2; exit 2 ;;
  esac
done
for pair in "calls:$calls" "clients:$clients" "seconds:$seconds"; do
  [[ "${pair#*:}" =~ ^[1-9][0-9]*$ ]] || { echo "bench-fanout.sh: --${pair%%:*} must be a positive whole number, got '${pair#*:}'" >&2; exit 2; }
done
[[ "$quiet" =~ ^[0-9]+$ ]] || { echo "bench-fanout.sh: --quiet-seconds must be a whole number (0 for none), got '$quiet'" >&2; exit 2; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [[ -z "${CTIBRIDGE_TEST_PG:-}" ]]; then
  source "$ROOT/scripts/lib/postgres.sh"
  pg_start
fi
export CTIBRIDGE_FANOUT_CALLS="$calls" CTIBRIDGE_FANOUT_CLIENTS="$clients" CTIBRIDGE_FANOUT_SECONDS="$seconds" CTIBRIDGE_FANOUT_QUIET_SECONDS="$quiet"
export CTIBRIDGE_FANOUT_OUT="$(mktemp /tmp/ctibridge-fanout.XXXXXX)"
uptime
dotnet test --project tests/CtiBridge.Resilience.Tests -c Release --artifacts-path "${CTIBRIDGE_BENCH_ARTIFACTS:-/tmp/art-fanout}" \
  -- --filter-method '*FanOut_ConcurrentCallsAndSseClients_LatencyAndCpu*' --explicit only
cat "$CTIBRIDGE_FANOUT_OUT"
uptime
