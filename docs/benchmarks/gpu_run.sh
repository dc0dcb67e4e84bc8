#!/usr/bin/env bash
# The GPU run of the tensor-product benchmark (batch 10,000), prepared for a lent device machine.
#
# The device image has jax with CUDA, flax, optax, chex, orbax, numpy, scipy, sympy, attrs and
# matplotlib, but not e3nn-jax; nothing can be fetched there. So, here, once, in the repository root:
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps -d .whl e3nn-jax==0.21.0
#
# then with the device tool: run(command="bash docs/benchmarks/gpu_run.sh", carry=[".whl"], timeout_s=540).
# geojax runs from the checkout (PYTHONPATH), on the image's jax, whatever its version. Results land
# in $OUT (the device tool's output folder; ./bench_out/gpu elsewhere): the product table at batch
# 10,000 in true float32 (--matmul-precision float32: jax's GPU default would run float32 dots as
# TF32), the L = 8 goal configuration with jax's default precision, and a log of both.
# LMAX, BATCH and REPEATS override the defaults (for a dry run on a CPU: LMAX=1,2 BATCH=8 REPEATS=2).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-bench_out/gpu}
mkdir -p "$out"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/geojax_site .whl/*.whl
  export PYTHONPATH=/tmp/geojax_site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
lmax=${LMAX:-1,2,4,6,8,10,12,14,16}
batch=${BATCH:-10000}
repeats=${REPEATS:-10}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  python3 -m geojax.bench tp --lmax "$lmax" --batch "$batch" --cg-max-l 8 --dense-max-l 4 --repeats "$repeats" \
    --matmul-precision float32 --out "$out/float32"
  python3 -m geojax.bench tp --lmax 8 --batch "$batch" --methods auto,s2grid --baselines e3nn-cg,e3nn-grid --cg-max-l 8 \
    --repeats "$repeats" --out "$out/default"
} 2>&1 | tee "$out/gpu_run.log"
# the device tool returns at most 8 files: keep the JSON (every row), the plot and the log
rm -f "$out"/*/tp_product.csv "$out"/*/tp_product.md
