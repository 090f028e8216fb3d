#!/usr/bin/env bash
# The demo call center: PbxSim (our Asterisk 22 emulator) with a trunk, 20 desk phones and callers,
# CtiBridge with 3 inbound queues (16 agents), an outbound campaign run by the dialer (4 agents on
# nailed-up lines) and callbacks (callers who press 1 while waiting, or hang up after a long wait,
# are called back), PostgreSQL for the records; a live summary while it runs and, at the end, the
# reports and a summary of what happened, from PostgreSQL.
#
#   scripts/demo.sh                      run for 2 minutes
#   scripts/demo.sh --minutes 5          run longer (or --duration SECONDS)
#   Ctrl-C                               end early: the reports are still printed, everything stopped
#
# Options for tests and tinkering:
#   --pg "Host=127.0.0.1;Port=5432;Username=postgres"   use this PostgreSQL server (admin login) instead
#                                          of starting the private cluster of scripts/lib/postgres.sh
#   --database NAME                      database to keep the demo's records in (default ctibridge_demo)
#   --bin DIR                            take ctibridge.dll and pbxsim.dll from DIR and do not build
#   --state DIR                          where configs, logs and the journal go (default .demo/)
#
# Against a real Asterisk instead of PbxSim (set up as in asterisk-config/: desk phones PJSIP/1001-1020,
# DIDs 4008001-4008003 into Stasis(ctibridge,inbound,${EXTEN}), trunk 'carrier' for the dialer and
# callbacks; the calls come from your trunk and phones; the campaign would dial made-up numbers
# through your carrier, so it is not started there):
#   --asterisk HOST:PORT                 Asterisk's AMI (manager.conf, usually port 5038); IPv6 as [ADDR]:PORT
#   --ari-url URL                        Asterisk's ARI (default http://HOST:8088/ari)
#   --ami-user NAME / --ari-user NAME    the manager.conf / ari.conf users (default ctibridge); their secret
#                                        and password come from CTIBRIDGE_AMI_SECRET and CTIBRIDGE_ARI_PASSWORD
#
# Installs what is missing (PostgreSQL, curl, jq with apt-get, as root), builds only when a source
# changed since the last demo build, and exits 0 when calls were answered and stored.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

DURATION=120
PG_ADMIN=""
DATABASE="ctibridge_demo"
BIN=""
STATE="$ROOT/.demo"
ASTERISK="" ARI_URL="" AMI_USER="ctibridge" ARI_USER="ctibridge"
usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) DURATION=$(( ${2:?--minutes needs a number} * 60 )); shift 2 ;;
    --duration|--seconds) DURATION="${2:?--duration needs a number of seconds}"; shift 2 ;;
    --pg) PG_ADMIN="${2:?--pg needs a connection string}"; shift 2 ;;
    --database) DATABASE="${2:?--database needs a name}"; shift 2 ;;
    --bin) BIN="${2:?--bin needs a directory}"; shift 2 ;;
    --state) STATE="${2:?--state needs a directory}"; shift 2 ;;
    --asterisk) ASTERISK="${2:?--asterisk needs HOST:PORT of the AMI}"; shift 2 ;;
    --ari-url) ARI_URL="${2:?--ari-url needs a URL such as http://192.0.2.10:8088/ari}"; shift 2 ;;
    --ami-user) AMI_USER="${2:?--ami-user needs a name}"; shift 2 ;;
    --ari-user) ARI_USER="${2:?--ari-user needs a name}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$DURATION" in ''|*[!0-9]*) echo "demo: the duration must be a whole number of seconds, not '$DURATION'" >&2; exit 2 ;; esac
if [ "$DURATION" -lt 15 ]; then echo "demo: run for at least 15 seconds (got $DURATION)" >&2; exit 2; fi
case "$DATABASE" in *[!a-z0-9_]*|'') echo "demo: --database '$DATABASE' must be lower-case letters, digits and _" >&2; exit 2 ;; esac

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }
started=$SECONDS

