#!/usr/bin/env python3
"""One walk-in, two languages, seen from outside the server.

The release `gatebell serve --demo` runs as its own process on a fresh SQLite file. The fakes
are other processes:
- `gatebell-fakes`: the Web Push service, which decrypts every payload;
- the aiosmtpd SMTP sink of the server's tests;
- a Twilio-format SMS API in this script.

Arjun (A-101) signs in with `Accept-Language: hi-IN`; Asha (A-101) has no language. Each
registers a browser subscription and a phone number. The guard registers a walk-in for Asha,
typed in Devanagari. Nobody answers, so both are texted and emailed after a second. The script
prints, per resident, what their browser decrypted, their text, their email's subject and their
link page's `<html lang>` and heading, then fails unless Arjun's are Hindi and Asha's English.

    cargo build --release -p gatebell-server && cargo build -p gatebell-testkit --bin gatebell-fakes
    python3 server/examples/languages_outside.py

The SMTP sink needs aiosmtpd: the tests' virtualenv (`~/.cache/gatebell/smtp-sink`, made by
`cargo test -p gatebell-server --test escalation`) or `--python` with it installed.
"""

import argparse
import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SID = "AC00000000000000000000000000000001"
SMS_TOKEN = "sms-token-for-the-outside-check"
PASSWORD = "gatebell-demo"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=None, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text else None), r.headers
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text), e.headers
        except ValueError:
            return e.code, text, e.headers


texts = []


