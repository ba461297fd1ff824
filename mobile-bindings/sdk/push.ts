// Everything an app does with Gatebell's pushes, behind a few calls: `configure` and
// `registerBackgroundHandlers` at the top of index.js, `start` when the app opens,
// `signIn` / `signOut`, `enableNotifications` / `disableNotifications`, and
// `onNotificationOpened` / `getInitialNotification` for where a tap leads.
//
// The server sends (docs/FCM.md): on Android every walk-in (and, with encryption, every
// message) data-only, drawn here with notifee; on iOS an APNs alert in the WALKIN_PENDING
// category, whose buttons this module registers. Approve / Reject need an unlocked phone on
// both platforms (iOS: `authenticationRequired` and `foreground`; Android: the action launches
// the app's activity), and the decision is completed by whichever of notifee's handlers hears
// the press first — once.
import notifee, {
  AndroidImportance,
  EventType,
  type Event,
  type IOSNotificationCategory,
  type IOSNotificationCategoryAction,
  type Notification,
} from "@notifee/react-native";
import {
  deleteToken,
  getInitialNotification as getInitialRemoteMessage,
  getMessaging,
  getToken,
  onMessage,
  onNotificationOpenedApp,
  onTokenRefresh,
  setBackgroundMessageHandler,
  type RemoteMessage,
} from "@react-native-firebase/messaging";
import { AppState, Platform } from "react-native";

import {
  ClientUpdate,
  GatebellError,
  MobilePlatform,
  PushClient,
  Route,
  decisionNotification,
  decryptPushData,
  generatePushKeys,
  notificationContent,
  notificationSetup,
  routeApiPath,
  routeDecisionCall,
  routeFor,
  type HttpRequest,
  type HttpResponse,
  type HttpTransport,
  type KeyValueStore,
  type NotificationContent,
  type PushKeys,
  type Status,
} from "./bindings";
import { keychainStore } from "./storage";
import { fetchTransport } from "./transport";

/** What the app tells the SDK, once, before anything else (index.js). */
export interface GatebellOptions {
  /** The Gatebell server, `https://gatebell.example.com` (no trailing slash). */
  apiBase: string;
  /** Secure storage for the client's state (bearer tokens) and keys; default: the Keychain. */
  store?: KeyValueStore;
  /** The HTTP stack; default: `fetch` with a 15 s timeout. */
  transport?: HttpTransport;
  /**
   * End-to-end encrypted pushes (FCM and APNs see no visitor names). Default: on for Android;
   * on iOS only with `iosNotificationServiceExtension`, since without the extension iOS can
   * only show "A visitor is at the gate".
   */
  encryptPushes?: boolean;
  /** The app ships the notification service extension of the README, which decrypts. */
  iosNotificationServiceExtension?: boolean;
  /** The server refused the session (401): back to the login screen. */
  onSessionEnded?(): void;
  /** The registration status changed (for a settings screen). */
  onStatus?(status: Status): void;
  /** Draws a notification instead of notifee (an app that draws its own). */
  display?(content: NotificationContent): Promise<void>;
}

/** Where a notification led, or what its button did. */
export type Opened =
  | { kind: "visit"; visitId: string }
  | { kind: "inbox" }
  | {
      kind: "decided";
      visitId: string;
      decision: "approve" | "reject";
      /** The server recorded it. */
      ok: boolean;
      /** The answer's HTTP status; none when there was no connection. */
      status?: number;
      /** What the phone showed: the outcome, or why it failed. */
      text: string;
    };

const SESSION_KEY = "gatebell.session";
const PUSH_KEYS_KEY = "gatebell.pushKeys";

