#!/usr/bin/env bash
# netns-cluster.sh: a real multi-node Ray cluster on one Linux machine, for tests and rehearsals.
#
# Every "host" is a network namespace with its own address on one private bridge:
#
#   vzr-br0 (bridge, host side)  10.231.77.1/24
#   vzr-head                     10.231.77.10   Ray head (GCS on :6379)
#   vzr-w1 .. vzr-wN             10.231.77.11 .. 10.231.77.(10+N)   Ray workers
#   vzr-target                   10.231.77.100  no Ray; run the system under test here
#
# The whole cluster lives in 10.231.77.0/24, a range reserved for these tests. Nothing here
# touches the host's other interfaces, routes, sysctls or firewall: the namespaces talk to
# each other over the bridge only (no NAT, no ip_forward). The bridge's own address only adds
# the connected route 10.231.77.0/24 on the host, so host tools can reach the namespaces
# (e.g. curl the target); Ray drivers still run *inside* a namespace (`exec vzr-head ...`),
# because a Ray driver needs a raylet on its own node and the host has none.
#
# Usage (as root):
#   netns-cluster.sh up N          bridge + head + N workers + target, Ray started and checked
#   netns-cluster.sh down          stop everything, delete namespaces/veths/bridge/state dir
#   netns-cluster.sh status        Ray's view (ray status) + every node's address and state
#   netns-cluster.sh exec NODE CMD...  run CMD inside NODE with the cluster env set
#                                  (RAY_AUTH_MODE, RAY_AUTH_TOKEN, RAY_ADDRESS, RAY_TMPDIR)
#   netns-cluster.sh env           print the cluster env as shell `export` lines
#   netns-cluster.sh nodes         one line per node Ray knows: IP STATE NODE_ID HEAD?
#   netns-cluster.sh kill-node N   SIGKILL every process in vzr-wN (node death)
#   netns-cluster.sh cut-node N    set vzr-wN's bridge-side veth down (network partition)
#   netns-cluster.sh heal-node N   set it up again
#   netns-cluster.sh rss           memory (PSS, MiB) and process count of every namespace
# NODE is one of head, target, wK, or the namespace name (vzr-head, vzr-target, vzr-wK).
#
# Environment:
#   VZR_CPUS_PER_NODE   --num-cpus for every Ray node (default 1)
#   VZR_STATE_DIR       token, env file, RAY_TMPDIR with Ray's logs (default /tmp/vzr-cluster)
#   VZR_OBJECT_STORE_BYTES  --object-store-memory per node (default 268435456 = 256 MiB)
#   VZR_NODE_TIMEOUT    seconds to wait for each node to show up alive (default 180)
#   VZR_SYSTEM_CONFIG   JSON for the head's --system-config (default: tuned health checks)
#   VZR_DASHBOARD       1: start the head's dashboard on $HEAD_IP:8265 (the Ray Jobs API, for
#                       `veza-ray submit`); default 0 (it costs ~0.2 GB RSS and a few seconds)
#   VZR_RAY, VZR_PYTHON the `ray` CLI and the python that has ray (default: from PATH)
#
# Exit codes: 0 ok, 1 failure, 2 usage, 3 `up` refused because a vzr cluster (or leftovers)
# already exists: nothing was changed, and a caller must not `down` someone else's cluster.
#
# Note: `ray stop` is never used. It finds Ray processes host-wide by name (psutil), so inside
# a namespace it would also kill every other Ray cluster on the machine. `down` and `kill-node`
# act only on the processes of our namespaces (`ip netns pids`).
set -euo pipefail

