#!/usr/bin/env bash
# dusttwin local services: PostgreSQL (+ TimescaleDB), Redis, Mosquitto (dynamic security).
#
#   deploy/local/services.sh up       make every service ready (idempotent)
#   deploy/local/services.sh down     stop them (already stopped is fine)
#   deploy/local/services.sh status   report; exit 1 if anything is down or misconfigured
#
# Everything listens on loopback only.  See deploy/local/README.md.
set -euo pipefail

PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin   # mosquitto, runuser live in sbin
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd -P)
ENV_FILE="$REPO_ROOT/.env"

PG_HOST=127.0.0.1 PG_PORT=5432 PG_DB=dusttwin PG_ROLE=dusttwin
REDIS_HOST=127.0.0.1 REDIS_PORT=6379
MQTT_HOST=127.0.0.1 MQTT_PORT=1883
MQTT_ADMIN=dusttwin-admin MQTT_PLATFORM_ROLE=dusttwin-platform

MOSQ_CONF=/etc/mosquitto/dusttwin.conf
MOSQ_DYNSEC=/var/lib/mosquitto/dusttwin-dynsec.json
MOSQ_PIDFILE=/run/mosquitto/dusttwin.pid
MOSQ_LOG=/var/log/mosquitto/dusttwin.log
REDIS_LOG=/var/log/redis/dusttwin.log

