#!/usr/bin/env bash
# The Slurm recipe of docs/dse.md, for real: starts munge and a one-node Slurm (slurmctld and
# slurmd, configured in a temporary directory, on ports of their own), submits the sharded sweep
# as a job array with scripts/sweep_array.sbatch, merges the shards, and requires the merged
# database to equal a local run's, row for row. Exits 77 (ctest: skipped) with the reason only
# where the daemons cannot start.
set -euo pipefail
nmpsim=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
skip() {
  echo "SKIP: $*"
  exit 77
}
stop() {
  for pid in "$tmp"/slurmd.pid "$tmp"/slurmctld.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2> /dev/null || true
  done
  [ -S "$tmp/munge.socket" ] && munged -s -S "$tmp/munge.socket" > /dev/null 2>&1 || true
  sleep 0.5
  rm -rf "$tmp"
}
trap stop EXIT
for tool in munged munge slurmctld slurmd sbatch sinfo; do
  command -v "$tool" > /dev/null || skip "$tool is not installed (scripts/setup.sh installs slurm-wlm and munge)"
done

# munge, with its own key and socket.
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 2> /dev/null
chmod 400 "$tmp/munge.key"
munged -f --key-file="$tmp/munge.key" --socket="$tmp/munge.socket" --pid-file="$tmp/munged.pid" \
  --log-file="$tmp/munged.log" --seed-file="$tmp/munged.seed" 2> "$tmp/munged.err" ||
  skip "munged does not start: $(cat "$tmp/munged.err")"

# A one-node cluster on this host, on ports chosen from this process's id.
host=$(hostname -s)
port=$((20000 + ($$ % 20000) * 2))
mkdir -p "$tmp/state" "$tmp/spool"
cat > "$tmp/slurm.conf" <<CONF
ClusterName=nmpsim-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$tmp/munge.socket
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$tmp/slurm.conf
slurmctld -f "$SLURM_CONF" 2> "$tmp/ctld.err" || skip "slurmctld does not start: $(cat "$tmp/ctld.err")"
slurmd -f "$SLURM_CONF" 2> "$tmp/slurmd.err" || skip "slurmd does not start: $(cat "$tmp/slurmd.err")"
for _ in $(seq 100); do
  sinfo -h -o %t 2> /dev/null | grep -q idle && break
  sleep 0.2
done
sinfo -h -o %t 2> /dev/null | grep -q idle ||
  skip "the Slurm node never became idle: $(tail -3 "$tmp/slurmd.log" 2> /dev/null)"

# The sweep: 12 timing-only points in 4 shards, one CPU per task on this small node.
cat > "$tmp/spec.json" <<JSON
{ "name": "slurm", "hw": "$root/configs/hw/default.json",
  "workload": "$root/configs/workloads/default.json",
  "grid": { "hw.mac_array.rows": [16, 32, 64] },
  "zip": [ { "hw.mac_array.cols": [16, 32, 64, 128], "hw.dram.queue_depth": [8, 16, 32, 64] } ],
  "timing_only": true }
JSON
cd "$tmp"
status=0
NMPSIM=$nmpsim timeout 300 sbatch --wait --array=0-3 --cpus-per-task=1 -o "$tmp/task-%a.out" \
  "$root/scripts/sweep_array.sbatch" "$tmp/spec.json" 4 "$tmp/shards" > "$tmp/sbatch.out" 2>&1 ||
  status=$?
if [ "$status" -ne 0 ]; then
  # Slurm that never ran a task here is not nmpsim's failure; a task that ran and failed is.
  for i in 0 1 2 3; do
    [ -f "$tmp/task-$i.out" ] ||
      skip "Slurm did not run task $i (sbatch exit $status): $(tail -2 "$tmp/sbatch.out" "$tmp/slurmd.log" 2> /dev/null | tr '\n' ' ')"
  done
  echo "a sweep task failed (sbatch exit $status):"
  cat "$tmp"/task-*.out
  exit 1
fi
"$nmpsim" merge "$tmp/merged.sqlite" "$tmp"/shards/shard-*.sqlite > /dev/null
"$nmpsim" sweep "$tmp/spec.json" --db "$tmp/local.sqlite" -j 2 -q > /dev/null
rows() { /usr/bin/python3 "$root/tests/scripts/data/db_rows.py" "$1"; }  # every row, in order
test "$(ls "$tmp"/shards/shard-*.sqlite | wc -l)" = 4
test "$(rows "$tmp/merged.sqlite" | wc -l)" = 13
diff <(rows "$tmp/local.sqlite") <(rows "$tmp/merged.sqlite")
echo ok
