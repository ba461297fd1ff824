// The processes and small servers the browser test runs against: a real `gatebell serve`, a
// one-origin static server that proxies /api/* to it, and a fake Web Push service.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { createInterface } from 'node:readline';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** Polls `check` until it returns something truthy (resolved with it), or throws after `ms`. */
export async function until(what, check, ms = 10_000, every = 10) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** JSON calls to a `gatebell serve` at `baseUrl` (a non-2xx answer fails the test), and sign-in as a demo user. */
export function apiClient(baseUrl, password = 'gatebell-demo') {
  async function api(path, { token, method = 'GET', body } = {}) {
    const res = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  const login = (email) => api('/api/v1/auth/login', { method: 'POST', body: { email, password } });
  return { api, login };
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

/** Starts `gatebell serve` on a fresh SQLite file; resolves once it prints its address. */
export async function startGatebell(binary) {
  const dir = mkdtempSync(join(tmpdir(), 'gatebell-wasm-test-'));
  const child = spawn(binary, [
    'serve', '--listen', '127.0.0.1:0',
    '--database-url', `sqlite://${dir}/db.sqlite?mode=rwc`,
    '--demo', '--push-allow-hosts', '127.0.0.1', '--push-allow-http',
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } });
  const stderr = [];
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gatebell did not start in 30 s')), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gatebell exited with ${code}: ${Buffer.concat(stderr)}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const found = /Gatebell listening on (http:\/\/\S+)/.exec(line);
      if (found) {
        clearTimeout(timer);
        resolve(found[1].replace(/\/$/, ''));
      }
    });
  });
  return {
    url,
    stderr: () => Buffer.concat(stderr).toString(),
    /**
     * Resolves once no push is queued or being sent (`gatebell_outbox_depth 0`, which counts
     * claimed rows too): every push queued before the call has reached its service or closed.
     */
    async outboxSettled(ms = 15_000) {
      await until('the push outbox empty', async () => {
        const metrics = await (await fetch(`${url}/metrics`)).text();
        return /^gatebell_outbox_depth 0$/m.test(metrics);
      }, ms, 20);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Serves the package and the test pages from one origin; /api/* goes to `apiUrl`. */
export async function startSite({ pkgDir, pagesDir, apiUrl }) {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path.startsWith('/api/')) {
      const upstream = http.request(`${apiUrl}${req.url}`, { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode, answer.headers);
          answer.pipe(res);
        });
      upstream.on('error', () => { res.writeHead(502); res.end(); });
      req.pipe(upstream);
      return;
    }
    let file;
    if (path === '/' || path === '/index.html') file = join(pagesDir, 'index.html');
    else if (path === '/app.html' || path.startsWith('/visits/') || path.startsWith('/app/')) file = join(pagesDir, 'app.html');
    // Other test pages and workers (one path segment, a file in pagesDir), then the package.
    else if (/^\/[\w.-]+$/.test(path) && existsSync(join(pagesDir, path.slice(1)))) file = join(pagesDir, path.slice(1));
    else file = join(pkgDir, normalize(path).replace(/^(\.\.[/\\])+/, ''));
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  const url = await listen(server);
  return { url, stop: () => new Promise((resolve) => server.close(resolve)) };
}

/** A browser's push keys (RFC 8291 user agent side). */
export function makeSubscriptionKeys() {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = crypto.randomBytes(16);
  return {
    ecdh,
    auth,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
  };
}

/** Decrypts an RFC 8291 `aes128gcm` Web Push body with the subscription's keys. */
export function decryptPush(body, { ecdh, auth }) {
  const salt = body.subarray(0, 16);
  const idLength = body[20];
  const serverPublic = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength);
  const shared = ecdh.computeSecret(serverPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), serverPublic]);
  const ikm = Buffer.from(crypto.hkdfSync('sha256', shared, auth, keyInfo, 32));
  const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, 'Content-Encoding: aes128gcm\0', 16));
  const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, 'Content-Encoding: nonce\0', 12));
  const decipher = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // One record: the plaintext ends with the delimiter 2 and optional zero padding.
  const end = padded.lastIndexOf(2);
  return padded.subarray(0, end).toString('utf8');
}

/** RFC 8030 §7.2: a push service must accept at least 4096 bytes of body; real ones take no more. */
export const MAX_PUSH_BODY = 4096;

/**
 * A push service as strict as a real one (and as testkit's Rust fake, `testkit/src/webpush.rs`):
 * a POST to an endpoint made by `subscribe` must carry VAPID (an ES256 JWT that verifies with
 * `k`, `aud` the service's origin, `exp` within 24 h, `sub` mailto: or https:; else 401) made
 * with the application server key given to `expectVapidKey` (else 403), a `TTL` (else 400), a
 * `Topic` of 1-32 base64url characters if any (else 400), `Content-Encoding: aes128gcm` and a
 * body of at most 4096 bytes (else 413) that decrypts with the subscription's keys (else
 * 400). Unknown endpoints get 404. Accepted messages (201 with a Location) are kept decrypted;
 * refused ones are listed in `refused` with the status and why.
 */
