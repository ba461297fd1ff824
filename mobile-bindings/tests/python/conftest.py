"""Fixtures: the generated Python bindings and a real `gatebell serve` on a fresh SQLite file.

`cargo xtask mobile test` sets GATEBELL_MOBILE_PYTHON (the folder holding gatebell_mobile.py
and the library beside it) and GATEBELL_BIN (the server binary).
"""

import json
import os
import pathlib
import re
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.environ["GATEBELL_MOBILE_PYTHON"])

DEMO_PASSWORD = "gatebell-demo"
RESIDENT = "asha@demo.gatebell"
GUARD = "guard@demo.gatebell"


class Server:
    """A running server, its SQLite file, and plain HTTP helpers for the test's own calls."""

    def __init__(self, url: str, db: pathlib.Path):
        self.url = url
        self.db = db

    def call(self, method: str, path: str, body=None, token=None):
        """Sends a JSON request; returns (status, parsed body or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            return e.code, json.loads(text) if text else None

    def login(self, email: str):
        status, body = self.call("POST", "/api/v1/auth/login", {"email": email, "password": DEMO_PASSWORD})
        assert status == 200, body
        return body["token"], body["user"]["id"]

    def devices(self):
        """What the server holds, read from its database (re-registering would change it)."""
        with sqlite3.connect(self.db) as db:
            return {token: user for token, user in db.execute("SELECT token, user_id FROM devices")}


@pytest.fixture
def server(tmp_path):
    binary = os.environ.get("GATEBELL_BIN", "target/debug/gatebell")
    db = tmp_path / "db.sqlite"
    process = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--database-url", f"sqlite://{db}?mode=rwc", "--demo"],
        stdout=subprocess.PIPE,
        stderr=open(tmp_path / "server.log", "w"),
        text=True,
    )
    try:
        url = None
        for line in process.stdout:
            match = re.search(r"Gatebell listening on (http://\S+)", line)
            if match:
                url = match.group(1)
                break
        assert url, f"server did not start; see {tmp_path / 'server.log'}"
        yield Server(url, db)
    finally:
        process.terminate()
        process.wait(timeout=10)
