#!/bin/sh
# Runs the OpenResty example (nginx.conf + sinch_handlers.lua beside this
# script) on 127.0.0.1, on a free port, with a prefix of its own (pid file,
# logs, temp files, ledger) in a new temporary directory.  Prints
#   url http://127.0.0.1:<port>
#   prefix <dir>
# once nginx listens, then stays in the foreground until interrupted
# (Ctrl-C, or SIGTERM to this script), and stops nginx on the way out
# (removing the prefix it made).
#
# From the root of a checkout, after `cmake --build build`, against the sandbox:
#   build/sinch-batch-mock --port 8090 &
#   SINCH_BATCH_BASE_URL=http://127.0.0.1:8090 SINCH_PROJECT_ID=demo-project \
#   SINCH_KEY_ID=demo-key SINCH_KEY_SECRET=demo-secret SINCH_WEBHOOK_SECRET=demo-webhook \
#       examples/openresty/run.sh
#   curl -X POST <url>/send -d '{"to":["+46700000001"],"text":"Hi ${name}","name":"Ann"}'
# (never with `curl --retry`: a send that failed with may_have_been_processed
# may have created the batch; resending could create it twice).
# Against Sinch: SINCH_PROJECT_ID, SINCH_APP_ID, SINCH_REGION, SINCH_KEY_ID,
# SINCH_KEY_SECRET, SINCH_WEBHOOK_SECRET, and no SINCH_BATCH_BASE_URL.
#
# Also read: SINCH_BATCH_PORT (a fixed port instead of a free one, e.g. one
# the sandbox's --webhook already names), SINCH_BATCH_PREFIX (an existing
# directory instead of a new one), SINCH_BATCH_BUILD (the build directory,
# default <checkout>/build), SINCH_BATCH_NGINX (default nginx; or openresty),
# SINCH_BATCH_CSV (default contacts.csv here), SINCH_BATCH_LEDGER (default
# <prefix>/ledger/example.ledger), SINCH_BATCH_WORKERS (nginx's
# worker_processes, default 2; with the SQLite store, 1 worker makes larger
# group commits than 2 taking turns on the file: see docs/benchmarks.md),
# SINCH_BATCH_NONCES (the size of lua_shared_dict sinch_nonces, default 10m:
# the callbacks' nonces of the replay window, about 128 bytes each).
#
# As root, nginx runs its workers as `nobody`, who may not be able to enter
# this checkout (a clone under /root, or in a `mktemp -d` directory, is 0700).
# So, started as root, this script copies what the workers read (lua/, the
# handlers beside this script, the LuaJIT modules from the build directory and
# SINCH_BATCH_CSV) into <prefix>/app, readable by all, and points nginx.conf
# there; the workers never read the checkout and still run unprivileged.  They
# append to the ledger, the receipts store and the callbacks log, so
# <prefix>/ledger and <prefix>/logs/callbacks.log are handed to nobody (a
# SINCH_BATCH_LEDGER, SINCH_BATCH_RECEIPTS or SINCH_BATCH_CALLBACK_LOG elsewhere
# needs the same).  Edits to the handlers then take effect at the next run.sh.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${SINCH_BATCH_BUILD:-$repo/build}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
workers=${SINCH_BATCH_WORKERS:-2}
case "$workers" in
  [1-9] | [1-9][0-9]) ;;
  *) echo "run.sh: SINCH_BATCH_WORKERS: expected a number of workers from 1 to 99, got '$workers'" >&2; exit 2 ;;
esac
nonces=${SINCH_BATCH_NONCES:-10m}
if ! printf '%s' "$nonces" | grep -Eq '^[1-9][0-9]{0,8}[kKmM]?$'; then
  echo "run.sh: SINCH_BATCH_NONCES: expected a size such as 64k or 10m, got '$nonces'" >&2; exit 2
fi
nginx=${SINCH_BATCH_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}  # /usr/sbin: not on a user's PATH
if [ ! -e "$build/luajit/sinch/batch/core.so" ]; then
  echo "run.sh: no LuaJIT build of sinch.batch in $build; build it first:" >&2
  echo "  cmake -S $repo -B $build && cmake --build $build" >&2
  exit 1
