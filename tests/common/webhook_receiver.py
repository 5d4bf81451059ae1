"""A webhook receiver for parlor's tests that checks every delivery with `standardwebhooks`
(the Standard Webhooks reference library from PyPI, an implementation independent of
parlor's). The secret is read from SECRET_FILE at each request (the test learns it only when
it creates the endpoint). Each request is written to DIR/<n>.json as
{"id", "timestamp", "signature", "body", "verified", "error"}; verified deliveries are
answered 204, others 400 (so parlor retries them). --status N answers every request with N
instead (after checking it).

Prints "READY" once it listens.
"""

import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--secret-file", required=True)
    p.add_argument("--status", type=int, default=0)
    args = p.parse_args()
    lock = threading.Lock()
    counter = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            verified, error = False, None
            try:
                with open(args.secret_file) as f:
                    secret = f.read().strip()
                Webhook(secret).verify(body, dict(self.headers.items()))
                verified = True
            except (WebhookVerificationError, OSError, ValueError) as e:
                error = f"{type(e).__name__}: {e}"
            record = {
                "id": self.headers.get("webhook-id"),
                "timestamp": self.headers.get("webhook-timestamp"),
                "signature": self.headers.get("webhook-signature"),
                "content_type": self.headers.get("content-type"),
                "body": body.decode("utf-8", "replace"),
                "verified": verified,
                "error": error,
            }
            with lock:
                counter[0] += 1
                n = counter[0]
                tmp = os.path.join(args.dir, f".{n}.tmp")
                with open(tmp, "w") as f:
                    json.dump(record, f)
                os.rename(tmp, os.path.join(args.dir, f"{n:05}.json"))
            status = args.status or (204 if verified else 400)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
