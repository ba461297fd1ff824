// The app's one Config for notifications.ts, shared by index.js (headless handlers) and App.tsx.
import type { Config, Outcome } from "./notifications";
import { loadSession, secureStore } from "./storage";

/** The Gatebell server. The Android emulator reaches the host's 127.0.0.1 as 10.0.2.2. */
export const API_ORIGIN = "http://10.0.2.2:8080";

type Navigator = { navigate(outcome: Outcome): void; sessionEnded(): void };
let navigator: Navigator | undefined;
let pending: Outcome | undefined;

/** App.tsx attaches its screen state; an outcome that came before it is kept for it. */
export function attachNavigator(n: Navigator | undefined): Outcome | undefined {
  navigator = n;
  const waiting = pending;
  pending = undefined;
  return waiting;
}

export const config: Config = {
  apiOrigin: API_ORIGIN,
  store: secureStore,
  session: async () => (await loadSession())?.token,
  navigate(outcome) {
    if (navigator) navigator.navigate(outcome);
    else pending = outcome;
  },
  onSessionEnded() {
    navigator?.sessionEnded();
  },
  // End-to-end encrypted pushes: FCM and APNs see no visitor names (docs/FCM.md).
  encryptPushes: true,
};
