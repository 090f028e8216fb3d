#!/usr/bin/env bash
# The call-control soak of issue 8, longer than the suite's 15-second version (docs/soak.md):
# N agents whose desk phones answer like people, customers calling in at R calls per second for
# S seconds against PbxSim and PostgreSQL; then every call must have been answered, ended once and
# stored once, with nobody left in PbxSim and every agent Ready again. Bounded: R × S calls.
#   scripts/soak.sh [--seconds 300] [--rate 20] [--agents 100] [--talk 1-3]
# --talk MIN-MAX: seconds each desk phone talks before hanging up (longer talks = more calls up at
# once; scripts/bench-concurrent-calls.sh uses it for issue 8's 300 concurrent calls).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
seconds=300
rate=20
agents=100
talk=1-3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --agents) agents="$2"; shift 2 ;;
    --talk) talk="$2"; shift 2 ;;
    *) echo "soak.sh: unknown argument '$1' (expected --seconds N, --rate N, --agents N, --talk MIN-MAX)" >&2; exit 2 ;;
  esac
done
for pair in "seconds:$seconds" "rate:$rate" "agents:$agents"; do
  [[ "${pair#*:}" =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: --${pair%%:*} must be a positive whole number, got '${pair#*:}'" >&2; exit 2; }
done
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [[ -z "${CTIBRIDGE_TEST_PG:-}" ]]; then
  source "$ROOT/scripts/lib/postgres.sh"
  pg_start
fi
[[ "$talk" =~ ^[0-9]+(\.[0-9]+)?-[0-9]+(\.[0-9]+)?$ ]] || { echo "soak.sh: --talk must be MIN-MAX seconds, e.g. 25-35, got '$talk'" >&2; exit 2; }
export CTIBRIDGE_SOAK_SECONDS="$seconds" CTIBRIDGE_SOAK_RATE="$rate" CTIBRIDGE_SOAK_AGENTS="$agents" CTIBRIDGE_SOAK_TALK_SECONDS="$talk"
export CTIBRIDGE_SOAK_OUT="${CTIBRIDGE_SOAK_OUT:-$(mktemp /tmp/ctibridge-soak.XXXXXX)}"
uptime
dotnet test --project tests/CtiBridge.Resilience.Tests -c Release --artifacts-path "${CTIBRIDGE_SOAK_ARTIFACTS:-/tmp/art-soak}" \
  -- --filter-method '*HundredAgentsTwentyCallsPerSecond*'
cat "$CTIBRIDGE_SOAK_OUT"
uptime
