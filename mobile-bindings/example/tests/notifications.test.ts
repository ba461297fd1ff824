// react-native-gatebell's SDK (sdk/, unchanged) as an app uses it, against the real Rust core
// (N-API bindings), a real `gatebell serve --demo` and the fake FCM: the message the fake
// received goes to the handler RNFirebase would call; notifee, RNFirebase, react-native and
// react-native-keychain are faked at the module boundary (fakes/), so the test can press
// buttons, open the app from a notification, refresh the token and bring the app back.
//
// GATEBELL_BIN is the server binary, GATEBELL_FAKES_BIN testkit's `gatebell-fakes`.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { fake as messaging, type RemoteMessage } from "@react-native-firebase/messaging";
import { EventType, fake as notifee, type Notification } from "@notifee/react-native";
import { Platform, appStateListeners } from "react-native";
import {
  configure,
  decryptPushData,
  disableNotifications,
  enableNotifications,
  getInitialNotification,
  getStatus,
  onNotificationOpened,
  registerBackgroundHandlers,
  signIn,
  start,
  stop,
  type KeyValueStore,
  type Opened,
  type PushKeys,
} from "react-native-gatebell";

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
  stop();
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

const sessions = new Map<string, { token: string; userId: string }>();

/** One session per user for the whole run: the server limits sign-in attempts. */
async function login(email: string): Promise<{ token: string; userId: string }> {
  const known = sessions.get(email);
  if (known) return known;
  const { status, body } = await call("POST", "/api/v1/auth/login", undefined, { email, password: PASSWORD });
  assert.equal(status, 200, JSON.stringify(body));
  const session = { token: body.token, userId: body.user.id };
  sessions.set(email, session);
  return session;
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
/** How many messages the fake FCM accepted for `token` about `visitId`. */
async function fcmCount(token: string, visitId: string, keys?: PushKeys): Promise<number> {
  const all = (await (await fetch(control + "/fcm/received")).json()) as Received[];
  return all.filter((r) => {
    const data = stringData(r.message.data);
    return r.token === token && (keys ? decryptPushData(data, keys) : data).get("visitId") === visitId;
  }).length;
}

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

/** FCM's data map as the core reads it. */
function stringData(data: { [key: string]: unknown } | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const [key, value] of Object.entries(data ?? {})) {
    if (typeof value === "string") map.set(key, value);
  }
  return map;
}

/** The app's index.js and launch on `os` with a fresh install: configure, the background
 * handlers, start(); every tap or press it is told of goes to `opened`. */
async function launch(os: "android" | "ios", token: string, extra: { iosNotificationServiceExtension?: boolean } = {}) {
  stop();
  Platform.OS = os;
  messaging.reset(token);
  notifee.reset();
  const store = new MemoryStore();
  configure({ apiBase: api, store, ...extra });
  registerBackgroundHandlers();
  const opened: Opened[] = [];
  onNotificationOpened((o) => opened.push(o));
  return { store, opened };
}

function keysIn(store: MemoryStore): PushKeys | undefined {
  const stored = store.values.get("gatebell.pushKeys");
  return stored ? (JSON.parse(stored) as PushKeys) : undefined;
}

async function signedIn(email = "asha@demo.gatebell") {
  const user = await login(email);
  const status = await signIn(user.token, user.userId);
  assert.equal(status.registered, true, JSON.stringify(status.lastError));
  return user;
}

