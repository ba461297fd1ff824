// @react-native-firebase/messaging at the module boundary: what react-native-gatebell uses,
// recording the handlers it registers so the test can deliver messages to them.
export type RemoteMessage = {
  messageId?: string;
  from?: string;
  data?: { [key: string]: string | object };
  notification?: { title?: string; body?: string };
};

type Listener<T> = (value: T) => unknown;

export const fake = {
  token: "fcm-token",
  backgroundHandler: undefined as ((message: RemoteMessage) => Promise<unknown>) | undefined,
  messageListeners: [] as Listener<RemoteMessage>[],
  openedListeners: [] as Listener<RemoteMessage>[],
  tokenListeners: [] as Listener<string>[],
  initialNotification: null as RemoteMessage | null,
  deletedTokens: [] as string[],
  reset(token: string) {
    this.deletedTokens = [];
    this.token = token;
    this.backgroundHandler = undefined;
    this.messageListeners = [];
    this.openedListeners = [];
    this.tokenListeners = [];
    this.initialNotification = null;
  },
};

export type Messaging = { fake: true };

function remover<T>(list: T[], item: T): () => void {
  list.push(item);
  return () => {
    const i = list.indexOf(item);
    if (i >= 0) list.splice(i, 1);
  };
}

export function getMessaging(): Messaging {
  return { fake: true };
}
export async function getToken(_messaging: Messaging): Promise<string> {
  return fake.token;
}
export async function deleteToken(_messaging: Messaging): Promise<void> {
  fake.deletedTokens.push(fake.token);
}
export function onTokenRefresh(_messaging: Messaging, listener: Listener<string>): () => void {
  return remover(fake.tokenListeners, listener);
}
export function onMessage(_messaging: Messaging, listener: Listener<RemoteMessage>): () => void {
  return remover(fake.messageListeners, listener);
}
export function onNotificationOpenedApp(
  _messaging: Messaging,
  listener: Listener<RemoteMessage>,
): () => void {
  return remover(fake.openedListeners, listener);
}
export function setBackgroundMessageHandler(
  _messaging: Messaging,
  handler: (message: RemoteMessage) => Promise<unknown>,
): void {
  fake.backgroundHandler = handler;
}
export async function getInitialNotification(_messaging: Messaging): Promise<RemoteMessage | null> {
  return fake.initialNotification;
}
