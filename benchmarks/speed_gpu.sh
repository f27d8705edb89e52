#!/usr/bin/env bash
# The speed figures on one CUDA GPU, one after another (each command times alone on the device):
# the trainer beside a bare loop with its host syncs per step (fp32; bfloat16 autocast; autocast and
# torch.compile), then inference at the FER batch of 256 x 112x112 against a ResNet-18 (fp32; bfloat16
# channels-last; the same through torch.compile with CUDA graphs). Tables go to RESULTS (default
# benchmarks/results), logs to LOG_FOLDER.
#
#   bash benchmarks/speed_gpu.sh [LOG_FOLDER]
#
# TRAIN_OPTS / INFER_OPTS add options to every train_speed.py / speed.py command. A smoke run on the CPU:
#   DEVICE=cpu ITS=1 REPEATS=1 RESULTS=/tmp/r TRAIN_OPTS="--models llenet_s --modes reconstruction" \
#   INFER_OPTS="--models llenet-sice --batch 4 --repeats 1" bash benchmarks/speed_gpu.sh
set -u
cd "$(dirname "$0")/.."
LOGS=${1:-${TMPDIR:-/tmp}/llenhance-speed-logs}
mkdir -p "$LOGS"
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
RESULTS=${RESULTS:-benchmarks/results}
ITS=${ITS:-50}
REPEATS=${REPEATS:-3}
HALF=(--half) AMP=(--amp)
if [ "$DEVICE" = cpu ]; then HALF=() AMP=(); fi  # a CPU smoke run times fp32 only (--amp is CUDA-only)

status=0
run() {  # run LOG COMMAND...: output to LOG_FOLDER/LOG.log; the script's exit status is the worst
    local log="$LOGS/$1.log"
    shift
    echo "+ $* ($(date +%T))" >"$log"
    "$@" >>"$log" 2>&1
    local rc=$?
    echo "exit $rc ($(date +%T))" >>"$log"
    tail -n 14 "$log"
    if [ "$rc" != 0 ]; then status=$rc; fi
}

TRAIN=(benchmarks/train_speed.py --device "$DEVICE" --iterations "$ITS" --warmup 5 --repeats "$REPEATS"
       --results "$RESULTS" ${TRAIN_OPTS:-})
run train_fp32 "$PYTHON" "${TRAIN[@]}"
run train_amp "$PYTHON" "${TRAIN[@]}" "${AMP[@]}"
run train_amp_compile "$PYTHON" "${TRAIN[@]}" "${AMP[@]}" --compile
INFER=(benchmarks/speed.py --device "$DEVICE" --batch 256 --repeats 10 --rounds "$REPEATS" --results "$RESULTS"
       ${INFER_OPTS:-})
run infer_fp32 "$PYTHON" "${INFER[@]}"
run infer_half "$PYTHON" "${INFER[@]}" "${HALF[@]}"
run infer_half_compile "$PYTHON" "${INFER[@]}" "${HALF[@]}" --compile reduce-overhead
exit $status
