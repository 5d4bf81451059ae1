#!/usr/bin/env bash
# ElevenLabs SDK conformance: the official `elevenlabs` Python SDK (pinned in
# tests/sdk/requirements.txt) holds conversations with `parlor dev fake-elevenlabs`, so the
# test double the Rust client is tested against is known to speak the real protocol.
#
# Usage: .ci/elevenlabs_sdk.sh [PATH_TO_PARLOR_DEBUG_BINARY]   (default target/debug/parlor)
# Builds nothing: run `cargo build` first. The venv lives in $SDK_VENV (default
# target/sdk-venv) and is reused when its requirements did not change.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BIN=$(realpath "${1:-${PARLOR_BIN:-$ROOT/target/debug/parlor}}")
VENV=${SDK_VENV:-$ROOT/target/sdk-venv}
REQS=$ROOT/tests/sdk/requirements.txt

if [[ ! -x $BIN ]]; then
    echo "elevenlabs_sdk.sh: no parlor binary at $BIN (run cargo build first)" >&2
    exit 2
fi
if ! cmp -s "$REQS" "$VENV/.requirements" 2>/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$VENV/.requirements"
fi
exec timeout 300 "$VENV/bin/python" "$ROOT/tests/sdk/elevenlabs_sdk_conversation.py" "$BIN"
