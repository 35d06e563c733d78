# Shared by the package tests (sourced, bash): use an installed sinch-batch
# from OUTSIDE the checkout.  Needs $work (a temporary directory, removed by
# the caller's trap, which also calls stop_mock).

# start_mock BIN: starts the sandbox on a free 127.0.0.1 port; sets mock_url
start_mock() {
  mkfifo "$work/mock.out"
  "$1" --port 0 --lifetime 300 --quiet >"$work/mock.out" &
  mock_pid=$!
  exec 3<"$work/mock.out"
  local line
  IFS= read -r line <&3 || { echo "the sandbox printed nothing" >&2; return 1; }
  cat <&3 >/dev/null &
  case ${line#port=} in
    ''|*[!0-9]*) echo "unexpected first line from the sandbox: $line" >&2; return 1 ;;
  esac
  mock_url=http://127.0.0.1:${line#port=}
}

stop_mock() {
  if [ -n "${mock_pid:-}" ]; then
    kill "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
    mock_pid=
  fi
}

# run_outside INTERP LMOD CMOD SCRIPT: runs the Lua SCRIPT under INTERP from
# $work/outside, with only LMOD/CMOD (and the system's default paths) on the
# module paths; the script starts with lmod, cmod and where(name, path) (the
# file a module would be loaded from), and reads $mock_url as SB_MOCK.
run_outside() {
  local interp=$1 lmod=$2 cmod=$3
  mkdir -p "$work/outside"
  (cd "$work/outside" && env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_3 -u LUA_CPATH_5_3 \
     -u LUA_PATH_5_2 -u LUA_CPATH_5_2 -u SINCH_BATCH_BUILD \
     LUA_PATH="$lmod/?.lua;$lmod/?/init.lua;;" LUA_CPATH="$cmod/?.so;;" \
     SB_LMOD="$lmod" SB_CMOD="$cmod" SB_MOCK="${mock_url:-}" "$interp" -e "$LUA_PRELUDE
$4")
}
LUA_PRELUDE='
    local lmod, cmod = os.getenv("SB_LMOD"), os.getenv("SB_CMOD")
    local function where(name, path)
      for t in path:gmatch("[^;]+") do
        local f = t:gsub("%?", (name:gsub("%.", "/")))
        local h = io.open(f)
        if h then h:close(); return f end
      end
    end
'

# check_require INTERP LMOD CMOD: with only LMOD/CMOD (and the system's
# default paths, for lua-cjson) on the module paths, every sinch.batch module
# loads from there, and the client sends a batch to the sandbox at $mock_url
# (start_mock first), whose failure shows through a plain assert.
check_require() {
  : "${mock_url:?start_mock first}"
  run_outside "$1" "$2" "$3" '
    local batch = require "sinch.batch"
    local f = assert(where("sinch.batch", package.path))
    assert(f:sub(1, #lmod) == lmod, "sinch.batch from " .. f)
    -- every C module installed loads, from the prefix
    local n = 0
    local p = assert(io.popen("cd " .. cmod .. " && find sinch -name \"*.so\""))
    for so in p:lines() do
      local name = so:gsub("%.so$", ""):gsub("/", ".")
      local at = assert(where(name, package.cpath))
      assert(at:sub(1, #cmod) == cmod, name .. " from " .. at)
      assert(require(name))
      n = n + 1
    end
    p:close()
    assert(n > 0, "no C module under " .. cmod)
    assert(batch.core._VERSION == batch._VERSION)
    local c = assert(batch.client{ project_id = "p", region = "eu", token = "t" })
    assert(tostring(c) == "sinch.batch.Client (eu, project p)")
    assert(batch.message.text("x").text_message.text == "x")
    -- a batch through the sandbox (the libcurl driver), then an error through assert
    local mock = os.getenv("SB_MOCK")
    c = assert(batch.client{ project_id = "demo-project", app_id = "01DEMOAPP00000000000000000",
      region = "eu", base_url = mock, auth_url = mock, key_id = "demo-key", key_secret = "demo-secret" })
    local res = assert(c:send{ message = batch.message.text("Hi ${name}"),
      recipients = { { recipient = batch.recipient.sms("+46700000001"), parameters = { name = "Ann" } } } })
    assert(#res.batch_id == 26, "batch_id " .. tostring(res.batch_id))
    local ok, raised = pcall(function() assert(c:send{ message = batch.message.text("x"), recipients = {} }) end)
    assert(not ok and tostring(raised):find("sinch.batch: invalid request: ", 1, true),
      "assert(client:send{...}) raised " .. tostring(raised))
    c:close()
    print(_VERSION .. (rawget(_G, "jit") and " (LuaJIT)" or "") .. ": require \"sinch.batch\" " ..
      batch._VERSION .. " from " .. lmod .. ", " .. n .. " C module(s) from " .. cmod ..
      "; sent batch " .. res.batch_id .. " to the sandbox")'
}

# check_pq INTERP LMOD CMOD: the PostgreSQL receipts store loads from LMOD/CMOD
# (sinch.batch.store.postgres and its libpq module sinch.batch.pq), and a
# URL libpq refuses (no server needed) gives a clear error without the password.
check_pq() {
  run_outside "$1" "$2" "$3" '
    local pq = require "sinch.batch.pq"
    local so, lua = where("sinch.batch.pq", package.cpath), where("sinch.batch.store.postgres", package.path)
    assert(so == cmod .. "/sinch/batch/pq.so", "sinch.batch.pq from " .. tostring(so))
    assert(lua == lmod .. "/sinch/batch/store/postgres.lua", "sinch.batch.store.postgres from " .. tostring(lua))
    assert(type(pq.open) == "function" and pq.libpq_version:match("^%d+%.%d+$"), "sinch.batch.pq")
    local store = require "sinch.batch.store"
    local s, err = store.open("postgresql://sinch:hunter2@127.0.0.1:notaport/receipts")
    assert(s == nil and err, "a bad URL opened a store")
    local msg = tostring(err.message)
    assert(msg:find("outcomes: open postgresql://sinch:***@127.0.0.1:notaport/receipts: " ..
      "postgresql: connect: ", 1, true) and msg:find("notaport", 1, true), "the error: " .. msg)
    assert(not msg:find("hunter2", 1, true), "the password is in the error: " .. msg)
    assert(package.loaded["sinch.batch.store.postgres"], "sinch.batch.store.postgres was not loaded")
    print(_VERSION .. (rawget(_G, "jit") and " (LuaJIT)" or "") .. ": the PostgreSQL store (libpq " ..
      pq.libpq_version .. ") from " .. cmod .. "; a bad URL: " .. msg)'
}

# check_cli BIN_DIR [INTERP]: `sinch-batch` on the PATH (from BIN_DIR, no module path
# set) sends a batch to the sandbox at $mock_url and reads its status back
# from the sandbox; with
# INTERP, run under that interpreter (SINCH_BATCH_LUA).
check_cli() {
  local bin=$1 out id
  mkdir -p "$work/outside"
  cd "$work/outside"
  [ "$(PATH="$bin:$PATH" command -v sinch-batch)" = "$bin/sinch-batch" ] \
    || { echo "sinch-batch on the PATH is not $bin/sinch-batch" >&2; return 1; }
  local run=(env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u SINCH_BATCH_BUILD
             ${2:+SINCH_BATCH_LUA=$2}
             PATH="$bin:$PATH" SINCH_PROJECT_ID=demo-project SINCH_APP_ID=01DEMOAPP00000000000000000
             SINCH_KEY_ID=demo-key SINCH_KEY_SECRET=demo-secret
             SINCH_BATCH_BASE_URL="$mock_url" SINCH_BATCH_AUTH_URL="$mock_url")
  out=$("${run[@]}" sinch-batch send --text 'Hi ${name}' --to +46700000001 --param name=Ann \
          --tag campaign=installed)
  id=$(printf '%s' "$out" | sed -n 's/.*"batch_id":"\([0-9A-Z]*\)".*/\1/p')
  [ ${#id} -eq 26 ] || { echo "sinch-batch send printed: $out" >&2; return 1; }
  out=$("${run[@]}" sinch-batch status "$id")
  case $out in *"\"batch_id\":\"$id\""*) ;; *) echo "sinch-batch status printed: $out" >&2; return 1 ;; esac
  echo "sinch-batch on the PATH ($bin${2:+, under $2}) sent batch $id"
  cd - >/dev/null
}

# copy_tree DEST: the checkout's files (tracked and new, not ignored, no build/)
copy_tree() {
  if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z -co --exclude-standard \
       | xargs -0 tar --ignore-failed-read -cf - 2>/dev/null) | (cd "$1" && tar -xf -)
  else
    (cd "$src" && tar --exclude='./build*' --exclude='./lua_modules/*' -cf - .) | (cd "$1" && tar -xf -)
  fi
}

# check_cli_symlinks BIN_DIR INTERP...: the CLI of BIN_DIR through a symlink
# in another directory (sinch-batch must find its modules from its real
# place): by default under the best interpreter (LuaJIT, else Lua 5.4: a
# `luajit` on the PATH that records its runs shows it was chosen), then under
# each INTERP in turn (SINCH_BATCH_LUA), sending a batch each time.
check_cli_symlinks() {
  local bin=$1 links=$work/links interp v
  shift
  mkdir -p "$links" "$work/spy"
  ln -sf "$bin/sinch-batch" "$links/sinch-batch"
  if real=$(command -v luajit); then
    printf '#!/bin/sh\necho run >>"%s"\nexec %s "$@"\n' "$work/spy/luajit.log" "$real" >"$work/spy/luajit"
    chmod +x "$work/spy/luajit"
    v=$(PATH="$work/spy:$PATH" "$links/sinch-batch" --version)
    case $v in *LuaJIT*) ;; *) echo "through a symlink, sinch-batch --version says: $v" >&2; return 1 ;; esac
    [ -s "$work/spy/luajit.log" ] || { echo "luajit was not run" >&2; return 1; }
  fi
  for interp in "$@"; do
    command -v "$interp" >/dev/null || { echo "$interp: not installed" >&2; return 1; }
    v=$(SINCH_BATCH_LUA=$interp "$links/sinch-batch" --version)
    case $interp:$v in
      luajit:*LuaJIT*|lua5.[1-4]:*"Lua ${interp#lua}"*) ;;
      *) echo "SINCH_BATCH_LUA=$interp sinch-batch --version says: $v" >&2; return 1 ;;
    esac
    check_cli "$links" "$interp"
  done
}