class SmsApi(BaseHTTPRequestHandler):
    """`POST /2010-04-01/Accounts/{sid}/Messages.json` with Basic auth, as Twilio's API."""

    def do_POST(self):
        expected = "Basic " + base64.b64encode(f"{SID}:{SMS_TOKEN}".encode()).decode()
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json" or self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.end_headers()
            return
        texts.append({"to": form["To"][0], "body": form["Body"][0]})
        body = json.dumps({"sid": f"SM{len(texts):032d}", "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def ready(base, server):
    if server.poll() is not None:
        sys.exit("the server exited")
    try:
        return call(base, "GET", "/readyz")[0] == 200
    except urllib.error.URLError:
        return False


def until(what, check, seconds=20):
    deadline = time.time() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gatebell", default=os.path.join(ROOT, "target/release/gatebell"))
    parser.add_argument("--fakes", default=os.path.join(ROOT, "target/debug/gatebell-fakes"))
    parser.add_argument("--python", default=os.path.expanduser("~/.cache/gatebell/smtp-sink/bin/python"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="gatebell-languages-")

    fakes = subprocess.Popen([args.fakes, os.path.join(work, "fcm.json")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    fakes_info = json.loads(fakes.stdout.readline())
    control = fakes_info["control"]

    sink = subprocess.Popen([args.python, os.path.join(ROOT, "server/tests/smtp/smtp_sink.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    smtp_port = int(re.match(r"LISTENING (\d+)", sink.stdout.readline()).group(1))
    emails = []
    threading.Thread(target=lambda: [emails.append(json.loads(line)) for line in sink.stdout], daemon=True).start()

    sms = ThreadingHTTPServer(("127.0.0.1", 0), SmsApi)
    threading.Thread(target=sms.serve_forever, daemon=True).start()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([
        args.gatebell, "serve", "--demo", "--listen", f"127.0.0.1:{port}", "--public-url", base,
        "--database-url", f"sqlite://{work}/gatebell.db?mode=rwc",
        "--push-allow-hosts", "127.0.0.1", "--push-allow-http", "--escalate-after", "1",
        "--sms-api-url", f"http://127.0.0.1:{sms.server_address[1]}", "--sms-account-sid", SID,
        "--sms-auth-token", SMS_TOKEN, "--sms-from", "+15005550006",
        "--smtp-url", f"smtp://127.0.0.1:{smtp_port}", "--smtp-from", "Gatebell <gate@demo.gatebell>",
    ], stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    try:
        until("the server", lambda: ready(base, server))
        people = {}
        for who, email, phone, language in [("Arjun", "arjun@demo.gatebell", "+919800000002", "hi-IN"),
                                            ("Asha", "asha@demo.gatebell", "+919800000001", None)]:
            headers = {"Accept-Language": language} if language else {}
            s, login, _ = call(base, "POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD}, headers=headers)
            assert s == 200, login
            token = login["token"]
            s, prefs, _ = call(base, "PUT", "/api/v1/me/preferences", token, {"phone": phone})
            assert s == 200, prefs
            _, subs, _ = call(control, "POST", "/webpush/subscriptions", body={"count": 1})
            sub = subs[0]
            s, v, _ = call(base, "POST", "/api/v1/notifications/register-device", token,
                           {"token": sub["endpoint"], "platform": "web", "subscription": sub})
            assert s == 200, v
            people[who] = {"token": token, "phone": phone, "email": email, "language": prefs["language"],
                           "subscription": sub["endpoint"].rsplit("/", 1)[1]}

        s, guard, _ = call(base, "POST", "/api/v1/auth/login", body={"email": "guard@demo.gatebell", "password": PASSWORD})
        _, residents, _ = call(base, "GET", "/api/v1/residents?q=asha", guard["token"])
        s, visit, _ = call(base, "POST", "/api/v1/visits/walkin", guard["token"],
                           {"visitorName": "रवि कुमार", "purpose": "parcel", "hostId": residents[0]["id"]})
        assert s == 201, visit

        until("both texts and both emails", lambda: len(texts) >= 2 and len([e for e in emails if e.get("event") == "message"]) >= 2)
        pushes = until("both decrypted Web Pushes", lambda: (lambda r: r if len(r) >= 2 else None)(
            [x for x in call(control, "GET", "/webpush/received")[1] if x["status"] == 201]))

        failures = []
        for who, p in people.items():
            push = next(x["payload"] for x in pushes if x["subscriptionId"] == p["subscription"])
            text = next(t["body"] for t in texts if t["to"] == p["phone"])
            mail = next(e for e in emails if e.get("event") == "message" and p["email"] in e["rcpt_tos"])
            link = re.search(r"\n(http\S+/a/\S+\?d=approve)", text).group(1)
            with urllib.request.urlopen(link, timeout=10) as r:
                page = r.read().decode()
            lang = re.search(r'<html lang="([^"]+)"', page).group(1)
            heading = re.search(r"<h1>(.*?)</h1>", page).group(1)
            print(f"== {who} (language {p['language']})")
            print(f"  Web Push, decrypted: {push['title']} | {push['body']} | buttons "
                  f"{[a['title'] for a in push['actions']]} | outcome lines {push.get('answers')}")
            print(f"  text: {text!r}")
            print(f"  email subject: {mail['subject']}")
            print(f"  link page: lang={lang}, heading {heading}")
            hindi = who == "Arjun"
            checks = [
                (push["title"] == ("गेट पर आगंतुक" if hindi else "Visitor at the gate"), "push title"),
                (("अनुमति दें" if hindi else "Approve") == push["actions"][0]["title"], "push button"),
                (("गेट पर हैं" in text) == hindi, "text"),
                (mail["subject"].startswith("गेट पर आगंतुक" if hindi else "Visitor at the gate"), "email"),
                (lang == ("hi" if hindi else "en"), "link page lang"),
                ("रवि कुमार" in push["body"] and "रवि कुमार" in text, "the name as typed"),
            ]
            failures += [f"{who}: {name}" for ok, name in checks if not ok]
        if failures:
            sys.exit("FAILED: " + ", ".join(failures))
        print("OK: Arjun reads Hindi, Asha English, for the same walk-in; the name as the guard typed it")
    finally:
        server.terminate()
        server.wait()
        sink.stdin.close()
        fakes.stdin.close()
        sms.shutdown()


if __name__ == "__main__":
    main()
