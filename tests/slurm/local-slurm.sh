#!/usr/bin/env bash
# local-slurm.sh -- a throw-away single-node Slurm cluster on 127.0.0.1 for tests.
#
# Usage:  tests/slurm/local-slurm.sh start|stop|status|env
#
#   start   Install slurm-wlm (Debian 12: Slurm 22.05, pulls munge) if missing,
#           write a one-node slurm.conf, create a munge key if missing, start
#           munged, slurmctld and slurmd WITHOUT systemd and wait (bounded)
#           until the node is `idle` in sinfo.  Idempotent: if the cluster is
#           already up, it only prints the environment.  On success it prints
#           (stdout, nothing else goes to stdout) shell lines a client needs:
#               export SLURM_CONF=<dir>/etc/slurm.conf
#               export SCALEDYN_SLURM_DIR=<dir>
#               export SCALEDYN_SLURM_PARTITION=debug
#               export SCALEDYN_SLURM_GPU_PARTITION=debug   (gpu with fake GPUs)
#           so `eval "$(tests/slurm/local-slurm.sh start)"` works (also for
#           `--workflow-profile workflow/profiles/slurm`, whose partitions
#           come from the two SCALEDYN_SLURM_*PARTITION variables).  The same
#           lines are written to <dir>/env.sh.  Progress goes to stderr.
#           Exit status != 0 if the cluster did not come up (logs are under
#           <dir>/log/ and the tail is printed to stderr).
#   stop    scancel all jobs (bounded), kill munged/slurmctld/slurmd by the
#           PIDs recorded by `start`, kill leftover slurmstepd processes of
#           THIS cluster (recognised by a marker variable in their
#           environment) and their children, remove the /etc/slurm/slurm.conf
#           symlink (see below), then delete <dir>.
#           Idempotent: fine when nothing runs.  Set SCALEDYN_SLURM_KEEP=1
#           to keep <dir> (logs) after stopping.
#   status  Print whether each daemon runs, and `sinfo`/`squeue`.
#           Exit 0: all daemons up; 3: none running; 1: partially up.
#   env     Print the export lines (does not check anything).
#
# Clients (sbatch, squeue, sinfo, snakemake's slurm executor) find the
# cluster through SLURM_CONF; deterministic path:
#     SLURM_CONF="$SCALEDYN_SLURM_DIR/etc/slurm.conf"
# In addition, while the cluster runs, /etc/slurm/slurm.conf is a symlink to
# that file: snakemake's slurm-jobstep plugin strips SLURM_CONF (all SLURM_*
# but a few) from the environment of the `srun` it runs INSIDE each job, so
# srun would otherwise fail with "Could not establish a configuration source".
# The symlink is only created if /etc/slurm/slurm.conf does not exist (a real
# config is never overwritten; then `start` fails) and `stop` removes it, so
# a stopped test cluster leaves no config behind that could stall tools.
#
# Environment (all optional):
#   SCALEDYN_SLURM_DIR        all state/spool/log/pid/key files (default
#                             /tmp/scaledyn-slurm).  Must be traversable by
#                             the `munge` user (pytest's tmp_path, mode 0700,
#                             is NOT -- use a path directly under /tmp).
#   SCALEDYN_SLURM_TIMEOUT    seconds to wait for each daemon / idle node (60)
#   SCALEDYN_SLURM_CTLD_PORT  slurmctld port (6817)
#   SCALEDYN_SLURM_SLURMD_PORT slurmd port (6818)
#   SCALEDYN_SLURM_DEF_MEM_PER_CPU  DefMemPerCPU in MB (1024)
#   SCALEDYN_SLURM_KEEP       1: keep the directory on `stop`
#   SCALEDYN_SLURM_FAKE_GPUS  N in 1..4: declare N fake "gpu" GRES on the
#                             node (gres.conf File=/dev/null, /dev/zero, ...),
#                             so jobs submitted with `--gpus=1` (snakemake
#                             `resources: gpu=1`) are accepted and run on CPU
#                             with CUDA_VISIBLE_DEVICES=0.  Default 0: such
#                             jobs are rejected by sbatch with "Invalid
#                             generic resource (gres) specification".
#                             Takes effect on a fresh `start` (stop first).
#   SCALEDYN_SLURM_FAKE_GPU_TYPE  a type name for the fake GPUs (letters,
#                             digits, _ and .), e.g. `fakegpu`: gres.conf
#                             gets Type=<name> and the node Gres=gpu:<name>:N,
#                             so `--gpus=<name>:1` (snakemake `gpu_model`) is
#                             accepted as well as `--gpus=1`.  Default: none
#                             (untyped GPUs; a typed request is rejected).
#   SCALEDYN_SLURM_CPUS       CPUs the node declares (default: nproc).  More
#                             than nproc is allowed (SlurmdParameters=
#                             config_overrides: slurmd does not drain a node
#                             that has less than it declares), so jobs shaped
#                             like the production profile's (e.g.
#                             `--cpus-per-gpu=8`) are accepted; they share the
#                             real cores.
#   SCALEDYN_SLURM_MEMORY     RealMemory in MB the node declares (default: 90 %
#                             of MemTotal, minus at least 1 GiB).  Memory is
#                             not enforced (task/none, no cgroups), so more
#                             than the machine has only lets larger `--mem`
#                             requests through.
#
# Cluster layout: ClusterName=scaledyn, one node NodeName=localhost
# (NodeAddr=127.0.0.1, slurmd started with -N localhost, so the machine's
# hostname does not matter), partition `debug` (Default=YES), CPUs = nproc,
# RealMemory = 90 % of MemTotal (minus at least 1 GiB) (both adjustable, see
# SCALEDYN_SLURM_CPUS/_MEMORY), no GPUs/GRES (see SCALEDYN_SLURM_FAKE_GPUS),
# EnforcePartLimits=ALL (impossible jobs are
# rejected by sbatch instead of pending forever), no slurmdbd (use `squeue`,
# not `sacct`, for job status: tests/slurm/profile), MinJobAge=300.
#
# Snakemake runs against it: see tests/slurm/profile/config.yaml.  Bound runs
# with `timeout -s INT -k 10 <secs>`: on SIGINT snakemake scancels its jobs
# and exits within seconds; on SIGTERM it waits for running jobs to finish.
#
# Requirements: root, Debian/Ubuntu (apt) when slurm is not yet installed.
set -euo pipefail

