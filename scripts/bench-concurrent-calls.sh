#!/usr/bin/env bash
# Issue 8's capacity figures (docs/benchmarks.md, "Call control"): the real service with call
# control against PbxSim and PostgreSQL carrying N concurrent calls with 1 000 agents logged in,
# and its CPU per 100 concurrent calls. It is the soak (scripts/soak.sh, every call answered, ended
# and stored once, no agent stuck) with long talks, so that arrivals at R calls/s keep about
# R x (talk + answer) calls up at once. Bounded: R x S calls, then the soak's own time limits.
#   scripts/bench-concurrent-calls.sh [--calls-up 300] [--agents 1000] [--seconds 120] [--talk 25-35]
# Prints the soak's summary line: calls up at once (most; mean over the second half of the
# arrivals) and process CPU per 100 concurrent calls (service + PbxSim + test in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
calls_up=300
agents=1000
seconds=120
talk=25-35
while [[ $# -gt 0 ]]; do
  case "$1" in
    --calls-up) calls_up="$2"; shift 2 ;;
    --agents) agents="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --talk) talk="$2"; shift 2 ;;
    *) echo "bench-concurrent-calls.sh: unknown argument '$1' (expected --calls-up N, --agents N, --seconds N, --talk MIN-MAX)" >&2; exit 2 ;;
  esac
done
[[ "$calls_up" =~ ^[1-9][0-9]*$ ]] || { echo "bench-concurrent-calls.sh: --calls-up must be a positive whole number, got '$calls_up'" >&2; exit 2; }
[[ "$talk" =~ ^[0-9]+(\.[0-9]+)?-[0-9]+(\.[0-9]+)?$ ]] || { echo "bench-concurrent-calls.sh: --talk must be MIN-MAX seconds, got '$talk'" >&2; exit 2; }
# A call is up for its talk plus the phone's 0.1-0.5 s answer delay; round the rate up.
rate=$(awk -v up="$calls_up" -v talk="$talk" 'BEGIN { split(talk, t, "-"); hold = (t[1] + t[2]) / 2 + 0.3; r = up / hold; print (r == int(r)) ? r : int(r) + 1 }')
echo "bench-concurrent-calls: $agents agents, $rate calls/s for $seconds s, talk $talk s: about $calls_up calls up at once"
exec scripts/soak.sh --seconds "$seconds" --rate "$rate" --agents "$agents" --talk "$talk"
