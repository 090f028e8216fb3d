#!/usr/bin/env bash
# Every test behind a row of docs/reliability.md, in one command: the whole fault suite
# (tests/CtiBridge.Resilience.Tests) and the named classes of the other projects that the doc's rows
# cite (the record journal's full disk, the kill -9 of callbacks, takeover and adoption, several
# Asterisk servers, the AMI/ARI reader fuzzers, the endpoint and role abuse tests).
#
#   scripts/reliability.sh            everything (about as long as the fault suite, plus one build)
#   scripts/reliability.sh --recovery only the fault tests that measure a time to recover (call control, dialer, callbacks: about 6 min of tests, plus the build)
#   scripts/reliability.sh --list     print what would run, run nothing
#
# Either run ends with the table of the time to recover each fault test measured (docs/reliability.md,
# "Time to recover"): the tests append one row each to $CTIBRIDGE_RECOVERY_OUT (a temporary file unless
# set), and the kill -9 test its takeover times to $CTIBRIDGE_TAKEOVER_OUT. The times are measured, never
# asserted; each row carries the 1-minute load average it ran at.
#
# Each project goes through scripts/test.sh (Release build, a private PostgreSQL, PbxSim on loopback);
# prints one `N passed, N failed` line per project and a total; exits 1 when any test failed or a
# project ran no test. Logs and TRX files of the last project are in .test-results/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# project folder | the classes it runs (empty: the whole project)
runs=(
  "tests/CtiBridge.Resilience.Tests|"
  "tests/CtiBridge.Data.Tests|CtiBridge.Data.Tests.Records.JournalFullTests CtiBridge.Data.Tests.Records.CallRecordSinkTests CtiBridge.Data.Tests.Dialer.TrunkLinesTests"
  "tests/CtiBridge.Asterisk.Tests|CtiBridge.Asterisk.Tests.Ami.AmiFrameParserTests CtiBridge.Asterisk.Tests.Ari.AriReaderFuzzTests CtiBridge.Asterisk.Tests.Ari.AriPbxSimTests"
  "tests/CtiBridge.PbxSim.Tests|CtiBridge.PbxSim.Tests.Ari.AriWebSocketPingTests"
  "tests/CtiBridge.Service.Tests|CtiBridge.Service.Tests.Http.EndpointAbuseTests CtiBridge.Service.Tests.Http.AccessApiTests CtiBridge.Service.Tests.Live.LiveRolesTests CtiBridge.Service.Tests.HighAvailability.CallControlLeaseTests CtiBridge.Service.Tests.HighAvailability.TakeoverTests CtiBridge.Service.Tests.HighAvailability.CallbackTakeoverTests CtiBridge.Service.Tests.CallControl.RestartRecoveryTests CtiBridge.Service.Tests.CallControl.AdoptedRingingLegTests CtiBridge.Service.Tests.CallControl.AdoptedRecordingTests CtiBridge.Service.Tests.CallControl.SitesTests CtiBridge.Service.Tests.CallControl.SplitSitesTests CtiBridge.Service.Tests.Callbacks.CallbackKillTests CtiBridge.Service.Tests.Dialer.UnrecordedAttemptTests CtiBridge.Service.Tests.CallControl.EndedCallRowsTests CtiBridge.Service.Tests.CallControl.EndedIvrCallRowsTests"
)

# The fault tests that measure a time to recover (--recovery).
recovery_runs=(
  "tests/CtiBridge.Resilience.Tests|CtiBridge.Resilience.Tests.AsteriskFaultTests CtiBridge.Resilience.Tests.DatabaseFaultTests CtiBridge.Resilience.Tests.DatabaseServerRestartTests CtiBridge.Resilience.Tests.SlowConsumerTests CtiBridge.Resilience.Tests.ClockJumpTests CtiBridge.Resilience.Tests.KillHardTests CtiBridge.Resilience.Tests.DialerFaultTests CtiBridge.Resilience.Tests.DialerKillHardTests CtiBridge.Resilience.Tests.DialerLeaseLossTests CtiBridge.Resilience.Tests.DialerRestartTests CtiBridge.Resilience.Tests.CallbackFaultTests CtiBridge.Resilience.Tests.CallbackTakeoverFaultTests"
  "tests/CtiBridge.Data.Tests|CtiBridge.Data.Tests.Records.JournalFullTests"
)

list=0
for arg in "$@"; do
  case "$arg" in
    --list) list=1 ;;
    --recovery) runs=("${recovery_runs[@]}") ;;
    *) echo "usage: scripts/reliability.sh [--recovery] [--list]" >&2; exit 2 ;;
  esac
done

if [ "$list" -eq 0 ]; then
  export CTIBRIDGE_RECOVERY_OUT="${CTIBRIDGE_RECOVERY_OUT:-$(mktemp /tmp/ctibridge-recovery.XXXXXX)}"
  export CTIBRIDGE_TAKEOVER_OUT="${CTIBRIDGE_TAKEOVER_OUT:-$(mktemp /tmp/ctibridge-takeover.XXXXXX)}"
fi

passed=0 failed=0 summary=()
for run in "${runs[@]}"; do
  project="${run%%|*}"
  classes="${run#*|}"
  args=()
  for class in $classes; do
    grep -rqs --include='*.cs' "class ${class##*.}\b" "$project" || { echo "reliability.sh: $class is not in $project (renamed? update this script and docs/reliability.md)" >&2; exit 2; }
    args+=(-class "$class")
  done
  if [ "$list" -eq 1 ]; then
    echo "$project: ${classes:-every test}"
    continue
  fi
  log="$(mktemp)"
  rc=0
  if [ ${#args[@]} -eq 0 ]; then
    "$ROOT/scripts/test.sh" "$project" 2>&1 | tee "$log" || rc=$?
  else
    "$ROOT/scripts/test.sh" "$project" -- "${args[@]}" 2>&1 | tee "$log" || rc=$?
  fi
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1 || true)"
  rm -f "$log"
  [ -n "$line" ] || line="0 passed, 1 failed"
  p="${line%% passed*}"; f="${line#*passed, }"; f="${f%% failed*}"
  [ "$rc" -eq 0 ] || [ "$f" -ne 0 ] || f=1
  passed=$((passed + p)); failed=$((failed + f))
  summary+=("$project: $line")
done
[ "$list" -eq 1 ] && exit 0

echo "===== reliability (docs/reliability.md) ====="
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
echo "===== time to recover (measured, not asserted; $(git -C "$ROOT" log -1 --format=%h 2>/dev/null || echo '?'), Release) ====="
echo "| fault | time to recover | what was measured | load (1 min) |"
echo "|---|---|---|---|"
sort "$CTIBRIDGE_RECOVERY_OUT"
# The kill -9 rows: the standby's takeover, from the kill (scripts/measure-takeover.sh repeats it).
sed 's/^/kill -9 of the active instance: /' "$CTIBRIDGE_TAKEOVER_OUT"
uptime
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
