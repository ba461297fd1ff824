// Everything the app does with push notifications, in one plain module (no React), so that
// index.js can register the background handlers before the app renders, and a Node test can
// drive the same functions with @react-native-firebase/messaging and @notifee/react-native
// replaced at the module boundary.
//
// The server sends (see docs/FCM.md):
// - Android walk-in (and its outcome): a high-priority data-only message. The app draws it
//   here, through notifee, with Approve / Reject, on the `visitors` channel.
// - iOS walk-in: an APNs alert with category WALKIN_PENDING; iOS draws it with the actions the
//   app registered here (setNotificationCategories). Nothing to draw in the app.
// - Check-ins: plain notifications the system shows on both.
// With `encryptPushes` the app makes a key pair (generatePushKeys, kept in the store) and
// registers it with its token; the server then encrypts every payload to it, so FCM sees no
// visitor names: Android gets every message data-only and the app decrypts (decryptPushData)
// and draws it, check-ins included; iOS shows a generic alert ("A visitor is at the gate") with
// the category's buttons, which a notification service extension can replace (README).
// A press of Approve / Reject reaches notifee's onBackgroundEvent / onForegroundEvent as
// ACTION_PRESS on both platforms; a tap on a system-drawn notification reaches RNFirebase's
// getInitialNotification / onNotificationOpenedApp.
import notifee, {
  AndroidImportance,
  AuthorizationStatus as NotifeeAuthorization,
  EventType,
  type Event,
  type Notification,
} from "@notifee/react-native";
import {
  getInitialNotification,
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
  type PushKeys,
  type Status,
} from "react-native-gatebell";

/** Where the app should go, or what a button did. */
export type Outcome =
  | { kind: "visit"; visitId: string }
  | { kind: "inbox" }
  | { kind: "decided"; visitId: string; decision: "approve" | "reject"; status: number };

/** What the app gives this module. */
export interface Config {
  /** The Gatebell server, `https://gatebell.example.com` (no trailing slash). */
  apiOrigin: string;
  /** Secure storage (the app passes react-native-keychain; see storage.ts). */
  store: KeyValueStore;
  /** The signed-in session's bearer token, if any: Approve / Reject without an action token. */
  session(): Promise<string | undefined>;
  /** Shows a screen; called only while the app is open. */
  navigate(outcome: Outcome): void;
  /** The server said the session is over (401): back to the login screen. */
  onSessionEnded(): void;
  /** Register a key pair with the token so that pushes are end-to-end encrypted. */
  encryptPushes?: boolean;
}

const PUSH_KEYS = "gatebell.example.pushKeys";

/** This installation's key pair (made once, kept in the store), when pushes are encrypted. */
export async function pushKeys(config: Config): Promise<PushKeys | undefined> {
  if (!config.encryptPushes) return undefined;
  const stored = await config.store.get(PUSH_KEYS);
  if (stored) return JSON.parse(stored) as PushKeys;
  const keys = generatePushKeys();
  await config.store.set(PUSH_KEYS, JSON.stringify(keys));
  return keys;
}

/** A message's or notification's data in the clear (an encrypted one decrypted). */
export async function clearData(
  config: Config,
  data: { [key: string]: unknown } | undefined | null,
): Promise<Map<string, string>> {
  const map = stringData(data);
  const keys = await pushKeys(config);
  return keys ? decryptPushData(map, keys) : map;
}

const REQUEST_TIMEOUT_MS = 15_000;

/** FCM's and notifee's `data` values are strings; anything else is left out. */
export function stringData(data: { [key: string]: unknown } | undefined | null): Map<string, string> {
  const map = new Map<string, string>();
  for (const [key, value] of Object.entries(data ?? {})) {
    if (typeof value === "string") map.set(key, value);
  }
  return map;
}

