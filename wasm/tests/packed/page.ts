// A page of an app that installed the packed tarball: type-checked with `tsc --strict` (lib
// esnext + dom, no skipLibCheck) by wasm/test.sh.
import init, { PushClient, type Status } from '@gatebell/push';

export async function start(): Promise<Status> {
  await init();
  const client = await PushClient.load({ apiBase: 'https://gate.example.com' });
  const status: Status = client.status();
  if (!status.signedIn) await client.signIn('session-token', 'user-id');
  const off: Status = await client.disableNotifications();
  return off.notificationsDisabled ? client.enableNotifications() : off;
}
