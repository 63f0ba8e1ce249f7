#!/usr/bin/env bash
# Slurm job script: one racnn process per GPU, data parallel over c10d.
#   sbatch --nodes 2 --gpus-per-node 4 --ntasks-per-node 4 scripts/slurm-train.sh configs/cub.yaml runs/cub
# srun starts the tasks; each reads SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID
# and joins the TCP store that rank 0 serves at MASTER_ADDR:MASTER_PORT.
#SBATCH --job-name=racnn
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
set -euo pipefail
config=${1:?usage: sbatch scripts/slurm-train.sh CONFIG RUN_DIR [racnn train flags]}
out=${2:?usage: sbatch scripts/slurm-train.sh CONFIG RUN_DIR [racnn train flags]}
shift 2
# Rank 0 runs on the job's first node; any free port there will do.
export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_PORT=${MASTER_PORT:-$((20000 + SLURM_JOB_ID % 20000))}
# One intra-op thread pool per task, sized to its CPUs.
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
# A run directory that already holds checkpoints (a requeued job) resumes.
resume=()
if compgen -G "$out/checkpoints/*.safetensors" >/dev/null; then
  resume=(--resume "$out")
  srun bin/racnn train "${resume[@]}" --device cuda "$@"
else
  srun bin/racnn train --config "$config" --out "$out" --device cuda "$@"
fi
