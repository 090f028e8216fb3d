#!/usr/bin/env bash
# The one test command: builds CtiBridge in Release and runs every test project against a private
# PostgreSQL cluster (installed with apt when missing) and PbxSim on loopback; the wallboard test
# drives Debian's chromium (chromium and chromium-driver installed with apt when missing).
#
#   scripts/test.sh                                   every test project
#   scripts/test.sh tests/CtiBridge.Data.Tests        one project (or several)
#   scripts/test.sh tests/CtiBridge.Core.Tests -- -method '*RingAll*'   extra xunit arguments after --
#
# Ends with one line `N passed, N failed, N skipped`; exits non-zero on any failure or when no test ran.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Each test project may take this long before it is stopped and counted as failed.
PROJECT_TIMEOUT="${CTIBRIDGE_TEST_TIMEOUT:-1500}"

projects=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; extra=("$@"); break ;;
    *) projects+=("${1%/}"); shift ;;
  esac
done
if [ ${#projects[@]} -eq 0 ]; then
  for dir in tests/*.Tests; do projects+=("$dir"); done
fi
for dir in "${projects[@]}"; do
  [ -f "$dir/$(basename "$dir").csproj" ] || { echo "test.sh: $dir is not a test project folder (expected $dir/$(basename "$dir").csproj)" >&2; exit 2; }
done

started=$SECONDS
source "$ROOT/scripts/lib/postgres.sh"
pg_choose_dir
we_started_pg=1
if pg_running; then we_started_pg=0; fi
pg_start
if [ "$we_started_pg" -eq 1 ]; then
  trap pg_stop EXIT
  # Databases left by a run that was killed half-way.
  for db in $(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'test\_%'" postgres); do
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" postgres >/dev/null
  done
fi
echo "PostgreSQL ready on 127.0.0.1:$PG_PORT ($((SECONDS - started)) s)"

# The wallboard test drives a real headless chromium.
for dir in "${projects[@]}"; do
  if [ "$(basename "$dir")" = "CtiBridge.Service.Tests" ]; then
    source "$ROOT/scripts/lib/chromium.sh"
    browser_install
  fi
done

echo "Building (Release)..."
build_log="$(mktemp)"
if ! dotnet build CtiBridge.sln -c Release -nologo -clp:ErrorsOnly >"$build_log" 2>&1; then
  cat "$build_log"
  echo "0 passed, 1 failed"
  echo "test.sh: the build failed (errors above)" >&2
  exit 1
fi
rm -f "$build_log"

results="$ROOT/.test-results"
rm -rf "$results"
mkdir -p "$results"
# Screenshots and other files a test leaves for humans (the wallboard test's wallboard.png).
export CTIBRIDGE_TEST_ARTIFACTS="$results"

# Test projects run side by side (each is its own process; xunit parallelises inside each too).
pids=()
for dir in "${projects[@]}"; do
  name="$(basename "$dir")"
  dll="$dir/bin/Release/net10.0/$name.dll"
  (
    cd "$dir"
    # The exit code is recorded whatever it is (set -e would end the subshell before it on a failure).
    rc=0
    timeout --kill-after=30 "$PROJECT_TIMEOUT" dotnet "bin/Release/net10.0/$name.dll" -noColor -trx "$results/$name.trx" "${extra[@]}" >"$results/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$results/$name.rc"
  ) &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done

passed=0 failed=0 skipped=0 broken=0
for dir in "${projects[@]}"; do
  name="$(basename "$dir")"
  rc="$(cat "$results/$name.rc" 2>/dev/null || echo 99)"
  trx="$results/$name.trx"
  echo "===== $name (exit $rc) ====="
  # Failures and the summary; the full output stays in .test-results/<project>.log.
  grep -E '^\s*\[FAIL\]|^\s{4}|=== TEST EXECUTION SUMMARY|Total:' "$results/$name.log" | grep -vE '^\s+\[PASS\]' | head -n 400 || true
  if [ -f "$trx" ]; then
    counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n1)"
    get() { printf '%s' "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
    p="$(get passed)"; f="$(get failed)"; e="$(get error)"; t="$(get timeout)"; a="$(get aborted)"; n="$(get notExecuted)"
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0} + ${a:-0})); skipped=$((skipped + ${n:-0}))
    if [ $(( ${p:-0} + ${f:-0} + ${e:-0} )) -eq 0 ]; then echo "$name ran no test"; broken=$((broken + 1)); fi
  else
    echo "$name produced no results (crashed or timed out after ${PROJECT_TIMEOUT}s); its output ends with:"
    tail -n 30 "$results/$name.log" || true
    broken=$((broken + 1))
  fi
  if [ "$rc" != "0" ] && [ -f "$trx" ] && [ "$(( ${f:-0} + ${e:-0} ))" -eq 0 ]; then
    echo "$name exited with $rc although no test failed"
    broken=$((broken + 1))
  fi
done

echo "Total time: $((SECONDS - started)) s; logs and TRX files in .test-results/"
echo "$passed passed, $((failed + broken)) failed, $skipped skipped"
if [ $((failed + broken)) -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