CACHE_DIR=/var/cache/dusttwin
DEBIAN_MIRROR=${DUSTTWIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
TSDB_SUITE=trixie
TIMESCALEDB=${DUSTTWIN_TIMESCALEDB:-on}

if [[ $EUID -eq 0 ]]; then
  IS_ROOT=1
  STATE_DIR=${DUSTTWIN_STATE_DIR:-/var/lib/dusttwin}
else
  IS_ROOT=0
  STATE_DIR=${DUSTTWIN_STATE_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/dusttwin}
fi

log()  { printf '[services] %s\n' "$*"; }
warn() { printf '[services] WARNING: %s\n' "$*" >&2; }
die()  { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dusttwin-services.XXXXXX")
trap 'rm -rf "$TMP_DIR"' EXIT

# Instructions collected for a non-root user; printed (and exit 1) at the end of `up`.
NEED_ROOT=()
need_root() { NEED_ROOT+=("$*"); }

systemd_running() { [[ -d /run/systemd/system ]]; }

APT_UPDATED=0
apt_install() { # pkg...; root only
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "apt-get install ${missing[*]}"
  if ((!APT_UPDATED)); then
    DEBIAN_FRONTEND=noninteractive apt-get -q update >"$TMP_DIR/apt.log" 2>&1 9>&- \
      || { tail -n 20 "$TMP_DIR/apt.log" >&2; return 1; }
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -q install -y "${missing[@]}" >"$TMP_DIR/apt.log" 2>&1 9>&- \
    || { tail -n 20 "$TMP_DIR/apt.log" >&2; return 1; }
}

wait_until() { # seconds cmd...: poll every 0.5 s
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# ---------------------------------------------------------------- state + .env

ensure_state() {
  mkdir -p "$STATE_DIR"
  chmod 0700 "$STATE_DIR"
  local f
  for f in pg.password mqtt-admin.password secret.key; do
    if [[ ! -s $STATE_DIR/$f ]]; then
      (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$STATE_DIR/$f.tmp")
      mv "$STATE_DIR/$f.tmp" "$STATE_DIR/$f"
      log "generated $STATE_DIR/$f"
    fi
    chmod 0600 "$STATE_DIR/$f"
    state_owned "$STATE_DIR/$f"
  done
}

# root running `up` for a user's state dir (DUSTTWIN_STATE_DIR=...): keep files the user's.
state_owned() { if ((IS_ROOT)); then chown "$(stat -c %u:%g "$STATE_DIR")" "$@"; fi; }

secret() { # name -> value (hex, validated: it is embedded in SQL and URLs)
  local v
  v=$(tr -d '[:space:]' <"$STATE_DIR/$1" 2>/dev/null) || return 1
  [[ $v =~ ^[0-9a-f]{16,}$ ]] || die "$STATE_DIR/$1 is not a hex secret; delete it to regenerate"
  printf '%s' "$v"
}

load_secrets() { # for status: secrets may be missing or unreadable
  PG_PASS='' MQTT_PASS=''
  if [[ -r $STATE_DIR/pg.password ]]; then PG_PASS=$(secret pg.password); fi
  if [[ -r $STATE_DIR/mqtt-admin.password ]]; then MQTT_PASS=$(secret mqtt-admin.password); fi
  return 0
}

write_env() {
  local tmp="$ENV_FILE.tmp.$$" key
  key=$(secret secret.key)
  [[ -e $ENV_FILE ]] || (umask 077; : >"$ENV_FILE") || die "cannot create $ENV_FILE"
  DUSTTWIN_DATABASE_URL="postgresql://$PG_ROLE:$PG_PASS@$PG_HOST:$PG_PORT/$PG_DB" \
  DUSTTWIN_REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/0" \
  DUSTTWIN_MQTT_HOST=$MQTT_HOST DUSTTWIN_MQTT_PORT=$MQTT_PORT \
  DUSTTWIN_MQTT_USERNAME=$MQTT_ADMIN DUSTTWIN_MQTT_PASSWORD=$MQTT_PASS \
  DUSTTWIN_SECRET_KEY=$key \
  awk '
    BEGIN {
      n = split("DUSTTWIN_DATABASE_URL DUSTTWIN_REDIS_URL DUSTTWIN_MQTT_HOST DUSTTWIN_MQTT_PORT DUSTTWIN_MQTT_USERNAME DUSTTWIN_MQTT_PASSWORD DUSTTWIN_SECRET_KEY", keys, " ")
      for (i = 1; i <= n; i++) want[keys[i]] = ENVIRON[keys[i]]
    }
    {
      line = $0; k = line
      sub(/^[ \t]*(export[ \t]+)?/, "", k)
      if (match(k, /^[A-Za-z_][A-Za-z0-9_]*=/)) {
        k = substr(k, 1, RLENGTH - 1)
        if (k in want) {
          if (!(k in done)) { print k "=" want[k]; done[k] = 1 }
          next   # drop duplicates of managed keys
        }
      }
      print line
    }
    END { for (i = 1; i <= n; i++) if (!(keys[i] in done)) print keys[i] "=" want[keys[i]] }
  ' "$ENV_FILE" >"$tmp"
  chmod 0600 "$tmp"
  if cmp -s "$tmp" "$ENV_FILE"; then
    rm -f "$tmp"
  else
    mv "$tmp" "$ENV_FILE"
    log "updated $ENV_FILE"
  fi
  chmod 0600 "$ENV_FILE"
  # A root run for a developer's checkout: the app runs as the checkout's owner.
  if ((IS_ROOT)); then chown "$(stat -c %u:%g "$REPO_ROOT")" "$ENV_FILE"; fi
}

# ---------------------------------------------------------------- PostgreSQL

PG_VER='' PG_CLUSTER=''
pg_detect() { # the cluster serving port 5432, else the newest installed server version
  PG_VER='' PG_CLUSTER=''
  have pg_lsclusters || return 0
  local line bin
  line=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2; exit }')
  if [[ -n $line ]]; then read -r PG_VER PG_CLUSTER <<<"$line"; return 0; fi
  PG_VER=$(for bin in /usr/lib/postgresql/*/bin/postgres; do
             if [[ -x $bin ]]; then basename "$(dirname "$(dirname "$bin")")"; fi
           done | sort -V | tail -n 1)
  [[ -z $PG_VER ]] || PG_CLUSTER=main
}

pg_ready() { have pg_isready && pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; }

pgctl() { # action: pg_ctlcluster (under systemd let it go through the unit)
  if systemd_running; then pg_ctlcluster "$PG_VER" "$PG_CLUSTER" "$1" 9>&-
  else pg_ctlcluster --skip-systemctl-redirect "$PG_VER" "$PG_CLUSTER" "$1" 9>&-; fi
}

psql_admin() { # [db] — SQL on stdin or via further args, as the postgres OS user over the socket
  local db=${1:-postgres}; shift || true
  runuser -u postgres -- psql -X -q -A -t -v ON_ERROR_STOP=1 -p "$PG_PORT" -d "$db" "$@"
}

psql_app() { # SQL as the dusttwin role over TCP (what the platform does)
  PGPASSWORD=$PG_PASS PGCONNECT_TIMEOUT=5 psql -X -q -A -t -v ON_ERROR_STOP=1 \
    -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" "$@"
}

pg_up() {
  if ((IS_ROOT)); then
    pg_detect
    if [[ -z $PG_VER ]]; then
      apt_install postgresql postgresql-contrib || die "could not install PostgreSQL"
      pg_detect
      [[ -n $PG_VER ]] || die "PostgreSQL installed but no server version found under /usr/lib/postgresql"
    fi
    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VER" -v c="$PG_CLUSTER" '$1 == v && $2 == c { f = 1 } END { exit !f }'; then
      log "creating PostgreSQL cluster $PG_VER/$PG_CLUSTER on port $PG_PORT"
      pg_createcluster -p "$PG_PORT" "$PG_VER" "$PG_CLUSTER" >/dev/null 9>&-
    fi
    if pg_ready; then
      log "postgresql: reusing $PG_VER/$PG_CLUSTER on $PG_HOST:$PG_PORT"
    else
      log "postgresql: starting $PG_VER/$PG_CLUSTER"
      pgctl start || die "pg_ctlcluster $PG_VER $PG_CLUSTER start failed (see /var/log/postgresql/)"
      wait_until 30 pg_ready || die "PostgreSQL did not answer on $PG_HOST:$PG_PORT"
    fi
    local listen
    listen=$(psql_admin postgres -c 'SHOW listen_addresses')
    if [[ ! $listen =~ ^[[:space:]]*((localhost|127\.0\.0\.1|::1)[[:space:]]*,?[[:space:]]*)*$ ]]; then
      warn "PostgreSQL listen_addresses = '$listen' (not loopback only); left unchanged"
    fi
    psql_admin postgres >/dev/null <<SQL
SELECT 'CREATE ROLE $PG_ROLE LOGIN CREATEDB' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE') \gexec
ALTER ROLE $PG_ROLE WITH LOGIN CREATEDB PASSWORD '$PG_PASS';
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_ROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_DB') \gexec
SQL
    psql_app -c 'SELECT 1' >/dev/null || die "role $PG_ROLE cannot log in to $PG_DB over $PG_HOST:$PG_PORT (check pg_hba.conf)"
    [[ $TIMESCALEDB == off ]] || tsdb_up
  else
    if ! have pg_isready; then
      need_root "install PostgreSQL:  sudo apt-get install -y postgresql postgresql-contrib"
    elif ! pg_ready; then
      pg_detect
      need_root "start PostgreSQL:    sudo pg_ctlcluster --skip-systemctl-redirect ${PG_VER:-<version>} ${PG_CLUSTER:-main} start"
    elif ! psql_app -c 'SELECT 1' >/dev/null 2>&1; then
      need_root "create role/database: sudo DUSTTWIN_STATE_DIR=$STATE_DIR bash $SCRIPT_DIR/services.sh up"
    fi
  fi
}

# ---------------------------------------------------------------- TimescaleDB

tsdb_available() { [[ $(psql_admin postgres -c "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'") == 1 ]]; }

tsdb_build() { # runs in a subshell with set -e; all output goes to the build log
  set -euo pipefail
  local work="$CACHE_DIR/timescaledb" apt="$CACHE_DIR/apt"
  apt_install "postgresql-server-dev-$PG_VER" cmake build-essential libssl-dev libkrb5-dev \
    dpkg-dev xz-utils debian-archive-keyring
  # Fetch ONLY the timescaledb source from $TSDB_SUITE, through a private apt
  # configuration: the system's sources, lists and caches are never touched.
  mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial"
  printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$DEBIAN_MIRROR" "$TSDB_SUITE" >"$apt/sources.list"
  local aopt=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
              -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
  apt-get "${aopt[@]}" -q --error-on=any update
  rm -rf "$work"
  mkdir -p "$work/dl"
  if id _apt >/dev/null 2>&1; then chown _apt "$work/dl"; fi   # apt's download sandbox user
  (cd "$work/dl" && apt-get "${aopt[@]}" -q source --download-only timescaledb)
  local dsc
  dsc=$(find "$work/dl" -maxdepth 1 -name 'timescaledb_*.dsc' | head -n 1)
  [[ -n $dsc ]]
  dpkg-source -x "$dsc" "$work/src"
  # Apache-2.0 code only, telemetry compiled out (as Debian's own package does).
  cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DUSE_TELEMETRY=OFF -DSEND_TELEMETRY_DEFAULT=OFF \
    -DPG_CONFIG="/usr/lib/postgresql/$PG_VER/bin/pg_config"
  make -C "$work/build" -j"$(nproc)"
  make -C "$work/build" install
  rm -rf "$work/src" "$work/build"
}

tsdb_conf_file() { printf '/etc/postgresql/%s/%s/conf.d/99-dusttwin-timescaledb.conf' "$PG_VER" "$PG_CLUSTER"; }

TSDB_PRELOADED=0
tsdb_preload() { # make shared_preload_libraries contain timescaledb; restart only if that changed
  TSDB_PRELOADED=0
  local conf pkglib base eff running
  conf=$(tsdb_conf_file)
  pkglib=$(psql_admin postgres -c "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'")
  if [[ ! -f $pkglib/timescaledb.so ]]; then
    warn "$pkglib/timescaledb.so missing; not preloading TimescaleDB"; return 0
  fi
  if ! grep -Eq "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'conf\.d'" "/etc/postgresql/$PG_VER/$PG_CLUSTER/postgresql.conf"; then
    warn "postgresql.conf does not include conf.d; add shared_preload_libraries = 'timescaledb' yourself"; return 0
  fi
  # What the rest of the configuration sets, so other preloaded libraries are kept.
  base=$(psql_admin postgres -v f="$conf" <<'SQL'
SELECT setting FROM pg_file_settings
 WHERE name = 'shared_preload_libraries' AND sourcefile <> :'f' ORDER BY seqno DESC LIMIT 1;
SQL
)
  local libs=() lib want=''
  IFS=',' read -r -a libs <<<"$base"
  for lib in "${libs[@]}" timescaledb; do
    lib=$(printf '%s' "$lib" | tr -d " \t\"'")
    if [[ -n $lib && ,$want, != *",$lib,"* ]]; then want=${want:+$want,}$lib; fi
  done
  printf "# Managed by dusttwin deploy/local/services.sh: TimescaleDB preload, no telemetry (offline).\nshared_preload_libraries = '%s'\ntimescaledb.telemetry_level = off\n" \
    "$want" >"$TMP_DIR/tsdb.conf"
  if ! cmp -s "$TMP_DIR/tsdb.conf" "$conf"; then
    install -m 0644 -o postgres -g postgres "$TMP_DIR/tsdb.conf" "$conf"
    log "wrote $conf"
    psql_admin postgres -c 'SELECT pg_reload_conf()' >/dev/null
  fi
  running=$(psql_admin postgres -c 'SHOW shared_preload_libraries' | tr -d ' ')
  if [[ ,$running, == *,timescaledb,* ]]; then TSDB_PRELOADED=1; return 0; fi
  # The last file to set it wins (e.g. postgresql.auto.conf after conf.d).
  eff=$(psql_admin postgres -F ' in ' -c "SELECT setting, sourcefile FROM pg_file_settings
          WHERE name = 'shared_preload_libraries' ORDER BY seqno DESC LIMIT 1")
  if [[ ,${eff%% in *}, != *,timescaledb,* ]]; then
    warn "shared_preload_libraries is overridden ($eff); not restarting PostgreSQL"; return 0
  fi
  log "postgresql: restarting $PG_VER/$PG_CLUSTER to preload timescaledb"
  if pgctl restart && wait_until 30 pg_ready; then
    running=$(psql_admin postgres -c 'SHOW shared_preload_libraries' | tr -d ' ')
    if [[ ,$running, == *,timescaledb,* ]]; then TSDB_PRELOADED=1; fi
    return 0
  fi
  warn "PostgreSQL failed to restart with timescaledb preloaded; removing $conf and starting it again"
  rm -f "$conf"
  pgctl start || true
  wait_until 30 pg_ready || die "PostgreSQL is down after a failed restart; see /var/log/postgresql/"
}

tsdb_up() {
  if ! tsdb_available; then
    local logf="$CACHE_DIR/timescaledb-build.log" t0=$SECONDS rc=0
    mkdir -p "$CACHE_DIR"
    log "timescaledb: not installed; building it from Debian $TSDB_SUITE source (log: $logf)"
    set +e
    (tsdb_build) >"$logf" 2>&1
    rc=$?
    set -e
    if ((rc)) || ! tsdb_available; then
      tail -n 15 "$logf" >&2 || true
      warn "TimescaleDB build failed (see $logf): the platform will run in plain-PostgreSQL mode"
      return 0
    fi
    log "timescaledb: built and installed in $((SECONDS - t0)) s"
  fi
  tsdb_preload
  if ((!TSDB_PRELOADED)); then
    warn "TimescaleDB is not preloaded: the platform will run in plain-PostgreSQL mode"; return 0
  fi
  local sharedir
  sharedir=$(psql_admin postgres -c "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'")
  if ! grep -Eq '^[[:space:]]*trusted[[:space:]]*=[[:space:]]*true' "$sharedir/extension/timescaledb.control"; then
    # Not trusted: the dusttwin owner cannot CREATE EXTENSION itself, so do it here.
    psql_admin "$PG_DB" -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' >/dev/null
    log "timescaledb: extension is not trusted; created it in database $PG_DB as postgres"
  fi
}

# ---------------------------------------------------------------- Redis

redis_ready() { have redis-cli && [[ $(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

redis_gone() { ! redis_ready; }

redis_up() {
  if ((!IS_ROOT)); then
    if ! have redis-server; then need_root "install Redis:       sudo apt-get install -y redis-server"
    elif ! redis_ready; then need_root "start Redis:         sudo redis-server --daemonize yes --bind 127.0.0.1 -::1 --port $REDIS_PORT --save \"\" --appendonly no --dir /var/lib/redis --logfile $REDIS_LOG"
    fi
    return 0
  fi
  have redis-server && have redis-cli || apt_install redis-server redis-tools || die "could not install Redis"
  if redis_ready; then log "redis: reusing $REDIS_HOST:$REDIS_PORT"; return 0; fi
  log "redis: starting on $REDIS_HOST:$REDIS_PORT"
  mkdir -p /var/lib/redis "$(dirname "$REDIS_LOG")"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile "$REDIS_LOG" >/dev/null 9>&-
  wait_until 15 redis_ready || die "Redis did not answer on $REDIS_HOST:$REDIS_PORT (see $REDIS_LOG)"
}

# ---------------------------------------------------------------- Mosquitto

# Credentials go to the clients through option files in a private
# XDG_CONFIG_HOME, never on a command line.  NOAUTH_XDG is empty on purpose, so
# that the anonymous probe cannot pick up a user's ~/.config/mosquitto_sub.
ADMIN_XDG="$TMP_DIR/mqtt-admin" NOAUTH_XDG="$TMP_DIR/mqtt-anon"
mqtt_creds() {
  mkdir -p "$ADMIN_XDG" "$NOAUTH_XDG"
  chmod 0700 "$ADMIN_XDG" "$NOAUTH_XDG"
  local f
  for f in mosquitto_sub mosquitto_pub mosquitto_ctrl; do
    printf -- '-u %s\n-P %s\n' "$MQTT_ADMIN" "$MQTT_PASS" >"$ADMIN_XDG/$f"
  done
}

mqtt_probe() { # xdg-dir -> prints ok | refused | down
  local out rc=0
  out=$(XDG_CONFIG_HOME=$1 timeout 15 mosquitto_sub -h "$MQTT_HOST" -p "$MQTT_PORT" \
        -i "dusttwin-probe-$$-$RANDOM" -t dusttwin/probe -E -W 5 2>&1) || rc=$?
  if ((rc == 0)); then echo ok
  elif [[ $out == *"not authori"* || $out == *"Not authori"* || $out == *"bad user name or password"* ]]; then echo refused
  else echo down; fi
}

dynsec() { # dynsec subcommand as the admin; prints the reply without the plaintext warning
  XDG_CONFIG_HOME=$ADMIN_XDG timeout 20 mosquitto_ctrl -h "$MQTT_HOST" -p "$MQTT_PORT" dynsec "$@" 2>&1 \
    | grep -v -e 'without encryption' -e 'configuration changes you are making' -e '^$' || true
}

dynsec_ok() { [[ $(dynsec getClient "$MQTT_ADMIN") == *"Username: $MQTT_ADMIN"* ]]; }

MQTT_STATE=''
mqtt_check() { # sets MQTT_STATE: good | anon-open | admin-refused | no-dynsec | down
  local anon admin
  anon=$(mqtt_probe "$NOAUTH_XDG")
  if [[ $anon == down ]]; then MQTT_STATE=down; return; fi
  if [[ $anon == ok ]]; then MQTT_STATE='anon-open'; return; fi
  admin=$(mqtt_probe "$ADMIN_XDG")
  if [[ $admin != ok ]]; then MQTT_STATE='admin-refused'; return; fi
  if dynsec_ok; then MQTT_STATE=good; else MQTT_STATE='no-dynsec'; fi
}

mosq_plugin() {
  local p
  p=$(dpkg -L mosquitto 2>/dev/null | grep '/mosquitto_dynamic_security\.so$' | head -n 1 || true)
  if [[ -z $p ]]; then
    for p in "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null)/mosquitto_dynamic_security.so" \
             /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so; do
      [[ -f $p ]] && break
    done
  fi
  [[ -f $p ]] || die "mosquitto_dynamic_security.so not found (package mosquitto)"
  printf '%s' "$p"
}

MOSQ_CONF_CHANGED=0
mosq_write_conf() {
  local plugin
  plugin=$(mosq_plugin)
  cat >"$TMP_DIR/mosquitto.conf" <<EOF
# Managed by dusttwin deploy/local/services.sh; rewritten by every \`up\`.
# Broker for the dusttwin platform: loopback only, no anonymous access,
# users and ACLs in the dynamic-security plugin ($MOSQ_DYNSEC).
pid_file $MOSQ_PIDFILE
user mosquitto
per_listener_settings false
listener $MQTT_PORT $MQTT_HOST
allow_anonymous false
plugin $plugin
plugin_opt_config_file $MOSQ_DYNSEC
persistence true
persistence_location /var/lib/mosquitto/
persistence_file dusttwin-mosquitto.db
log_dest file $MOSQ_LOG
# Ingest acknowledges a QoS-1 message only after its readings are committed: let many be in
# flight per connector, and keep (not drop) what a persistent session holds while its connector
# is away (the default drops past 1000). Packets up to 1 MiB reach the connector, which rejects
# anything over the protocol's 256 KiB with a dead letter the integrator can see.
max_inflight_messages 1000
max_queued_messages 1000000
max_packet_size 1048576
EOF
  cmp -s "$TMP_DIR/mosquitto.conf" "$MOSQ_CONF" && return 0
  install -m 0644 "$TMP_DIR/mosquitto.conf" "$MOSQ_CONF"
  MOSQ_CONF_CHANGED=1
  log "wrote $MOSQ_CONF"
}

mosq_dynsec_init() {
  [[ -f $MOSQ_DYNSEC ]] && return 0
  log "mosquitto: creating $MOSQ_DYNSEC with admin $MQTT_ADMIN"
  (umask 077; mosquitto_ctrl dynsec init "$MOSQ_DYNSEC" "$MQTT_ADMIN" "$MQTT_PASS" >/dev/null)
  [[ -f $MOSQ_DYNSEC ]] || die "mosquitto_ctrl dynsec init failed"
}

mosq_dirs() {
  mkdir -p /run/mosquitto /var/lib/mosquitto "$(dirname "$MOSQ_LOG")"
  chown mosquitto:mosquitto /run/mosquitto /var/lib/mosquitto "$(dirname "$MOSQ_LOG")"
  if [[ -f $MOSQ_DYNSEC ]]; then chown mosquitto:mosquitto "$MOSQ_DYNSEC"; chmod 0600 "$MOSQ_DYNSEC"; fi
}

pid_gone() { ! pid_alive "$1"; }
mqtt_port_free() { [[ -z $(port_pids "$MQTT_PORT") ]]; }
mqtt_answers() { [[ $(mqtt_probe "$NOAUTH_XDG") != down ]]; }
pid_alive() { [[ -n ${1:-} && -d /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
port_pids() { # pids listening on a TCP port
  { ss -Hltnp "sport = :$1" 2>/dev/null || true; } | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true
}
our_broker_pids() { # mosquitto processes started with our config
  local p
  for p in $(pgrep -x mosquitto || true); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$MOSQ_CONF" && echo "$p"
  done
  return 0
}

stop_pid() { # pid what
  pid_alive "$1" || return 0
  log "stopping $2 (pid $1)"
  kill -TERM "$1" 2>/dev/null || true
  wait_until 10 pid_gone "$1" || { kill -KILL "$1" 2>/dev/null || true; wait_until 5 pid_gone "$1" || true; }
}

mosq_stop_listener() { # stop the local mosquitto holding port 1883, whatever config it runs
  local pids p comm
  if have ss; then
    pids=$(port_pids "$MQTT_PORT")
  else
    pids=$(cat "$MOSQ_PIDFILE" /run/mosquitto/mosquitto.pid 2>/dev/null; pgrep -x mosquitto || true)
  fi
  for p in $pids; do
    pid_alive "$p" || continue
    comm=$(cat "/proc/$p/comm" 2>/dev/null || true)
    [[ $comm == mosquitto ]] || die "port $MQTT_PORT is held by '$comm' (pid $p), not mosquitto; stop it first"
    if systemd_running && systemctl is-active --quiet mosquitto.service \
       && [[ $(systemctl show -p MainPID --value mosquitto.service) == "$p" ]]; then
      log "stopping mosquitto.service (systemd); 'systemctl disable mosquitto' keeps it off at boot"
      systemctl stop mosquitto.service 9>&-
    else
      stop_pid "$p" "mosquitto ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | sed 's/ $//'))"
    fi
  done
  wait_until 10 mqtt_port_free || die "port $MQTT_PORT still in use"
}

mosq_start() {
  mosq_stop_listener
  mosq_dirs
  log "mosquitto: starting with $MOSQ_CONF"
  mosquitto -d -c "$MOSQ_CONF" 9>&- || die "mosquitto -c $MOSQ_CONF failed to start (see $MOSQ_LOG)"
  wait_until 15 mqtt_answers \
    || { tail -n 5 "$MOSQ_LOG" >&2 || true; die "mosquitto did not answer on $MQTT_HOST:$MQTT_PORT (see $MOSQ_LOG)"; }
}

acl_lines() { # "type allow|deny topic" for each ACL of a role
  dynsec getRole "$1" | awk -F' : ' '/ : (allow|deny) : / {
    t = $1; sub(/^(ACLs:)?[ \t]*/, "", t); sub(/[ \t]+$/, "", t)
    topic = $3; sub(/ \(priority: -?[0-9]+\)$/, "", topic)
    print t, $2, topic }'
}

dynsec_expect() { # output-of-command: empty reply = success; "already exists" is fine too
  [[ -z $1 || $1 == *"already exists"* ]] || die "mosquitto_ctrl dynsec: $1"
}

mosq_platform_role() {
  local role=$MQTT_PLATFORM_ROLE have_acls acl type topic
  dynsec_expect "$(dynsec createRole "$role")"
  have_acls=$(acl_lines "$role")
  # $share/+/dust/# : a shared subscription's filter is checked as written, prefix included.
  for acl in "subscribePattern dust/#" "publishClientSend dust/#" "publishClientReceive dust/#" \
             "subscribePattern \$share/+/dust/#"; do
    type=${acl%% *} topic=${acl#* }
    grep -Fxq "$type allow $topic" <<<"$have_acls" && continue
    if grep -Fxq "$type deny $topic" <<<"$have_acls"; then
      dynsec_expect "$(dynsec removeRoleACL "$role" "$type" "$topic")"
    fi
    dynsec_expect "$(dynsec addRoleACL "$role" "$type" "$topic" allow)"
    log "mosquitto: role $role: $type $topic allow"
  done
  if ! dynsec getClient "$MQTT_ADMIN" | grep -Eq "^(Roles:)?[[:space:]]*$role \(priority"; then
    dynsec_expect "$(dynsec addClientRole "$MQTT_ADMIN" "$role")"
    log "mosquitto: client $MQTT_ADMIN: role $role"
  fi
  have_acls=$(acl_lines "$role")
  for acl in "subscribePattern dust/#" "publishClientSend dust/#" "subscribePattern \$share/+/dust/#"; do
    grep -Fxq "${acl%% *} allow ${acl#* }" <<<"$have_acls" || die "role $role lacks ACL $acl"
  done
}

mosq_up() {
  mqtt_creds
  if ((!IS_ROOT)); then
    if ! have mosquitto_sub || ! have mosquitto_ctrl; then
      need_root "install Mosquitto:   sudo apt-get install -y mosquitto mosquitto-clients"; return 0
    fi
    mqtt_check
    [[ $MQTT_STATE == good ]] || need_root "configure Mosquitto (state: $MQTT_STATE): sudo DUSTTWIN_STATE_DIR=$STATE_DIR bash $SCRIPT_DIR/services.sh up"
    return 0
  fi
  { have mosquitto && have mosquitto_ctrl && have mosquitto_sub && have mosquitto_pub; } \
    || apt_install mosquitto mosquitto-clients || die "could not install Mosquitto"
  mosq_write_conf
  mosq_dynsec_init
  mosq_dirs
  mqtt_check
  if [[ $MQTT_STATE == good && $MOSQ_CONF_CHANGED == 0 ]]; then
    log "mosquitto: reusing broker on $MQTT_HOST:$MQTT_PORT (anonymous refused, $MQTT_ADMIN accepted)"
  else
    case $MQTT_STATE in
      good) log "mosquitto: $MOSQ_CONF changed; restarting the broker" ;;
      down) ;;
      *) log "mosquitto: broker on $MQTT_PORT is not the platform's (state: $MQTT_STATE); replacing it" ;;
    esac
    mosq_start
    mqtt_check
    if [[ $MQTT_STATE == admin-refused ]]; then
      local bak
      bak="$MOSQ_DYNSEC.$(date +%Y%m%d-%H%M%S).bak"
      mv "$MOSQ_DYNSEC" "$bak"
      warn "************************************************************************"
      warn "$MOSQ_DYNSEC does not accept the stored $MQTT_ADMIN password"
      warn "(state dir $STATE_DIR was lost or replaced). Re-initialised it; the old"
      warn "file is $bak. ALL GATEWAY CREDENTIALS CREATED AT RUN TIME WERE RESET."
      warn "************************************************************************"
      mosq_dynsec_init
      mosq_start
      mqtt_check
    fi
    [[ $MQTT_STATE == good ]] || die "mosquitto on $MQTT_HOST:$MQTT_PORT is not usable (state: $MQTT_STATE; see $MOSQ_LOG)"
  fi
  mosq_platform_role
}

