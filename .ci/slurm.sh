#!/usr/bin/env bash
# A single-node SLURM on this machine, for the tests marked slurm (tests/test_slurm.py), as root:
#   .ci/slurm.sh start   installs Debian's munge and SLURM daemons where missing (apt-get), writes a minimal
#                        slurm.conf naming this host, starts munged, slurmctld and slurmd, and waits until
#                        `sinfo` shows the node idle;
#   .ci/slurm.sh stop    stops the daemons it started.
# Where it cannot (not root, no apt, no network), `start` says why and exits 0: the SLURM tests then skip,
# naming the reason. Everything it writes lives in /etc/slurm, /etc/munge and $STATE (below).
set -uo pipefail

STATE=${MEDSWEEP_SLURM_STATE:-/var/tmp/medsweep-slurm}
CONF=/etc/slurm/slurm.conf
PACKAGES=(munge slurmctld slurmd slurm-client)   # the daemons and sinfo/sbatch, not slurm-wlm's plugins

say() { echo "slurm.sh: $*" >&2; }

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        && command -v sbatch >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "SLURM is not installed and cannot be (needs root and apt-get): the SLURM tests skip"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >"$STATE/apt.log" 2>&1; then
        apt-get update -q >>"$STATE/apt.log" 2>&1
        if ! apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>"$STATE/apt.log" 2>&1; then
            say "apt-get could not install ${PACKAGES[*]} (log: $STATE/apt.log): the SLURM tests skip"
            return 1
        fi
    fi
}

write_conf() {
    local host mem_mb
    host=$(hostname -s)
    mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)   # what slurmd may hand out
    mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$STATE/log"
    cat >"$CONF" <<EOF
# Written by medsweep's .ci/slurm.sh: a one-node cluster for the tests.
ClusterName=medsweep-ci
SlurmctldHost=$host
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# finished jobs leave squeue soon; a job past its time limit gets SIGTERM, then SIGKILL 2 s later
MinJobAge=30
KillWait=2
OverTimeLimit=0
InactiveLimit=0
SlurmdTimeout=60
NodeName=$host CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=30 State=UP OverSubscribe=NO
EOF
}

start() {
    mkdir -p "$STATE"
    local t0=$SECONDS
    install || return 0
    local t_install=$((SECONDS - t0))
    stop quiet
    write_conf
    # munge: a key, its directories owned by munge (munged refuses others), started as the munge user
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null
    chmod 0700 /etc/munge /var/log/munge /var/lib/munge; chmod 0400 /etc/munge/munge.key; chmod 0755 /run/munge
    if ! pgrep -u munge -x munged >/dev/null; then
        if command -v runuser >/dev/null; then runuser -u munge -- munged --force; else munged --force; fi \
            || { say "munged did not start: the SLURM tests skip"; return 0; }
        pgrep -u munge -x munged >"$STATE/munged.pid"   # ours to stop
    fi
    slurmctld || { say "slurmctld did not start ($STATE/log/slurmctld.log): the SLURM tests skip"; return 0; }
    slurmd || { say "slurmd did not start ($STATE/log/slurmd.log): the SLURM tests skip"; return 0; }
    for _ in $(seq 1 60); do
        if sinfo -h -o '%t' 2>/dev/null | grep -qx idle; then
            say "node idle after $((SECONDS - t0)) s (install ${t_install} s): $(sinfo -h -o '%P %D %c CPUs %m MB %t')"
            return 0
        fi
        sleep 0.5
    done
    say "the node did not become idle in 30 s ($(sinfo -h 2>&1 | head -1)): the SLURM tests skip"
    stop quiet
    return 0
}

stop() {
    local pid
    for name in slurmd slurmctld; do
        if [ -s "$STATE/$name.pid" ] && pid=$(cat "$STATE/$name.pid") && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null
            for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        fi
        rm -f "$STATE/$name.pid"
    done
    if [ -s "$STATE/munged.pid" ]; then   # only the munged this script started
        for pid in $(cat "$STATE/munged.pid"); do kill "$pid" 2>/dev/null; done
        rm -f "$STATE/munged.pid"
    fi
    [ "${1:-}" = quiet ] || say "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