readonly SUBNET=10.231.77          # fixed: the /24 reserved for these tests
readonly BRIDGE=vzr-br0
readonly BRIDGE_ADDR=$SUBNET.1
readonly HEAD_NS=vzr-head
readonly TARGET_NS=vzr-target
readonly HEAD_IP=$SUBNET.10
readonly TARGET_IP=$SUBNET.100
readonly GCS_PORT=6379
readonly DASHBOARD_PORT=8265
readonly MAX_WORKERS=32            # .11 .. .42; far below .100 (the target)
# The GCS marks a node DEAD after failure_threshold failed health checks in a row, one every
# period_ms, each failing after timeout_ms at most: a killed node (connection refused) after
# ~threshold * period = ~3 s, a cut-off one (silence) after ~threshold * (period + timeout) =
# ~6 s. Ray 2.60's defaults (period 3000, timeout 10000, threshold 5) give ~15 s and ~65 s.
readonly DEFAULT_SYSTEM_CONFIG='{"health_check_initial_delay_ms":2000,"health_check_period_ms":1000,"health_check_timeout_ms":1000,"health_check_failure_threshold":3}'

STATE_DIR=${VZR_STATE_DIR:-/tmp/vzr-cluster}
CPUS=${VZR_CPUS_PER_NODE:-1}
OBJECT_STORE_BYTES=${VZR_OBJECT_STORE_BYTES:-268435456}
NODE_TIMEOUT=${VZR_NODE_TIMEOUT:-180}
DASHBOARD=${VZR_DASHBOARD:-0}
SYSTEM_CONFIG=${VZR_SYSTEM_CONFIG:-$DEFAULT_SYSTEM_CONFIG}
RAY_BIN=${VZR_RAY:-}
PY_BIN=${VZR_PYTHON:-}
readonly MARKER=.vzr-cluster-state  # `down` only removes a state dir that carries this file

log() { printf '[vzr] %s\n' "$*" >&2; }
die() { printf '[vzr] error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2; }

require_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (ip netns needs CAP_SYS_ADMIN)"; }

resolve_tools() {
    if [[ -z $RAY_BIN ]]; then RAY_BIN=$(command -v ray || true); fi
    [[ -n $RAY_BIN ]] || die "ray not found on PATH (set VZR_RAY)"
    if [[ -z $PY_BIN ]]; then
        # the python next to the ray CLI when there is one (a venv), else python3 on PATH
        local cand
        cand=$(dirname "$RAY_BIN")/python3
        if [[ -x $cand ]] && "$cand" -c 'import ray' 2>/dev/null; then PY_BIN=$cand
        else PY_BIN=$(command -v python3 || true); fi
    fi
    [[ -n $PY_BIN ]] || die "python3 not found (set VZR_PYTHON)"
}

check_positive_int() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"; }

worker_ns() { printf 'vzr-w%d' "$1"; }
worker_ip() { printf '%s.%d' "$SUBNET" $((10 + $1)); }
host_veth() { printf 'vzrh-%s' "${1#vzr-}"; }   # bridge side, e.g. vzrh-w1 (<= 15 chars)
peer_veth() { printf 'vzrp-%s' "${1#vzr-}"; }   # renamed to eth0 inside the namespace
# RAY_TMPDIR, the same for every node: Ray 2.60 worker nodes take the head's temp dir from the
# GCS anyway (their sessions land in the head's session dir, files suffixed .1, .2, ... as on
# any machine that runs several nodes). What matters is that it is ours, not /tmp/ray.
node_tmp() { printf '%s/tmp' "$STATE_DIR"; }

num_workers() {
    if [[ -r $STATE_DIR/workers ]]; then cat "$STATE_DIR/workers"; else echo 0; fi
}

# Our namespaces, found by name pattern, so `down` also cleans leftovers of a failed `up`.
our_namespaces() {
    ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^vzr-(head|target|w[0-9]+)$' || true
}

ns_of() {  # NODE argument -> namespace name
    case $1 in
        head | vzr-head) echo "$HEAD_NS" ;;
        target | vzr-target) echo "$TARGET_NS" ;;
        w[0-9]* | vzr-w[0-9]*) local n=${1#vzr-}; n=${n#w}; check_positive_int worker "$n"; worker_ns "$n" ;;
        *) die "unknown node '$1' (head, target, wN or vzr-head, vzr-target, vzr-wN)" ;;
    esac
}

