#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for the real-SLURM test (root, no systemd).
#   tests/slurm/cluster.sh install   Debian's slurm-wlm and munge (if missing)
#   tests/slurm/cluster.sh start     write /etc/slurm/*.conf, start munged, slurmctld, slurmd
#   tests/slurm/cluster.sh stop      stop the daemons this script started, by PID
set -euo pipefail
STATE=${SLURM_TEST_STATE:-/tmp/vcf2embed-slurm}
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

install() {
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then return; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
}

start() {
    mkdir -p "$STATE"/{spool,state,log} /etc/slurm /run/munge /var/lib/munge /var/log/munge
    # slurmctld and slurmd must find the configuration here: the executor plugin strips SLURM_*
    # variables (SLURM_CONF included) before its nested srun
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=vcf2embed-test
SlurmctldHost=$HOST
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
SchedulerType=sched/backfill
# without slurmdbd, finished jobs are only visible to squeue while they are kept
MinJobAge=600
MaxJobCount=10000
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$HOST MaxTime=INFINITE State=UP
CONF
    # a GPU Gres with no device is dropped unless it names a file
    echo "NodeName=$HOST Name=gpu File=/dev/null" > /etc/slurm/gres.conf
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    fi
    chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
    chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key
    if ! pgrep -x munged >/dev/null; then
        runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    fi
    /usr/sbin/slurmctld -i
    /usr/sbin/slurmd
    for _ in $(seq 1 60); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed)'; then
            sinfo
            return 0
        fi
        sleep 1
    done
    echo "slurm did not come up; see $STATE/log" >&2
    tail -20 "$STATE"/log/*.log >&2 || true
    return 1
}

stop() {
    for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid" /run/munge/munged.pid; do
        if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
    done
}

"$@"
