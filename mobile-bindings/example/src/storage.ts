// Secure storage for the push client's state (it holds bearer tokens) and the session: the
// Keychain on iOS, the Keystore-backed store on Android, through react-native-keychain.
import { getGenericPassword, resetGenericPassword, setGenericPassword } from "react-native-keychain";
import type { KeyValueStore } from "react-native-gatebell";

const SERVICE = "app.gatebell.example";

/** One Keychain entry per key. */
export const secureStore: KeyValueStore = {
  async get(key: string): Promise<string | undefined> {
    const entry = await getGenericPassword({ service: `${SERVICE}.${key}` });
    return entry ? entry.password : undefined;
  },
  async set(key: string, value: string): Promise<void> {
    await setGenericPassword(key, value, { service: `${SERVICE}.${key}` });
  },
};

/** The signed-in session: `{ token, userId }`. */
export async function loadSession(): Promise<{ token: string; userId: string } | undefined> {
  const raw = await secureStore.get("session");
  return raw ? (JSON.parse(raw) as { token: string; userId: string }) : undefined;
}

export async function saveSession(session: { token: string; userId: string } | undefined): Promise<void> {
  if (session) await secureStore.set("session", JSON.stringify(session));
  else await resetGenericPassword({ service: `${SERVICE}.session` });
}
