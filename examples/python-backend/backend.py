"""An existing visitor-management backend, as Gatebell is specified to sit beside: it has its
own users and logins (RS256 JWTs from a key set it serves), registers visitors at its own gate
desk, and wants to hear what residents decide.

What it does with Gatebell, and nothing else:

* on start, ``PUT /api/v1/internal/users/{id}`` for each of its users;
* ``POST /login {"userId"}`` issues a JWT its apps (and Gatebell) accept;
* ``POST /walkins`` and ``POST /checkins`` are its gate desk: each calls Gatebell's
  ``/internal/walkins`` or ``/internal/checkins`` where it used to call nothing;
* ``POST /webhooks/gatebell`` receives ``visit.approved`` / ``visit.rejected``, verified with the
  ``standardwebhooks`` package (a library Gatebell did not write), de-duplicated by
  ``webhook-id``; ``GET /events`` lists what was verified.

Standard library HTTP on purpose: the point is the calls, not a framework.

    python backend.py --port 8090 --gatebell http://127.0.0.1:8080 \\
        --service-key KEY --webhook-secret whsec_...
"""

import argparse
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ISSUER = "https://backend.example"
AUDIENCE = "gatebell"
KID = "backend-key-1"

# The backend's own users: its ids, not Gatebell's.
USERS = {
    "res-asha": {"name": "Asha Rao", "email": "asha@backend.example", "phone": "+919800000001",
                 "role": "resident", "unit": "A-101"},
    "res-arjun": {"name": "Arjun Rao", "email": "arjun@backend.example", "role": "resident",
                  "unit": "A-101"},
    "guard-ravi": {"name": "Ravi (gate)", "role": "guard"},
}


class Backend:
    def __init__(self, args):
        self.args = args
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
        self.jwks = {"keys": [jwk]}
        self.verifier = Webhook(args.webhook_secret)
        self.events = []
        self.seen_ids = set()
        self.lock = threading.Lock()

    def gatebell(self, method, path, body):
        """Calls Gatebell's internal API with the service key; returns (status, json)."""
        req = urllib.request.Request(
            self.args.gatebell.rstrip("/") + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": "Bearer " + self.args.service_key,
                     "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def sync_users(self):
        for user_id, user in USERS.items():
            status, body = self.gatebell("PUT", f"/api/v1/internal/users/{user_id}", user)
            if status not in (200, 201):
                raise RuntimeError(f"syncing {user_id}: {status} {body}")

    def token(self, user_id):
        user = USERS[user_id]
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": user_id, "name": user["name"],
                  "role": user["role"], "iat": now, "exp": now + self.args.jwt_ttl}
        if "unit" in user:
            claims["unit"] = user["unit"]
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})

    def receive(self, body, headers):
        """Verifies a webhook; returns the event, or raises WebhookVerificationError."""
        event = self.verifier.verify(body, headers)
        with self.lock:
            if headers.get("webhook-id") not in self.seen_ids:
                self.seen_ids.add(headers.get("webhook-id"))
                self.events.append({"id": headers.get("webhook-id"), "event": event})
        return event


def handler(backend):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def reply(self, status, body=None):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self):
            if self.path == "/.well-known/jwks.json":
                return self.reply(200, backend.jwks)
            if self.path == "/events":
                with backend.lock:
                    return self.reply(200, list(backend.events))
            self.reply(404, {"error": "no such path"})

        def do_POST(self):
            raw = self.body()
            if self.path == "/webhooks/gatebell":
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    backend.receive(raw, headers)
                except WebhookVerificationError as e:
                    return self.reply(400, {"error": f"webhook refused: {e}"})
                return self.reply(204)
            req = json.loads(raw or b"{}")
            if self.path == "/login":
                if req.get("userId") not in USERS:
                    return self.reply(401, {"error": "unknown user"})
                return self.reply(200, {"token": backend.token(req["userId"])})
            if self.path in ("/walkins", "/checkins"):
                status, body = backend.gatebell("POST", "/api/v1/internal" + self.path, {
                    "externalVisitId": req["visitId"],
                    "hostExternalId": req["hostId"],
                    "visitorName": req["visitorName"],
                    "purpose": req.get("purpose"),
                })
                return self.reply(status, body)
            self.reply(404, {"error": "no such path"})

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8090)
    p.add_argument(
        "--listen-fd",
        type=int,
        help="serve on this inherited listening socket instead of binding --port",
    )
    p.add_argument("--gatebell", default="http://127.0.0.1:8080")
    p.add_argument("--service-key", required=True)
    p.add_argument("--webhook-secret", required=True)
    p.add_argument("--jwt-ttl", type=int, default=900, help="seconds a JWT is valid")
    p.add_argument("--no-sync", action="store_true", help="do not PUT the users on start")
    args = p.parse_args()
    backend = Backend(args)
    if args.listen_fd is None:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(backend))
    else:
        # A socket its parent bound and listens on, so no other process can take the port
        # between the parent choosing it and this process serving it.
        server = ThreadingHTTPServer(
            ("127.0.0.1", args.port), handler(backend), bind_and_activate=False
        )
        server.socket.close()
        server.socket = socket.socket(fileno=args.listen_fd)
        server.server_address = server.socket.getsockname()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if not args.no_sync:
        backend.sync_users()
    print(f"backend listening on http://127.0.0.1:{args.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