DIR="${SCALEDYN_SLURM_DIR:-/tmp/scaledyn-slurm}"
TIMEOUT="${SCALEDYN_SLURM_TIMEOUT:-60}"
CTLD_PORT="${SCALEDYN_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${SCALEDYN_SLURM_SLURMD_PORT:-6818}"
DEF_MEM_PER_CPU="${SCALEDYN_SLURM_DEF_MEM_PER_CPU:-1024}"
FAKE_GPUS="${SCALEDYN_SLURM_FAKE_GPUS:-0}"
FAKE_GPU_TYPE="${SCALEDYN_SLURM_FAKE_GPU_TYPE:-}"
NODE_CPUS="${SCALEDYN_SLURM_CPUS:-}"
NODE_MEMORY="${SCALEDYN_SLURM_MEMORY:-}"
PARTITION="debug"
# with fake GPUs the node is also in a second partition, so tests can tell a
# GPU request's partition (SCALEDYN_SLURM_GPU_PARTITION) from the default one
GPU_PARTITION="debug"
[[ "${SCALEDYN_SLURM_FAKE_GPUS:-0}" =~ ^[1-9] ]] && GPU_PARTITION="gpu"
NODE="localhost"

CONF="$DIR/etc/slurm.conf"
MUNGE_DIR="$DIR/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
MUNGE_KEY="$MUNGE_DIR/munge.key"
PID_DIR="$DIR/pids"
LOG_DIR="$DIR/log"
# Marker put into the daemons' environment; slurmstepd inherits it from
# slurmd, so `stop` can find leftover step daemons of THIS cluster only.
MARK="SCALEDYN_SLURM_DAEMON_OF=$DIR"
DAEMONS=(munged slurmctld slurmd)
SYS_CONF="/etc/slurm/slurm.conf"

export SLURM_CONF="$CONF"