# ---------------------------------------------------------------- a real Asterisk (--asterisk), checked first
if [ -n "$ASTERISK" ]; then
  case "$ASTERISK" in
    \[*\]:*) AMI_HOST="${ASTERISK%]:*}"; AMI_HOST="${AMI_HOST#[}"; AMI_PORT="${ASTERISK##*]:}" ;;
    *:*:*) echo "demo: --asterisk '$ASTERISK': write an IPv6 address in brackets, e.g. [2001:db8::10]:5038" >&2; exit 2 ;;
    *:*) AMI_HOST="${ASTERISK%:*}"; AMI_PORT="${ASTERISK##*:}" ;;
    *) echo "demo: --asterisk '$ASTERISK' must be HOST:PORT of Asterisk's AMI, e.g. 192.0.2.10:5038 (the port is manager.conf's, usually 5038)" >&2; exit 2 ;;
  esac
  if [ -z "$AMI_HOST" ] || ! printf '%s' "$AMI_HOST" | grep -Eq '^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$'; then
    echo "demo: --asterisk '$ASTERISK': '$AMI_HOST' is not a host name or address" >&2; exit 2
  fi
  case "$AMI_PORT" in ''|*[!0-9]*) echo "demo: --asterisk '$ASTERISK': the port '$AMI_PORT' is not a number (Asterisk's AMI usually listens on 5038)" >&2; exit 2 ;; esac
  if [ "${#AMI_PORT}" -gt 5 ] || [ "$AMI_PORT" -lt 1 ] || [ "$AMI_PORT" -gt 65535 ]; then
    echo "demo: --asterisk '$ASTERISK': the port must be 1-65535, not $AMI_PORT" >&2; exit 2
  fi
  url_host="$AMI_HOST"; case "$AMI_HOST" in *:*) url_host="[$AMI_HOST]" ;; esac
  ARI_URL="${ARI_URL:-http://$url_host:8088/ari}"
  case "$ARI_URL" in http://?*|https://?*) ;; *) echo "demo: --ari-url '$ARI_URL' must be an http:// or https:// URL such as http://$url_host:8088/ari" >&2; exit 2 ;; esac
  if [ -z "${CTIBRIDGE_AMI_SECRET:-}" ] || [ -z "${CTIBRIDGE_ARI_PASSWORD:-}" ]; then
    echo "demo: with --asterisk, export CTIBRIDGE_AMI_SECRET (the secret of AMI user '$AMI_USER' in manager.conf) and CTIBRIDGE_ARI_PASSWORD (the password of ARI user '$ARI_USER' in ari.conf); they are not taken on the command line" >&2
    exit 2
  fi
  # Reachable, and really Asterisk's AMI (its banner), before anything is built or started.
  banner="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r -t 4 line <&3 && printf "%s" "$line"' "$AMI_HOST" "$AMI_PORT" 2>/dev/null | tr -d '\r' || true)"
  if [ -z "$banner" ] && ! timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$AMI_HOST" "$AMI_PORT" 2>/dev/null; then
    fail "cannot reach Asterisk's AMI at $ASTERISK (refused or no answer within 5 s): is Asterisk running, does manager.conf have 'enabled = yes' with this bindaddr and port, and does the firewall let this machine in?"
  fi
  case "$banner" in
    "Asterisk Call Manager/"*) ;;
    *) fail "$ASTERISK answered but is not Asterisk's AMI (expected an 'Asterisk Call Manager/...' greeting, got '${banner:-nothing within 5 s}'): check the port (manager.conf, usually 5038)" ;;
  esac
fi

# ---------------------------------------------------------------- what the machine needs
command -v dotnet >/dev/null || fail "the .NET 10 SDK is missing: install it first (https://learn.microsoft.com/dotnet/core/install/linux-debian), then run me again"
missing=()
for tool in curl jq; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || fail "missing ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' once"
  say "installing ${missing[*]} with apt-get (once)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
fi
mkdir -p "$STATE/journal"

# ---------------------------------------------------------------- PostgreSQL
we_started_pg=0
if [ -n "$PG_ADMIN" ]; then
  conn_value() { printf '%s' "$PG_ADMIN" | tr ';' '\n' | sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//Ip" | head -n1; }
  PG_HOST="$(conn_value host)"; PG_PORT="$(conn_value port)"; PG_USER="$(conn_value 'user\(name\| id\)\{0,1\}')"
  PG_HOST="${PG_HOST:-127.0.0.1}"; PG_PORT="${PG_PORT:-5432}"; PG_USER="${PG_USER:-postgres}"
  PG_PASSWORD="$(conn_value password)"
  [ -n "$PG_PASSWORD" ] && export PGPASSWORD="$PG_PASSWORD"
else
  source "$ROOT/scripts/lib/postgres.sh"
  pg_choose_dir
  if ! pg_running; then we_started_pg=1; fi
  pg_start || fail "PostgreSQL could not be started (see above)"
  PG_HOST=127.0.0.1; PG_USER=postgres; PG_PASSWORD=""
fi
psql_admin() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -v ON_ERROR_STOP=1 -Atq "$@"; }
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" postgres)" ]; then
  psql_admin -c "CREATE DATABASE $DATABASE" postgres
fi
DB_CONNECTION="Host=$PG_HOST;Port=$PG_PORT;Username=$PG_USER;Database=$DATABASE"
psql_demo() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -v ON_ERROR_STOP=1 -q "$@" "$DATABASE"; }
say "PostgreSQL on $PG_HOST:$PG_PORT, database $DATABASE"

