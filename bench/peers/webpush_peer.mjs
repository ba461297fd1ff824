// Node's `web-push` as a peer of Gatebell for `cargo xtask bench` (see README.md).
//
// Reads one JSON job on stdin:
//
//   {"subscriptions": [{"endpoint", "keys": {"p256dh", "auth"}}, ...],
//    "vapidPublicKey": "<base64url uncompressed P-256 point>",
//    "vapidPrivateKey": "<base64url raw 32-byte key>",
//    "subject": "mailto:bench@gatebell.example", "rounds": 3, "inFlight": 64}
//
// and per round sends one aes128gcm push to every subscription with
// `webpush.sendNotification`, `inFlight` (64) at a time, over one keep-alive Agent with
// maxSockets = inFlight. Prints one JSON line `{"library", "version", "mode"}`, then one per
// round: `{"messages": n, "seconds": s, "cpuMs": c}`, cpuMs being this process's user + system
// CPU during the round (process.cpuUsage). Any answer other than 201 ends the run with exit
// status 1.
//
// web-push always calls `https.request` and takes only an `https.Agent` (it checks with
// instanceof). The fakes speak plain HTTP on loopback, so the Agent below is an https.Agent
// whose connections are plain TCP: every byte of the HTTP/1.1 exchange is the library's and
// Node's own, without the TLS that the other senders here do not pay either.

import https from 'node:https';
import net from 'node:net';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const webpush = require('web-push');
const { version } = require('web-push/package.json');

const TTL = 180;

class PlainAgent extends https.Agent {
  // The Agent uses the socket returned here, as it does http.Agent's net.createConnection.
  createConnection(options) {
    const socket = net.createConnection({ host: options.host, port: options.port });
    socket.setNoDelay(true);
    return socket;
  }
}

function payload(i) {
  // About the size and shape of Gatebell's own push payload (~250 bytes of JSON).
  const id = `0197a3c2-5e1b-7c3d-9f00-${String(i).padStart(12, '0')}`;
  return JSON.stringify({
    gatebell: 1,
    type: 'visitor_arrived',
    notificationId: id,
    title: 'Visitor at the gate',
    body: 'Ravi Kumar (delivery, Swiggy) is waiting at Gate 2 for flat B-1204.',
    tag: `visit-${id}`,
  });
}

function fail(message) {
  process.stderr.write(`web-push peer: ${message}\n`);
  process.exit(1);
}

const job = JSON.parse(readFileSync(0, 'utf8'));
const subscriptions = job.subscriptions;
const rounds = job.rounds ?? 3;
const inFlight = job.inFlight ?? 64;
if (!subscriptions?.length) fail('no subscriptions in the job');
webpush.setVapidDetails(job.subject, job.vapidPublicKey, job.vapidPrivateKey);
const agent = new PlainAgent({ keepAlive: true, maxSockets: inFlight });
const options = { TTL, urgency: 'high', contentEncoding: 'aes128gcm', agent };
const payloads = subscriptions.map((_, i) => payload(i));

// RFC 8292 §2: aud is the push resource's origin, port included; web-push derives it from the
// endpoint. Check what it really signs.
{
  const details = webpush.generateRequestDetails(subscriptions[0], '{}', options);
  const token = /t=([^,\s]+)/.exec(details.headers.Authorization)?.[1] ?? '';
  const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
  const origin = new URL(subscriptions[0].endpoint).origin;
  if (claims.aud !== origin || !new URL(origin).port) {
    fail(`VAPID aud ${JSON.stringify(claims.aud)} is not the origin ${origin}`);
  }
}

console.log(
  JSON.stringify({
    library: 'web-push (Node)',
    version,
    mode: `${inFlight} in flight, keep-alive agent`,
  }),
);

async function round() {
  let next = 0;
  async function worker() {
    while (next < subscriptions.length) {
      const i = next++;
      let answer;
      try {
        answer = await webpush.sendNotification(subscriptions[i], payloads[i], options);
      } catch (e) {
        fail(`${subscriptions[i].endpoint}: ${e.statusCode ?? ''} ${e.body ?? e.message}`);
      }
      if (answer.statusCode !== 201) {
        fail(`${subscriptions[i].endpoint}: ${answer.statusCode} ${answer.body}`);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, subscriptions.length) }, worker));
}

for (let r = 0; r < rounds; r++) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await round();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    JSON.stringify({
      messages: subscriptions.length,
      seconds,
      cpuMs: (cpu.user + cpu.system) / 1000,
    }),
  );
}
agent.destroy();
