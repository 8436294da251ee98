# Shared by bench/serve/run and bench/sidecar/run (sourced): starting and
# stopping servers, health checks, and waiting for an idle machine.
# Expects: $llama (llama-server), $model (the GGUF), $sovereign, $root (an
# appliance root), $threads. Every server started is in server_pids.

server_pids=()
stop_servers() {
  local pid
  for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pids=()
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
healthy() { python3 - "$1" <<'PY'
import http.client, sys
try:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=2)
    c.request("GET", "/health"); sys.exit(0 if c.getresponse().status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

# Waits until the server on port $1 (pid $2) answers /health; $3 names it, $4 is its log.
wait_healthy() {
  for _ in $(seq 600); do
    healthy "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: $3 did not become healthy:" >&2; cat "$4" >&2; exit 1
}

# llama-server with C slots; sets port and appends its pid.
start_llama() {  # C log
  port=$(free_port)
  # --no-repack: without it this build (GGML_NATIVE on a CPU that lists
  # AMX) puts Q4_1 weights in ggml's AMX buffers, and AMX tile
  # instructions die with SIGILL in VMs that do not enable AMX state.
  "$llama" -m "$model" --host 127.0.0.1 --port "$port" -t "$threads" -np "$1" -c $((2048 * $1)) \
    --temp 0 --no-webui --no-repack >"$2" 2>&1 &
  server_pids+=($!)
  wait_healthy "$port" "$!" "llama-server (C=$1)" "$2"
}

# sovereign serve with C slots and the given flags; sets port and appends its pid.
start_sovereign() {  # C log flags...
  local c=$1 log=$2
  shift 2
  "$sovereign" serve --root "$root" --listen 127.0.0.1:0 --threads "$threads" --parallel "$c" "$@" >"$log" 2>&1 &
  local pid=$!
  server_pids+=($pid)
  port=
  for _ in $(seq 300); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { echo "bench: sovereign serve did not print its address:" >&2; cat "$log" >&2; exit 1; }
  wait_healthy "$port" "$pid" "sovereign serve $* (C=$c)" "$log"
}

# On a 2-core machine any other work skews the comparison: before each run,
# wait (up to QUIET_WAIT seconds, default 180) until the machine is idle
# (under 15% busy over a second); each run also records other CPU use.
wait_quiet() {
  python3 - "${QUIET_WAIT:-180}" <<'PY'
import sys, time
def busy():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f[:8]) - f[3] - f[4], sum(f[:8])
deadline = time.time() + float(sys.argv[1]); waited = False
while True:
    b0, t0 = busy(); time.sleep(1); b1, t1 = busy()
    share = (b1 - b0) / max(1, t1 - t0)
    if share < 0.15: break
    if time.time() > deadline:
        print(f"bench: the machine is still {share:.0%} busy with other work; measuring anyway", file=sys.stderr); break
    if not waited: print(f"bench: the machine is {share:.0%} busy with other work; waiting", file=sys.stderr); waited = True
PY
}