# ---------------------------------------------------------------- build (only when a source changed)
if [ -z "$BIN" ]; then
  BIN="$ROOT/.demo-bin"
  stamp="$STATE/build.stamp"
  if [ ! -f "$stamp" ] || [ ! -f "$BIN/ctibridge.dll" ] || [ ! -f "$BIN/pbxsim.dll" ] \
     || [ -n "$(find src Directory.Build.props Directory.Packages.props global.json -newer "$stamp" -type f \
                  -not -path '*/bin/*' -not -path '*/obj/*' -print -quit 2>/dev/null)" ]; then
    say "building ctibridge and pbxsim (Release)..."
    build_log="$STATE/build.log"
    for project in src/CtiBridge.Service/CtiBridge.Service.csproj src/CtiBridge.PbxSim/CtiBridge.PbxSim.csproj; do
      if ! dotnet build "$project" -c Release -nologo -clp:ErrorsOnly -o "$BIN" >"$build_log" 2>&1; then
        cat "$build_log" >&2
        fail "the build failed (errors above)"
      fi
    done
    touch "$stamp"
  else
    say "build is up to date"
  fi
fi
[ -f "$BIN/ctibridge.dll" ] || fail "no ctibridge.dll in $BIN"
[ -n "$ASTERISK" ] || [ -f "$BIN/pbxsim.dll" ] || fail "no pbxsim.dll in $BIN"
ctibridge() { dotnet "$BIN/ctibridge.dll" "$@"; }

# ---------------------------------------------------------------- ports and configuration
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local port="$1" taken
  for port in $(seq "$1" $(( $1 + 200 ))); do
    taken=0
    for used in "${PICKED[@]:-}"; do [ "$used" = "$port" ] && taken=1; done
    if [ "$taken" -eq 0 ] && port_free "$port"; then PICKED+=("$port"); echo "$port"; return 0; fi
  done
  fail "no free TCP port from $1 on 127.0.0.1"
}
PICKED=()
if [ -z "$ASTERISK" ]; then
  AMI_HOST=127.0.0.1
  AMI_PORT="$(pick_port 15038)"; PICKED+=("$AMI_PORT")
  ARI_PORT="$(pick_port 18088)"; PICKED+=("$ARI_PORT")
  ARI_URL="http://127.0.0.1:$ARI_PORT/ari"
fi
HTTP_PORT="$(pick_port 18080)"; PICKED+=("$HTTP_PORT")

# The people and the traffic, scaled to the run: handle time (ring + talk + wrap-up) and arrival
# rate keep the 20 agents around 80 % busy; a few callers run out of patience.
AGENTS=20            # desk phones 1001-1020, agents 2001-2020
INBOUND_AGENTS=16    # 2001-2016 log in to the queues; 2017-2020 work the outbound campaign
CAMPAIGN=demo-renewals
TALK_MIN=$(( DURATION / 12 )); [ "$TALK_MIN" -lt 3 ] && TALK_MIN=3; [ "$TALK_MIN" -gt 30 ] && TALK_MIN=30
TALK_MAX=$(( TALK_MIN * 3 ))
WRAP_UP=$(( TALK_MIN / 2 )); [ "$WRAP_UP" -lt 2 ] && WRAP_UP=2
ARRIVALS_END=$(( DURATION - TALK_MAX - 5 )); [ "$ARRIVALS_END" -lt $(( DURATION / 2 )) ] && ARRIVALS_END=$(( DURATION / 2 ))
# A day compressed into the arrival window: a quiet start (65 % of what the agents can take), a
# peak (130 %: callers wait, some press 1 for a callback, some hang up and are owed one), a calmer
# afternoon (75 %) that lets the agents catch up and keep the callbacks.
read -r RATE PEAK_RATE LATE_RATE PEAK_FROM PEAK_TO PATIENCE PRESS_AFTER < <(awk -v a="$INBOUND_AGENTS" -v tmin="$TALK_MIN" -v tmax="$TALK_MAX" -v w="$WRAP_UP" -v end="$ARRIVALS_END" \
  'BEGIN { h = 3.5 + (tmin + tmax) / 2 + w; c = a / h; printf "%.3f %.3f %.3f %d %d %.1f %.1f\n", 0.65 * c, 1.3 * c, 0.75 * c, end * 0.2, end * 0.6, 2 * h, h / 2 }')
CALLBACK_MIN_WAIT=$(( TALK_MIN < 10 ? TALK_MIN : 10 ))
PIN=1234
PIN_HASH='pbkdf2-sha256$100000$mKzQxkkwybNTdmfTLK/Yzg==$qmHLoeMyL3N6Wfb99N+lMriqEwvB/e/cuQ7hZa28VMg='
SECRET="demo-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
[ -n "$ASTERISK" ] && SECRET=""

