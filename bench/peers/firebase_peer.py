#!/usr/bin/env python3
"""firebase-admin (Python) as a peer of Gatebell for `cargo xtask bench` (see README.md).

Reads one JSON job on stdin:

    {"credentials": "<service-account JSON file>", "fcmEndpoint": "http://127.0.0.1:PORT",
     "messages": n, "rounds": 3, "mode": "send" | "send_each_async" | "send_each_async_http1"}

and per round sends n FCM HTTP v1 messages to n device tokens:

- `send`: `messaging.send(message)` one after another; firebase-admin's own
  `requests`-based session (keep-alive, one connection);
- `send_each_async`: `messaging.send_each_async(batch)` over batches of 500 (the library's
  limit), each batch started at once, over HTTP/2 without TLS (h2c, prior knowledge): what the
  library does over TLS with real FCM (httpx negotiates HTTP/2 by ALPN), here without the TLS;
  the fakes, like FCM, allow 100 streams per connection;
- `send_each_async_http1`: the same with the library's client untouched, which on an http://
  URL falls back to HTTP/1.1 (httpx speaks h2c only when told HTTP/1.1 is off) and so opens up
  to 100 connections.

The FCM URL is firebase-admin's class constant `messaging._MessagingService.FCM_URL`
(`https://fcm.googleapis.com/v1/projects/{0}/messages:send`); it is set to the fake's before
the first call, which is when the messaging service reads it. The OAuth token request goes to
the credentials file's `token_uri`, the fakes' own OAuth. google-auth signs that request's JWT
with `aud` = its module constant `google.oauth2.service_account._GOOGLE_OAUTH2_TOKEN_ENDPOINT`
(`https://oauth2.googleapis.com/token`, what Google expects) whatever `token_uri` is, and the
fake OAuth wants its own URL there, so the constant is set to `token_uri` too.

Prints one JSON line `{"library", "version", "mode"}`, then one per round:
`{"messages": n, "seconds": s, "cpuMs": c}` (this process's user + system CPU during the round,
from getrusage, all threads). Any failed message ends the run with exit status 1.
"""

import asyncio
import json
import resource
import sys
import time
import warnings
from importlib.metadata import version

import firebase_admin
import google.oauth2.service_account
import httpx
from firebase_admin import _http_client, _retry, credentials, messaging

# firebase-admin 7 deprecates Message.token for Message.fid (sent as "fid"); device tokens are
# what Gatebell and the fake FCM use, so token it is, without the warning per message.
warnings.filterwarnings("ignore", message="Message.token is deprecated")

BATCH = 500  # send_each_async takes at most 500 messages


def cpu_ms() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1000.0


def message(i: int) -> messaging.Message:
    """About what Gatebell sends an Android phone: data-only, high priority, a TTL."""
    nid = f"0197a3c2-5e1b-7c3d-9f00-{i:012d}"
    return messaging.Message(
        token=f"bench-device-{i:06d}-" + "x" * 120,
        data={
            "gatebell": "1",
            "type": "visitor_arrived",
            "notificationId": nid,
            "title": "Visitor at the gate",
            "body": "Ravi Kumar (delivery, Swiggy) is waiting at Gate 2 for flat B-1204.",
            "tag": f"visit-{nid}",
        },
        android=messaging.AndroidConfig(priority="high", ttl=180, collapse_key=f"visit-{nid}"),
    )


def use_h2c(app: firebase_admin.App) -> None:
    """Makes the messaging service's async client speak HTTP/2 without TLS (prior knowledge).

    firebase-admin builds `httpx.AsyncClient(http2=True, mounts=HttpxRetryTransport(...))`; the
    same is rebuilt here with HTTP/1.1 off, which is the only change."""
    service = messaging._get_messaging_service(app)
    client = service._async_client
    transport = _retry.HttpxRetryTransport(retry=client._retry_config, http1=False)
    client._mounts = {"http://": transport, "https://": transport}
    client._async_client = httpx.AsyncClient(
        http1=False,
        http2=True,
        timeout=client._timeout,
        headers=client._headers,
        auth=_http_client.GoogleAuthCredentialFlow(service._credential),
        mounts=client._mounts,
    )


def report(n: int, seconds: float, cpu: float) -> None:
    print(json.dumps({"messages": n, "seconds": seconds, "cpuMs": cpu}), flush=True)


def run_send(messages: list, rounds: int) -> int:
    for _ in range(rounds):
        cpu0, t0 = cpu_ms(), time.perf_counter()
        for m in messages:
            name = messaging.send(m)
            if not name.startswith("projects/"):
                print(f"firebase peer: send answered {name!r}", file=sys.stderr)
                return 1
        report(len(messages), time.perf_counter() - t0, cpu_ms() - cpu0)
    return 0


async def run_send_each_async(messages: list, rounds: int) -> int:
    for _ in range(rounds):
        cpu0, t0 = cpu_ms(), time.perf_counter()
        for start in range(0, len(messages), BATCH):
            batch = messages[start : start + BATCH]
            answer = await messaging.send_each_async(batch)
            if answer.failure_count:
                failed = next(r for r in answer.responses if not r.success)
                print(
                    f"firebase peer: {answer.failure_count} of {len(batch)} failed, e.g. "
                    f"{failed.exception!r}",
                    file=sys.stderr,
                )
                return 1
        report(len(messages), time.perf_counter() - t0, cpu_ms() - cpu0)
    return 0


def main() -> int:
    job = json.load(sys.stdin)
    mode = job.get("mode", "send")
    rounds = int(job.get("rounds", 3))
    n = int(job["messages"])
    endpoint = job["fcmEndpoint"].rstrip("/")
    messaging._MessagingService.FCM_URL = endpoint + "/v1/projects/{0}/messages:send"
    with open(job["credentials"]) as f:
        token_uri = json.load(f)["token_uri"]
    google.oauth2.service_account._GOOGLE_OAUTH2_TOKEN_ENDPOINT = token_uri
    app = firebase_admin.initialize_app(credentials.Certificate(job["credentials"]))
    service = messaging._get_messaging_service(app)
    if not service._fcm_url.startswith(endpoint + "/"):
        print(f"firebase peer: FCM URL is {service._fcm_url}, not the fake's", file=sys.stderr)
        return 1
    # Built before the clock starts, as Gatebell builds its payloads before it sends.
    messages = [message(i) for i in range(n)]
    described = {
        "send": "send, sequential, one session",
        "send_each_async": "send_each_async, h2c, 500 per call",
        "send_each_async_http1": "send_each_async, HTTP/1.1, 500 per call",
    }
    if mode not in described:
        print(f"firebase peer: unknown mode {mode!r}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {"library": "firebase-admin", "version": version("firebase-admin"), "mode": described[mode]}
        ),
        flush=True,
    )
    if mode == "send":
        return run_send(messages, rounds)
    if mode == "send_each_async":
        use_h2c(app)
    return asyncio.run(run_send_each_async(messages, rounds))


if __name__ == "__main__":
    sys.exit(main())