ip_of_ns() {
    case $1 in
        "$HEAD_NS") echo "$HEAD_IP" ;;
        "$TARGET_NS") echo "$TARGET_IP" ;;
        vzr-w*) worker_ip "${1#vzr-w}" ;;
    esac
}

read_token() {
    [[ -r $STATE_DIR/token ]] || die "no cluster state in $STATE_DIR (is the cluster up?)"
    cat "$STATE_DIR/token"
}

# Run a command inside namespace $1 with the cluster env. The variables are exported rather
# than passed on a command line, so the token never shows up in `ps`; the rest of the
# caller's environment passes through.
ns_cmd() {  # sets NS_CMD to the argv prefix for namespace $1
    export RAY_AUTH_MODE=token
    export RAY_AUTH_TOKEN="$TOKEN"
    export RAY_ADDRESS="$HEAD_IP:$GCS_PORT"
    RAY_TMPDIR="$(node_tmp)"
    export RAY_TMPDIR
    export RAY_USAGE_STATS_ENABLED=0
    NS_CMD=(ip netns exec "$1")
}
ns_run() {
    local ns=$1; shift
    ns_cmd "$ns"
    "${NS_CMD[@]}" "$@"
}

# Print "IP STATE NODE_ID head|worker" for every node the GCS knows (alive and dead).
# Runs in the head namespace; a GcsClient is much lighter than a ray.init() driver.
gcs_nodes() {
    ns_run "$HEAD_NS" "$PY_BIN" -c '
import os, sys
from ray._raylet import GcsClient
try:
    infos = GcsClient(address=os.environ["RAY_ADDRESS"]).get_all_node_info(timeout=5)
except Exception as e:  # GCS not up yet, or refusing us
    print(f"gcs query failed: {e!r}", file=sys.stderr)
    sys.exit(1)
for node_id, info in infos.items():
    state = "ALIVE" if info.state == 0 else "DEAD"
    kind = "head" if info.is_head_node else "worker"
    print(info.node_manager_address, state, node_id.hex(), kind)
'
}

# Wait (bounded) until the GCS lists node $1 (an IP) as ALIVE.
wait_alive() {
    local ip=$1 what=$2 deadline=$((SECONDS + NODE_TIMEOUT)) out
    while ((SECONDS < deadline)); do
        if out=$(gcs_nodes 2>/dev/null) && grep -q "^$ip ALIVE " <<<"$out"; then
            return 0
        fi
        sleep 1
    done
    log "$what ($ip) is not ALIVE in Ray after ${NODE_TIMEOUT}s. GCS says:"
    gcs_nodes >&2 || true
    node_diagnostics "$3"
    die "$what did not join; see logs above and under $(node_tmp); run '$0 down' to clean up"
}

node_diagnostics() {
    local ns=$1 f
    log "--- ray start output of $ns:"
    tail -n 20 "$STATE_DIR/$ns.start.log" >&2 2>/dev/null || true
    for f in "$(node_tmp)"/ray/session_latest/logs/{gcs_server.out,raylet*.out}; do
        [[ -r $f ]] || continue
        log "--- tail of $f:"
        tail -n 10 "$f" >&2 || true
    done
}

add_host() {  # namespace, address
    local ns=$1 addr=$2 hv pv
    hv=$(host_veth "$ns"); pv=$(peer_veth "$ns")
    ip netns add "$ns"
    ip link add "$hv" type veth peer name "$pv"
    ip link set "$pv" netns "$ns"
    ip link set "$hv" master "$BRIDGE"
    ip link set "$hv" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$pv" name eth0
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
}

