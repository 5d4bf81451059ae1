"""A real SMTP server for parlor's notification tests (aiosmtpd, Debian's python3-aiosmtpd).

Every accepted message is written to DIR/<n>.eml (through a temporary file and a rename, so a
reader never sees half a file). Options make it misbehave the way real servers do:

  --fail N        answer the first N messages with 451 (try again later)
  --reject N      answer the first N messages with 550 (refused for good)
  --stall SECS    wait SECS inside DATA before answering (writes DIR/stalling first)
  --tls CERT KEY  offer STARTTLS with this certificate and require it before MAIL
  --auth U:P      require AUTH PLAIN/LOGIN with these credentials (after STARTTLS)

Prints "READY" on stdout once it accepts connections.
"""

import argparse
import asyncio
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        n = self.seen
        if n <= self.args.fail:
            return "451 4.3.0 Try again later (test sink)"
        if n <= self.args.fail + self.args.reject:
            return "550 5.1.1 Mailbox unavailable (test sink)"
        if self.args.stall > 0:
            with open(os.path.join(self.args.dir, "stalling"), "w") as f:
                f.write(str(time.time()))
            await asyncio.sleep(self.args.stall)
        self.count += 1
        tmp = os.path.join(self.args.dir, f".{self.count}.tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.args.dir, f"{self.count:05}.eml"))
        return "250 2.0.0 Accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--fail", type=int, default=0)
    p.add_argument("--reject", type=int, default=0)
    p.add_argument("--stall", type=float, default=0.0)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth")
    args = p.parse_args()

    kwargs = {}
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        kwargs.update(tls_context=ctx, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok)

        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=bool(args.tls),
        )
    controller = Controller(
        Handler(args), hostname="127.0.0.1", port=args.port, ready_timeout=10, **kwargs
    )
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin (or dies)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
