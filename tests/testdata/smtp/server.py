#!/usr/bin/env python3
"""An SMTP server for dunwell's e-mail tests and benchmarks (aiosmtpd).

    python3 server.py MODE MAILDIR [--user U --password P] [--delay SECONDS]

Listens on a free port of 127.0.0.1 and prints `port N` on stdout once it accepts
connections. Every message it accepts goes into the maildir MAILDIR (one file in
MAILDIR/new/ each, with `X-MailFrom` and `X-RcptTo` headers added by aiosmtpd's Mailbox
handler). MODE is one of:

  plain           no TLS, no AUTH
  starttls        STARTTLS required before anything else, then AUTH (PLAIN, LOGIN) required
  tls             implicit TLS (the connection starts with the TLS handshake), AUTH required
  refuse-rcpt     plain; every RCPT TO is answered `550 5.1.1 ... User unknown`
  refuse-data     plain; every message is answered `554 5.7.1 ... rejected` after DATA
  drop-after-data plain; the message is stored, then the connection is closed without a reply
                  (the link dying in RFC 1047's synchronisation gap)
  slow            plain; the reply to the message comes after --delay seconds (default 30)

The certificate is server.pem/server.key of this folder (see README.md); AUTH accepts only
--user/--password (default `dunwell` / `smtp-test-password`).
"""

import argparse
import asyncio
import os
import ssl
import sys

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("plain", "starttls", "tls", "refuse-rcpt", "refuse-data", "drop-after-data", "slow")


class Handler(Mailbox):
    def __init__(self, maildir, mode, delay):
        super().__init__(maildir)
        self.mode = mode
        self.delay = delay

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "refuse-rcpt":
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "refuse-data":
            return "554 5.7.1 Message rejected: content looks like spam (test server)"
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        reply = await super().handle_DATA(server, session, envelope)
        if self.mode == "drop-after-data":
            # Stored, and the link dies before the client hears `250`.
            server.transport.abort()
        return reply


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return check


def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(HERE, "server.pem"), os.path.join(HERE, "server.key"))
    return ctx


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=MODES)
    p.add_argument("maildir")
    p.add_argument("--user", default="dunwell")
    p.add_argument("--password", default="smtp-test-password")
    p.add_argument("--delay", type=float, default=30.0)
    a = p.parse_args()
    handler = Handler(a.maildir, a.mode, a.delay)
    options = dict(enable_SMTPUTF8=True, data_size_limit=64 * 1024 * 1024)
    if a.mode == "starttls":
        options.update(
            tls_context=tls_context(),
            require_starttls=True,
            authenticator=authenticator(a.user, a.password),
            auth_required=True,
            auth_require_tls=True,
        )
    elif a.mode == "tls":
        # Every byte is encrypted from the start, which aiosmtpd cannot see (it knows only its
        # own STARTTLS): AUTH is offered right away.
        options.update(
            authenticator=authenticator(a.user, a.password),
            auth_required=True,
            auth_require_tls=False,
        )
    implicit = tls_context() if a.mode == "tls" else None
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, loop=loop, **options), host="127.0.0.1", port=0, ssl=implicit
    )
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