endpoints="" agents="" dialer_phones=""
for i in $(seq 1 "$AGENTS"); do
  phone=$(( 1000 + i )); agent=$(( 2000 + i ))
  if [ "$i" -le 8 ]; then queues='"support"'; elif [ "$i" -le 12 ]; then queues='"sales"'; elif [ "$i" -le "$INBOUND_AGENTS" ]; then queues='"billing"'; else queues='"sales"'; fi
  # A few agents serve two queues, as in a real centre. 2017-2020 (sales people) work the campaign
  # instead of logging in to the queues.
  case "$i" in 7|8) queues='"support", "billing"' ;; 12) queues='"sales", "support"' ;; esac
  endpoints+="      { \"Name\": \"$phone\", \"Context\": \"agents-phones\" },"$'\n'
  if [ "$i" -gt "$INBOUND_AGENTS" ]; then dialer_phones+="${dialer_phones:+, }\"$phone\""; fi
  agents+="      { \"id\": \"$agent\", \"name\": \"Agent $agent\", \"extension\": \"PJSIP/$phone\", \"pinHash\": \"$PIN_HASH\", \"queues\": [ $queues ] }"
  [ "$i" -lt "$AGENTS" ] && agents+=","
  agents+=$'\n'
done

# PbxSim only when no real Asterisk is given.
if [ -z "$ASTERISK" ]; then
cat >"$STATE/pbxsim.json" <<EOF
{
  // Written by scripts/demo.sh for this run ($DURATION s); see docs/pbxsim.md.
  "PbxSim": {
    "AmiPort": $AMI_PORT,
    "AriPort": $ARI_PORT,
    "AmiUsers": [ { "Username": "ctibridge", "Secret": "$SECRET", "Read": "all", "Write": "system,call,originate,agent,user,reporting" } ],
    "AriUsers": [ { "Username": "ctibridge", "Password": "$SECRET" } ],
    "RecordingDirectory": "$STATE/recordings",
    // Asterisk's core sounds PbxSim knows, and the dialer's abandon message (the seller's name and number).
    "Sounds": { "hello-world": 1.42, "beep": 0.44, "vm-intro": 3.2, "goodbye": 0.9, "queue-thankyou": 1.9, "pls-hold-while-try": 2.3,
                "agent-loginok": 1.0, "agent-loggedoff": 1.1, "tt-monkeys": 9.9, "demo-abandon": 4 },
    "Endpoints": [
$endpoints      { "Name": "carrier", "IsTrunk": true, "Context": "from-carrier" }
    ],
    "Dialplan": {
      "from-carrier": { "_X.": [ "Stasis(ctibridge,inbound,\${EXTEN})", "Hangup()" ] },
      "agents-phones": { "_*9X": [ "Answer()", "Stasis(ctibridge,feature,\${EXTEN})", "Hangup()" ] },
      "ctibridge-amd": { "s": [ "AMD()", "Stasis(ctibridge-dialer,dialer-amd,\${AMDSTATUS},\${AMDCAUSE})" ] }
    }
  },
  // Inbound agents hang up after their talk time; the dialer agents keep their nailed-up line and
  // end each customer's conversation after theirs (PbxSim's DialerPhones).
  "DeskPhones": { "AnswerMinSeconds": 1, "AnswerMaxSeconds": 5, "TalkMinSeconds": $TALK_MIN, "TalkMaxSeconds": $TALK_MAX },
  "DialerPhones": { "Endpoints": [ $dialer_phones ], "AnswerMinSeconds": 1, "AnswerMaxSeconds": 3, "TalkMinSeconds": $TALK_MIN, "TalkMaxSeconds": $TALK_MAX },
  // The people the dialer and the callbacks call: some busy, some out, some machines, the rest pick up.
  "DialledCustomers": { "Busy": 0.1, "NoAnswer": 0.15, "Invalid": 0.03, "Machine": 0.1, "RingSeconds": 4, "MachineMessageSeconds": 6, "AmdSeconds": 2.5 },
  "Traffic": {
    "Trunk": "carrier", "Numbers": [ "4008001", "4008001", "4008002", "4008003" ],
    "CallsPerSecond": $RATE, "Profile": [ { "AfterSeconds": $PEAK_FROM, "CallsPerSecond": $PEAK_RATE }, { "AfterSeconds": $PEAK_TO, "CallsPerSecond": $LATE_RATE } ],
    "MeanPatienceSeconds": $PATIENCE, "MeanTalkSeconds": $(( TALK_MAX * 4 )),
    "CallbackKeyShare": 0.3, "CallbackKey": "1", "CallbackKeyAfterSeconds": $PRESS_AFTER,
    "MaxCalls": 100000, "StartWhenAppRegistered": "ctibridge", "StartDelaySeconds": 3, "StopAfterSeconds": $ARRIVALS_END
  }
}
EOF
fi