log() { printf '[local-slurm %(%T)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

print_env() {
    printf 'export SLURM_CONF=%q\n' "$CONF"
    printf 'export SCALEDYN_SLURM_DIR=%q\n' "$DIR"
    printf 'export SCALEDYN_SLURM_PARTITION=%q\n' "$PARTITION"
    printf 'export SCALEDYN_SLURM_GPU_PARTITION=%q\n' "$GPU_PARTITION"
}

# ---------------------------------------------------------------- helpers --
pid_of() {  # recorded pid of daemon $1 (empty if none)
    local f="$PID_DIR/$1.pid"
    [[ -r "$f" ]] && cat "$f" || true
}

is_alive() {  # daemon $1 runs with the recorded pid (and the right name)
    local pid
    pid="$(pid_of "$1")"
    [[ -n "$pid" ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == "$1" ]]
}

wait_until() {  # wait_until <seconds> <description> <command...>
    local secs="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "timeout (${secs}s) waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

show_logs() {
    local f
    for f in "$LOG_DIR"/*.log "$LOG_DIR"/*.out; do
        [[ -s "$f" ]] || continue
        log "---- tail $f"
        tail -n 20 "$f" >&2 || true
    done
}

# ---------------------------------------------------------------- install --
ensure_installed() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
        command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return 0
    fi
    [[ "$(id -u)" == 0 ]] || die "slurm is not installed and we are not root"
    command -v apt-get >/dev/null || die "slurm is not installed and there is no apt-get"
    log "installing slurm-wlm (and munge) with apt-get"
    # Never let package scripts start system services (no systemd here).
    local own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    local rc=0
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
        install --no-install-recommends slurm-wlm munge)
    # apt-get update only when the install fails (e.g. missing/stale lists).
    if ! "${apt[@]}" >"$DIR/apt-install.log" 2>&1; then
        log "apt-get install failed, running apt-get update and retrying"
        env DEBIAN_FRONTEND=noninteractive apt-get -q update >>"$DIR/apt-install.log" 2>&1 || true
        "${apt[@]}" >>"$DIR/apt-install.log" 2>&1 || rc=$?
    fi
    ((own_policy)) && rm -f /usr/sbin/policy-rc.d
    if ((rc != 0)); then
        tail -n 30 "$DIR/apt-install.log" >&2 || true
        die "apt-get install slurm-wlm failed (see $DIR/apt-install.log)"
    fi
    command -v slurmctld >/dev/null || die "slurmctld still missing after install"
}

# ----------------------------------------------------------------- config --
write_config() {
    local ncpu mem_kb mem_mb headroom real_mem
    ncpu="${NODE_CPUS:-$(nproc)}"
    [[ "$ncpu" =~ ^[1-9][0-9]*$ ]] || die "SCALEDYN_SLURM_CPUS must be a positive integer, not '$ncpu'"
    if [[ -n "$NODE_MEMORY" ]]; then
        [[ "$NODE_MEMORY" =~ ^[1-9][0-9]*$ ]] || die "SCALEDYN_SLURM_MEMORY must be a positive integer (MB)"
        real_mem="$NODE_MEMORY"
    else
        mem_kb="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
        mem_mb=$((mem_kb / 1024))
        headroom=$((mem_mb / 10))
        ((headroom < 1024)) && headroom=1024
        real_mem=$((mem_mb - headroom))
        ((real_mem < 256)) && real_mem=256
    fi
    mkdir -p "$DIR/etc"
    local gres_types="" node_gres=""
    rm -f "$DIR/etc/gres.conf"
    [[ "$FAKE_GPUS" =~ ^[0-9]+$ ]] || die "SCALEDYN_SLURM_FAKE_GPUS must be a number"
    local type_conf=""
    if [[ -n "$FAKE_GPU_TYPE" ]]; then
        [[ "$FAKE_GPU_TYPE" =~ ^[A-Za-z0-9_.]+$ ]] || die "SCALEDYN_SLURM_FAKE_GPU_TYPE: letters, digits, _ and . only"
        type_conf=" Type=$FAKE_GPU_TYPE"
    fi
    if ((FAKE_GPUS > 0)); then
        gres_types="GresTypes=gpu"
        node_gres="Gres=gpu:${FAKE_GPU_TYPE:+$FAKE_GPU_TYPE:}$FAKE_GPUS"
        # read by slurmd from the directory of slurm.conf
        # gres/gpu needs a device file per GPU (without File= slurmd reports
        # 0 GPUs and the node goes INVAL); any existing char device will do
        # since TaskPlugin=task/none does not constrain devices.
        local devs=(/dev/null /dev/zero /dev/full /dev/urandom) i
        ((FAKE_GPUS <= ${#devs[@]})) || die "SCALEDYN_SLURM_FAKE_GPUS must be <= ${#devs[@]}"
        : >"$DIR/etc/gres.conf"
        for ((i = 0; i < FAKE_GPUS; i++)); do
            echo "NodeName=$NODE Name=gpu$type_conf File=${devs[i]}" >>"$DIR/etc/gres.conf"
        done
    fi
    cat >"$CONF" <<EOF
# Generated by tests/slurm/local-slurm.sh -- single-node test cluster.
ClusterName=scaledyn
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
# reject jobs that can never run on this node (too many CPUs/too much
# memory) at sbatch time instead of leaving them PENDING (PartitionConfig)
EnforcePartLimits=ALL
# keep finished jobs visible to squeue (snakemake's squeue status mode needs
# MinJobAge >= 3 * slurm-init-seconds-before-status-checks, else it falls
# back to sacct, which does not work without slurmdbd)
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
Waittime=0
DefMemPerCPU=$DEF_MEM_PER_CPU
SlurmdParameters=config_overrides
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$gres_types
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$ncpu RealMemory=$real_mem $node_gres State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
$([[ "$GPU_PARTITION" != "$PARTITION" ]] && echo "PartitionName=$GPU_PARTITION Nodes=$NODE MaxTime=INFINITE State=UP")
EOF
    log "wrote $CONF (CPUs=$ncpu RealMemory=${real_mem}MB DefMemPerCPU=${DEF_MEM_PER_CPU}MB fake GPUs=$FAKE_GPUS${FAKE_GPU_TYPE:+ of type $FAKE_GPU_TYPE})"
}

link_sys_conf() {  # /etc/slurm/slurm.conf -> $CONF (for srun inside jobs)
    if [[ -L "$SYS_CONF" ]]; then
        [[ "$(readlink "$SYS_CONF")" == "$CONF" ]] && return 0
        # a dangling/foreign symlink left by another test cluster dir
        [[ -e "$SYS_CONF" ]] && die "$SYS_CONF links to $(readlink "$SYS_CONF") (another running test cluster?)"
        rm -f "$SYS_CONF"
    elif [[ -e "$SYS_CONF" ]]; then
        die "$SYS_CONF exists (a real Slurm config?); refusing to overwrite it"
    fi
    mkdir -p "$(dirname "$SYS_CONF")"
    ln -s "$CONF" "$SYS_CONF"
    log "linked $SYS_CONF -> $CONF"
}

unlink_sys_conf() {
    if [[ -L "$SYS_CONF" && "$(readlink "$SYS_CONF")" == "$CONF" ]]; then
        rm -f "$SYS_CONF"
        log "removed $SYS_CONF symlink"
    fi
}

# ------------------------------------------------------------------ munge --
setup_munge() {
    getent passwd munge >/dev/null || die "user 'munge' does not exist (munge package broken?)"
    mkdir -p "$MUNGE_DIR"
    chown munge:munge "$MUNGE_DIR"
    chmod 0755 "$MUNGE_DIR"  # munged requires o+x on the socket dir
    if [[ ! -s "$MUNGE_KEY" ]]; then
        log "creating munge key $MUNGE_KEY"
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile="$MUNGE_KEY" --force >/dev/null
        else
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
        fi
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
    # The munge user must be able to reach its directory.
    if ! setpriv --reuid=munge --regid=munge --clear-groups test -w "$MUNGE_DIR"; then
        die "user munge cannot access $MUNGE_DIR; choose a SCALEDYN_SLURM_DIR whose parents are world-traversable (e.g. under /tmp)"
    fi
    # Debian's default socket dir too (harmless, lets `munge -n` work without -S).
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
}

munge_ok() { munge -n -S "$MUNGE_SOCKET" | unmunge -S "$MUNGE_SOCKET" >/dev/null; }
ctld_ok() { scontrol ping | grep -q 'is UP'; }
node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n1; }
node_idle() { [[ "$(node_state)" == idle* ]]; }
node_usable() { [[ "$(node_state)" =~ ^(idle|mix|alloc|comp) ]]; }

launch() {  # launch <name> <command...>: start in its own session, record pid
    local name="$1"
    shift
    # setsid execs (no fork: we are not a process-group leader here), so $!
    # is the daemon's own pid; -D/-F keep the daemons in the foreground.
    env "$MARK" SLURM_CONF="$CONF" setsid "$@" </dev/null >>"$LOG_DIR/$name.out" 2>&1 &
    local pid=$!
    echo "$pid" >"$PID_DIR/$name.pid"
    sleep 0.1
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != "$name" ]]; then
        sleep 0.5
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == "$name" ]] || {
            show_logs
            die "$name (pid $pid) did not stay up"
        }
    fi
    log "started $name (pid $pid)"
}

# ------------------------------------------------------------- start/stop --
all_alive() {
    local d
    for d in "${DAEMONS[@]}"; do is_alive "$d" || return 1; done
}

any_alive() {
    local d
    for d in "${DAEMONS[@]}"; do is_alive "$d" && return 0; done
    return 1
}

start_failed() {  # EXIT trap while starting: clean up after a failure
    local rc=$?
    trap - EXIT
    ((rc == 0)) && return 0
    log "start failed; stopping the partial cluster (logs kept in $LOG_DIR)"
    SCALEDYN_SLURM_KEEP=1 cmd_stop || true
    exit "$rc"
}

cmd_start() {
    [[ "$(id -u)" == 0 ]] || die "must run as root"
    if all_alive && [[ -r "$CONF" ]] && wait_until 10 "usable node" node_usable; then
        log "already running (dir $DIR)"
        print_env
        return 0
    fi
    if any_alive || [[ -d "$PID_DIR" ]]; then
        log "partial/stale cluster found, stopping it first"
        SCALEDYN_SLURM_KEEP=1 cmd_stop
    fi
    mkdir -p "$DIR"
    chmod 0755 "$DIR"
    ensure_installed
    mkdir -p "$PID_DIR" "$LOG_DIR" "$DIR/state" "$DIR/spool/slurmd" "$DIR/run"
    write_config
    link_sys_conf
    setup_munge

    # any failure from here on: stop what was started, keep the logs
    trap start_failed EXIT
    launch munged setpriv --reuid=munge --regid=munge --clear-groups \
        munged -F --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" \
        --log-file="$LOG_DIR/munged.log" --pid-file="$MUNGE_DIR/munged.pid" \
        --seed-file="$MUNGE_DIR/munged.seed"
    wait_until "$TIMEOUT" "munged" munge_ok || { show_logs; die "munged did not come up"; }

    # -c: start from a clean state (no jobs/node states from an earlier run)
    launch slurmctld slurmctld -D -c -f "$CONF"
    wait_until "$TIMEOUT" "slurmctld" ctld_ok || { show_logs; die "slurmctld did not come up"; }

    launch slurmd slurmd -D -N "$NODE" -f "$CONF"
    if ! wait_until "$TIMEOUT" "node $NODE idle" node_idle; then
        log "node state: '$(node_state)'; trying scontrol update State=RESUME"
        scontrol update NodeName="$NODE" State=RESUME >&2 || true
        wait_until 10 "node $NODE idle" node_idle || { show_logs; sinfo >&2 || true; die "node never became idle"; }
    fi
    trap - EXIT
    print_env >"$DIR/env.sh"
    log "cluster up: $(sinfo -h -o '%P %a %D %T %N' | tr '\n' ' ')"
    print_env
}

descendants() {  # all descendants of the given pids
    local all
    all="$(ps -e -o pid=,ppid=)"
    local frontier=("$@") next pid
    while ((${#frontier[@]})); do
        next=()
        for pid in "${frontier[@]}"; do
            while read -r c p; do
                [[ "$p" == "$pid" ]] && { echo "$c"; next+=("$c"); }
            done <<<"$all"
        done
        frontier=("${next[@]+"${next[@]}"}")
    done
}

marked_pids() {  # processes of this cluster: the daemons and slurmstepd carry
    # our marker; job processes have SLURM_JOB_ID and SLURM_CONF=$CONF (when
    # submitted with SLURM_CONF exported, as the tests do)
    local e pid envs
    for e in /proc/[0-9]*/environ; do
        pid="${e#/proc/}"
        pid="${pid%/environ}"
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        envs="$({ tr '\0' '\n' <"$e"; } 2>/dev/null || true)"
        if grep -qxF "$MARK" <<<"$envs" ||
            { grep -qxF "SLURM_CONF=$CONF" <<<"$envs" && grep -q '^SLURM_JOB_ID=' <<<"$envs"; }; then
            echo "$pid"
        fi
    done
}

running() {  # pid exists and is not a zombie
    local st
    st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
    [[ -n "$st" && "$st" != Z ]]
}

kill_and_wait() {  # kill_and_wait [-KILL] <pid...>: TERM (or KILL), wait 10 s, KILL
    local sig=-TERM
    [[ "${1:-}" == -KILL ]] && { sig=-KILL; shift; }
    (($#)) || return 0
    kill "$sig" "$@" 2>/dev/null || true
    local deadline=$((SECONDS + 10)) pid alive
    while ((SECONDS < deadline)); do
        alive=0
        for pid in "$@"; do running "$pid" && alive=1; done
        ((alive)) || return 0
        sleep 0.2
    done
    log "sending SIGKILL to: $*"
    kill -KILL "$@" 2>/dev/null || true
}

cmd_stop() {
    if [[ -r "$CONF" ]] && is_alive slurmctld; then
        # cancel everything still queued/running (bounded)
        local jobs
        jobs="$(timeout 10 squeue -h -t PD,R,CG,CF,S -o %i 2>/dev/null || true)"
        if [[ -n "$jobs" ]]; then
            log "cancelling remaining jobs: $(echo $jobs)"
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null || true
            wait_until 10 "jobs to end" \
                bash -c '[[ -z "$(squeue -h -t PD,R,CG,CF,S -o %i)" ]]' || true
        fi
    fi
    local d pids=()
    for d in slurmd slurmctld munged; do
        is_alive "$d" && pids+=("$(pid_of "$d")")
    done
    if ((${#pids[@]})); then
        # all at once: sequential TERM+wait costs ~6 s, this ~3 s (munged)
        log "stopping daemons (pids ${pids[*]})"
        kill_and_wait "${pids[@]}"
    fi
    rm -f "$PID_DIR"/*.pid
    # leftover job step daemons of this cluster and their children
    pids=()
    mapfile -t pids < <(marked_pids)
    if ((${#pids[@]})); then
        mapfile -t -O "${#pids[@]}" pids < <(descendants "${pids[@]}")
        # slurmstepd ignores SIGTERM: orphans of a dead cluster get SIGKILL
        log "killing leftover processes of this cluster: ${pids[*]}"
        kill_and_wait -KILL "${pids[@]}"
    fi
    unlink_sys_conf
    if [[ "${SCALEDYN_SLURM_KEEP:-0}" == 1 ]]; then
        rm -rf "$PID_DIR"
    elif [[ -d "$DIR" ]]; then
        rm -rf "$DIR"
        log "removed $DIR"
    fi
    log "stopped"
}

cmd_status() {
    local d n=0
    for d in "${DAEMONS[@]}"; do
        if is_alive "$d"; then
            echo "$d: running (pid $(pid_of "$d"))"
            n=$((n + 1))
        else
            echo "$d: not running"
        fi
    done
    echo "SLURM_CONF=$CONF"
    if is_alive slurmctld; then
        echo "--- sinfo"
        timeout 10 sinfo || true
        echo "--- squeue"
        timeout 10 squeue --states=all || true
    fi
    ((n == ${#DAEMONS[@]})) && return 0
    ((n == 0)) && return 3
    return 1
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) print_env ;;
*)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
