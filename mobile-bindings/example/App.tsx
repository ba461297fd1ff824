// The example's one screen: sign in as a resident, see the push registration, and what a
// notification led to (a visit, the inbox, or the answer to an Approve / Reject press).
import React, { useEffect, useRef, useState } from "react";
import { Button, SafeAreaView, StyleSheet, Text, TextInput, View } from "react-native";
import type { Status } from "react-native-gatebell";

import { API_ORIGIN, attachNavigator, config } from "./src/config";
import { startPush, type Outcome, type PushSession } from "./src/notifications";
import { loadSession, saveSession } from "./src/storage";

export default function App() {
  const push = useRef<PushSession | undefined>(undefined);
  const [status, setStatus] = useState<Status | undefined>();
  const [signedIn, setSignedIn] = useState(false);
  const [email, setEmail] = useState("asha@demo.gatebell");
  const [password, setPassword] = useState("");
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    const waiting = attachNavigator({
      navigate: setOutcome,
      sessionEnded: () => {
        void saveSession(undefined);
        setSignedIn(false);
      },
    });
    if (waiting) setOutcome(waiting);
    let stopped = false;
    void (async () => {
      const session = await startPush(config);
      if (stopped) return session.stop();
      push.current = session;
      setSignedIn((await loadSession()) !== undefined);
      setStatus(await session.client.status());
    })();
    return () => {
      stopped = true;
      attachNavigator(undefined);
      push.current?.stop();
    };
  }, []);

  async function signIn() {
    setError(undefined);
    const response = await fetch(`${API_ORIGIN}/api/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    const body = await response.json();
    if (!response.ok) {
      setError(body?.error?.message ?? `HTTP ${response.status}`);
      return;
    }
    await saveSession({ token: body.token, userId: body.user.id });
    setSignedIn(true);
    setStatus(await push.current?.signedIn(body.token, body.user.id));
  }

  async function signOut() {
    const session = await loadSession();
    // Unregister while the session still works, then revoke it.
    setStatus(await push.current?.signOut());
    if (session) {
      await fetch(`${API_ORIGIN}/api/v1/auth/logout`, {
        method: "POST",
        headers: { Authorization: `Bearer ${session.token}` },
      });
    }
    await saveSession(undefined);
    setSignedIn(false);
  }

  return (
    <SafeAreaView style={styles.screen}>
      <Text style={styles.title}>Gatebell</Text>
      {signedIn ? (
        <View>
          <Text>Notifications: {status?.registered ? "on" : "not registered yet"}</Text>
          {status?.lastError ? <Text>Last error: {status.lastError.reason}</Text> : null}
          <Button title="Sign out" onPress={() => void signOut()} />
        </View>
      ) : (
        <View>
          <TextInput value={email} onChangeText={setEmail} autoCapitalize="none" placeholder="email" />
          <TextInput value={password} onChangeText={setPassword} secureTextEntry placeholder="password" />
          <Button title="Sign in" onPress={() => void signIn()} />
          {error ? <Text>{error}</Text> : null}
        </View>
      )}
      {outcome ? <Text style={styles.outcome}>{describe(outcome)}</Text> : null}
    </SafeAreaView>
  );
}

function describe(outcome: Outcome): string {
  switch (outcome.kind) {
    case "visit":
      return `Visit ${outcome.visitId}`;
    case "inbox":
      return "Inbox";
    case "decided":
      return outcome.status < 300
        ? `${outcome.decision === "approve" ? "Approved" : "Rejected"} visit ${outcome.visitId}`
        : `Could not ${outcome.decision} (HTTP ${outcome.status})`;
  }
}

const styles = StyleSheet.create({
  screen: { flex: 1, padding: 24, gap: 12 },
  title: { fontSize: 24, fontWeight: "600" },
  outcome: { marginTop: 16, fontSize: 16 },
});