cat >"$STATE/ctibridge.json" <<EOF
{
  // Written by scripts/demo.sh for this run; see docs/service.md and docs/call-control.md.
  "database": { "connectionString": "$DB_CONNECTION"$( [ -n "$PG_PASSWORD" ] && printf ', "password": "${env:CTIBRIDGE_DEMO_DB_PASSWORD}"' ) },
  "asterisk": [ {
    "name": "$( [ -n "$ASTERISK" ] && echo asterisk || echo pbxsim )",
    "ami": { "host": "$AMI_HOST", "port": $AMI_PORT, "username": "$AMI_USER", "secret": "\${env:CTIBRIDGE_AMI_SECRET}" },
    "ari": { "baseUrl": "$ARI_URL", "username": "$ARI_USER", "password": "\${env:CTIBRIDGE_ARI_PASSWORD}", "application": "ctibridge" }
  } ],
  "http": { "urls": "http://127.0.0.1:$HTTP_PORT" },
  "logging": { "level": "Information" },
  "callControl": {
    "queues": [
      // Key 1 while waiting: "call me back" (the caller keeps their place in line, the call ends).
      { "name": "support", "strategy": "leastrecent", "ringTimeout": "00:00:12", "retryAfterNoAnswer": "00:00:03", "wrapUp": "00:00:$(printf '%02d' "$WRAP_UP")", "musicOnHold": "default", "exitKeys": [ { "key": "1", "target": "callback" } ] },
      { "name": "sales", "strategy": "rrmemory", "ringTimeout": "00:00:12", "retryAfterNoAnswer": "00:00:03", "wrapUp": "00:00:$(printf '%02d' "$WRAP_UP")", "musicOnHold": "default", "exitKeys": [ { "key": "1", "target": "callback" } ] },
      { "name": "billing", "strategy": "fewestcalls", "ringTimeout": "00:00:12", "retryAfterNoAnswer": "00:00:03", "wrapUp": "00:00:$(printf '%02d' "$WRAP_UP")", "musicOnHold": "default", "exitKeys": [ { "key": "1", "target": "callback" } ] }
    ],
    "agents": [
$agents    ],
    "dids": [
      { "number": "4008001", "queue": "support" },
      { "number": "4008002", "queue": "sales" },
      { "number": "4008003", "queue": "billing" }
    ],
    // Callbacks and dialler calls go out through the carrier trunk.
    "externalEndpoint": "$( [ -n "$ASTERISK" ] && echo 'PJSIP/{number}@carrier' || echo 'PJSIP/carrier/{number}' )",
    "recordJournalDirectory": "$STATE/journal"
  },
  // Callers who pressed 1, or hung up after waiting $CALLBACK_MIN_WAIT s or more, are called back as soon as an agent is free.
  "callbacks": { "enabled": true, "abandonedMinimumWait": "00:00:$(printf '%02d' "$CALLBACK_MIN_WAIT")", "callerId": "4008000000", "customerRingTimeout": "00:00:20",
                 "retryDelay": "00:00:$(printf '%02d' $(( TALK_MIN * 2 < 59 ? TALK_MIN * 2 : 59 )))", "sweepInterval": "00:00:05" },
  "dialer": { "enabled": true, "server": "$( [ -n "$ASTERISK" ] && echo asterisk || echo pbxsim )", "application": "ctibridge-dialer",
              "planIntervalSeconds": 1, "campaignRefreshSeconds": 1, "amdContext": "ctibridge-amd", "recordJournalDirectory": "$STATE/dialer" },
  // The outbound campaign (docs/dialer.md): predictive, machines detected and hung up on, any hour (a demo).
  "campaigns": [
    { "id": "$CAMPAIGN", "agentGroup": "sales", "mode": "Predictive", "callerId": "+14008000000", "callerName": "Demo Co",
      "trunkPrefix": "PJSIP/carrier/", "windows": { "*": [ "00:00-24:00" ] }, "maxConcurrentLines": 8, "maxAttempts": 3,
      "retrySeconds": { "busy": 30, "noAnswer": 60, "congestion": 30, "machine": 120, "rejected": 300, "abandoned": 300 },
      "policy": "US-TSR", "abandonMessage": "demo-abandon", "machines": "HangUpAndRetry", "ringTimeoutSeconds": 15, "wrapUpSeconds": $WRAP_UP,
      "defaultCountryCode": "1", "defaultTimeZone": "America/New_York" }
  ]
}
EOF
if [ -z "$ASTERISK" ]; then export CTIBRIDGE_AMI_SECRET="$SECRET" CTIBRIDGE_ARI_PASSWORD="$SECRET"; fi
export CTIBRIDGE_DEMO_DB_PASSWORD="$PG_PASSWORD"

