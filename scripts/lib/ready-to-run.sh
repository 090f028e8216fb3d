# shellcheck shell=bash
# The dotnet publish arguments that compile the service ahead (ReadyToRun), framework-dependent, for this
# machine's runtime identifier: scripts/install.sh --ready-to-run and scripts/measure-takeover.sh. A standby that takes over
# then runs precompiled code instead of JIT-compiling call control's takeover path on a loaded host
# (docs/high-availability.md, "Where a takeover's time goes").
case "$(uname -m)" in
  x86_64) READY_TO_RUN_RID=linux-x64 ;;
  aarch64|arm64) READY_TO_RUN_RID=linux-arm64 ;;
  *) echo "ready-to-run.sh: no ReadyToRun runtime identifier known for $(uname -m)" >&2; return 1 ;;
esac
READY_TO_RUN_ARGS=(-r "$READY_TO_RUN_RID" --self-contained false -p:PublishReadyToRun=true)
