"""A real SMTP server on 127.0.0.1 (aiosmtpd) for Gatebell's tests.

Listens on a port the system picks (bound once, never released and taken again), prints
`LISTENING <port>` once it accepts connections, then one JSON line per event:
- `{"event": "message", ...}` per message it takes: the envelope (`mail_from`, `rcpt_tos`),
  whether it came over TLS and as whom (`tls`, `login`), and the message parsed with Python's
  `email` package (`from`, `to`, `subject`, `content_type`, the `text` and `html` parts);
- `{"event": "refused", "rcpt", "code"}` per recipient it refused as scripted;
- `{"event": "auth", "login", "success"}` per AUTH attempt.
Exits when stdin closes, so it never outlives the test that started it.

As a submission server would, it can ask for more (flags):
- `--tls starttls --cert F --key F`: offers STARTTLS and takes no mail before it, and offers
  AUTH only inside TLS; `--tls implicit`: TLS from the first byte (`smtps://`);
- `--user U --password P`: offers AUTH PLAIN and LOGIN, takes no mail before a successful
  AUTH, and refuses other credentials with 535;
- `--refuse ADDRESS:CODE:COUNT` (repeatable): answers `RCPT TO:<ADDRESS>` with CODE (a 4xx
  "try again later" or a 5xx "no such mailbox") the first COUNT times.
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys
import warnings
from email import policy
from email.parser import BytesParser

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REPLIES = {
    4: "4.2.1 Mailbox busy, try again later",
    5: "5.1.1 No such mailbox here",
}


def emit(record):
    print(json.dumps(record), flush=True)


class Sink:
    def __init__(self, refusals):
        # address -> [code, times left]
        self.refusals = refusals

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        script = self.refusals.get(address)
        if script is not None and script[1] > 0:
            script[1] -= 1
            code = script[0]
            emit({"event": "refused", "rcpt": address, "code": code})
            return f"{code} {REPLIES[code // 100]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        emit(
            {
                "event": "message",
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "tls": server.transport.get_extra_info("sslcontext") is not None,
                "login": session.auth_data,
                "from": str(msg["From"]),
                "to": str(msg["To"]),
                "subject": str(msg["Subject"]),
                "content_type": msg.get_content_type(),
                "text": text.get_content() if text is not None else None,
                "html": html.get_content() if html is not None else None,
            }
        )
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
        emit({"event": "auth", "mechanism": mechanism, "login": login, "success": ok})
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    return check


def refusal(spec):
    address, code, count = spec.rsplit(":", 2)
    code = int(code)
    if code // 100 not in REPLIES:
        raise argparse.ArgumentTypeError(f"{code} is not a 4xx or 5xx reply")
    return address, [code, int(count)]


async def serve(args):
    tls = None
    if args.tls != "none":
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    kwargs = {}
    if args.user is not None:
        kwargs.update(
            authenticator=authenticator(args.user, args.password),
            auth_required=True,
            auth_exclude_mechanism=["CRAM-MD5"],
            # Inside implicit TLS aiosmtpd does not know it is encrypted; the socket is.
            auth_require_tls=args.tls == "starttls",
        )
    if args.tls == "starttls":
        kwargs.update(tls_context=tls, require_starttls=True)
    sink = Sink(dict(args.refuse))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="localhost", loop=loop, **kwargs),
        host="127.0.0.1",
        port=0,
        ssl=tls if args.tls == "implicit" else None,
    )
    emit_port = server.sockets[0].getsockname()[1]
    print(f"LISTENING {emit_port}", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def main():
    # Implicit TLS is TLS; aiosmtpd only knows STARTTLS as such and would warn about AUTH.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    p = argparse.ArgumentParser()
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--refuse", type=refusal, action="append", default=[])
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
