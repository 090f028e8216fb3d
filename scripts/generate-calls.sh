#!/usr/bin/env bash
# Generates synthetic call records into a database for benchmarks (see docs/benchmarks.md,
# "Records and reports"). Example, one month of 100 000 calls a day into a database "bench":
#   scripts/generate-calls.sh --connection "Host=127.0.0.1;Port=55432;Username=postgres;Database=bench" \
#     --first-day 2026-01-01 --days 31 --calls-per-day 100000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec dotnet run --configuration Release generate-calls.cs -- "$@"