# ---------------------------------------------------------------- start, and stop whatever we started
PBXSIM_PID="" CTIBRIDGE_PID="" STOP=0 CLEANED=0
stop_process() {  # pid, name: SIGTERM, then wait up to 20 s, then SIGKILL
  local pid="$1" waited=0
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 200 ]; do sleep 0.1; waited=$(( waited + 1 )); done
  if kill -0 "$pid" 2>/dev/null; then say "$2 did not stop in 20 s: killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  [ "$CLEANED" -eq 1 ] && return 0
  CLEANED=1
  stop_process "$CTIBRIDGE_PID" ctibridge
  stop_process "$PBXSIM_PID" pbxsim
  if [ "$we_started_pg" -eq 1 ]; then pg_stop; fi
}
trap cleanup EXIT
trap 'if [ "$STOP" -eq 1 ]; then exit 130; fi; STOP=1; echo; say "stopping (Ctrl-C again to stop at once)"' INT TERM

# Children get their own session (setsid): Ctrl-C reaches only this script, which stops them in order.
if [ -n "$ASTERISK" ]; then
  say "Asterisk at $ASTERISK (AMI user $AMI_USER), ARI $ARI_URL (user $ARI_USER): PbxSim is not started; calls come from your trunk and phones"
else
  setsid dotnet "$BIN/pbxsim.dll" --config "$STATE/pbxsim.json" >"$STATE/pbxsim.log" 2>&1 &
  PBXSIM_PID=$!
  for _ in $(seq 1 300); do
    port_free "$AMI_PORT" || break
    kill -0 "$PBXSIM_PID" 2>/dev/null || { cat "$STATE/pbxsim.log" >&2; fail "pbxsim exited at start (its output is above)"; }
    sleep 0.1
  done
  port_free "$AMI_PORT" && fail "pbxsim did not open AMI on 127.0.0.1:$AMI_PORT within 30 s (see $STATE/pbxsim.log)"
  say "PbxSim (Asterisk 22 emulator): AMI 127.0.0.1:$AMI_PORT, ARI $ARI_URL, $AGENTS desk phones, trunk 'carrier'"
fi

say "ctibridge check-asterisk:"
ctibridge check-asterisk --config "$STATE/ctibridge.json" | sed 's/^/    /' || true

# The schema first (as an admin would: 'ctibridge migrate'), so the service starts on a complete one.
ctibridge migrate --config "$STATE/ctibridge.json" >"$STATE/migrate.log" 2>&1 || { cat "$STATE/migrate.log" >&2; fail "the database migration failed (above)"; }
# The run's records are those from here on (before CtiBridge starts, so no call of the run is older).
RUN_FROM="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
setsid dotnet "$BIN/ctibridge.dll" run --config "$STATE/ctibridge.json" >"$STATE/ctibridge.log" 2>&1 &
CTIBRIDGE_PID=$!
API="http://127.0.0.1:$HTTP_PORT"
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$API/health/ready" 2>/dev/null)" = 200 ] && break
  kill -0 "$CTIBRIDGE_PID" 2>/dev/null || { tail -n 40 "$STATE/ctibridge.log" >&2; fail "ctibridge exited at start (the end of its log is above)"; }
  [ "$STOP" -eq 1 ] && exit 130
  sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$API/health/ready")" = 200 ] \
  || { curl -s "$API/health/ready" >&2 || true; fail "ctibridge did not become ready within 60 s (see $STATE/ctibridge.log)"; }
say "CtiBridge is ready ($(( SECONDS - started )) s since start)"

# An admin key for this run (a new one each run; tokens are only shown once).
TOKEN="$(ctibridge apikey create --name "demo-$(date -u +%Y%m%d%H%M%S)-$$" --role admin --connection "$DB_CONNECTION" | tail -n1)"
case "$TOKEN" in ctb_*) ;; *) fail "could not create an API key: $TOKEN" ;; esac
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }

logged_in=0
for i in $(seq 1 "$INBOUND_AGENTS"); do
  if api -X POST -d "{\"pin\":\"$PIN\"}" "$API/api/agents/$(( 2000 + i ))/login" >/dev/null; then logged_in=$(( logged_in + 1 )); fi
done
say "$logged_in of $INBOUND_AGENTS inbound agents logged in over the API (POST /api/agents/{id}/login, PIN $PIN)"
[ "$logged_in" -gt 0 ] || fail "no agent could log in (see $STATE/ctibridge.log)"

