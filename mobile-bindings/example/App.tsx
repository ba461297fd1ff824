// The example's one screen: sign in as a resident, turn notifications on and off, and see
// what a notification led to (a visit, the inbox, or the answer to an Approve / Reject press).
import React, { useEffect, useState } from "react";
import { Button, SafeAreaView, StyleSheet, Text, TextInput, View } from "react-native";
import {
  disableNotifications,
  enableNotifications,
  getStatus,
  onNotificationOpened,
  signIn,
  signOut,
  start,
  type Opened,
  type Status,
} from "react-native-gatebell";

import { API_ORIGIN, onSessionEnded } from "./src/push";

export default function App() {
  const [status, setStatus] = useState<Status | undefined>();
  const [email, setEmail] = useState("asha@demo.gatebell");
  const [password, setPassword] = useState("");
  const [opened, setOpened] = useState<Opened | null>(null);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    onSessionEnded(() => setStatus(getStatus()));
    const unsubscribe = onNotificationOpened(setOpened);
    void start().then((initial) => {
      if (initial) setOpened(initial);
      setStatus(getStatus());
    });
    return unsubscribe;
  }, []);

  async function logIn() {
    setError(undefined);
    const response = await fetch(`${API_ORIGIN}/api/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    const body = await response.json();
    if (!response.ok) return setError(body?.error?.message ?? `HTTP ${response.status}`);
    setStatus(await signIn(body.token, body.user.id));
  }

  return (
    <SafeAreaView style={styles.screen}>
      <Text style={styles.title}>Gatebell</Text>
      {status?.signedIn ? (
        <View>
          <Text>Notifications: {status.notificationsDisabled ? "off" : status.registered ? "on" : "not registered yet"}</Text>
          {status.lastError ? <Text>Last error: {status.lastError.reason}</Text> : null}
          {status.notificationsDisabled ? (
            <Button title="Turn notifications on" onPress={() => void enableNotifications().then(setStatus)} />
          ) : (
            <Button title="Turn notifications off" onPress={() => void disableNotifications().then(setStatus)} />
          )}
          <Button title="Sign out" onPress={() => void signOut({ revokeSession: true }).then(setStatus)} />
        </View>
      ) : (
        <View>
          <TextInput value={email} onChangeText={setEmail} autoCapitalize="none" placeholder="email" />
          <TextInput value={password} onChangeText={setPassword} secureTextEntry placeholder="password" />
          <Button title="Sign in" onPress={() => void logIn()} />
          {error ? <Text>{error}</Text> : null}
        </View>
      )}
      {opened ? <Text style={styles.outcome}>{describe(opened)}</Text> : null}
    </SafeAreaView>
  );
}

function describe(opened: Opened): string {
  switch (opened.kind) {
    case "visit":
      return `Visit ${opened.visitId}`;
    case "inbox":
      return "Inbox";
    case "decided":
      return opened.text;
  }
}

const styles = StyleSheet.create({
  screen: { flex: 1, padding: 24, gap: 12 },
  title: { fontSize: 24, fontWeight: "600" },
  outcome: { marginTop: 16, fontSize: 16 },
});