# ---------------------------------------------------------------- status

STATUS_FAIL=0
pg_status() {
  local tsdb ver='' pre='' login=ok
  pg_detect
  if ! pg_ready; then
    if [[ -n $PG_VER ]]; then log "postgresql: DOWN ($PG_HOST:$PG_PORT, cluster $PG_VER/$PG_CLUSTER)"
    else log "postgresql: DOWN ($PG_HOST:$PG_PORT, not installed)"; fi
    STATUS_FAIL=1; return 0
  fi
  if [[ -z $PG_PASS ]] || ! psql_app -c 'SELECT 1' >/dev/null 2>&1; then login=FAILED; STATUS_FAIL=1; fi
  # shared_preload_libraries is superuser-only; without root, the loader's GUCs show it is loaded.
  local q="SELECT coalesce((SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'), '-'),
           CASE WHEN EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.bgw_launcher_poll_time')
                THEN 'timescaledb' ELSE '-' END"
  local row=''
  if ((IS_ROOT)); then
    row=$(psql_admin postgres -F '|' -c "SELECT coalesce((SELECT default_version FROM pg_available_extensions
             WHERE name = 'timescaledb'), '-'), current_setting('shared_preload_libraries')" 2>/dev/null || true)
  elif [[ $login == ok ]]; then
    row=$(psql_app -F '|' -c "$q" 2>/dev/null || true)
  fi
  if [[ -z $row ]]; then
    tsdb='timescaledb unknown'
  else
    ver=${row%%|*} pre=${row#*|}
    if [[ $ver != - ]]; then tsdb="timescaledb $ver available"; else tsdb='timescaledb not available'; ver=''; fi
    if [[ ,${pre// /}, == *,timescaledb,* ]]; then tsdb+=', preloaded'; pre=1; else tsdb+=', not preloaded'; pre=0; fi
    if [[ $TIMESCALEDB != off && -n $ver && $pre == 0 ]]; then tsdb+=' (MISCONFIGURED)'; STATUS_FAIL=1; fi
    if [[ -z $ver && $TIMESCALEDB != off ]]; then tsdb+=' (plain-PostgreSQL mode)'; fi
  fi
  log "postgresql: up $PG_HOST:$PG_PORT${PG_VER:+ (cluster $PG_VER/$PG_CLUSTER)}, role $PG_ROLE login $login, $tsdb"
}

redis_status() {
  if redis_ready; then log "redis: up $REDIS_HOST:$REDIS_PORT"
  else log "redis: DOWN ($REDIS_HOST:$REDIS_PORT${REDIS_MISSING:-})"; STATUS_FAIL=1; fi
}

mosq_status() {
  if ! have mosquitto_sub; then log "mosquitto: DOWN (mosquitto-clients not installed)"; STATUS_FAIL=1; return 0; fi
  mqtt_creds
  local anon admin='not checked (no password)' dyn=''
  anon=$(mqtt_probe "$NOAUTH_XDG")
  if [[ $anon == down ]]; then log "mosquitto: DOWN ($MQTT_HOST:$MQTT_PORT)"; STATUS_FAIL=1; return 0; fi
  if [[ -n $MQTT_PASS ]]; then
    admin=$(mqtt_probe "$ADMIN_XDG")
    if [[ $admin == ok ]]; then
      admin=accepted
      if dynsec_ok; then dyn=', auth by dynamic-security plugin'; else dyn=', dynamic-security plugin NOT answering'; STATUS_FAIL=1; fi
    else admin=REFUSED; STATUS_FAIL=1; fi
  else STATUS_FAIL=1; fi
  if [[ $anon == refused ]]; then anon='anonymous refused'; else anon='anonymous ALLOWED'; STATUS_FAIL=1; fi
  log "mosquitto: up $MQTT_HOST:$MQTT_PORT, $anon, $MQTT_ADMIN $admin$dyn"
}

cmd_status() {
  load_secrets
  REDIS_MISSING=''
  have redis-cli || REDIS_MISSING=', redis-tools not installed'
  pg_status
  redis_status
  mosq_status
  return "$STATUS_FAIL"
}

# ---------------------------------------------------------------- up / down

# fd 9 holds the lock: every command that may leave a daemon behind (pg_ctlcluster,
# mosquitto -d, redis-server, apt-get's maintainer scripts) runs with 9>&-, or
# that daemon would hold the lock for ever.
lock() {
  mkdir -p "$STATE_DIR"; chmod 0700 "$STATE_DIR"
  (umask 077; : >>"$STATE_DIR/services.lock") || die "cannot create $STATE_DIR/services.lock"
  state_owned "$STATE_DIR/services.lock"
  exec 9>"$STATE_DIR/services.lock"
  flock -n 9 || die "another services.sh up/down is running (lock $STATE_DIR/services.lock)"
}

# Tools the tests use: ffmpeg serves a real HLS test pattern on loopback (camera probing,
# playback); Debian's Chromium and ChromeDriver run the browser tests of the Dash pages headless,
# with a CJK font so that the pages' Chinese renders in their screenshots.
TOOL_PACKAGES=(ffmpeg chromium chromium-driver fonts-noto-cjk)
tools_up() {
  if have ffmpeg && have chromium && fc-list :lang=zh 2>/dev/null | grep -q .; then
    return 0
  fi
  if [[ $(id -u) == 0 ]]; then
    apt_install "${TOOL_PACKAGES[@]}" || die "could not install ${TOOL_PACKAGES[*]}"
  else
    need_root "install test tools: sudo apt-get install -y --no-install-recommends ${TOOL_PACKAGES[*]}"
  fi
}

cmd_up() {
  lock
  ensure_state
  PG_PASS=$(secret pg.password)
  MQTT_PASS=$(secret mqtt-admin.password)
  write_env
  pg_up
  redis_up
  mosq_up
  tools_up
  if ((${#NEED_ROOT[@]})); then
    printf '[services] ERROR: not root; these need an administrator:\n' >&2
    printf '[services]   %s\n' "${NEED_ROOT[@]}" >&2
    exit 1
  fi
  log "---- summary"
  cmd_status || die "services are up but status reports a problem (see above)"
}

cmd_down() {
  local rc=0 p='' pids
  lock
  # Mosquitto: only the broker started from the platform's config.
  pids=$(our_broker_pids)
  for p in $pids; do
    if ((IS_ROOT)) || [[ -O /proc/$p ]]; then stop_pid "$p" "mosquitto ($MOSQ_CONF)"
    else log "stop mosquitto: sudo kill $p"; rc=1; fi
  done
  [[ -n $pids ]] || log "mosquitto: not running from $MOSQ_CONF"
  # Redis
  if redis_ready; then
    if systemd_running && systemctl is-active --quiet redis-server.service 2>/dev/null; then
      if ((IS_ROOT)); then log "stopping redis-server.service"; systemctl stop redis-server.service
      else log "stop Redis: sudo systemctl stop redis-server"; rc=1; fi
    elif ((!IS_ROOT)) && [[ -z $(port_pids "$REDIS_PORT") ]]; then
      # ss shows the pid only for our own processes: this Redis belongs to someone else.
      log "stop Redis: sudo redis-cli -h $REDIS_HOST -p $REDIS_PORT shutdown nosave"; rc=1
    else
      log "stopping redis on $REDIS_HOST:$REDIS_PORT"
      redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
      wait_until 10 redis_gone || { warn "redis still answering"; rc=1; }
    fi
  else
    log "redis: not running"
  fi
  # PostgreSQL
  pg_detect
  if [[ -n $PG_VER ]] && pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VER" -v c="$PG_CLUSTER" '$1 == v && $2 == c && $4 ~ /^online/ { f = 1 } END { exit !f }'; then
    if ((IS_ROOT)); then
      log "stopping postgresql $PG_VER/$PG_CLUSTER"
      pgctl stop || { warn "pg_ctlcluster $PG_VER $PG_CLUSTER stop failed"; rc=1; }
    else
      log "stop PostgreSQL: sudo pg_ctlcluster $PG_VER $PG_CLUSTER stop"; rc=1
    fi
  else
    log "postgresql: not running"
  fi
  return "$rc"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) printf 'usage: %s up|down|status\n' "$0" >&2; exit 2 ;;
esac
