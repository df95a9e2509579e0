#!/usr/bin/env bash
# Train the full-width CNN (the authors' width 64) on a lent GPU machine in one command, within
# that machine's per-command limit, and leave the model and its log in an output folder.
#
#   bash scripts/device_train_cnn.sh DATA.nc OUTDIR [MAX_MINUTES] [extra `ts-toolkit train` args]
#
# MAX_MINUTES (default 8) is the training loop's time budget (`--set max_minutes`): training
# stops before an epoch that would end past it and saves the best model so far, so a command
# killed at a fixed limit (10 min on the lent machines here) does not lose the run. Keep about
# 2 minutes of the limit for the install, data loading and the final evaluation.
#
# The lent machine has python3 (3.12) with torch, xarray, scikit-learn, typer, rich, pluggy,
# matplotlib and setuptools (to install this package without build isolation), but no netCDF4
# and no network. Before the call, here, in the repository root (the netCDF4 and cftime
# wheels are abi3 builds, so they suit any Python from 3.11 on):
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 -d .whl netCDF4 cftime
#
# then run it with the data set and the wheels carried (about 56 MB with work/table1.nc):
#
#   run(command="bash scripts/device_train_cnn.sh work/table1.nc $OUT 8",
#       carry=["work/table1.nc", ".whl"], timeout_s=600)
#
# and score the returned model here, on the same test split as the baselines (docs/results.md).
# PYTHON (default python3) and DEVICE (default cuda) can be overridden, e.g. for a dry run on CPU.
set -euo pipefail

data=${1:?usage: device_train_cnn.sh DATA.nc OUTDIR [MAX_MINUTES] [train args...]}
out=${2:?usage: device_train_cnn.sh DATA.nc OUTDIR [MAX_MINUTES] [train args...]}
minutes=${3:-8}
if ! [[ $minutes =~ ^[0-9]+([.][0-9]*)?$ ]]; then
    echo "device_train_cnn.sh: MAX_MINUTES must be a number of minutes, got '$minutes'" >&2
    exit 2
fi
shift $(($# < 3 ? $# : 3))
py=${PYTHON:-python3}
device=${DEVICE:-cuda}
site=$(mktemp -d "${TMPDIR:-/tmp}/ts-toolkit-site.XXXXXX")
trap 'rm -rf "$site"' EXIT

mkdir -p "$out"
log="$out/train.log"
{
    echo "== $(date -u +%FT%TZ) $(uname -n)"
    if command -v nvidia-smi > /dev/null; then nvidia-smi -L; fi
    if compgen -G ".whl/*.whl" > /dev/null; then
        "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --target "$site" .whl/*.whl
    fi
    # the package itself, without its dependencies (the machine has them, or .whl brought them)
    "$py" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile \
        --target "$site" .
} 2>&1 | tee "$log"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$py" -c "import ts_toolkit; print('ts_toolkit from', ts_toolkit.__file__)" 2>&1 | tee -a "$log"

"$py" -m ts_toolkit train "$data" --model cnn --out "$out/cnn.tsm" --seed 1 \
    --device "$device" --set max_minutes="$minutes" "$@" 2>&1 | tee -a "$log"
"$py" -m ts_toolkit evaluate "$data" --model "$out/cnn.tsm" --out-dir "$out/evaluate" \
    2>&1 | tee -a "$log"
