// The example app's notification handlers (src/notifications.ts, unchanged) against the real
// Rust core (N-API bindings), a real `gatebell serve --demo` and the fake FCM: the message the
// fake received for a walk-in goes to the handler RNFirebase would call, notifee (faked at the
// module boundary) is asked to draw Approve / Reject, the press approves the visit on the server.
//
// GATEBELL_BIN is the server binary, GATEBELL_FAKES_BIN testkit's `gatebell-fakes`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { fake as messaging, type RemoteMessage } from "@react-native-firebase/messaging";
import { EventType, fake as notifee, type Notification } from "@notifee/react-native";
import { Platform } from "react-native";
import { decryptPushData, notificationSetup, type KeyValueStore, type PushKeys } from "react-native-gatebell";

import {
  pushKeys,
  registerBackgroundHandlers,
  stringData,
  startPush,
  type Config,
  type Outcome,
} from "./example/notifications";

const PASSWORD = "gatebell-demo";
let server: ChildProcess;
let fakes: ChildProcess;
let api = "";
let control = "";

/** The first stdout line of `child` that matches, or a failure after 30 s. */
function firstLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern}`)), 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const match = line.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.on("exit", (code) => reject(new Error(`${child.spawnfile} exited with ${code}`)));
  });
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "gatebell-example-"));
  const credentials = join(dir, "fcm.json");
  fakes = spawn(process.env.GATEBELL_FAKES_BIN!, [credentials], { stdio: ["pipe", "pipe", "inherit"] });
  const started = JSON.parse((await firstLine(fakes, /^\{.*\}$/))[0]) as {
    fcmEndpoint: string;
    control: string;
  };
  control = started.control;
  server = spawn(
    process.env.GATEBELL_BIN!,
    [
      "serve",
      "--demo",
      "--listen",
      "127.0.0.1:0",
      "--database-url",
      `sqlite://${join(dir, "db.sqlite")}?mode=rwc`,
      "--fcm-credentials",
      credentials,
      "--fcm-endpoint",
      started.fcmEndpoint,
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RUST_LOG: "warn" } },
  );
  api = (await firstLine(server, /Gatebell listening on (http:\/\/\S+)/))[1];
});

after(() => {
  server?.kill();
  fakes?.stdin?.end();
  fakes?.kill();
});