/** Until `condition` holds (a listener's promise chain has run), or fail after 5 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), what);
}

beforeEach(() => stop());

test("Android: an encrypted walk-in is drawn with Approve / Reject that need the phone unlocked; Approve approves it and the outcome replaces the question", async () => {
  const { store } = await launch("android", "android-phone-token");
  await start();
  assert.equal(notifee.permissionAsked, 1);
  assert.deepEqual(
    notifee.channels.map((c) => [c.id, c.importance]),
    [["visitors", 4]],
    "the channel the server names, importance high",
  );
  await signedIn();

  const visitId = await walkin("Ravi");
  const sent = await fcmMessage("android-phone-token", visitId, keysIn(store));
  assert.equal(sent.notification, undefined, "data-only: Android would draw a notification block itself");
  assert.equal(sent.android.priority, "high");
  // Encrypted by default on Android: the data is one ciphertext; FCM sees no name or token.
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
    shown.android?.actions?.map((a) => [a.title, a.pressAction.id, a.pressAction.launchActivity]),
    [
      ["Approve", "approve", "default"],
      ["Reject", "reject", "default"],
    ],
    "each button launches the app's activity: Android asks for the unlock first",
  );
  assert.ok(typeof shown.data?.actionToken === "string", "the action token rides with the notification");

  // Approve pressed (the app in the background; the action token is enough, no session).
  await notifee.backgroundHandler!({
    type: EventType.ACTION_PRESS,
    detail: { notification: shown, pressAction: { id: "approve" } },
  });
  assert.equal(await visitStatus(visitId), "APPROVED");
  // The server tells everyone else; this phone replaces its own question with the outcome.
  assert.equal(notifee.displayed.length, 2);
  const outcome = notifee.displayed[1];
  assert.equal(outcome.id, shown.id, "the same id: the outcome replaces the question");
  assert.equal(outcome.body, "Approved — Ravi may enter", "the outcome line the push carried");
  assert.deepEqual(outcome.android?.actions, [], "no buttons left to press");
});

test("Android: a foreground message is drawn, and a token refresh replaces the token on the server", async () => {
  const { store } = await launch("android", "android-token-1");
  await start();
  await signedIn();
  // In the foreground RNFirebase calls onMessage, not the background handler.
  const visitId = await walkin("Mohan");
  const sent = await fcmMessage("android-token-1", visitId, keysIn(store));
  assert.equal(messaging.messageListeners.length, 1);
  messaging.messageListeners[0](asRemoteMessage(sent));
  await until(() => notifee.displayed.length === 1, "the foreground message is drawn");
  assert.match(notifee.displayed[0].body ?? "", /Mohan/);

  messaging.token = "android-token-2";
  for (const refresh of messaging.tokenListeners) refresh("android-token-2");
  await until(() => getStatus().token === "android-token-2" && getStatus().registered, "the new token registers");
  const next = await walkin("Nina");
  await fcmMessage("android-token-2", next, keysIn(store));
  assert.equal(await fcmCount("android-token-1", next), 0, "the old token is gone from the server");
});

test("Android: back in the foreground, a token that changed while the app slept is registered", async () => {
  const { store } = await launch("android", "android-sleepy-1");
  await start();
  await signedIn();
  // No onTokenRefresh reached the suspended app; it comes back to the foreground.
  messaging.token = "android-sleepy-2";
  for (const listener of appStateListeners) listener("background");
  for (const listener of appStateListeners) listener("active");
  await until(() => getStatus().token === "android-sleepy-2" && getStatus().registered, "the new token registers");
  const visitId = await walkin("Omar");
  await fcmMessage("android-sleepy-2", visitId, keysIn(store));
});

test("cold start from a tapped notification opens its visit; from a pressed Reject, rejects once and says so", async () => {
  const { store } = await launch("android", "android-cold");
  await start();
  await signedIn();
  const visitId = await walkin("Priya");
  await messaging.backgroundHandler!(asRemoteMessage(await fcmMessage("android-cold", visitId, keysIn(store))));
  const shown = notifee.displayed[0];

  // The app was killed; a tap on the notification starts it.
  stop();
  configure({ apiBase: api, store });
  registerBackgroundHandlers();
  notifee.initial = { notification: shown, pressAction: { id: "default" } };
  assert.deepEqual(await getInitialNotification(), { kind: "visit", visitId });

  // Killed again; Reject pressed: notifee reports it to the background handler and, once the
  // app opened, as the initial notification. One decision, one answer.
  stop();
  configure({ apiBase: api, store });
  registerBackgroundHandlers();
  const press = { notification: shown, pressAction: { id: "reject" } };
  notifee.initial = press;
  const [background, initial] = await Promise.all([
    notifee.backgroundHandler!({ type: EventType.ACTION_PRESS, detail: press }),
    getInitialNotification(),
  ]);
  assert.equal(background, undefined);
  assert.equal(await visitStatus(visitId), "REJECTED");
  assert.equal(initial?.kind, "decided");
  assert.equal(initial?.kind === "decided" && initial.ok, true, JSON.stringify(initial));
  const answers = notifee.displayed.slice(1);
  assert.equal(answers.length, 1, "decided once: no second call and no 'decided already'");
  assert.equal(answers[0].body, "Rejected");
});

test("a decision answered 409 shows who decided, and a tap on it opens the visit", async () => {
  const { store, opened } = await launch("android", "android-late");
  await start();
  const asha = await signedIn();
  const visitId = await walkin("Quinn");
  await messaging.backgroundHandler!(asRemoteMessage(await fcmMessage("android-late", visitId, keysIn(store))));
  const shown = notifee.displayed[0];
  // Asha approved on another phone first.
  assert.equal((await call("POST", `/api/v1/visits/${visitId}/approve`, asha.token)).status, 200);

  // Reject pressed here, while the app is open.
  for (const observer of notifee.foregroundObservers) {
    observer({ type: EventType.ACTION_PRESS, detail: { notification: shown, pressAction: { id: "reject" } } });
  }
  await until(() => opened.length === 1, "the press is reported");
  assert.equal(await visitStatus(visitId), "APPROVED", "the first decision stands");
  const decided = opened[0];
  assert.equal(decided.kind === "decided" && decided.status, 409);
  const why = notifee.displayed[1];
  assert.equal(why.id, shown.id, "in place of the question, whose buttons no longer work");
  assert.equal(why.title, "Could not reject");
  assert.match(why.body ?? "", /decided already: it is APPROVED by Asha/);
  assert.deepEqual(why.android?.actions, []);

  for (const observer of notifee.foregroundObservers) {
    observer({ type: EventType.PRESS, detail: { notification: why, pressAction: { id: "default" } } });
  }
  await until(() => opened.length === 2, "the tap is reported");
  assert.deepEqual(opened[1], { kind: "visit", visitId });
});

test("iOS: the app's own category is kept, ours needs an unlocked phone and opens the app, and Reject rejects", async () => {
  // The app registered a category of its own before the SDK started.
  const chat = { id: "CHAT", actions: [{ id: "reply", title: "Reply" }] };
  const { store } = await launch("ios", "ios-phone-token");
  notifee.categories = [chat];
  await start();
  assert.deepEqual(notifee.categories, [
    chat,
    {
      id: "WALKIN_PENDING",
      actions: [
        { id: "approve", title: "Approve", authenticationRequired: true, foreground: true },
        { id: "reject", title: "Reject", authenticationRequired: true, foreground: true },
      ],
    },
  ]);
  assert.equal(notifee.categoryWrites, 1);
  // Next launch: nothing to write.
  stop();
  configure({ apiBase: api, store });
  await start();
  assert.equal(notifee.categoryWrites, 1, "ours is added once");

  await signedIn();
  const visitId = await walkin("Sita");
  const sent = await fcmMessage("ios-phone-token", visitId);
  // No extension declared: clear text, so iOS can show the name.
  assert.deepEqual(sent.notification, { title: "Visitor at the gate", body: sent.notification.body });
  assert.match(sent.notification.body, /Sita/);
  assert.equal(keysIn(store), undefined, "no keys registered on iOS without the extension");
  assert.equal(sent.apns.payload.aps.category, "WALKIN_PENDING");

  // iOS draws the alert itself; the handler, if iOS runs it, draws nothing more.
  await messaging.backgroundHandler!(asRemoteMessage(sent));
  assert.equal(notifee.displayed.length, 0);

  // Reject (a foreground action: the app opened, unlocked) reported with the message's data.
  const opened: Opened[] = [];
  onNotificationOpened((o) => opened.push(o));
  for (const observer of notifee.foregroundObservers) {
    observer({ type: EventType.ACTION_PRESS, detail: { notification: { id: `visit-${visitId}`, data: sent.data }, pressAction: { id: "reject" } } });
  }
  await until(() => opened.length === 1, "the press is reported");
  assert.equal(await visitStatus(visitId), "REJECTED");
  assert.equal(notifee.displayed[0]?.id, `visit-${visitId}`, "the outcome under the alert's collapse id");
});

test("iOS with the notification service extension: pushes are encrypted", async () => {
  const { store } = await launch("ios", "ios-extension-token", { iosNotificationServiceExtension: true });
  await start();
  await signedIn();
  const visitId = await walkin("Tara");
  const sent = await fcmMessage("ios-extension-token", visitId, keysIn(store));
  assert.deepEqual(Object.keys(sent.data), ["encrypted"]);
  assert.equal(sent.apns.payload.aps["mutable-content"], 1);
  assert.doesNotMatch(JSON.stringify(sent), /Tara/);
});

test("notifications off: the device leaves the server and the FCM token is deleted; on again: registered", async () => {
  const { store } = await launch("android", "android-off");
  await start();
  const asha = await signedIn();
  // Another phone of Asha's, to see the walk-in sent while this one is off.
  const witness = await call("POST", "/api/v1/notifications/register-device", asha.token, {
    token: "android-witness",
    platform: "android",
  });
  assert.equal(witness.status < 300, true, JSON.stringify(witness.body));
  let status = await disableNotifications();
  assert.equal(status.notificationsDisabled, true);
  assert.equal(status.signedIn, true);
  assert.deepEqual(messaging.deletedTokens, ["android-off"]);
  const quiet = await walkin("Uma");
  await fcmMessage("android-witness", quiet);
  assert.equal(await fcmCount("android-off", quiet, keysIn(store)), 0, "nothing is sent to this phone");

  messaging.token = "android-on";
  status = await enableNotifications();
  assert.equal(status.notificationsDisabled, false);
  assert.equal(status.registered, true);
  await fcmMessage("android-on", await walkin("Vera"), keysIn(store));
});

test("Android in Hindi: the resident's language reaches the drawn walk-in, its buttons and the outcome that replaces it", async () => {
  const asha = await login("asha@demo.gatebell");
  const set = (language: string) => call("PUT", "/api/v1/me/preferences", asha.token, { language });
  assert.equal((await set("hi")).status, 200);
  try {
    const { store } = await launch("android", "android-hindi");
    await start();
    await signedIn();
    const visitId = await walkin("रवि");
    await messaging.backgroundHandler!(asRemoteMessage(await fcmMessage("android-hindi", visitId, keysIn(store))));
    const shown: Notification = notifee.displayed[0];
    assert.equal(shown.title, "गेट पर आगंतुक");
    assert.equal(shown.body, "रवि गेट पर हैं (parcel)। अनुमति दें?");
    assert.deepEqual(
      shown.android?.actions?.map((a) => [a.title, a.pressAction.id]),
      [
        ["अनुमति दें", "approve"],
        ["मना करें", "reject"],
      ],
    );
    await notifee.backgroundHandler!({
      type: EventType.ACTION_PRESS,
      detail: { notification: shown, pressAction: { id: "approve" } },
    });
    assert.equal(await visitStatus(visitId), "APPROVED");
    assert.equal(notifee.displayed[1].body, "अनुमति दी — रवि अंदर आ सकते हैं");
  } finally {
    assert.equal((await set("en")).status, 200);
  }
});
