#!/usr/bin/env bash
# Installs (or upgrades) CtiBridge on this machine as a systemd service:
#   /opt/ctibridge/                 the published service (dotnet publish, framework-dependent)
#   /usr/local/bin/ctibridge        the command line (ctibridge check-config, migrate, report, ...)
#   /etc/ctibridge/ctibridge.json   the configuration (from docs/ctibridge.sample.json; never overwritten)
#   /etc/ctibridge/ctibridge.env    secrets for ${env:...} references (mode 0600; never overwritten)
#   /etc/systemd/system/ctibridge.service   the unit (packaging/ctibridge.service)
#   user and group ctibridge; /var/lib/ctibridge and /var/log/ctibridge (made by systemd)
#
#   sudo scripts/install.sh             publish, install, daemon-reload (does not start or enable)
#   sudo scripts/install.sh --enable    ... and systemctl enable --now ctibridge
#   scripts/install.sh --root DIR       stage everything under DIR instead of / (no user, no systemctl;
#                                       used by the tests and for building packages)
#   --no-build                          publish the last Release build as it is (dotnet publish --no-build)
#   --ready-to-run                      compile the service ahead (ReadyToRun, for this machine's runtime
#                                       identifier): a standby's takeover then runs no JIT on a loaded host
#                                       (docs/high-availability.md, "Where a takeover's time goes")
#
# Needs the .NET 10 SDK to publish; the target needs the ASP.NET Core 10 runtime installed system-wide
# (the service user cannot use a dotnet under /root or /home). See docs/admin-guide.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST=""
ENABLE=0
CONFIGURATION=Release
NO_BUILD=()
READY_TO_RUN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) DEST="${2:?--root needs a directory}"; shift 2 ;;
    --enable) ENABLE=1; shift ;;
    --no-build) NO_BUILD=(--no-build); shift ;;
    --ready-to-run) READY_TO_RUN=1; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
say() { printf 'install: %s\n' "$*"; }
fail() { printf 'install: %s\n' "$*" >&2; exit 1; }
PUBLISH_ARGS=()
if [ "$READY_TO_RUN" = 1 ]; then
  [ ${#NO_BUILD[@]} -eq 0 ] || fail "--ready-to-run compiles for this machine's runtime identifier, so it cannot publish the last build as it is (--no-build): give one of them"
  source "$ROOT/scripts/lib/ready-to-run.sh" || fail "--ready-to-run: no runtime identifier for this machine"
  PUBLISH_ARGS=("${READY_TO_RUN_ARGS[@]}")
fi

if [ -z "$DEST" ] && [ "$(id -u)" -ne 0 ]; then fail "run me as root (sudo), or stage with --root DIR"; fi
command -v dotnet >/dev/null || fail "dotnet is not on PATH: install the .NET 10 SDK to publish"
DOTNET="$(readlink -f "$(command -v dotnet)")"
case "$DOTNET" in /root/*|/home/*)
  [ -n "$DEST" ] || fail "dotnet is $DOTNET, which the ctibridge user cannot reach: install the .NET runtime system-wide (e.g. /usr/share/dotnet or /usr/lib/dotnet)" ;;
esac

OPT="$DEST/opt/ctibridge"
ETC="$DEST/etc/ctibridge"
UNIT_DIR="$DEST/etc/systemd/system"
BIN_DIR="$DEST/usr/local/bin"

# Publish into a fresh folder next to the old one, then swap, so a failed publish leaves the
# running installation alone and an upgrade replaces every file (no stale assemblies).
staging="$OPT.new"
rm -rf "$staging"
mkdir -p "$(dirname "$OPT")"
say "publishing src/CtiBridge.Service ($CONFIGURATION) into $OPT"
publish_log="$(mktemp)"
if ! dotnet publish "$ROOT/src/CtiBridge.Service/CtiBridge.Service.csproj" -c "$CONFIGURATION" "${NO_BUILD[@]}" ${PUBLISH_ARGS[@]+"${PUBLISH_ARGS[@]}"} -o "$staging" -nologo -clp:ErrorsOnly >"$publish_log" 2>&1; then
  cat "$publish_log" >&2
  rm -f "$publish_log"
  fail "dotnet publish failed (errors above); the current installation is unchanged"
fi
rm -f "$publish_log"
mkdir -p "$staging/docs" "$staging/asterisk-config"
cp "$ROOT"/docs/*.md "$ROOT/docs/ctibridge.sample.json" "$staging/docs/"
cp "$ROOT"/asterisk-config/* "$staging/asterisk-config/"
if [ -d "$OPT" ]; then rm -rf "$OPT.old"; mv "$OPT" "$OPT.old"; fi
mv "$staging" "$OPT"
rm -rf "$OPT.old"

mkdir -p "$BIN_DIR"
cat >"$BIN_DIR/ctibridge" <<EOF
#!/bin/sh
# The CtiBridge command line (installed by scripts/install.sh).
exec "$DOTNET" /opt/ctibridge/ctibridge.dll "\$@"
EOF
chmod 0755 "$BIN_DIR/ctibridge"

if [ -z "$DEST" ] && ! getent passwd ctibridge >/dev/null; then
  say "creating the system user ctibridge"
  useradd --system --home-dir /var/lib/ctibridge --no-create-home --shell /usr/sbin/nologin --user-group ctibridge
fi

mkdir -p "$ETC"
if [ ! -f "$ETC/ctibridge.json" ]; then
  install -m 0640 "$ROOT/docs/ctibridge.sample.json" "$ETC/ctibridge.json"
  say "wrote $ETC/ctibridge.json from the sample: edit it, then run 'ctibridge check-config' and 'ctibridge check-asterisk'"
else
  say "kept the existing $ETC/ctibridge.json"
fi
if [ ! -f "$ETC/ctibridge.env" ]; then
  install -m 0600 /dev/null "$ETC/ctibridge.env"
  cat >"$ETC/ctibridge.env" <<'EOF'
# Secrets for ${env:NAME} references in ctibridge.json; read by systemd, never logged.
CTIBRIDGE_DB_PASSWORD=
CTIBRIDGE_AMI_SECRET=
CTIBRIDGE_ARI_PASSWORD=
EOF
fi
if [ -z "$DEST" ]; then
  chown root:ctibridge "$ETC" "$ETC/ctibridge.json"
  chmod 0750 "$ETC"
  chown root:root "$ETC/ctibridge.env"
fi

mkdir -p "$UNIT_DIR"
sed "s#^ExecStart=/usr/share/dotnet/dotnet #ExecStart=$DOTNET #" "$ROOT/packaging/ctibridge.service" >"$UNIT_DIR/ctibridge.service"
chmod 0644 "$UNIT_DIR/ctibridge.service"

if [ -z "$DEST" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ "$ENABLE" -eq 1 ]; then
    systemctl enable --now ctibridge
    say "ctibridge enabled and started: systemctl status ctibridge; journalctl -u ctibridge"
  else
    say "installed; start it with: systemctl enable --now ctibridge"
  fi
else
  say "installed under ${DEST:-/} (systemctl not run)"
fi
