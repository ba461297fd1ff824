"""A real SMTP server on 127.0.0.1 (aiosmtpd) for Gatebell's tests.

Prints `LISTENING <port>` once it accepts connections, then one JSON line per message it
receives: the envelope (`mail_from`, `rcpt_tos`) and the message parsed with Python's `email`
package (`from`, `to`, `subject`, `content_type`, and the `text` and `html` parts decoded).
Exits when stdin closes, so it never outlives the test that started it.
"""

import json
import socket
import sys
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        print(json.dumps(record), flush=True)
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"LISTENING {port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