# The outbound campaign (PbxSim only: with a real Asterisk it would dial made-up numbers through your
# carrier). New leads each run (random numbers; the file's campaign is stored at start-up, stopped).
DIALER_AGENTS=$(( AGENTS - INBOUND_AGENTS )) joined=0 leads=0
if [ -z "$ASTERISK" ]; then
  lead_file="$STATE/leads.csv"
  { echo "phone,first_name,plan"
    for n in $(seq 1 $(( DURATION * 2 < 400 ? DURATION * 2 : 400 ))); do
      printf '+1212%03d%04d,Customer %d,%s\n' $(( 200 + RANDOM % 800 )) $(( RANDOM % 10000 )) "$n" "$([ $(( n % 3 )) -eq 0 ] && echo gold || echo basic)"
    done; } >"$lead_file"
  imported=""
  for _ in $(seq 1 100); do
    imported="$(api -X POST -H 'Content-Type: text/csv' --data-binary "@$lead_file" "$API/api/campaigns/$CAMPAIGN/leads?skipBad=true" 2>/dev/null)" && break
    sleep 0.2
  done
  leads="$(printf '%s' "$imported" | jq -r '.imported // 0' 2>/dev/null || echo 0)"
  api -X POST "$API/api/campaigns/$CAMPAIGN/start" >/dev/null || fail "could not start campaign $CAMPAIGN (see $STATE/ctibridge.log)"
  # The dialer picks the running campaign up within campaignRefreshSeconds; then the agents join
  # (their phone rings once and stays up: the nailed-up line).
  for i in $(seq $(( INBOUND_AGENTS + 1 )) "$AGENTS"); do
    for _ in $(seq 1 100); do
      if api -X POST -d "{\"endpoint\":\"PJSIP/$(( 1000 + i ))\"}" "$API/api/campaigns/$CAMPAIGN/agents/$(( 2000 + i ))" >/dev/null 2>&1; then joined=$(( joined + 1 )); break; fi
      sleep 0.2
    done
  done
  say "campaign $CAMPAIGN started (predictive, $leads new leads); $joined of $DIALER_AGENTS dialer agents joined on nailed-up lines (POST /api/campaigns/{id}/agents/{agentId})"
fi

cat <<EOF

  API          $API/api/queues            (Authorization: Bearer $TOKEN)
  OpenAPI      $API/openapi/v1.json
  Metrics      $API/metrics
  Health       $API/health/ready
EOF
if [ "$(curl -s -o /dev/null -w '%{http_code}' "$API/wallboard/")" = 200 ]; then
  echo "  Wallboard    $API/wallboard/#key=$TOKEN"
else
  echo "  Wallboard    not served by this build; /api/queues has the same figures"
fi
echo "  Logs         $STATE/ctibridge.log, $STATE/pbxsim.log"
echo
if [ -n "$ASTERISK" ]; then
  say "call 4008001 (support), 4008002 (sales) or 4008003 (billing) through your trunk; desk phones PJSIP/1001-1020 ring; running for $DURATION s (Ctrl-C ends early)"
else
  say "callers arrive on 4008001 (support), 4008002 (sales), 4008003 (billing) at $RATE/s until $ARRIVALS_END s; running for $DURATION s (Ctrl-C ends early)"
fi

# ---------------------------------------------------------------- run, with a live summary
summary() {
  api "$API/api/queues" | jq -r '.[] | "  \(.queue | . + "         " | .[0:9]) waiting \(.waiting)  offered \(.offered)  answered \(.answered)  abandoned \(.abandonedShort + .abandonedLong)  SL \(if .serviceLevel == null then "-" else (.serviceLevel * 100 | floor | tostring) + "%" end)  AHT \(if .averageHandleTimeSeconds == null then "-" else (.averageHandleTimeSeconds | floor | tostring) + "s" end)  agents ready \(.agentsReady)/\(.agentsLoggedIn)"' \
    || echo "  (the API did not answer)"
  [ -n "$ASTERISK" ] || api "$API/api/campaigns/$CAMPAIGN/stats" 2>/dev/null | jq -r '"  \(.campaignId) (\(["Preview", "Progressive", "Power", "Predictive", "VoiceBroadcast"][.effectiveMode] // .effectiveMode)) dials \(.dials)  live answers \(.liveAnswers)  abandons \(.abandons)  machines \(.machineAnswers)  lines \(.lines)  agents on line \(.agentsLoggedIn) (idle \(.agentsIdle), busy \(.agentsBusy))"' \
    || echo "  (campaign $CAMPAIGN: no figures yet)"
}
every=10; [ "$DURATION" -lt 60 ] && every=5
run_started=$SECONDS
next=$(( run_started + every ))
while [ "$STOP" -eq 0 ] && [ $(( SECONDS - run_started )) -lt "$DURATION" ]; do
  kill -0 "$CTIBRIDGE_PID" 2>/dev/null || { tail -n 40 "$STATE/ctibridge.log" >&2; fail "ctibridge stopped unexpectedly (the end of its log is above)"; }
  [ -n "$ASTERISK" ] || kill -0 "$PBXSIM_PID" 2>/dev/null || fail "pbxsim stopped unexpectedly (see $STATE/pbxsim.log)"
  if [ "$SECONDS" -ge "$next" ]; then
    echo "[$(( SECONDS - run_started )) s]"
    summary
    next=$(( next + every ))
  fi
  sleep 0.5 || true
done
STOP=1
echo "[end]"
summary

# ---------------------------------------------------------------- stop in order, then the reports
if [ -z "$ASTERISK" ]; then
  on_line="$(api "$API/api/campaigns/$CAMPAIGN/stats" 2>/dev/null | jq -r '.agentsLoggedIn' 2>/dev/null || echo 0)"
  say "${on_line:-0} of $DIALER_AGENTS dialer agents still on their nailed-up lines at the end"
