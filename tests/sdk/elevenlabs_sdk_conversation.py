#!/usr/bin/env python3
"""Conformance: the official `elevenlabs` Python SDK holds conversations with parlor's
ElevenLabs test double (`parlor dev fake-elevenlabs`).

If the SDK can talk to the double, the double speaks the protocol the way ElevenLabs does
(as far as the SDK can tell), so the Rust client's tests against the double mean something.

Two runs, each against a fresh double:
  * a public agent (the SDK builds ws://HOST/v1/convai/conversation?agent_id=... from the
    client's base_url);
  * a private agent (the SDK first GETs /v1/convai/conversation/get-signed-url with the
    xi-api-key header, then opens the returned signed URL).
Each run feeds a 1 s tone burst through a custom AudioInterface and asserts: a conversation id,
agent audio, user-transcript and agent-response callbacks, a latency measurement from ping_ms,
and a clean end (callback_disconnect with reason "user", double exits 0 on SIGTERM).

Usage: elevenlabs_sdk_conversation.py [PARLOR_BIN]   (or PARLOR_BIN=...; default target/debug/parlor)
"""

import math
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

from elevenlabs.client import ElevenLabs
from elevenlabs.conversational_ai.conversation import (
    AudioInterface,
    Conversation,
    ConversationInitiationData,
)

RATE = 16_000
CHUNK_MS = 100
AGENT_ID = "agent_sdk_conformance"
API_KEY = "sk_conformance_not_a_real_key"


class ToneBurst(AudioInterface):
    """Microphone: 0.3 s silence, 1 s of a 300 Hz tone, then silence; speaker: collects bytes."""

    def __init__(self):
        self.output_audio = bytearray()
        self.interruptions = 0
        self._stop = threading.Event()
        self._thread = None

    def start(self, input_callback):
        def feed():
            n = RATE * CHUNK_MS // 1000
            t = 0
            while not self._stop.is_set():
                loud = 0.3 <= t / RATE < 1.3
                samples = [
                    int(8000 * math.sin(2 * math.pi * 300 * (t + i) / RATE)) if loud else 0
                    for i in range(n)
                ]
                t += n
                input_callback(struct.pack(f"<{n}h", *samples))
                self._stop.wait(CHUNK_MS / 1000)

        self._thread = threading.Thread(target=feed, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def output(self, audio):
        self.output_audio.extend(audio)

    def interrupt(self):
        self.interruptions += 1


def start_double(binary, extra_env):
    env = dict(os.environ, RUST_LOG="warn", **extra_env)
    env.pop("PARLOR_CONFIG", None)
    cwd = tempfile.mkdtemp(prefix="fake-elevenlabs-")  # no config/parlor.toml here
    proc = subprocess.Popen(
        [binary, "dev", "fake-elevenlabs", "--listen", "127.0.0.1:0",
         "--agent-id", AGENT_ID, "--ping-ms", "300", "--think-ms", "200"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    m = re.match(r"listening on ws://(\S+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"double did not start: {line!r} {proc.stderr.read()}")
    return proc, m.group(1)


def converse(binary, private):
    proc, addr = start_double(binary, {"FAKE_ELEVENLABS_API_KEY": API_KEY} if private else {})
    try:
        client = ElevenLabs(api_key=API_KEY, base_url=f"http://{addr}")
        audio = ToneBurst()
        responses, transcripts, latencies, disconnects = [], [], [], []
        conversation = Conversation(
            client,
            AGENT_ID,
            user_id="u_sdk",
            requires_auth=private,
            audio_interface=audio,
            config=ConversationInitiationData(dynamic_variables={"user_name": "Ana"}),
            callback_agent_response=responses.append,
            callback_user_transcript=transcripts.append,
            callback_latency_measurement=latencies.append,
            callback_disconnect=disconnects.append,
        )
        conversation.start_session()
        deadline = time.monotonic() + 15
        # The double's 1.2 s reply at 16 kHz is 38,400 bytes; wait for most of it.
        while time.monotonic() < deadline and not (
            responses and transcripts and latencies and len(audio.output_audio) >= 30_000
        ):
            time.sleep(0.05)
        conversation.end_session()
        conversation_id = conversation.wait_for_session_end()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "killed"
        stderr = proc.stderr.read()

    kind = "private" if private else "public"
    failures = []
    if not (conversation_id or "").startswith("conv_fake_"):
        failures.append(f"conversation id: {conversation_id!r}")
    if len(audio.output_audio) < 30_000:
        failures.append(f"agent audio: only {len(audio.output_audio)} bytes")
    if not transcripts or "[fake]" not in transcripts[0]:
        failures.append(f"user transcript callbacks: {transcripts!r}")
    if not responses:
        failures.append("no agent response callback")
    if not latencies:
        failures.append("no latency measurement (ping_ms)")
    if [d.reason for d in disconnects] != ["user"]:
        failures.append(f"disconnects: {disconnects!r}")
    if code != 0:
        failures.append(f"double exit status {code}: {stderr}")
    print(f"{kind}: conversation {conversation_id}, {len(audio.output_audio)} audio bytes, "
          f"transcripts {transcripts}, responses {responses}, latencies {latencies[:3]}")
    for f in failures:
        print(f"  FAIL ({kind}): {f}")
    return not failures


def main():
    binary = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("PARLOR_BIN") \
        or "target/debug/parlor"
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"no parlor binary at {binary}")
    ok = converse(binary, private=False)
    ok = converse(binary, private=True) and ok
    print("SDK conformance:", "ok" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
