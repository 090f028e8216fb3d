#!/usr/bin/env bash
# The block-model ceiling of the issue-10 dialer grid (docs/benchmarks.md, "Dialer",
# "Without foresight of outcomes"): an optimistic estimate of the best occupancy any dialer that
# does not see outcomes ahead can reach at <= 3 % abandon.
#   scripts/dialer-bound.sh [agents] [block lengths]   e.g. scripts/dialer-bound.sh 5,10,20,50 5,2.5
#     (defaults: 50 agents, blocks of 5 and 2.5 s; the next block's answers chosen at its start)
#   scripts/dialer-bound.sh lagged [points] [agents] [runs at once]
#     e.g. scripts/dialer-bound.sh lagged 0.50:300,0.30:300 50 2
#     (2.5 s blocks, each block's answers fixed one block ahead; default: the nine points, 50 agents, 3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ "${1:-}" == "lagged" ]]; then
  shift
  exec nice -n 10 dotnet run --configuration Release dialer-bound-lagged.cs -- "$@"
fi
exec nice -n 10 dotnet run --configuration Release dialer-bound.cs -- "$@"
