// The default store: the Keychain on iOS, the Keystore-backed store on Android, through
// react-native-keychain. The client's state holds bearer tokens and the push keys.
import { getGenericPassword, setGenericPassword } from "react-native-keychain";
import type { KeyValueStore } from "./bindings";

/**
 * One Keychain entry per key, under `service.key`. Give `accessGroup` (a keychain group the
 * app shares with its notification service extension) when the extension decrypts pushes.
 */
export function keychainStore(service = "app.gatebell", accessGroup?: string): KeyValueStore {
  const options = (key: string) => ({ service: `${service}.${key}`, ...(accessGroup ? { accessGroup } : {}) });
  return {
    async get(key: string): Promise<string | undefined> {
      const entry = await getGenericPassword(options(key));
      return entry ? entry.password : undefined;
    },
    async set(key: string, value: string): Promise<void> {
      await setGenericPassword(key, value, options(key));
    },
  };
}
