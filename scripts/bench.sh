#!/usr/bin/env bash
# Runs BenchmarkDotNet suites of tests/CtiBridge.Benchmarks (never part of scripts/test.sh).
#   scripts/bench.sh --filter '*AmiParse*' --job short
#   scripts/bench.sh --list flat                       # what exists
# Arguments go to BenchmarkDotNet. Jobs run in-process (a generated per-benchmark build timed out on
# this 2-core machine under load). Each part's exact commands and numbers are in docs/benchmarks.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Benchmarks that need PostgreSQL (records) read CTIBRIDGE_TEST_PG; start the private cluster for them.
source "$ROOT/scripts/lib/postgres.sh"
pg_start
exec dotnet run -c Release --project tests/CtiBridge.Benchmarks --artifacts-path "$ROOT/.bench" -- --inProcess "$@"