/** The core's transport over fetch, with a timeout; no answer → GatebellError.Network. */
export function fetchTransport(apiOrigin: string): HttpTransport {
  return {
    async send(request: HttpRequest): Promise<HttpResponse> {
      const abort = new AbortController();
      const timeout = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
      try {
        const response = await fetch(apiOrigin + request.path, {
          method: request.method,
          headers: Object.fromEntries(request.headers),
          body: request.body,
          signal: abort.signal,
        });
        return { status: response.status, body: await response.text() };
      } catch (e) {
        throw new GatebellError.Network({ reason: String(e) });
      } finally {
        clearTimeout(timeout);
      }
    },
  };
}

/** The `visitors` channel (Android) and the WALKIN_PENDING category (iOS); idempotent. */
export async function setUpNotifications(): Promise<void> {
  const setup = notificationSetup();
  if (Platform.OS === "android") {
    await notifee.createChannel({
      id: setup.androidChannelId,
      name: setup.androidChannelName,
      importance: AndroidImportance.HIGH,
      sound: "default",
    });
  } else if (Platform.OS === "ios") {
    await notifee.setNotificationCategories([
      {
        id: setup.iosWalkinCategoryId,
        // Approve / Reject call the API from the background; they need not open the app.
        actions: setup.walkinActions.map((a) => ({ id: a.id, title: a.title })),
      },
    ]);
  }
}

/**
 * A message arrived (background handler or onMessage): draws it when it is one the app draws
 * (an Android walk-in or its outcome). Returns the notification id, or null when the system
 * shows the message itself or it is another sender's.
 */
export async function displayMessage(config: Config, message: RemoteMessage): Promise<string | null> {
  // The system shows a message with a notification block (iOS alerts, clear-text check-ins).
  if (message.notification) return null;
  const content = notificationContent(await clearData(config, message.data));
  if (!content) return null;
  await setUpNotifications();
  const notification: Notification = {
    id: content.id,
    title: content.title,
    body: content.body,
    data: Object.fromEntries(content.data),
    android: {
      channelId: content.androidChannelId,
      // A tap opens the app at the visit; the buttons act without opening it.
      pressAction: { id: "default" },
      actions: content.actions.map((a) => ({ title: a.title, pressAction: { id: a.id } })),
    },
    ios: content.iosCategoryId ? { categoryId: content.iosCategoryId } : {},
  };
  return notifee.displayNotification(notification);
}

/**
 * Where a notification's data and pressed action lead: for Approve / Reject, the API call
 * (with the push's action token, so it works without a valid sign-in; else with the session);
 * otherwise the screen to show.
 */
export async function openRoute(
  config: Config,
  data: Map<string, string>,
  actionId: string | undefined,
): Promise<Outcome> {
  const route = routeFor(data, actionId);
  if (Route.Approve.instanceOf(route) || Route.Reject.instanceOf(route)) {
    const decision = Route.Approve.instanceOf(route) ? "approve" : "reject";
    const visitId = route.inner.visitId;
    const token = data.get("actionToken");
    const call = token ? routeDecisionCall(route, token) : undefined;
    let response: Response;
    if (call) {
      response = await fetch(config.apiOrigin + call.path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: call.body,
      });
    } else {
      const session = await config.session();
      response = await fetch(config.apiOrigin + (routeApiPath(route) ?? ""), {
        method: "POST",
        headers: session ? { Authorization: `Bearer ${session}` } : {},
      });
    }
    return { kind: "decided", visitId, decision, status: response.status };
  }
  if (Route.Visit.instanceOf(route)) return { kind: "visit", visitId: route.inner.visitId };
  return { kind: "inbox" };
}

/**
 * notifee's event (onBackgroundEvent, onForegroundEvent): a button does its API call and the
 * notification goes; a tap returns where to go. Other events return null.
 */
export async function handleNotificationEvent(config: Config, event: Event): Promise<Outcome | null> {
  const { type, detail } = event;
  if (type !== EventType.ACTION_PRESS && type !== EventType.PRESS) return null;
  const data = await clearData(config, detail.notification?.data);
  const actionId = type === EventType.ACTION_PRESS ? detail.pressAction?.id : undefined;
  const outcome = await openRoute(config, data, actionId);
  if (outcome.kind === "decided" && detail.notification?.id) {
    await notifee.cancelNotification(detail.notification.id);
  }
  return outcome;
}