export async function startPushService() {
  const subscriptions = new Map(); // path -> the subscriber's keys (makeSubscriptionKeys())
  const received = [];
  const refused = [];
  const waiters = [];
  let expectedKey = null;
  let url;
  const check = (req, body) => {
    const path = new URL(req.url, 'http://x').pathname;
    const subscriber = subscriptions.get(path);
    if (req.method !== 'POST' || !subscriber) return [404, 'no such subscription'];
    let key;
    try {
      key = verifyVapid(req.headers.authorization, url);
    } catch (e) {
      return [401, e.message];
    }
    if (expectedKey !== null && key !== expectedKey) return [403, 'VAPID key is not the subscription’s applicationServerKey'];
    if (!/^\d+$/.test((req.headers.ttl ?? '').trim())) return [400, 'TTL header missing or invalid'];
    const urgency = req.headers.urgency;
    if (urgency !== undefined && !['very-low', 'low', 'normal', 'high'].includes(urgency)) return [400, `invalid Urgency ${urgency}`];
    const topic = req.headers.topic;
    if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) return [400, `Topic ${JSON.stringify(topic)} must be 1-32 base64url characters`];
    if (body.length > MAX_PUSH_BODY) return [413, `body is ${body.length} bytes, the limit is ${MAX_PUSH_BODY}`];
    if (body.length > 0) {
      if ((req.headers['content-encoding'] ?? '').toLowerCase() !== 'aes128gcm') return [400, 'Content-Encoding must be aes128gcm'];
      try {
        return [201, null, decryptPush(body, subscriber)];
      } catch (e) {
        return [400, `payload does not decrypt: ${e.message}`];
      }
    }
    return [201, null, ''];
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const [status, error, text] = check(req, body);
      if (status === 201) {
        received.push({ path: req.url, headers: req.headers, body, text });
        res.writeHead(201, { location: `${url}/message/${crypto.randomUUID()}` });
        res.end();
      } else {
        refused.push({ path: req.url, status, error });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: status, errno: status, error }));
      }
      waiters.splice(0).forEach((wake) => wake());
    });
  });
  url = await listen(server);
  return {
    url,
    received,
    refused,
    /** Pins the VAPID public key (base64url) every message must be signed with. */
    expectVapidKey(key) {
      expectedKey = key.replace(/=+$/, '');
    },
    /** A subscription at `/push/<name>` for these keys (makeSubscriptionKeys()); returns its endpoint. */
    subscribe(name, subscriber) {
      subscriptions.set(`/push/${name}`, subscriber);
      return `${url}/push/${name}`;
    },
    /** Resolves with the next accepted message, or rejects after `ms` (naming any refusals). */
    async next(ms) {
      const deadline = Date.now() + ms;
      while (received.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no push reached the push service in ${ms} ms; refused: ${JSON.stringify(refused)}`);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => { clearTimeout(timer); resolve(); });
        });
      }
      return received.shift();
    },
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/** A VAPID `Authorization` header as an application server makes it (tests of the fakes). */
export function signVapid({ privateKey, publicKey }, claims) {
  const head = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ES256' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = crypto.sign('sha256', Buffer.from(`${head}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const jwk = publicKey.export({ format: 'jwk' });
  const k = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]).toString('base64url');
  return { authorization: `vapid t=${head}.${body}.${signature.toString('base64url')}, k=${k}`, k };
}

/** Encrypts `plaintext` to a subscription as RFC 8291 `aes128gcm` (one record). */
export function encryptPush(plaintext, { p256dh, auth }) {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.generateKeys();
  const receiver = Buffer.from(p256dh, 'base64url');
  const salt = crypto.randomBytes(16);
  const shared = ecdh.computeSecret(receiver);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), receiver, ecdh.getPublicKey()]);
  const ikm = Buffer.from(crypto.hkdfSync('sha256', shared, Buffer.from(auth, 'base64url'), keyInfo, 32));
  const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, 'Content-Encoding: aes128gcm\0', 16));
  const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, 'Content-Encoding: nonce\0', 12));
  const cipher = crypto.createCipheriv('aes-128-gcm', cek, nonce);
  const sealed = Buffer.concat([cipher.update(Buffer.concat([Buffer.from(plaintext), Buffer.from([2])])), cipher.final(), cipher.getAuthTag()]);
  const header = Buffer.alloc(21);
  salt.copy(header, 0);
  header.writeUInt32BE(4096, 16);
  header[20] = 65;
  return Buffer.concat([header, ecdh.getPublicKey(), sealed]);
}

/**
 * Checks an RFC 8292 `Authorization: vapid t=…, k=…` header: an ES256 JWT signed by `k`, for
 * the push service's origin, not expired nor more than 24 h ahead. Returns the key (`k`,
 * base64url) or throws why it was refused.
 */
