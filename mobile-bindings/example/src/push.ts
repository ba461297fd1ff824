// The example's push set-up: which server, where to keep secrets, what a session's end does.
// react-native-gatebell does the rest; index.js imports this before anything else.
import { configure, keychainStore } from "react-native-gatebell";

/** The Gatebell server. The Android emulator reaches the host's 127.0.0.1 as 10.0.2.2. */
export const API_ORIGIN = "http://10.0.2.2:8080";

let sessionEnded = () => {};
/** App.tsx: what to do when the server refuses the session (back to the login form). */
export function onSessionEnded(f: () => void): void {
  sessionEnded = f;
}

configure({
  apiBase: API_ORIGIN,
  store: keychainStore("app.gatebell.example"),
  onSessionEnded: () => sessionEnded(),
});
