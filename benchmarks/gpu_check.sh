#!/usr/bin/env bash
# Check the CUDA example's variant wheels on a machine with an NVIDIA GPU:
#  1. uv, with its wheel-variant support, picks the wheel for this GPU and driver from
#     the index file, and its kernel gives correct results;
#  2. every wheel, unpacked on its own, does what its label says here: the build for
#     this GPU's architecture runs, a build for another architecture (SASS of another
#     major version) fails with CUDA's own error instead of computing, and the CPU
#     builds run on the CPU.
#
# Usage: gpu_check.sh [DIST]
#   DIST: a folder with the wheels and the index file, built elsewhere (e.g. on a CI
#   machine with nvcc: `polywheel build examples/cuda -o DIST`); without it the example
#   is built here, which needs nvcc and polywheel installed (pip install -e ".[test]").
# Needs an NVIDIA GPU and driver, a Python whose version the wheels were built for,
# and uv (on PATH, or given as UV=...). Exit status 0 only if every check holds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
uv=${UV:-uv}
python=${PYTHON:-$(command -v python3 || command -v python)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader
echo "driver module: $(cat /sys/module/nvidia/version 2>/dev/null || echo 'no /sys/module/nvidia/version')"
if [[ $# -ge 1 ]]; then
    dist=$(cd "$1" && pwd)
else
    cp -r "$root/examples/cuda" "$work/cuda"
    "$python" -m polywheel build "$work/cuda" -o "$work/dist"
    dist="$work/dist"
fi

# What the installed package reports, and whether its kernel computes correctly.
cat >"$work/probe.py" <<'PY'
import array, importlib.metadata, json, sys
import pw_cuda
variant = importlib.metadata.distribution("polywheel-example-cuda").read_text("variant.json")
variants = json.loads(variant)["variants"] if variant else {"(plain)": {}}
label, properties = next(iter(variants.items()))
bound = properties.get("nvidia", {}).get("cuda_version_lower_bound", [None])[0]
n = 1 << 20
x = array.array("f", (i % 13 for i in range(n)))
y = array.array("f", (1.0 for _ in range(n)))
try:
    got = pw_cuda.saxpy(2.0, x, y)
except RuntimeError as error:
    print(json.dumps({"label": label, "cuda": bound, "error": str(error)}))
    sys.exit(0)
want = pw_cuda.saxpy_reference(2.0, x, y)
correct = all(abs(a - b) < 1e-5 for a, b in zip(got, want))
info = pw_cuda.device_info() if pw_cuda.backend() != "cpu" else None
print(json.dumps({"label": label, "cuda": bound, "backend": pw_cuda.backend(), "correct": correct, "device": info}))
PY

install() {  # venv, then uv's options and what to install
    local venv=$1
    shift
    "$uv" venv -q --python "$python" "$venv"
    VIRTUAL_ENV="$venv" "$uv" pip install --preview-features wheel-variants --no-index \
        --find-links "$dist" "$@"
}

echo "== 1. uv chooses from the index file"
install "$work/chosen" -v polywheel-example-cuda 2>"$work/uv.log"
grep -E -i "variant|Selecting" "$work/uv.log" | grep -v -i "^DEBUG Searching" | tail -n 15 || true
chosen=$("$work/chosen/bin/python" "$work/probe.py")
echo "chosen: $chosen"

echo "== 2. every wheel on its own"
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' .')
driver_cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n 1)
echo "compute capability $cc, the driver's CUDA version $driver_cuda"
status=0
for wheel in "$dist"/*.whl; do
    name=$(basename "$wheel" .whl)
    # Unpacked, not installed: an installer refuses a variant this machine does not
    # support, and running it anyway is the point.
    "$python" -m zipfile -e "$wheel" "$work/$name"
    result=$(PYTHONPATH="$work/$name" "$python" "$work/probe.py")
    # What the label promises here: sm<cc>* runs on this GPU (sm_XY SASS runs on X.Y and
    # later X.*), another sm fails with CUDA's "no kernel image", the CPU builds (null
    # and the plain wheel) compute on the CPU. A build for a newer CUDA than the
    # driver's is not judged: no installer picks it here.
    verdict=$("$python" - "$result" "$cc" "$driver_cuda" <<'PY'
import json, re, sys
result, cc, driver = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
match = re.match(r"sm(\d+)", result["label"])
version = lambda text: tuple(int(part) for part in text.split("."))
if match is None:
    ok = result.get("backend") == "cpu" and result.get("correct") is True
elif version(result["cuda"]) > version(driver):
    ok = None
elif match.group(1)[:-1] == cc[:-1] and int(match.group(1)) <= int(cc):
    ok = result.get("correct") is True
else:
    ok = "no kernel image" in result.get("error", "")
print({True: "ok", False: "WRONG", None: "n/a"}[ok])
PY
)
    echo "$verdict $result"
    [[ $verdict != WRONG ]] || status=1
done

echo "== verdict"
"$python" - "$chosen" "$cc" <<'PY' || status=1
import json, sys
chosen, cc = json.loads(sys.argv[1]), sys.argv[2]
gpu_label = chosen["label"].startswith(f"sm{cc}")
print("chosen wheel is built for this GPU:", gpu_label, "| correct:", chosen.get("correct"))
sys.exit(0 if gpu_label and chosen.get("correct") is True else 1)
PY
exit $status
