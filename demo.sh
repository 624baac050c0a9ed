#!/usr/bin/env bash
# One command: set up a private environment and run Embody's main job on what ships with the pack.
#   reference image (scikit-image's public-domain astronaut, or --image PATH)
#   -> whole-body pose (mediapipe backend: DWPose weights cannot ship) -> confidence-aware render + hand clarity
#   -> speech clip (tests/data/speech.wav, or --audio PATH) -> audio features -> motion (procedural driver, or
#      --motion-model FILE.safetensors) -> pose video with the audio muxed in, written to demo_output/.
# Extra arguments go to `python -m scripts.demo` (see --help). Override the interpreter with PYTHON=python3.11.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=${EMBODY_DEMO_VENV:-.venv-demo}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi
"$VENV/bin/python" -m pip install -q -r requirements.txt scikit-image
# Optional mediapipe backend (Python <= 3.12; its graphs need protobuf 4.x). --no-deps keeps out what the pose
# solutions never use (opencv-contrib next to opencv-python, jax, sounddevice); its run-time needs come after it.
if ! "$VENV/bin/python" -c "import mediapipe" 2>/dev/null; then
  { "$VENV/bin/python" -m pip install -q --no-deps "mediapipe==0.10.14" \
    && "$VENV/bin/python" -m pip install -q "protobuf>=4.25.3,<5" absl-py attrs flatbuffers; } \
    || echo "demo: mediapipe could not be installed; pass --dwpose-dir with yolox_l.onnx and dw-ll_ucoco_384.onnx" >&2
fi
exec "$VENV/bin/python" -m scripts.demo "$@"