start_ray() {  # namespace, role
    local ns=$1 role=$2 ip started=$SECONDS
    ip=$(ip_of_ns "$ns")
    local -a args=(start --node-ip-address "$ip" --num-cpus "$CPUS"
        --object-store-memory "$OBJECT_STORE_BYTES" --disable-usage-stats)
    if [[ $role == head ]]; then
        args+=(--head --port "$GCS_PORT" --system-config "$SYSTEM_CONFIG")
        # The head's Ray Client server (:10001, for ray:// drivers on the host) starts one
        # server process per client and gives it 30 s to come up; on a loaded 2-core machine
        # with ten nodes that is not always enough. A hang guard, not a performance limit.
        export RAY_CLIENT_SERVER_CHECK_CHANNEL_TIMEOUT_S=120
        if [[ $DASHBOARD == 1 ]]; then
            args+=(--include-dashboard=true --dashboard-host "$HEAD_IP"
                --dashboard-port "$DASHBOARD_PORT")
        else
            args+=(--include-dashboard=false)
        fi
    else
        args+=(--address "$HEAD_IP:$GCS_PORT")
    fi
    log "starting Ray $role in $ns ($ip)"
    if ! ns_run "$ns" "$RAY_BIN" "${args[@]}" >"$STATE_DIR/$ns.start.log" 2>&1; then
        node_diagnostics "$ns"
        die "ray start failed in $ns; run '$0 down' to clean up"
    fi
    wait_alive "$ip" "Ray $role" "$ns"
    log "  $ns alive after $((SECONDS - started))s"
}

