// The processes and small servers the browser test runs against: a real `gatebell serve`, a
// one-origin static server that proxies /api/* to it, and a fake Web Push service.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    else if (path === '/app.html' || path.startsWith('/visits/')) file = join(pagesDir, 'app.html');
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

/** A push service that accepts every message and keeps the bodies. */
export async function startPushService() {
  const received = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201);
      res.end();
      waiters.splice(0).forEach((wake) => wake());
    });
  });
  const url = await listen(server);
  return {
    url,
    received,
    /** Resolves with the first message, or rejects after `ms`. */
    async next(ms) {
      const deadline = Date.now() + ms;
      while (received.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no push reached the push service in ${ms} ms`);
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
