#!/usr/bin/env python3
"""pywebpush as a peer of Gatebell for `cargo xtask bench` (see README.md).

Reads one JSON job on stdin:

    {"subscriptions": [{"endpoint", "keys": {"p256dh", "auth"}}, ...],
     "vapidPrivateKey": "<base64url raw 32-byte P-256 key, or DER>",
     "subject": "mailto:bench@gatebell.example", "rounds": 3}

and per round sends one aes128gcm push to every subscription, one after another (as
`pywebpush.webpush()` is used), over ONE `requests.Session` (keep-alive). Prints one JSON line
first, `{"library", "version", "mode"}`, then one per round:
`{"messages": n, "seconds": s, "cpuMs": c}`, where cpuMs is this process's user + system CPU
during the round (getrusage). Any answer other than 201 ends the run with exit status 1.
"""

import base64
import json
import resource
import sys
import time
from importlib.metadata import version
from urllib.parse import urlparse

import requests
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

TTL = 180


def cpu_ms() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1000.0


def payload(i: int) -> str:
    """About the size and shape of Gatebell's own push payload (~250 bytes of JSON)."""
    return json.dumps(
        {
            "gatebell": 1,
            "type": "visitor_arrived",
            "notificationId": f"0197a3c2-5e1b-7c3d-9f00-{i:012d}",
            "title": "Visitor at the gate",
            "body": "Ravi Kumar (delivery, Swiggy) is waiting at Gate 2 for flat B-1204.",
            "tag": f"visit-0197a3c2-5e1b-7c3d-9f00-{i:012d}",
        },
        separators=(",", ":"),
    )


def jwt_claims(authorization: str) -> dict:
    token = authorization.split("t=", 1)[1].split(",", 1)[0].strip()
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def main() -> int:
    job = json.load(sys.stdin)
    subscriptions = job["subscriptions"]
    rounds = int(job.get("rounds", 3))
    subject = job["subject"]
    # Parsed once, as a long-running sender would keep it (a key string would be re-parsed on
    # every call).
    vapid = Vapid.from_string(job["vapidPrivateKey"])
    payloads = [payload(i) for i in range(len(subscriptions))]
    if not subscriptions:
        print("pywebpush peer: no subscriptions in the job", file=sys.stderr)
        return 2

    # RFC 8292 §2: aud is the push resource's origin, port included. pywebpush derives it from
    # the endpoint; check what it really signs by handing webpush() a stand-in session that
    # keeps the request instead of sending it.
    class Capture:
        def post(self, url, **kwargs):
            self.headers = kwargs["headers"]
            answer = requests.Response()
            answer.status_code = 201
            return answer

    capture = Capture()
    first = subscriptions[0]
    webpush(first, "{}", vapid_private_key=vapid, vapid_claims={"sub": subject},
            requests_session=capture)
    origin = "{0.scheme}://{0.netloc}".format(urlparse(first["endpoint"]))
    aud = jwt_claims(capture.headers["authorization"])["aud"]
    if aud != origin or urlparse(first["endpoint"]).port is None:
        print(f"pywebpush peer: VAPID aud {aud!r} is not the origin {origin!r}", file=sys.stderr)
        return 1

    print(
        json.dumps(
            {
                "library": "pywebpush",
                "version": version("pywebpush"),
                "mode": "sequential, one requests.Session",
            }
        ),
        flush=True,
    )
    session = requests.Session()
    for _ in range(rounds):
        cpu0, t0 = cpu_ms(), time.perf_counter()
        for sub, data in zip(subscriptions, payloads):
            try:
                response = webpush(
                    sub,
                    data,
                    vapid_private_key=vapid,
                    # A fresh dict per call: webpush() writes aud and exp into the one it gets.
                    vapid_claims={"sub": subject},
                    ttl=TTL,
                    headers={"Urgency": "high"},
                    requests_session=session,
                )
            except WebPushException as e:
                print(f"pywebpush peer: {sub['endpoint']}: {e}", file=sys.stderr)
                return 1
            if response.status_code != 201:
                print(
                    f"pywebpush peer: {sub['endpoint']}: {response.status_code} {response.text}",
                    file=sys.stderr,
                )
                return 1
        seconds, cpu = time.perf_counter() - t0, cpu_ms() - cpu0
        print(
            json.dumps({"messages": len(subscriptions), "seconds": seconds, "cpuMs": cpu}),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
