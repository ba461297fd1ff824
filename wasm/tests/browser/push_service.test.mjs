// The browser tests' fake push service refuses what a real push service refuses, with the
// status a real one answers: so a server bug in VAPID, TTL, Topic or size fails those tests.
// Needs nothing but Node. Run by wasm/test.sh.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';

import { encryptPush, makeSubscriptionKeys, MAX_PUSH_BODY, signVapid, startPushService } from './servers.mjs';

let service, endpoint, subscriber;
const server = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const claims = () => ({ aud: service.url, exp: Math.floor(Date.now() / 1000) + 3600, sub: 'mailto:ops@gate.example' });

before(async () => {
  service = await startPushService();
  subscriber = makeSubscriptionKeys();
  endpoint = service.subscribe('s1', subscriber);
  service.expectVapidKey(signVapid(server, claims()).k);
});

after(() => service.stop());

/** POSTs a push; `change` edits the headers, `keys` signs with another key pair, `claimsOf` edits the JWT. */
async function post({ to = endpoint, body = encryptPush('{"gatebell":1}', subscriber.keys), keys = server, claimsOf = (c) => c, change = (h) => h } = {}) {
  const headers = change({
    authorization: signVapid(keys, claimsOf(claims())).authorization,
    ttl: '60', 'content-encoding': 'aes128gcm', 'content-type': 'application/octet-stream',
  });
  for (const name of Object.keys(headers)) if (headers[name] === undefined) delete headers[name];
  const res = await fetch(to, { method: 'POST', headers, body });
  return { status: res.status, location: res.headers.get('location'), error: (await res.text()) };
}

test('a well-made push is accepted with 201 and a Location, and kept decrypted', async () => {
  const answer = await post({ change: (h) => ({ ...h, topic: 'visit-v1', urgency: 'high' }) });
  assert.equal(answer.status, 201, answer.error);
  assert.match(answer.location, /\/message\//);
  assert.equal((await service.next(1000)).text, '{"gatebell":1}');
});

test('VAPID: missing, badly signed, for another audience, expired, too far ahead or without sub is 401', async () => {
  assert.equal((await post({ change: (h) => ({ ...h, authorization: undefined }) })).status, 401);
  const forged = signVapid(other, claims()).authorization.replace(/k=.*/, `k=${signVapid(server, claims()).k}`);
  assert.equal((await post({ change: (h) => ({ ...h, authorization: forged }) })).status, 401);
  assert.equal((await post({ claimsOf: (c) => ({ ...c, aud: 'https://elsewhere.example' }) })).status, 401);
  assert.equal((await post({ claimsOf: (c) => ({ ...c, exp: c.exp - 7200 }) })).status, 401);
  assert.equal((await post({ claimsOf: (c) => ({ ...c, exp: c.exp + 48 * 3600 }) })).status, 401);
  assert.equal((await post({ claimsOf: ({ sub, ...c }) => c })).status, 401);
});

test('VAPID signed by a key other than the subscription’s is 403', async () => {
  assert.equal((await post({ keys: other })).status, 403);
});

test('no TTL, a bad Topic or Urgency, another encoding or an undecryptable body is 400', async () => {
  assert.equal((await post({ change: (h) => ({ ...h, ttl: undefined }) })).status, 400);
  assert.equal((await post({ change: (h) => ({ ...h, ttl: 'soon' }) })).status, 400);
  assert.equal((await post({ change: (h) => ({ ...h, topic: 'visit:v1' }) })).status, 400);
  assert.equal((await post({ change: (h) => ({ ...h, topic: 'x'.repeat(33) }) })).status, 400);
  assert.equal((await post({ change: (h) => ({ ...h, urgency: 'urgent' }) })).status, 400);
  assert.equal((await post({ change: (h) => ({ ...h, 'content-encoding': 'aesgcm' }) })).status, 400);
  assert.equal((await post({ body: encryptPush('{}', makeSubscriptionKeys().keys) })).status, 400);
});

test('a body over 4096 bytes is 413; one of exactly 4096 is not refused for its size', async () => {
  const big = Buffer.alloc(MAX_PUSH_BODY + 1);
  assert.equal((await post({ body: big })).status, 413);
  const atLimit = encryptPush('x'.repeat(MAX_PUSH_BODY - 86 - 1 - 16), subscriber.keys);
  assert.equal(atLimit.length, MAX_PUSH_BODY);
  assert.equal((await post({ body: atLimit })).status, 201);
  await service.next(1000);
});

test('an endpoint the service never made is 404', async () => {
  assert.equal((await post({ to: `${service.url}/push/unknown` })).status, 404);
});
