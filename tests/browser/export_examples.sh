#!/usr/bin/env bash
# Regenerate workflows/*.json (UI format) and their .jpg thumbnails (what ComfyUI's templates dialog asks custom packs
# for) from tests/browser/example_graphs.py by loading
# each graph into a real ComfyUI page. Needs a running ComfyUI with the pack (BASE, default http://127.0.0.1:8188),
# Debian's chromium and `npm install` in this folder. Put the files the examples name (input/reference.png,
# driving.mp4, dance.mp4, person.mp4, speech.wav; the model files of README "Weights", empty placeholders will do) where
# that server looks, or the thumbnails show the frontend's red missing-file markers.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; pack="$(cd "$here/../.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
PY=${PYTHON:-python3}
"$PY" "$here/example_graphs.py" "$tmp/api"
VIEWPORT=${VIEWPORT:-2000x1100} node "$here/check_frontend.mjs" "${BASE:-http://127.0.0.1:8188}" "$tmp/out" "$tmp"/api/*_api.json
for f in "$tmp"/out/*.json; do
  name="$(basename "$f" .json)"; [ "$name" = report ] && continue
  cp "$f" "$pack/workflows/$name.json"
  "$PY" -c "import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB'); im.thumbnail((1000, 1000)); im.save(sys.argv[2], quality=85, optimize=True)" "$tmp/out/$name.png" "$pack/workflows/$name.jpg"
done
ls -la "$pack/workflows"
