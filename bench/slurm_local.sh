#!/usr/bin/env bash
# A one-node SLURM on this machine (Debian's slurm-wlm and munge), and launcher=slurm tried on it:
# a two-job sweep (loss=ns,hinge) that must finish with complete run folders, then a one-job sweep whose job
# is requeued mid-run (`scontrol requeue`: SIGTERM, then SLURM starts it again) and must resume from its
# last.ckpt at the images-seen count it saved. The transcript of a run is in bench/SLURM.md.
#
#   bash bench/slurm_local.sh            # setup, sweep, preempt (needs root: apt-get, daemons)
#   bash bench/slurm_local.sh setup      # only install, configure and start SLURM (tests/test_slurm.py then runs)
#   bash bench/slurm_local.sh sweep      # the two-job sweep           (SLURM already up)
#   bash bench/slurm_local.sh preempt    # the requeued job            (SLURM already up)
#   bash bench/slurm_local.sh stop       # stop slurmd, slurmctld and munged
#
# SLURM_LOCAL_OUT (default outputs/slurm_local) holds the sweeps; KIMG (default 40) is each run's length.
# No accounting database runs here, so `sacct` fails and submitit logs "Bypassing sacct error": it then
# learns that a job ended from the job's result file alone, which is what this script checks.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${SLURM_LOCAL_OUT:-outputs/slurm_local}
KIMG=${KIMG:-40}
NODE=$(hostname -s)
CONF=/etc/slurm/slurm.conf
export WANDB_MODE=disabled OMP_NUM_THREADS=1

# What each job trains: a narrow MLP on the 2D ring, no metrics, last.ckpt every kimg. On a CPU-only cluster
# the launcher=slurm defaults (1 GPU per job, 8 CPUs, 64 GB) are replaced as below.
TRAIN=(arch=mlp dataset=ring "arch.generator.hidden_sizes=[64,64]" "arch.discriminator.hidden_sizes=[64,64]"
       metrics=none callbacks.checkpoint.every_kimg=1
       trainer.accelerator=cpu trainer.strategy=auto
       hydra.launcher.partition=debug hydra.launcher.gpus_per_node=null hydra.launcher.tasks_per_node=1
       hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=2 hydra.launcher.timeout_min=30)

setup() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge
    fi
    local mem
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
    cat >"$CONF" <<EOF
# one node: this machine ($NODE), written by bench/slurm_local.sh
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
KillWait=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    fi
    chown munge:munge /etc/munge /etc/munge/munge.key /run/munge
    chmod 700 /etc/munge
    chmod 400 /etc/munge/munge.key
    mkdir -p /var/lib/munge /var/log/munge
    chown munge:munge /var/lib/munge /var/log/munge
    pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
    munge -n | unmunge >/dev/null
    pgrep -x slurmctld >/dev/null || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    for _ in $(seq 60); do
        if sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle; then break; fi
        sleep 1
    done
    sinfo
}

stop() {
    for daemon in slurmd slurmctld munged; do
        pid=$(pgrep -x "$daemon" || true)
        if [ -n "$pid" ]; then kill "$pid"; fi
    done
}

sweep() {
    local dir=$OUT/sweep
    rm -rf "$dir"
    python train.py -m launcher=slurm loss=ns,hinge total_kimg="$KIMG" "${TRAIN[@]}" hydra.sweep.dir="$dir"
    for run in "$dir"/0*; do
        for file in config.yaml checkpoints/last.ckpt csv/metrics.csv train.log; do
            test -s "$run/$file" || { echo "missing: $run/$file"; exit 1; }
        done
        echo "$run: $(grep -o 'done: .*G steps' "$run/train.log")"
    done
}

preempt() {
    local dir=$OUT/preempt
    rm -rf "$dir"
    python train.py -m launcher=slurm loss=ns total_kimg="$KIMG" "${TRAIN[@]}" hydra.sweep.dir="$dir" &
    local submitter=$! run= job=
    for _ in $(seq 600); do  # until the job has trained past 1 kimg (a last.ckpt on disk)
        run=$(ls -d "$dir"/0* 2>/dev/null | head -1 || true)
        if [ -n "$run" ] && [ -s "$run/checkpoints/last.ckpt" ]; then break; fi
        sleep 1
    done
    job=$(squeue -h -o '%i' | head -1)
    echo "requeue: job $job at: $(grep -o 'kimg [0-9.]* batch [0-9]*' "$run/train.log" | tail -1)"
    scontrol requeue "$job"
    sleep 5
    squeue
    wait "$submitter"  # the launcher returns once the requeued job has finished
    echo "submitter returned at $(date +%T); squeue now:"
    squeue
    grep -E 'preempted by|stopped by|resume:|ckpt_path=last|done:' "$run/train.log" | cut -c 1-160
    # the same config run without a break (the sweep's loss=ns job) ends at the same clock with the same weights
    python - "$run/checkpoints/last.ckpt" "$OUT/sweep/000_loss=ns/checkpoints/last.ckpt" <<'PY'
import sys

import torch

resumed, uninterrupted = (torch.load(path, map_location="cpu", weights_only=False) for path in sys.argv[1:])
print("clock: requeued", resumed["clock"], "uninterrupted", uninterrupted["clock"])
same = all(torch.equal(resumed["state_dict"][k], uninterrupted["state_dict"][k]) for k in uninterrupted["state_dict"])
print("weights (G, D, G_ema) bit-identical:", same)
sys.exit(0 if same and resumed["clock"] == uninterrupted["clock"] else 1)
PY
}

case "${1:-all}" in
    setup) setup ;;
    sweep) sweep ;;
    preempt) preempt ;;
    stop) stop ;;
    all) setup; sweep; preempt ;;
    *) echo "usage: $0 [all|setup|sweep|preempt|stop]"; exit 2 ;;
esac
