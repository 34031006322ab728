#!/usr/bin/env bash
# drivelab on a GPU machine, from a fresh clone and the package registry alone, in under 5 minutes: the pinned
# environment (make setup), a simulated data set, then one table of bf16 mixed precision, torch.compile, training
# throughput of the reference models at batch 256 and 4096, and single-node DDP on every GPU (scripts/gpu_check.py).
#
#   scripts/gpu_check.sh                     # everything
#   scripts/gpu_check.sh --models mlp        # extra arguments go to scripts/gpu_check.py
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
make setup
export WANDB_MODE=offline WANDB_SILENT=true
data=${GPU_CHECK_DATA:-/tmp/drivelab-gpu-check/data}
workers=$(nproc)
if [ ! -f "$data/windows/windows.json" ]; then
  # ~30k training windows: several batches of 4096 per epoch
  .venv/bin/drivelab simulate paths.data_dir="$data" simulate.episodes=64 simulate.duration_s=40 simulate.workers="$workers"
  .venv/bin/drivelab prepare paths.data_dir="$data" clean.workers="$workers" windows.workers="$workers"
fi
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv || true
status=0
.venv/bin/python scripts/gpu_check.py --data-dir "$data" "$@" || status=$?
echo "gpu check finished in $(( $(date +%s) - started )) s (setup and data included), exit status $status"
exit $status
