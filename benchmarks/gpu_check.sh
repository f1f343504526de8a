#!/usr/bin/env bash
# Build the CUDA example's variant wheels, install them with uv's variant support on
# this machine, and check that the variant for this GPU is chosen and its kernel runs
# correctly. Needs an NVIDIA GPU + driver, nvcc, and polywheel installed
# (pip install -e ".[test]" gives uv).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader
cp -r "$root/examples/cuda" "$work/cuda"
python -m polywheel build "$work/cuda" -o "$work/dist"
uv venv -q --python "$(command -v python)" "$work/venv"
VIRTUAL_ENV="$work/venv" uv pip install --preview-features wheel-variants \
    --no-index --find-links "$work/dist" polywheel-example-cuda -v 2>&1 | grep -E "Selecting|Detected" || true
"$work/venv/bin/python" - <<'PY'
import array, json, pathlib, sys, sysconfig
import pw_cuda
site = pathlib.Path(sysconfig.get_paths()["purelib"])
dist_info = next(site.glob("polywheel_example_cuda-*.dist-info"))
label = next(iter(json.loads((dist_info / "variant.json").read_text())["variants"]))
info = pw_cuda.device_info()
print("installed variant:", label, "| backend:", pw_cuda.backend(), "| device:", info)
n = 1 << 20
x = array.array("f", (i % 13 for i in range(n)))
y = array.array("f", (1.0 for _ in range(n)))
got = pw_cuda.saxpy(2.0, x, y)
want = pw_cuda.saxpy_reference(2.0, x, y)
assert all(abs(a - b) < 1e-5 for a, b in zip(got, want)), "wrong results"
major, minor = info["compute_capability"]
expected = f"sm{major}{minor}" if f"sm{major}{minor}" in ("sm80", "sm90") else None
print("results correct;", "expected variant:", expected)
sys.exit(0 if expected in (None, label) else 1)
PY
