"""The real library through UniFFI's Python bindings, against a real server: Python plays the
host app and implements the transport, the store and the listener."""

import asyncio
import json
import urllib.error
import urllib.request

import gatebell_mobile as gm
import pytest


class UrllibTransport(gm.HttpTransport):
    """The host's HTTP stack: urllib in a worker thread, with a timeout."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.sent = []

    async def send(self, request: gm.HttpRequest) -> gm.HttpResponse:
        self.sent.append(request)
        return await asyncio.to_thread(self._send, request)

    def _send(self, request: gm.HttpRequest) -> gm.HttpResponse:
        http = urllib.request.Request(self.base_url + request.path, data=request.body.encode(), method=request.method)
        for name, value in request.headers.items():
            http.add_header(name, value)
        try:
            with urllib.request.urlopen(http, timeout=15) as response:
                return gm.HttpResponse(status=response.status, body=response.read().decode())
        except urllib.error.HTTPError as e:
            return gm.HttpResponse(status=e.code, body=e.read().decode())
        except OSError as e:
            raise gm.GatebellError.Network(reason=str(e))


class OfflineTransport(gm.HttpTransport):
    async def send(self, request: gm.HttpRequest) -> gm.HttpResponse:
        raise gm.GatebellError.Network(reason="airplane mode")


class BrokenTransport(gm.HttpTransport):
    async def send(self, request: gm.HttpRequest) -> gm.HttpResponse:
        raise RuntimeError("bug in the app's HTTP code")


class MemoryStore(gm.KeyValueStore):
    def __init__(self):
        self.values = {}

    async def get(self, key: str):
        return self.values.get(key)

    async def set(self, key: str, value: str):
        self.values[key] = value


class Recorder(gm.PushClientListener):
    def __init__(self):
        self.updates = []

    def on_update(self, update: gm.ClientUpdate):
        self.updates.append(update)


def run(coroutine):
    return asyncio.run(coroutine)


def test_register_refresh_and_sign_out_against_the_server(server):
    session, user_id = server.login("asha@demo.gatebell")
    store, listener = MemoryStore(), Recorder()
    client = gm.PushClient(UrllibTransport(server.url), store, listener)

    async def scenario():
        await client.start()
        await client.sign_in(session, user_id)
        status = await client.token_issued("fcm-token-1", gm.MobilePlatform.ANDROID, None)
        assert status.registered and status.token == "fcm-token-1" and status.last_error is None
        assert server.devices() == {"fcm-token-1": user_id}

        # onTokenRefresh: the new token replaces the old one on the server.
        status = await client.token_issued("fcm-token-2", gm.MobilePlatform.ANDROID, None)
        assert status.registered and status.pending_unregisters == 0
        assert server.devices() == {"fcm-token-2": user_id}

        # Logout: unregister first, with the session still valid; then revoke it.
        status = await client.sign_out()
        assert not status.signed_in and status.pending_unregisters == 0
        assert server.devices() == {}
        assert server.call("POST", "/api/v1/auth/logout", token=session)[0] in (200, 204)

    run(scenario())
    assert any(isinstance(u, gm.ClientUpdate.STATUS_CHANGED) for u in listener.updates)
    # The state was persisted as JSON through the host's store.
    assert "gatebell.push.state" in store.values
    json.loads(store.values["gatebell.push.state"])


def test_state_survives_a_restart_through_the_store(server):
    session, user_id = server.login("asha@demo.gatebell")
    store = MemoryStore()

    async def first_run():
        client = gm.PushClient(UrllibTransport(server.url), store, Recorder())
        await client.sign_in(session, user_id)
        await client.token_issued("fcm-token-a", gm.MobilePlatform.IOS, None)

    async def second_run():
        transport = UrllibTransport(server.url)
        client = gm.PushClient(transport, store, Recorder())
        status = await client.start()
        assert status.registered and status.user_id == user_id and status.token == "fcm-token-a"
        # Registered once per (user, token): the same token again sends nothing.
        await client.token_issued("fcm-token-a", gm.MobilePlatform.IOS, None)
        assert transport.sent == []

    run(first_run())
    run(second_run())
    assert server.devices() == {"fcm-token-a": user_id}


def test_network_error_resolves_with_a_retrying_status(server):
    session, user_id = server.login("asha@demo.gatebell")
    listener = Recorder()
    client = gm.PushClient(OfflineTransport(), MemoryStore(), listener)

    async def scenario():
        await client.sign_in(session, user_id)
        # No answer is not an error of the call (as in the web package): it is in the status.
        return await client.token_issued("fcm-token-x", gm.MobilePlatform.ANDROID, None)

    status = run(scenario())
    assert status == client.status()
    assert not status.registered
    assert status.last_error.reason == "airplane mode" and status.last_error.will_retry
    assert status.last_error.operation == gm.Operation.REGISTER
    # The retry is the host's timer to schedule.
    wake = client.next_wake_at_ms()
    assert wake is not None
    assert gm.ClientUpdate.WAKE_AT(at_ms=wake) in listener.updates
    assert server.devices() == {}


def test_unexpected_transport_exception_becomes_the_typed_error(server):
    session, user_id = server.login("asha@demo.gatebell")
    client = gm.PushClient(BrokenTransport(), MemoryStore(), Recorder())

    async def scenario():
        await client.sign_in(session, user_id)
        with pytest.raises(gm.GatebellError.Unexpected) as raised:
            await client.token_issued("fcm-token-y", gm.MobilePlatform.ANDROID, None)
        assert "bug in the app's HTTP code" in raised.value.reason

    run(scenario())
    assert client.status().last_error.will_retry


def test_invalid_arguments_are_refused():
    client = gm.PushClient(OfflineTransport(), MemoryStore(), Recorder())
    with pytest.raises(gm.GatebellError.InvalidArgument):
        run(client.sign_in("", "user"))


def test_tapped_walkin_approve_routes_to_approve_and_approves(server):
    guard, _ = server.login("guard@demo.gatebell")
    resident, resident_id = server.login("asha@demo.gatebell")
    status, visit = server.call(
        "POST", "/api/v1/visits/walkin", {"visitorName": "Ravi", "hostId": resident_id, "purpose": "Delivery"}, guard
    )
    assert status in (200, 201), visit
    status, inbox = server.call("GET", "/api/v1/notifications", token=resident)
    assert status == 200
    notification = inbox["items"][0]
    assert notification["type"] == "walkin_pending"
    # What FCM hands the app: the push's data map.
    data = {"type": notification["type"], "visitId": notification["visitId"]}

    assert gm.route_for(data, None) == gm.Route.VISIT(visit_id=notification["visitId"])
    route = gm.route_for(data, "approve")
    assert route == gm.Route.APPROVE(visit_id=notification["visitId"])
    assert gm.route_deep_link(route, "gatebell") == f"gatebell://visits/{notification['visitId']}?action=approve"

    status, decided = server.call("POST", gm.route_api_path(route), token=resident)
    assert status == 200, decided
    assert server.call("GET", f"/api/v1/visits/{notification['visitId']}", token=resident)[1]["status"] == "APPROVED"


def test_unknown_or_malformed_payloads_route_to_the_inbox():
    assert gm.route_for({}, None) == gm.Route.INBOX()
    assert gm.route_for({"type": "walkin_pending", "visitId": "../etc"}, "approve") == gm.Route.INBOX()
    assert gm.route_deep_link(gm.Route.INBOX(), "gatebell") == "gatebell://inbox"
    assert gm.route_api_path(gm.Route.INBOX()) is None
