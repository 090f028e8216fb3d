#!/usr/bin/env bash
# The block-model ceiling of the issue-10 dialer grid (docs/benchmarks.md, "Dialer",
# "Without foresight of outcomes"): an optimistic estimate of the best occupancy any dialer that does not
# see outcomes ahead can reach at <= 3 % abandon. Arguments: agent counts (default 50) and block
# lengths in seconds (default 5,2.5), e.g.
#   scripts/dialer-bound.sh 5,10,20,50 5,2.5
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec nice -n 10 dotnet run --configuration Release dialer-bound.cs -- "$@"