let options: GatebellOptions | undefined;
let client: PushClient | undefined;
let started: Promise<Opened | null> | undefined;
let stops: (() => void)[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<(opened: Opened) => void>();
/** Decisions by visit and answer: iOS and Android may report one press to two handlers. */
const decisions = new Map<string, Promise<Opened>>();

function configured(): GatebellOptions {
  if (!options) throw new Error("react-native-gatebell: call configure() first (index.js)");
  return options;
}
function store(): KeyValueStore {
  return configured().store ?? (defaultStore ??= keychainStore());
}
let defaultStore: KeyValueStore | undefined;
function transport(): HttpTransport {
  return configured().transport ?? (defaultTransport ??= fetchTransport(configured().apiBase));
}
let defaultTransport: HttpTransport | undefined;

/** A rejection is a storage failure or a bug in the transport; no answer is in the status. */
function report(e: unknown): undefined {
  console.warn("react-native-gatebell", e);
  return undefined;
}

/** Call once at the top of index.js, before `registerBackgroundHandlers()`. */
export function configure(o: GatebellOptions): void {
  options = o;
  defaultStore = undefined;
  defaultTransport = undefined;
}

function pushClient(): PushClient {
  if (client) return client;
  const o = configured();
  const c = new PushClient(transport(), store(), {
    onUpdate(update: ClientUpdate) {
      if (ClientUpdate.WakeAt.instanceOf(update)) {
        clearTimeout(timer);
        const delay = Math.max(0, Number(update.inner.atMs) - Date.now());
        timer = setTimeout(() => void c.timerFired().catch(report), delay);
      } else if (ClientUpdate.SessionEnded.instanceOf(update)) {
        o.onSessionEnded?.();
      } else if (ClientUpdate.StatusChanged.instanceOf(update)) {
        o.onStatus?.(update.inner.status);
      }
    },
  });
  client = c;
  return c;
}

function platform(): MobilePlatform {
  return Platform.OS === "ios" ? MobilePlatform.Ios : MobilePlatform.Android;
}

function encrypts(): boolean {
  const o = configured();
  return o.encryptPushes ?? (Platform.OS === "android" || o.iosNotificationServiceExtension === true);
}

/** This installation's key pair, made once and kept in the store, when pushes are encrypted. */
async function pushKeys(): Promise<PushKeys | undefined> {
  if (!encrypts()) return undefined;
  const stored = await store().get(PUSH_KEYS_KEY);
  if (stored) return JSON.parse(stored) as PushKeys;
  const keys = generatePushKeys();
  await store().set(PUSH_KEYS_KEY, JSON.stringify(keys));
  return keys;
}

/** FCM's and notifee's `data` values are strings; anything else is left out. */
function stringData(data: { [key: string]: unknown } | undefined | null): Map<string, string> {
  const map = new Map<string, string>();
  for (const [key, value] of Object.entries(data ?? {})) {
    if (typeof value === "string") map.set(key, value);
  }
  return map;
}

/** A message's or notification's data in the clear (decrypted with the stored keys, if any). */
async function clearData(data: { [key: string]: unknown } | undefined | null): Promise<Map<string, string>> {
  const map = stringData(data);
  const stored = await store().get(PUSH_KEYS_KEY);
  return stored ? decryptPushData(map, JSON.parse(stored) as PushKeys) : map;
}

// ---------------------------------------------------------------------------------------------
// Drawing

/** Approve / Reject on iOS: only on an unlocked phone, and they open the app (docs/FCM.md). */
function walkinCategory(): IOSNotificationCategory {
  const setup = notificationSetup();
  return {
    id: setup.iosWalkinCategoryId,
    actions: setup.walkinActions.map((a) => ({
      id: a.id,
      title: a.title,
      authenticationRequired: true,
      foreground: true,
    })),
  };
}

function sameAction(a: IOSNotificationCategoryAction, b: IOSNotificationCategoryAction): boolean {
  return (
    a.id === b.id &&
    a.title === b.title &&
    Boolean(a.authenticationRequired) === Boolean(b.authenticationRequired) &&
    Boolean(a.foreground) === Boolean(b.foreground)
  );
}

/**
 * The `visitors` channel (Android); the WALKIN_PENDING category added to the app's own (iOS),
 * written only when it is missing or differs: `setNotificationCategories` replaces them all.
 */
async function setUpNotifications(): Promise<void> {
  if (Platform.OS === "android") {
    const setup = notificationSetup();
    await notifee.createChannel({
      id: setup.androidChannelId,
      name: setup.androidChannelName,
      importance: AndroidImportance.HIGH,
      sound: "default",
    });
  } else if (Platform.OS === "ios") {
    const ours = walkinCategory();
    const existing = await notifee.getNotificationCategories();
    const current = existing.find((c) => c.id === ours.id);
    const actions = current?.actions ?? [];
    const same =
      actions.length === ours.actions!.length && ours.actions!.every((a, i) => sameAction(a, actions[i]));
    if (current && same) return;
    await notifee.setNotificationCategories([...existing.filter((c) => c.id !== ours.id), ours]);
  }
}

/** notifee's form of what the core says to draw. */
function notification(content: NotificationContent): Notification {
  return {
    id: content.id,
    title: content.title,
    body: content.body,
    data: Object.fromEntries(content.data),
    android: {
      channelId: content.androidChannelId,
      pressAction: { id: "default" },
      // Launching the app's activity needs the phone unlocked: no decision from a locked one.
      actions: content.actions.map((a) => ({
        title: a.title,
        pressAction: { id: a.id, launchActivity: "default" },
      })),
    },
    ios: content.iosCategoryId ? { categoryId: content.iosCategoryId } : {},
  };
}

async function show(content: NotificationContent): Promise<void> {
  const draw = configured().display;
  if (draw) return draw(content);
  if (Platform.OS === "android") await setUpNotifications();
  await notifee.displayNotification(notification(content));
}

/**
 * A message arrived (background handler or onMessage): draws it when the app draws it (an
 * Android walk-in or its outcome; with encryption, every Android message). Returns the
 * notification id, or null when the system shows it or it is another sender's.
 */
async function displayMessage(message: RemoteMessage): Promise<string | null> {
  // The system shows a message with a notification block (iOS alerts, clear-text check-ins).
  if (message.notification) return null;
  const content = notificationContent(await clearData(message.data));
  if (!content) return null;
  await show(content);
  return content.id;
}

// ---------------------------------------------------------------------------------------------
// Presses

async function send(request: HttpRequest): Promise<HttpResponse | undefined> {
  try {
    return await transport().send(request);
  } catch (e) {
    if (!(e instanceof Error && GatebellError.Network.instanceOf(e))) report(e);
    return undefined;
  }
}

async function session(): Promise<string | undefined> {
  const raw = await store().get(SESSION_KEY);
  return raw ? (JSON.parse(raw) as { token: string }).token : undefined;
}

/** Approve / Reject: the API call (with the push's action token, else the session), then the
 * outcome or the reason it failed, drawn in place of the question. */
async function decide(route: Route, data: Map<string, string>, notificationId: string | undefined): Promise<Opened> {
  const decision = Route.Approve.instanceOf(route) ? "approve" : "reject";
  const visitId = Route.Approve.instanceOf(route) || Route.Reject.instanceOf(route) ? route.inner.visitId : "";
  const token = data.get("actionToken");
  const call = token ? routeDecisionCall(route, token) : undefined;
  const json = [
    ["Content-Type", "application/json"],
    ["Accept", "application/json"],
  ] as const;
  let answer: HttpResponse | undefined;
  if (call) {
    answer = await send({ method: "POST", path: call.path, headers: new Map(json), body: call.body });
  } else {
    const bearer = await session();
    const headers = new Map<string, string>(json);
    if (bearer) headers.set("Authorization", `Bearer ${bearer}`);
    answer = await send({ method: "POST", path: routeApiPath(route) ?? "", headers, body: "" });
  }
  const ok = answer !== undefined && answer.status >= 200 && answer.status < 300;
  // The outcome line the push carried in the resident's language ("Approved — Ravi may
  // enter"), else the shell's English one.
  const said = ok ? data.get(decision === "approve" ? "approved" : "rejected") : undefined;
  const drawn = decisionNotification(route, answer);
  const content = drawn && said ? { ...drawn, body: said } : drawn;
  if (content) {
    await show(content);
    // iOS drew the question under its own id when it lacked the collapse id.
    if (notificationId && notificationId !== content.id) await notifee.cancelNotification(notificationId);
  }
  return { kind: "decided", visitId, decision, ok, status: answer?.status, text: content?.body ?? "" };
}

/** Where a notification's data and pressed action lead; Approve / Reject are done once. */
async function open(data: Map<string, string>, notificationId: string | undefined, actionId: string | undefined): Promise<Opened> {
  const route = routeFor(data, actionId);
  if (Route.Approve.instanceOf(route) || Route.Reject.instanceOf(route)) {
    const key = `${route.inner.visitId}:${actionId}`;
    let decided = decisions.get(key);
    if (!decided) {
      decided = decide(route, data, notificationId);
      decisions.set(key, decided);
    }
    return decided;
  }
  if (Route.Visit.instanceOf(route)) return { kind: "visit", visitId: route.inner.visitId };
  return { kind: "inbox" };
}

/** notifee's PRESS / ACTION_PRESS, from any of its handlers; other events are null. */
async function handleEvent({ type, detail }: Event): Promise<Opened | null> {
  if (type !== EventType.ACTION_PRESS && type !== EventType.PRESS) return null;
  const data = await clearData(detail.notification?.data);
  const actionId = type === EventType.ACTION_PRESS ? detail.pressAction?.id : undefined;
  return open(data, detail.notification?.id, actionId);
}

function emit(opened: Opened | null | undefined): void {
  if (!opened) return;
  for (const listener of listeners) listener(opened);
}

// ---------------------------------------------------------------------------------------------
// The API

/**
 * Call once at the top of index.js, after `configure()`, before AppRegistry: a data message
 * or a button press may start the app headless, with nothing mounted.
 */
export function registerBackgroundHandlers(): void {
  setBackgroundMessageHandler(getMessaging(), async (message) => {
    await displayMessage(message);
  });
  notifee.onBackgroundEvent(async (event) => {
    // Android reports presses of an app in the background here; a killed app that a press
    // opened reads it again from getInitialNotification (the decision is made once).
    emit(await handleEvent(event));
  });
}

/**
 * When the app opens (idempotent): restores the client, sets up the channel / category, asks
 * for permission and registers the token (unless notifications are off), listens for token
 * refreshes, foreground messages and presses, and the app's return to the foreground.
 * Resolves with the notification that opened the app, if one did (see getInitialNotification).
 */
export function start(): Promise<Opened | null> {
  started ??= startOnce();
  return started;
}

async function startOnce(): Promise<Opened | null> {
  const c = pushClient();
  const status = await c.start().catch(report);
  await setUpNotifications();
  if (!status?.notificationsDisabled) {
    await notifee.requestPermission();
    await issueToken().catch(report);
  }
  const messaging = getMessaging();
  const subscription = AppState.addEventListener("change", (state) => {
    // Retries what is due, and a token that changed while the app slept registers.
    if (state === "active") void c.start().then(issueToken).catch(report);
  });
  stops = [
    onTokenRefresh(messaging, (token: string) => {
      void pushKeys()
        .then((keys) => c.tokenIssued(token, platform(), keys))
        .catch(report);
    }),
    // In the foreground nothing is shown unless the app shows it.
    onMessage(messaging, (message) => void displayMessage(message).catch(report)),
    notifee.onForegroundEvent((event) => void handleEvent(event).then(emit, report)),
    onNotificationOpenedApp(messaging, (message) => {
      void clearData(message.data)
        .then((data) => open(data, undefined, undefined))
        .then(emit, report);
    }),
    () => subscription.remove(),
  ];
  // Opened from a quit state: by a notification notifee reports (drawn by the app, or an iOS
  // category action) or one the system drew (RNFirebase).
  const initial = await notifee.getInitialNotification();
  if (initial) {
    const action = initial.pressAction.id === "default" ? undefined : initial.pressAction.id;
    return open(await clearData(initial.notification.data), initial.notification.id, action);
  }
  const remote = await getInitialRemoteMessage(messaging);
  return remote ? open(await clearData(remote.data), undefined, undefined) : null;
}

/** The notification (or its Approve / Reject, then done) that opened the app, or null. */
export function getInitialNotification(): Promise<Opened | null> {
  return start();
}

/** Every later tap or press while the app runs; returns the unsubscribe. */
export function onNotificationOpened(listener: (opened: Opened) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The platform's token with this installation's keys, unless notifications are off. */
async function issueToken(): Promise<Status> {
  const c = pushClient();
  const now = c.status();
  if (now.notificationsDisabled) return now;
  return c.tokenIssued(await getToken(getMessaging()), platform(), await pushKeys());
}

/** After the app's sign-in (`POST /api/v1/auth/login`): registers this device for the user. */
export async function signIn(sessionToken: string, userId: string): Promise<Status> {
  await store().set(SESSION_KEY, JSON.stringify({ token: sessionToken, userId }));
  await pushClient().signIn(sessionToken, userId);
  return issueToken();
}

/**
 * Unregisters this device while the session still works; then, with `revokeSession` (a
 * Gatebell session, not a backend's JWT), ends it (`POST /api/v1/auth/logout`).
 */
export async function signOut(o: { revokeSession?: boolean } = {}): Promise<Status> {
  const status = await pushClient().signOut();
  const bearer = await session();
  await store().set(SESSION_KEY, "");
  if (o.revokeSession && bearer) {
    const headers = new Map([["Authorization", `Bearer ${bearer}`]]);
    await send({ method: "POST", path: "/api/v1/auth/logout", headers, body: "" });
  }
  return status;
}

/** Notifications on (again): asks for permission and registers the token. */
export async function enableNotifications(): Promise<Status> {
  await notifee.requestPermission();
  await pushClient().enableNotifications();
  return issueToken();
}

/** Notifications off on this device: unregisters it (the user stays signed in) and deletes
 * the FCM token; kept across restarts until `enableNotifications()`. */
export async function disableNotifications(): Promise<Status> {
  const status = await pushClient().disableNotifications();
  await deleteToken(getMessaging()).catch(report);
  return status;
}

/** The registration status now. */
export function getStatus(): Status {
  return pushClient().status();
}

/** Removes the listeners and the timer (hot reload, tests); `start()` may run again. */
export function stop(): void {
  for (const s of stops) s();
  stops = [];
  listeners.clear();
  clearTimeout(timer);
  started = undefined;
  client = undefined;
  decisions.clear();
}