/**
 * The headless part: call at the top of index.js, before AppRegistry, so that a message or a
 * button press that starts the app in the background finds its handler.
 */
export function registerBackgroundHandlers(config: Config): void {
  setBackgroundMessageHandler(getMessaging(), async (message) => {
    await displayMessage(config, message);
  });
  notifee.onBackgroundEvent(async (event) => {
    // A tap opens the app, which reads it from getInitialNotification: nothing to show here.
    if (event.type === EventType.ACTION_PRESS) await handleNotificationEvent(config, event);
  });
}

/** The foreground part: the push client and the listeners, while the app runs. */
export interface PushSession {
  client: PushClient;
  /** After `POST /api/v1/auth/login` answered `{ token, user }`. */
  signedIn(sessionToken: string, userId: string): Promise<Status | undefined>;
  /** Unregisters this device with the still-valid session; then the app revokes it. */
  signOut(): Promise<Status | undefined>;
  stop(): void;
}

export async function startPush(config: Config): Promise<PushSession> {
  const messaging = getMessaging();
  // A rejection is a storage failure or a bug in the transport; network errors resolve (see
  // status.lastError) and are retried on the timer.
  const report = (e: unknown) => {
    console.warn("gatebell push", e);
    return undefined;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const client = new PushClient(fetchTransport(config.apiOrigin), config.store, {
    onUpdate(update: ClientUpdate) {
      if (ClientUpdate.WakeAt.instanceOf(update)) {
        clearTimeout(timer);
        const delay = Math.max(0, Number(update.inner.atMs) - Date.now());
        timer = setTimeout(() => void client.timerFired().catch(report), delay);
      } else if (ClientUpdate.SessionEnded.instanceOf(update)) {
        config.onSessionEnded();
      }
    },
  });
  const platform = Platform.OS === "ios" ? MobilePlatform.Ios : MobilePlatform.Android;
  const keys = await pushKeys(config);
  const issueToken = async () => client.tokenIssued(await getToken(messaging), platform, keys);

  await client.start().catch(report);
  // iOS and Android 13+ ask; the answer does not change what we register (the server keeps
  // the device; the system shows nothing until the user allows it in Settings).
  const settings = await notifee.requestPermission();
  if (settings.authorizationStatus === NotifeeAuthorization.DENIED) {
    console.warn("gatebell push: notifications are not allowed");
  }
  await setUpNotifications();
  // Every launch: the token may have changed while the app was not running.
  await issueToken().catch(report);

  const show = (outcome: Outcome | null | undefined) => {
    if (outcome) config.navigate(outcome);
  };
  const openRemote = async (message: RemoteMessage | null) => {
    if (message) show(await openRoute(config, await clearData(config, message.data), undefined));
  };
  const stops = [
    onTokenRefresh(messaging, (token: string) => {
      void client.tokenIssued(token, platform, keys).catch(report);
    }),
    // In the foreground nothing is shown unless the app shows it.
    onMessage(messaging, (message) => void displayMessage(config, message).catch(report)),
    notifee.onForegroundEvent((event) => {
      void handleNotificationEvent(config, event).then(show, report);
    }),
    onNotificationOpenedApp(messaging, (message) => void openRemote(message).catch(report)),
    (() => {
      const subscription = AppState.addEventListener("change", (state) => {
        if (state === "active") void client.start().catch(report);
      });
      return () => subscription.remove();
    })(),
  ];
  // Opened from a quit state: by a notification the app drew (notifee) or the system drew (FCM).
  const initial = await notifee.getInitialNotification();
  if (initial) {
    const data = await clearData(config, initial.notification.data);
    const action = initial.pressAction.id === "default" ? undefined : initial.pressAction.id;
    show(await openRoute(config, data, action).catch(report));
  } else {
    await openRemote(await getInitialNotification(messaging)).catch(report);
  }

  return {
    client,
    async signedIn(sessionToken, userId) {
      await client.signIn(sessionToken, userId).catch(report);
      return issueToken().catch(report);
    },
    signOut: () => client.signOut().catch(report),
    stop() {
      for (const stop of stops) stop();
      clearTimeout(timer);
    },
  };
}
