#!/usr/bin/env bash
# The GPU checks of issues 7 and 9 as one prepared device call (about 8 minutes of a 15-minute budget):
#   1. bench/train_gpu.py with --profile: where a training step's time goes (top kernels per run), the fused
#      chunked head (chunked / cecompile) against the unfused masked-only head, plain PyTorch and DeepSpeed;
#   2. bench/dlo_gpu.py: DLO (c) with real gather/scatter against the dense expanded model (b), XLM-R-base shape.
# Results and logs are copied to $OUT (the device tool brings them back); commit bench/results/*.json after.
#
# The device image has torch and transformers but not DeepSpeed or pydantic. Here, once per session, from the
# repo root (versions: those of .venv; DeepSpeed has no wheel on PyPI, so build its pure-Python one):
#   echo /.whl/ >> .git/info/exclude; mkdir -p .whl
#   .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 hjson==3.1.0 py-cpuinfo==9.0.0
#   .venv/bin/python -m pip download -q --no-deps -d .whl deepspeed==0.19.8
#   DS_BUILD_OPS=0 .venv/bin/python -m pip wheel -q --no-deps --no-build-isolation -w .whl .whl/deepspeed-0.19.8.tar.gz
#   rm .whl/deepspeed-0.19.8.tar.gz
# Then the device call: run(command="bash bench/gpu_session.sh", carry=[".whl"], timeout_s=600).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_session}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"

timeout 420 python3 bench/train_gpu.py --name train_gpu_profile --profile --steps 20 --warmup 5 \
  --runs masked:128:torch:compile,masked:128:torch:compile:cecompile,masked:128:torch:compile:chunked,masked:64:zero1:compile,masked:64:zero1:compile:cecompile,masked:256:torch:compile:cecompile \
  2>&1 | grep -v "^\[" | tee "$OUT/train_gpu.log"
timeout 120 python3 bench/dlo_gpu.py 2>&1 | tee "$OUT/dlo_gpu.log"
cp bench/results/train_gpu_profile.json bench/results/dlo_gpu.json "$OUT/" 2>/dev/null
ls -la "$OUT"