async function call(method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(api + path, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function login(email: string): Promise<{ token: string; userId: string }> {
  const { status, body } = await call("POST", "/api/v1/auth/login", undefined, { email, password: PASSWORD });
  assert.equal(status, 200, JSON.stringify(body));
  return { token: body.token, userId: body.user.id };
}

async function walkin(visitorName: string): Promise<string> {
  const guard = await login("guard@demo.gatebell");
  const residents = await call("GET", "/api/v1/residents?q=asha", guard.token);
  const hostId = residents.body[0].id;
  const { status, body } = await call("POST", "/api/v1/visits/walkin", guard.token, {
    visitorName,
    hostId,
    purpose: "parcel",
  });
  assert.equal(status, 201, JSON.stringify(body));
  return body.id;
}

async function visitStatus(visitId: string): Promise<string> {
  const guard = await login("guard@demo.gatebell");
  return (await call("GET", `/api/v1/visits/${visitId}`, guard.token)).body.status;
}

type Received = { token: string; status: number; message: { [key: string]: any } };

/** The message the fake FCM accepted for `token` about `visitId` (read with the device's
 * `keys` when it registered some), once it arrived. */
async function fcmMessage(token: string, visitId: string, keys?: PushKeys): Promise<Received["message"]> {
  const about = (r: Received) => {
    const data = stringData(r.message.data);
    return (keys ? decryptPushData(data, keys) : data).get("visitId") === visitId;
  };
  for (let i = 0; i < 200; i++) {
    const all = (await (await fetch(control + "/fcm/received")).json()) as Received[];
    const refused = all.find((r) => r.token === token && r.status !== 200);
    assert.equal(refused, undefined, `the fake FCM refused a message: ${JSON.stringify(refused)}`);
    const got = all.find((r) => r.token === token && about(r));
    if (got) return got.message;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no FCM message for ${token} about ${visitId}`);
}

/** What RNFirebase hands the app for an FCM message: its data (and notification) blocks. */
function asRemoteMessage(sent: Received["message"]): RemoteMessage {
  return {
    messageId: "0:1%fake",
    from: "gatebell-fakes",
    data: sent.data,
    ...(sent.notification ? { notification: sent.notification } : {}),
  };
}

class MemoryStore implements KeyValueStore {
  values = new Map<string, string>();
  async get(key: string) {
    return this.values.get(key);
  }
  async set(key: string, value: string) {
    this.values.set(key, value);
  }
}

function appConfig(session: () => string | undefined, navigated: Outcome[]): Config {
  return {
    apiOrigin: api,
    store: new MemoryStore(),
    session: async () => session(),
    navigate: (outcome) => navigated.push(outcome),
    onSessionEnded: () => {},
  };
}

test("Android: a walk-in's encrypted data message names no visitor, is drawn decrypted with Approve / Reject, and Approve approves it", async () => {
  Platform.OS = "android";
  messaging.reset("android-phone-token");
  notifee.reset();
  let session: string | undefined;
  const navigated: Outcome[] = [];
  const config = { ...appConfig(() => session, navigated), encryptPushes: true };
  registerBackgroundHandlers(config);
  const push = await startPush(config);
  assert.equal(notifee.permissionAsked, 1);
  assert.deepEqual(
    notifee.channels.map((c) => [c.id, c.importance]),
    [["visitors", 4]],
    "the channel the server names, importance high",
  );

  const asha = await login("asha@demo.gatebell");
  session = asha.token;
  const status = await push.signedIn(asha.token, asha.userId);
  assert.equal(status?.registered, true, JSON.stringify(status?.lastError));

  const visitId = await walkin("Ravi");
  const sent = await fcmMessage("android-phone-token", visitId, await pushKeys(config));
  assert.equal(sent.notification, undefined, "data-only: Android would draw a notification block itself");
  assert.equal(sent.android.priority, "high");
  // Registered with keys: the data is one ciphertext; FCM sees no name, purpose or token.
  assert.deepEqual(Object.keys(sent.data), ["encrypted"]);
  assert.doesNotMatch(JSON.stringify(sent), /Ravi|parcel|actionToken/);

  // The app is in the background: RNFirebase runs the handler index.js registered.
  await messaging.backgroundHandler!(asRemoteMessage(sent));
  assert.equal(notifee.displayed.length, 1);
  const shown: Notification = notifee.displayed[0];
  assert.equal(shown.id, `visit-${visitId}`);
  assert.equal(shown.title, "Visitor at the gate");
  assert.match(shown.body ?? "", /Ravi/);
  assert.equal(shown.android?.channelId, "visitors");
  assert.deepEqual(
    shown.android?.actions?.map((a) => [a.title, a.pressAction.id]),
    [
      ["Approve", "approve"],
      ["Reject", "reject"],
    ],
  );
  assert.equal(shown.data?.visitId, visitId);
  assert.ok(typeof shown.data?.actionToken === "string", "the action token rides with the notification");

  // Approve pressed while the app is in the background (signed out of the API even: the
  // action token is enough).
  session = undefined;
  await notifee.backgroundHandler!({
    type: EventType.ACTION_PRESS,
    detail: { notification: shown, pressAction: { id: "approve" } },
  });
  assert.equal(await visitStatus(visitId), "APPROVED");
  assert.deepEqual(notifee.cancelled, [`visit-${visitId}`]);

  // Its outcome reaches the phone as a data message too, and replaces the notification.
  await push.signOut();
  push.stop();
});

test("iOS: a walk-in is an alert in the WALKIN_PENDING category, and Reject rejects it", async () => {
  Platform.OS = "ios";
  messaging.reset("ios-phone-token");
  notifee.reset();
  const navigated: Outcome[] = [];
  const asha = await login("asha@demo.gatebell");
  const config = appConfig(() => asha.token, navigated);
  registerBackgroundHandlers(config);
  const push = await startPush(config);
  const setup = notificationSetup();
  assert.deepEqual(notifee.categories, [
    {
      id: "WALKIN_PENDING",
      actions: [
        { id: "approve", title: "Approve" },
        { id: "reject", title: "Reject" },
      ],
    },
  ]);
  const status = await push.signedIn(asha.token, asha.userId);
  assert.equal(status?.registered, true, JSON.stringify(status?.lastError));

  const visitId = await walkin("Sita");
  const sent = await fcmMessage("ios-phone-token", visitId);
  assert.deepEqual(sent.notification, {
    title: "Visitor at the gate",
    body: sent.notification.body,
  });
  assert.match(sent.notification.body, /Sita/);
  assert.equal(sent.apns.payload.aps.category, setup.iosWalkinCategoryId);

  // iOS draws the alert itself; the handler, if iOS runs it, draws nothing more.
  await messaging.backgroundHandler!(asRemoteMessage(sent));
  assert.equal(notifee.displayed.length, 0);

  // Reject pressed on the system's notification: notifee reports it with the message's data.
  await notifee.backgroundHandler!({
    type: EventType.ACTION_PRESS,
    detail: { notification: { id: "apns-1", data: sent.data }, pressAction: { id: "reject" } },
  });
  assert.equal(await visitStatus(visitId), "REJECTED");

  // A tap on a check-in (drawn by the system) opens the visit.
  for (const open of messaging.openedListeners) {
    open({ data: { type: "visitor_arrived", visitId } });
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(navigated, [{ kind: "visit", visitId }]);

  await push.signOut();
  push.stop();
});
