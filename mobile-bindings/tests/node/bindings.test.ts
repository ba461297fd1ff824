// The N-API bindings (the same TypeScript API as the TurboModule) driving the real library
// under Node: TypeScript plays the React Native app, with a scripted server.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  ClientUpdate,
  GatebellError,
  MobilePlatform,
  PushClient,
  Route,
  routeApiPath,
  routeDecisionCall,
  routeDeepLink,
  routeFor,
  type HttpRequest,
  type HttpResponse,
  type HttpTransport,
  type KeyValueStore,
  type PushClientListener,
} from "./generated";

/** Answers like the server: keeps the registered tokens. */
class ScriptedServer implements HttpTransport {
  devices = new Map<string, string>();
  requests: HttpRequest[] = [];
  offline = false;

  async send(request: HttpRequest): Promise<HttpResponse> {
    this.requests.push(request);
    if (this.offline) {
      throw new GatebellError.Network({ reason: "offline" });
    }
    assert.equal(request.path, "/api/v1/notifications/register-device");
    const bearer = request.headers.get("Authorization") ?? "";
    const body = JSON.parse(request.body) as { token: string; platform?: string };
    if (request.method === "POST") {
      this.devices.set(body.token, bearer);
      return { status: 200, body: "{}" };
    }
    if (this.devices.delete(body.token)) {
      return { status: 204, body: "" };
    }
    return { status: 404, body: '{"error":{"code":"device_not_found","message":"no"}}' };
  }
}

class MemoryStore implements KeyValueStore {
  values = new Map<string, string>();
  async get(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }
  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
}

class Recorder implements PushClientListener {
  updates: ClientUpdate[] = [];
  onUpdate(update: ClientUpdate): void {
    this.updates.push(update);
  }
}

test("register, refresh and sign out through a TypeScript transport", async () => {
  const server = new ScriptedServer();
  const store = new MemoryStore();
  const listener = new Recorder();
  const client = new PushClient(server, store, listener);

  await client.start();
  await client.signIn("session-1", "user-1");
  let status = await client.tokenIssued("token-1", MobilePlatform.Android, undefined);
  assert.equal(status.registered, true);
  assert.deepEqual([...server.devices], [["token-1", "Bearer session-1"]]);
  assert.equal(server.requests[0].headers.get("Content-Type"), "application/json");
  assert.deepEqual(JSON.parse(server.requests[0].body), { token: "token-1", platform: "android" });

  status = await client.tokenIssued("token-2", MobilePlatform.Android, undefined);
  assert.equal(status.pendingUnregisters, 0);
  assert.deepEqual([...server.devices.keys()], ["token-2"]);

  status = await client.signOut();
  assert.equal(status.signedIn, false);
  assert.equal(server.devices.size, 0);

  assert.ok(store.values.has("gatebell.push.state"));
  assert.ok(listener.updates.some((u) => ClientUpdate.StatusChanged.instanceOf(u)));
});

test("turning notifications off unregisters the token, keeps the session, and ignores tokens until turned on", async () => {
  const server = new ScriptedServer();
  const store = new MemoryStore();
  const client = new PushClient(server, store, new Recorder());
  await client.signIn("session-1", "user-1");
  let status = await client.tokenIssued("token-1", MobilePlatform.Android, undefined);
  assert.equal(status.registered, true);
  assert.equal(status.notificationsDisabled, false);

  status = await client.disableNotifications();
  assert.equal(status.notificationsDisabled, true);
  assert.equal(status.signedIn, true, "the session stays");
  assert.equal(status.registered, false);
  assert.equal(server.devices.size, 0, "the device is gone from the server");

  // A refresh the platform still delivers registers nothing, after a restart too.
  const restarted = new PushClient(server, store, new Recorder());
  status = await restarted.start();
  assert.equal(status.notificationsDisabled, true, "the choice is persisted");
  await restarted.tokenIssued("token-2", MobilePlatform.Android, undefined);
  assert.equal(server.devices.size, 0);

  status = await restarted.enableNotifications();
  assert.equal(status.notificationsDisabled, false);
  status = await restarted.tokenIssued("token-2", MobilePlatform.Android, undefined);
  assert.equal(status.registered, true);
  assert.deepEqual([...server.devices], [["token-2", "Bearer session-1"]]);
});

test("a network error resolves with a status that schedules a retry", async () => {
  const server = new ScriptedServer();
  server.offline = true;
  const listener = new Recorder();
  const client = new PushClient(server, new MemoryStore(), listener);
  await client.signIn("session-1", "user-1");
  // No answer is not a rejection (as in the web package): it is in the status.
  const status = await client.tokenIssued("token-1", MobilePlatform.Ios, undefined);
  assert.equal(status.registered, false);
  assert.equal(status.lastError?.willRetry, true);
  assert.equal(status.lastError?.reason, "offline");
  const wake = client.nextWakeAtMs();
  assert.equal(typeof wake, "bigint");
  assert.ok(listener.updates.some((u) => ClientUpdate.WakeAt.instanceOf(u) && u.inner.atMs === wake));

  server.offline = false;
  await client.timerFired();
  // The timer may fire early (backoff is at least 500 ms); once due, the retry registers.
  await new Promise((resolve) => setTimeout(resolve, Number(wake! - BigInt(Date.now())) + 10));
  const after = await client.timerFired();
  assert.equal(after.registered, true);
  assert.deepEqual([...server.devices.keys()], ["token-1"]);
});

test("a tapped walk-in routes to approve", () => {
  const data = new Map([
    ["type", "walkin_pending"],
    ["visitId", "0190-visit"],
  ]);
  const route = routeFor(data, "approve");
  assert.ok(Route.Approve.instanceOf(route));
  assert.equal(route.inner.visitId, "0190-visit");
  assert.equal(routeDeepLink(route, "gatebell"), "gatebell://visits/0190-visit?action=approve");
  assert.equal(routeApiPath(route), "/api/v1/visits/0190-visit/approve");
  const call = routeDecisionCall(route, "tok-1");
  assert.equal(call?.path, "/api/v1/visits/0190-visit/decision");
  assert.deepEqual(JSON.parse(call!.body), { decision: "approve", actionToken: "tok-1" });
  assert.ok(Route.Visit.instanceOf(routeFor(data, undefined)));
  assert.ok(Route.Inbox.instanceOf(routeFor(new Map(), undefined)));
});
