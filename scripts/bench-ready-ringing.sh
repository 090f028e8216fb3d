#!/usr/bin/env bash
# Issue 8's latency benchmark: an agent becomes Ready while a caller waits → the agent's desk phone
# rings in PbxSim; prints p50/p90/p99/max (docs/benchmarks.md, "Call control"). The benchmark is an
# explicit test (never part of the suite) against PbxSim and PostgreSQL on loopback.
#   scripts/bench-ready-ringing.sh [--samples 300]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
samples=300
while [[ $# -gt 0 ]]; do
  case "$1" in
    --samples) samples="$2"; shift 2 ;;
    *) echo "bench-ready-ringing.sh: unknown argument '$1' (expected --samples N)" >&2; exit 2 ;;
  esac
done
[[ "$samples" =~ ^[1-9][0-9]*$ ]] || { echo "bench-ready-ringing.sh: --samples must be a positive whole number, got '$samples'" >&2; exit 2; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [[ -z "${CTIBRIDGE_TEST_PG:-}" ]]; then
  source "$ROOT/scripts/lib/postgres.sh"
  pg_start
fi
export CTIBRIDGE_READY_RINGING_SAMPLES="$samples"
export CTIBRIDGE_READY_RINGING_OUT="$(mktemp /tmp/ctibridge-ready-ringing.XXXXXX)"
uptime
dotnet test --project tests/CtiBridge.Resilience.Tests -c Release --artifacts-path "${CTIBRIDGE_BENCH_ARTIFACTS:-/tmp/art-ready-ringing}" \
  -- --filter-method '*ReadyToRinging_LatencyPercentiles*' --explicit only
cat "$CTIBRIDGE_READY_RINGING_OUT"
uptime
