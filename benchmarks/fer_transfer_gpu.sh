#!/usr/bin/env bash
# The FER transfer experiment on one CUDA GPU, in parallel processes: the four FER2013 classifiers
# (train_fer_classifier.py), every enhancer of fer_transfer.py for three seeds, the FER-guided ones once
# their guides exist, then both tables (the headline, and the stride-1 ResNet-18 as the ResNet reader).
# The commands are the CPU ones with --device cuda; each resumes from its checkpoints when run again.
#
#   bash benchmarks/fer_transfer_gpu.sh [LOG_FOLDER]
#
# Data: LLENHANCE_DATA (default ../shared/data beside the checkout). Classifiers and enhancers go to
# LLENHANCE_CACHE (default ~/.cache/llenhance), tables to RESULTS (default benchmarks/results). The face
# enhancer's schedule: LONG_ITS (default 3000) then the stages STAGES (default "3000 2000"). EXTRA_CLS /
# EXTRA_FT add options to every classifier / transfer command. A smoke run on the CPU:
#   DEVICE=cpu LLENHANCE_CACHE=/tmp/c RESULTS=/tmp/r LONG_ITS=4 STAGES="4 4" \
#   EXTRA_CLS="--limit 300 --epochs 1 --batch-size 64" \
#   EXTRA_FT="--limit 64 --iterations 4" bash benchmarks/fer_transfer_gpu.sh
set -u
cd "$(dirname "$0")/.."
LOGS=${1:-${TMPDIR:-/tmp}/llenhance-gpu-logs}
mkdir -p "$LOGS"
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
CACHE=${LLENHANCE_CACHE:-$HOME/.cache/llenhance}
RESULTS=${RESULTS:-benchmarks/results}
EXTRA_CLS=${EXTRA_CLS:-}
EXTRA_FT=${EXTRA_FT:-}
LONG_ITS=${LONG_ITS:-3000}
read -r -a STAGES <<<"${STAGES:-3000 2000}"
LONG_TAG="curve-rec-s1-${LONG_ITS}its$(printf '+%sits' "${STAGES[@]}")"
# where the classifiers and enhancers live, named only when not the defaults (the recorded commands stay short)
WHERE=()
if [ "$CACHE" != "$HOME/.cache/llenhance" ]; then WHERE=(--classifiers "$CACHE" --work "$CACHE/fer-transfer"); fi
if [ "$LONG_ITS" != 3000 ]; then WHERE+=(--long-iterations "$LONG_ITS"); fi

run() {  # run LOG COMMAND...: output to LOG_FOLDER/LOG.log, with the command and its exit status
    local log="$LOGS/$1.log"
    shift
    echo "+ $* ($(date +%T))" >"$log"
    "$@" >>"$log" 2>&1
    echo "exit $? ($(date +%T))" >>"$log"
}

CLS=("$PYTHON" benchmarks/train_fer_classifier.py --batch-size 128 --lr 0.001 --optimizer adamw --seed 0
     --augment crop-flip --threads 2 --device "$DEVICE")
# shellcheck disable=SC2086  # EXTRA_* are option lists
{
    run cls-resnet18 "${CLS[@]}" --arch resnet18 --epochs 12 --output "$CACHE/fer-resnet18" $EXTRA_CLS &
    guide1=$!
    run cls-vgg "${CLS[@]}" --arch vgg --epochs 12 --output "$CACHE/fer-vgg" $EXTRA_CLS &
    guide2=$!
    run cls-convnext_atto "${CLS[@]}" --arch convnext_atto --epochs 16 --output "$CACHE/fer-convnext_atto" \
        $EXTRA_CLS &
    guide3=$!
    run cls-resnet18_s1 "${CLS[@]}" --arch resnet18_s1 --epochs 20 --output "$CACHE/fer-resnet18_s1-20ep" \
        --name fer_classifier_resnet18_s1_20ep $EXTRA_CLS &

    FT=("$PYTHON" benchmarks/fer_transfer.py --threads 1 --device "$DEVICE" --long-continue "${STAGES[@]}"
        --continue-lr 2.5e-4 1.25e-4 "${WHERE[@]}")
    for seed in 0 1 2; do
        run "faces-seed$seed" "${FT[@]}" --seeds "$seed" --train-only "$LONG_TAG" \
            $EXTRA_FT &
    done
    run short "${FT[@]}" --train-only ifer curve-rec $EXTRA_FT &

    wait "$guide1" "$guide2" "$guide3"
    for arch in resnet18 vgg convnext_atto; do
        run "guided-without-$arch" "${FT[@]}" --train-only "guided-without-$arch" $EXTRA_FT &
    done
    wait

    # every enhancer exists now: the tables only evaluate
    run table "${FT[@]}" --results "$RESULTS" $EXTRA_FT &
    run table-resnet18_s1 "${FT[@]}" --skip-guided --classifier-dir resnet18 "$CACHE/fer-resnet18_s1-20ep" \
        --results "$RESULTS/fer_transfer_resnet18_s1_20ep" $EXTRA_FT &
    wait
}
grep -h "^exit" "$LOGS"/*.log | sort | uniq -c