cmd_up() {
    local n=${1:-}
    [[ -n $n ]] || die "usage: $0 up N (number of worker nodes)"
    check_positive_int N "$n"
    ((n <= MAX_WORKERS)) || die "at most $MAX_WORKERS workers (each Ray node costs ~500 MB)"
    check_positive_int VZR_CPUS_PER_NODE "$CPUS"
    check_positive_int VZR_OBJECT_STORE_BYTES "$OBJECT_STORE_BYTES"
    check_positive_int VZR_NODE_TIMEOUT "$NODE_TIMEOUT"
    [[ $DASHBOARD == 0 || $DASHBOARD == 1 ]] || die "VZR_DASHBOARD must be 0 or 1, got '$DASHBOARD'"
    require_root
    resolve_tools
    "$PY_BIN" -c 'import json, sys; json.loads(sys.argv[1])' "$SYSTEM_CONFIG" 2>/dev/null ||
        die "VZR_SYSTEM_CONFIG is not valid JSON: $SYSTEM_CONFIG"

    # Refuse (exit 3, nothing changed) if anything of ours already exists.
    local existing
    existing=$(our_namespaces | tr '\n' ' ')
    if [[ -n $existing ]] || ip link show "$BRIDGE" >/dev/null 2>&1 || [[ -e $STATE_DIR ]]; then
        log "a vzr cluster or its leftovers already exist (namespaces: ${existing:-none};" \
            "bridge $BRIDGE: $(ip link show "$BRIDGE" >/dev/null 2>&1 && echo yes || echo no);" \
            "state dir $STATE_DIR: $([[ -e $STATE_DIR ]] && echo yes || echo no))."
        log "run '$0 down' first"
        exit 3
    fi
    # Never share the reserved /24 with something else on this host.
    if ip -4 -o addr show | grep -F " $SUBNET." >/dev/null; then
        log "some host interface already has an address in $SUBNET.0/24; refusing"
        exit 3
    fi

    local t0=$SECONDS
    mkdir -p "$STATE_DIR"
    chmod 700 "$STATE_DIR"
    : >"$STATE_DIR/$MARKER"
    mkdir -p "$(node_tmp)"
    echo "$n" >"$STATE_DIR/workers"
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE_DIR/token")
    TOKEN=$(cat "$STATE_DIR/token")
    [[ ${#TOKEN} -eq 64 ]] || die "could not generate a token"
    (umask 077; cat >"$STATE_DIR/env" <<EOF
export RAY_AUTH_MODE=token
export RAY_AUTH_TOKEN=$TOKEN
export RAY_ADDRESS=$HEAD_IP:$GCS_PORT
EOF
    )

    log "bridge $BRIDGE $BRIDGE_ADDR/24"
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up

    add_host "$HEAD_NS" "$HEAD_IP"
    local i
    for ((i = 1; i <= n; i++)); do add_host "$(worker_ns "$i")" "$(worker_ip "$i")"; done
    add_host "$TARGET_NS" "$TARGET_IP"

    # Reachability over the bridge: a TCP connect from the head to port 9 of every other host
    # must be refused (RST = reachable), not time out. Bounded: 30 tries per host.
    local -a peers=("$TARGET_IP")
    for ((i = 1; i <= n; i++)); do peers+=("$(worker_ip "$i")"); done
    ip netns exec "$HEAD_NS" "$PY_BIN" -c '
import socket, sys, time
for ip in sys.argv[1:]:
    for _ in range(30):
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect((ip, 9))
            break
        except ConnectionRefusedError:
            break
        except OSError:
            time.sleep(0.2)
        finally:
            s.close()
    else:
        sys.exit(f"{ip} unreachable from the head namespace over the bridge")
' "${peers[@]}" || die "namespaces cannot reach each other over $BRIDGE"

    # Sequentially: each Ray node costs ~500 MB and a burst of CPU at startup.
    start_ray "$HEAD_NS" head
    for ((i = 1; i <= n; i++)); do start_ray "$(worker_ns "$i")" worker; done

    log "cluster up in $((SECONDS - t0))s: head $HEAD_IP, workers $(for ((i = 1; i <= n; i++)); do printf '%s ' "$(worker_ip "$i")"; done)target $TARGET_IP"
    log "drivers: $0 exec head python your_driver.py   (env: $STATE_DIR/env)"
}

# Kill every process in namespace $1: SIGTERM, bounded wait, then SIGKILL. Never fails.
kill_ns_procs() {
    local ns=$1 pids tries
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n $pids ]] || return 0
    # shellcheck disable=SC2086  # word splitting of the pid list is intended
    kill -TERM $pids 2>/dev/null || true
    for ((tries = 0; tries < 15; tries++)); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [[ -n $pids ]] || return 0
        sleep 0.2
    done
    for ((tries = 0; tries < 10; tries++)); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [[ -n $pids ]] || return 0
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        sleep 0.2
    done
    log "warning: processes still in $ns after SIGKILL: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
}

cmd_down() {
    require_root
    local ns link failed=0
    # Workers first, head last (fewer "node died" retries in the head while we tear down).
    local -a all
    mapfile -t all < <(our_namespaces | sort -r)
    for ns in "${all[@]}"; do
        [[ -n $ns ]] || continue
        kill_ns_procs "$ns"
    done
    for ns in "${all[@]}"; do
        [[ -n $ns ]] || continue
        ip netns del "$ns" 2>/dev/null || { log "warning: could not delete namespace $ns"; failed=1; }
    done
    # veths die with their namespace; remove any bridge-side leftovers, then the bridge.
    while read -r link; do
        [[ -n $link ]] || continue
        ip link del "$link" 2>/dev/null || true
    done < <(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^vzr[hp]-' || true)
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link del "$BRIDGE" 2>/dev/null || { log "warning: could not delete $BRIDGE"; failed=1; }
    fi
    if [[ -d $STATE_DIR ]]; then
        if [[ -e $STATE_DIR/$MARKER ]]; then
            rm -rf -- "$STATE_DIR"
        else
            log "warning: $STATE_DIR has no $MARKER file; not removing it"
            failed=1
        fi
    fi
    ((failed == 0)) || die "down finished with warnings (see above)"
    log "down: no vzr namespaces, veths or bridge left"
}

cmd_status() {
    require_root
    resolve_tools
    TOKEN=$(read_token)
    local n i
    n=$(num_workers)
    echo "bridge  $BRIDGE $BRIDGE_ADDR/24 ($(ip -br link show "$BRIDGE" 2>/dev/null | awk '{print $2}'))"
    printf '%-11s %-14s %s\n' "$HEAD_NS" "$HEAD_IP" "$(ip -br link show "$(host_veth "$HEAD_NS")" 2>/dev/null | awk '{print $2}')"
    for ((i = 1; i <= n; i++)); do
        printf '%-11s %-14s %s\n' "$(worker_ns "$i")" "$(worker_ip "$i")" "$(ip -br link show "$(host_veth "$(worker_ns "$i")")" 2>/dev/null | awk '{print $2}')"
    done
    printf '%-11s %-14s %s\n' "$TARGET_NS" "$TARGET_IP" "$(ip -br link show "$(host_veth "$TARGET_NS")" 2>/dev/null | awk '{print $2}')"
    echo
    echo "Ray nodes (GCS):"
    gcs_nodes || true
    echo
    ns_run "$HEAD_NS" "$RAY_BIN" status --address "$HEAD_IP:$GCS_PORT" || true
}

cmd_exec() {
    [[ $# -ge 2 ]] || die "usage: $0 exec NODE CMD [ARGS...]"
    require_root
    local ns
    ns=$(ns_of "$1"); shift
    TOKEN=$(read_token)
    ip netns list | awk '{print $1}' | grep -qx "$ns" || die "namespace $ns does not exist"
    ns_cmd "$ns"
    exec "${NS_CMD[@]}" "$@"
}

cmd_env() {
    TOKEN=$(read_token)
    printf 'export RAY_AUTH_MODE=token\nexport RAY_AUTH_TOKEN=%s\nexport RAY_ADDRESS=%s\n' \
        "$TOKEN" "$HEAD_IP:$GCS_PORT"
}

worker_arg() {
    local i=${1:-}
    [[ -n $i ]] || die "usage: $0 $2 N (worker number)"
    check_positive_int worker "$i"
    local ns
    ns=$(worker_ns "$i")
    ip netns list | awk '{print $1}' | grep -qx "$ns" || die "no worker namespace $ns"
    echo "$ns"
}

cmd_kill_node() {
    require_root
    local ns pids
    ns=$(worker_arg "${1:-}" kill-node)
    pids=$(ip netns pids "$ns" || true)
    # shellcheck disable=SC2086
    if [[ -n $pids ]]; then kill -KILL $pids 2>/dev/null || true; fi
    log "killed $(wc -w <<<"$pids") processes in $ns"
}

cmd_cut_node() {
    require_root
    local ns
    ns=$(worker_arg "${1:-}" cut-node)
    ip link set "$(host_veth "$ns")" down
    log "$ns cut off (bridge-side veth $(host_veth "$ns") down)"
}

cmd_heal_node() {
    require_root
    local ns
    ns=$(worker_arg "${1:-}" heal-node)
    ip link set "$(host_veth "$ns")" up
    log "$ns reconnected"
}

cmd_rss() {
    require_root
    local ns pid kib n total=0
    while read -r ns; do
        [[ -n $ns ]] || continue
        kib=0 n=0
        # PSS, not RSS: Ray's Python processes share most of their pages (libraries, the
        # forkserver's children), and RSS would count those once per process.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kib=$((kib + $(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)))
            n=$((n + 1))
        done
        total=$((total + kib))
        printf '%-11s %6d MiB PSS  %3d processes\n' "$ns" $((kib / 1024)) "$n"
    done < <(our_namespaces | sort -V)
    printf '%-11s %6d MiB PSS\n' total $((total / 1024))
}

cmd_nodes() {
    require_root
    resolve_tools
    TOKEN=$(read_token)
    gcs_nodes
}

main() {
    [[ $# -ge 1 ]] || usage
    local cmd=$1; shift
    case $cmd in
        up) cmd_up "$@" ;;
        down) cmd_down ;;
        status) cmd_status ;;
        exec) cmd_exec "$@" ;;
        env) cmd_env ;;
        nodes) cmd_nodes ;;
        rss) cmd_rss ;;
        kill-node) cmd_kill_node "$@" ;;
        cut-node) cmd_cut_node "$@" ;;
        heal-node) cmd_heal_node "$@" ;;
        -h | --help | help) usage ;;
        *) log "unknown command '$cmd'"; usage ;;
    esac
}

main "$@"