export function verifyVapid(header, audience) {
  const found = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!found) throw new Error('no vapid authorization');
  const [, jwt, key] = found;
  const [head, body, signature] = jwt.split('.');
  if (JSON.parse(Buffer.from(head, 'base64url')).alg !== 'ES256') throw new Error('not ES256');
  const point = Buffer.from(key, 'base64url');
  const publicKey = crypto.createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  const ok = crypto.verify('sha256', Buffer.from(`${head}.${body}`), { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'));
  if (!ok) throw new Error('bad vapid signature');
  const claims = JSON.parse(Buffer.from(body, 'base64url'));
  const now = Date.now() / 1000;
  if (claims.aud !== audience) throw new Error(`vapid aud ${claims.aud} is not ${audience}`);
  if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) throw new Error('vapid exp out of range');
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) throw new Error('vapid sub missing');
  return key;
}

/**
 * A push service speaking Mozilla's push WebSocket protocol to Firefox (`dom.push.serverURL`)
 * and RFC 8030 to application servers, as autopush does: Firefox says hello and registers a
 * channel with its applicationServerKey; a POST to the channel's endpoint must carry VAPID
 * signed by that key (else 401/403), and its encrypted body goes to Firefox unopened, which
 * decrypts it itself.
 */
export async function startMozillaPushService() {
  const { WebSocketServer } = await import('ws');
  const channels = new Map(); // id -> { key, socket, channelID }
  const posts = [];
  let socket = null;
  let version = 0;
  let forgetOnHello = false;
  const log = [];
  const server = http.createServer((req, res) => {
    const found = /^\/wpush\/([A-Za-z0-9-]+)$/.exec(new URL(req.url, 'http://x').pathname);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const answer = (status, error) => {
        posts.push({ path: req.url, status, error, headers: req.headers });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(error ? JSON.stringify({ errno: status, error }) : '');
      };
      const channel = found && channels.get(found[1]);
      if (req.method !== 'POST' || !channel) return answer(404, 'unknown subscription');
      let key;
      try {
        key = verifyVapid(req.headers.authorization, url);
      } catch (e) {
        return answer(401, e.message);
      }
      if (key !== channel.key) return answer(403, 'VAPID key does not match the subscription');
      if (req.headers['content-encoding'] !== 'aes128gcm') return answer(400, 'content-encoding must be aes128gcm');
      if (!/^\d+$/.test(req.headers.ttl ?? '')) return answer(400, 'TTL header missing');
      const body = Buffer.concat(chunks);
      if (!channel.socket || channel.socket.readyState !== 1) return answer(410, 'the browser is gone');
      deliver(channel, body);
      answer(201);
    });
  });
  const url = await listen(server);
  const deliver = (channel, body) => {
    channel.socket.send(JSON.stringify({
      messageType: 'notification', channelID: channel.channelID, version: `v${++version}`,
      data: body.toString('base64url'), headers: { encoding: 'aes128gcm' },
    }));
  };
  const wss = new WebSocketServer({ server });
  const acks = [];
  wss.on('connection', (ws) => {
    socket = ws;
    ws.on('message', (raw) => {
      let msg;
      try { msg = JSON.parse(raw); } catch { return ws.close(); }
      switch (msg.messageType) {
        case 'hello': {
          // After `forget()`, a new UAID: Firefox drops its subscriptions and fires
          // pushsubscriptionchange, as when a push service loses a client's records.
          const uaid = forgetOnHello || !msg.uaid ? crypto.randomUUID().replaceAll('-', '') : msg.uaid;
          forgetOnHello = false;
          log.push(`hello ${msg.uaid ?? ''} -> ${uaid}`);
          for (const c of channels.values()) c.socket = ws;
          ws.send(JSON.stringify({ messageType: 'hello', status: 200, uaid, use_webpush: true, broadcasts: {} }));
          break;
        }
        case 'register': {
          log.push(`register ${msg.channelID}`);
          const id = crypto.randomUUID();
          channels.set(id, { key: String(msg.key ?? '').replace(/=+$/, ''), socket: ws, channelID: msg.channelID });
          ws.send(JSON.stringify({ messageType: 'register', status: 200, channelID: msg.channelID, pushEndpoint: `${url}/wpush/${id}` }));
          break;
        }
        case 'unregister':
          for (const [id, c] of channels) if (c.channelID === msg.channelID) channels.delete(id);
          ws.send(JSON.stringify({ messageType: 'unregister', status: 200, channelID: msg.channelID }));
          break;
        case 'ack':
          acks.push(...(msg.updates ?? []));
          break;
        default:
          ws.send('{}'); // a ping
      }
    });
  });
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    posts,
    acks,
    channels,
    /** Sends `body` (already encrypted) to the channel behind `endpoint`, as another provider's push would arrive. */
    push(endpoint, body) {
      const channel = channels.get(endpoint.split('/').at(-1));
      if (!channel) throw new Error(`no channel for ${endpoint}`);
      deliver(channel, body);
    },
    connected: () => socket !== null && socket.readyState === 1,
    log,
    /** Loses every subscription and drops the connection; Firefox's next hello gets a new UAID. */
    forget() {
      channels.clear();
      forgetOnHello = true;
      socket?.terminate();
    },
    stop: () => new Promise((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}
