"""A Web Push service for parlor's tests, checking what parlor sends with implementations
independent of parlor's: `http_ece` from PyPI (the payload decryption pywebpush relies on,
RFC 8291 aes128gcm) and `cryptography` (the VAPID JWT's ES256 signature, RFC 8292).

It also plays the browser: POST /subscribe makes a subscription (a P-256 key pair and a
16-byte auth secret generated here, as a browser's push manager would) and answers its
`PushSubscription.toJSON()`. POST /push/<id> is the push endpoint: it checks the headers
(Content-Encoding aes128gcm, TTL, Urgency, Authorization: vapid t=…, k=…), verifies the JWT
(alg ES256, signature by the k= key, aud = this service's origin, exp present, sub mailto: or
https:), decrypts the body, and writes {"subscription", "ttl", "urgency", "claims",
"message", "verified", "error"} to DIR/<n>.json. Answers 201 when everything checks, 400
when not; 404 for an unknown subscription, 410 for one made gone (POST /gone/<id>); POST
/fail {"status": S, "count": N} answers the next N pushes with S.

Prints "READY" once it listens.
"""

import argparse
import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_vapid(header, origin):
    """The JWT's claims when the Authorization header is a valid VAPID one for `origin`."""
    if not header.startswith("vapid "):
        raise ValueError(f"not a vapid authorization: {header[:40]}")
    params = dict(p.strip().split("=", 1) for p in header[len("vapid "):].split(","))
    token, key = params["t"], params["k"]
    head_b64, claims_b64, sig_b64 = token.split(".")
    head = json.loads(unb64u(head_b64))
    if head.get("alg") != "ES256":
        raise ValueError(f"alg {head.get('alg')}")
    sig = unb64u(sig_b64)
    if len(sig) != 64:
        raise ValueError("an ES256 signature is 64 bytes")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(key))
    try:
        public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ValueError("the VAPID signature does not verify")
    claims = json.loads(unb64u(claims_b64))
    if claims.get("aud") != origin:
        raise ValueError(f"aud {claims.get('aud')} is not {origin}")
    if not isinstance(claims.get("exp"), int):
        raise ValueError("no exp")
    sub = claims.get("sub", "")
    if not (sub.startswith("mailto:") or sub.startswith("https://")):
        raise ValueError(f"sub {sub}")
    return claims, key


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    args = p.parse_args()
    origin = f"http://127.0.0.1:{args.port}"
    lock = threading.Lock()
    subs = {}
    gone = set()
    fail = {"status": 0, "count": 0}
    counter = [0]

    class Handler(BaseHTTPRequestHandler):
        def answer(self, status, body=b""):
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            if body:
                self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            path = self.path
            if path == "/subscribe":
                key = ec.generate_private_key(ec.SECP256R1())
                auth = os.urandom(16)
                with lock:
                    counter[0] += 1
                    sid = f"s{counter[0]}"
                    subs[sid] = (key, auth)
                public = key.public_key().public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                )
                sub = {
                    "endpoint": f"{origin}/push/{sid}",
                    "expirationTime": None,
                    "keys": {"p256dh": b64u(public), "auth": b64u(auth)},
                }
                return self.answer(201, json.dumps(sub).encode())
            if path.startswith("/gone/"):
                with lock:
                    gone.add(path[len("/gone/"):])
                return self.answer(204)
            if path == "/fail":
                with lock:
                    fail.update(json.loads(body))
                return self.answer(204)
            if not path.startswith("/push/"):
                return self.answer(404)
            sid = path[len("/push/"):]
            with lock:
                known = subs.get(sid)
                is_gone = sid in gone
                forced = 0
                if fail["count"] > 0:
                    fail["count"] -= 1
                    forced = fail["status"]
            if known is None:
                return self.answer(404)
            if is_gone:
                return self.answer(410)
            record = {
                "subscription": sid,
                "ttl": self.headers.get("ttl"),
                "urgency": self.headers.get("urgency"),
                "claims": None,
                "message": None,
                "verified": False,
                "error": None,
            }
            try:
                if self.headers.get("content-encoding") != "aes128gcm":
                    raise ValueError(f"content-encoding {self.headers.get('content-encoding')}")
                if not (self.headers.get("ttl") or "").isdigit():
                    raise ValueError("no TTL")
                claims, _ = check_vapid(self.headers.get("authorization", ""), origin)
                record["claims"] = claims
                key, auth = known
                plain = http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
                record["message"] = json.loads(plain)
                record["verified"] = True
            except Exception as e:  # every failure is recorded for the test to read
                record["error"] = f"{type(e).__name__}: {e}"
            with lock:
                counter[0] += 1
                n = counter[0]
            final = os.path.join(args.dir, f"{n:06}.json")
            with open(final + ".tmp", "w") as f:
                json.dump(record, f)
            os.replace(final + ".tmp", final)
            if forced:
                return self.answer(forced)
            self.answer(201 if record["verified"] else 400)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