fi
made=
if [ -n "${SINCH_BATCH_PREFIX:-}" ]; then
  prefix=$SINCH_BATCH_PREFIX
else
  prefix=$(mktemp -d "${TMPDIR:-/tmp}/sinch-batch-openresty.XXXXXX")
  made=1
fi
mkdir -p "$prefix/logs" "$prefix/tmp" "$prefix/ledger"
chmod 755 "$prefix"
: >> "$prefix/logs/callbacks.log" # the workers' callbacks log (SINCH_BATCH_CALLBACK_LOG)
export SINCH_BATCH_CSV="${SINCH_BATCH_CSV:-$here/contacts.csv}"
export SINCH_BATCH_LEDGER="${SINCH_BATCH_LEDGER:-$prefix/ledger/example.ledger}"
# where nginx.conf points the workers: this checkout, or (as root) a copy
lua_root=$repo handlers=$here cmods=$build
if [ "$(id -u)" = 0 ]; then
  app=$prefix/app
  rm -rf "$app"
  mkdir -p "$app/handlers"
  cp -R "$repo/lua" "$app/lua"
  cp "$here"/*.lua "$app/handlers/"
  cp -R "$build/luajit" "$app/luajit"
  if [ -f "$SINCH_BATCH_CSV" ]; then
    cp "$SINCH_BATCH_CSV" "$app/contacts.csv"
    SINCH_BATCH_CSV=$app/contacts.csv
  fi
  chmod -R a+rX "$app"
  lua_root=$app handlers=$app/handlers cmods=$app
  chown nobody "$prefix/ledger" "$prefix/logs/callbacks.log"
fi

# nginx.conf with this checkout's paths and the port filled in; the
# load_module lines only where Debian's module files are (not OpenResty)
write_conf() {
  sed -e "s|@REPO@|$lua_root|g" -e "s|@HERE@|$handlers|g" -e "s|@BUILD@|$cmods|g" -e "s|@PORT@|$1|g" \
    -e "s|^worker_processes 2;|worker_processes $workers;|" \
    -e "s|^\( *lua_shared_dict sinch_nonces\) 10m;|\1 $nonces;|" "$here/nginx.conf" > "$prefix/nginx.conf.new"
  if [ ! -e /usr/lib/nginx/modules/ngx_http_lua_module.so ]; then
    sed -i -e '/^load_module /d' "$prefix/nginx.conf.new"
  fi
  mv "$prefix/nginx.conf.new" "$prefix/nginx.conf"
}

random_port() { # 20000..32767: below the kernel's ephemeral ports (32768 and up)
  echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12768 + 20000 ))
}

pid=
stop() {
  if [ -n "$pid" ]; then
    kill -QUIT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ -n "$made" ]; then rm -rf "$prefix"; fi # the prefix this script made
  exit 0
}
trap stop INT TERM

# Starts nginx on port $1; 0 once it listens, 1 when the port was taken.
start() {
  write_conf "$1"
  rm -f "$prefix/logs/nginx.pid"
  : > "$prefix/logs/error.log"
  "$nginx" -p "$prefix/" -c nginx.conf -e logs/error.log &
  pid=$!
  while :; do
    # the master writes its pid file once its sockets listen
    if [ -s "$prefix/logs/nginx.pid" ]; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      pid=
      if grep -q "Address already in use" "$prefix/logs/error.log"; then return 1; fi
      echo "nginx did not start; $prefix/logs/error.log:" >&2
      cat "$prefix/logs/error.log" >&2
      exit 1
    fi
    sleep 0.05
  done
}

if [ -n "${SINCH_BATCH_PORT:-}" ]; then
  if ! start "$SINCH_BATCH_PORT"; then
    echo "port $SINCH_BATCH_PORT is taken" >&2
    exit 1
  fi
else
  tries=0
  until start "$(random_port)"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 20 ]; then echo "no free port found" >&2; exit 1; fi
  done
fi
port=$(sed -n 's/.*listen 127\.0\.0\.1:\([0-9]*\);.*/\1/p' "$prefix/nginx.conf")
echo "url http://127.0.0.1:$port"
echo "prefix $prefix"
wait "$pid" || true
stop