fi
say "logging the agents out and stopping CtiBridge (records are written before it exits)..."
for i in $(seq 1 "$INBOUND_AGENTS"); do api -X POST "$API/api/agents/$(( 2000 + i ))/logout" >/dev/null || true; done
if [ -z "$ASTERISK" ]; then
  api -X POST "$API/api/campaigns/$CAMPAIGN/pause" >/dev/null || true
  # Paused, the campaign dials no more, but the lines it has up still ring and get answered: the
  # agents stay on their lines until those calls have ended (bounded), since an answer after the
  # agents left finds nobody and is an abandon (the wind-down made 1-2 of ~12 live answers abandons).
  for _ in $(seq 1 90); do
    [ "$(api "$API/api/campaigns/$CAMPAIGN/stats" 2>/dev/null | jq -r '.lines // 0' 2>/dev/null || echo 0)" = 0 ] && break
    sleep 0.5
  done
  for i in $(seq $(( INBOUND_AGENTS + 1 )) "$AGENTS"); do api -X DELETE "$API/api/campaigns/$CAMPAIGN/agents/$(( 2000 + i ))" >/dev/null 2>&1 || true; done
fi
stop_process "$CTIBRIDGE_PID" ctibridge
CTIBRIDGE_PID=""
stop_process "$PBXSIM_PID" pbxsim
PBXSIM_PID=""
RUN_TO="$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)"

echo
say "reports from PostgreSQL for this run ($RUN_FROM to now; the same as 'ctibridge report queue-traffic|agent-activity'):"
# A run can span two report days: averages over the run are the days' sums over their counts (an
# interval's AHT weighted by its calls), never a mean of the days' means; an interval whose calls are
# not wrapped up yet has no AHT and adds no weight. The agents' AHT counts inbound and outbound calls.
psql_demo -P footer=off -v from="$RUN_FROM" -v to="$RUN_TO" <<'SQL'
\echo 'Queues'
SELECT queue, sum(offered) AS offered, sum(answered) AS answered, sum(abandoned) AS abandoned,
       round(100.0 * sum(answered_within_sl) / nullif(sum(offered) - sum(abandoned_short), 0)) AS "SL %",
       round(100.0 * sum(abandoned_long) / nullif(sum(offered) - sum(abandoned_short), 0)) AS "abandon %",
       round((sum(asa_seconds * answered) / nullif(sum(answered), 0))::numeric, 1) AS "ASA s",
       round((sum(aht_seconds * answered) FILTER (WHERE aht_seconds IS NOT NULL)
              / nullif(sum(answered) FILTER (WHERE aht_seconds IS NOT NULL), 0))::numeric, 1) AS "AHT s"
  FROM report_queue_traffic(:'from', :'to', '1d') GROUP BY queue ORDER BY queue;
\echo 'Agents'
SELECT agent_id AS agent, sum(calls) AS calls, sum(inbound_calls) AS inbound, sum(outbound_calls) AS outbound,
       round(((sum(talk_seconds) + sum(hold_seconds) + sum(wrap_up_seconds)) / nullif(sum(calls), 0))::numeric, 1) AS "AHT s",
       round((100 * (sum(in_call_seconds) + sum(wrap_up_state_seconds) + sum(outbound_seconds))
             / nullif(sum(in_call_seconds) + sum(wrap_up_state_seconds) + sum(outbound_seconds) + sum(available_seconds) + sum(ringing_seconds), 0))::numeric) AS "occupancy %",
       sum(missed_calls) AS missed
  FROM report_agent_activity(:'from', :'to', '1d') GROUP BY agent_id ORDER BY agent_id;
SQL

echo
say "what happened (scripts/lib/demo-summary.sql, since $RUN_FROM):"
summary_rows="$(psql_demo -At -F '|' -v from="$RUN_FROM" -f "$ROOT/scripts/lib/demo-summary.sql")"
printf '%s\n' "$summary_rows" | awk -F'|' '{ printf "  %-40s %s\n", $1, $2 }'
figure() { printf '%s\n' "$summary_rows" | awk -F'|' -v want="$1" '$1 == want { print $2 }'; }
answered="$(figure 'inbound answered by an agent')"
calls="$(figure 'inbound calls')"
echo
say "$calls inbound calls stored, $answered answered, in $(( SECONDS - started )) s. Run it again any time: it reuses the build and the database."
if [ "$answered" -eq 0 ] && [ -n "$ASTERISK" ]; then
  say "no call was answered during the run: with --asterisk the calls are yours to make (see $STATE/ctibridge.log)"
  exit 0
fi
[ "$answered" -gt 0 ] || fail "no call was answered: see $STATE/ctibridge.log and $STATE/pbxsim.log"
