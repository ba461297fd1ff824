#!/usr/bin/env node
// Cargo's runner for the package's wasm32 test binaries (CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER).
//
// Node suites go straight to wasm-bindgen-test-runner. Browser and service-worker suites run in
// the runner's interactive mode (its own page and server) and are driven here with Playwright and
// Debian's Chromium instead of through ChromeDriver, for two reasons measured on this machine:
//
// - Chromium's request for one snippet module to the runner's server (rouille) stayed unanswered
//   in 11 of 24 runs (curl fetched the same file at once), so the page never ran and ChromeDriver
//   waited its 300 s page-load timeout. The likely cause is the one Python's single-threaded
//   server has with Chromium (Chromium issue 40978518): an idle pre-connected socket. Here
//   Chromium talks to a small proxy that sends every request to the runner on a connection of
//   its own and closes it: 20 of 20 runs passed.
// - Playwright grants the notification permission per context and reports the page's console,
//   so a failing suite prints what its page logged.
//
// The suite fails when its page does not print "test result: ok" within WASM_BINDGEN_TEST_TIMEOUT
// seconds (60 unless set); nothing is retried.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import { once } from 'node:events';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const READY = /Interactive browsers tests are now available at (http:\/\/\S+)/;

const [wasm, ...rest] = process.argv.slice(2);
const runner = spawn(process.env.WASM_BINDGEN_TEST_RUNNER ?? 'wasm-bindgen-test-runner', [wasm, ...rest], {
  env: { ...process.env, NO_HEADLESS: '1', WASM_BINDGEN_TEST_ADDRESS: '127.0.0.1:0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const exited = once(runner, 'exit');

// Everything the runner prints passes through until it says its page is being served.
const served = await new Promise((resolve) => {
  let buffered = '';
  const onData = (chunk) => {
    buffered += chunk;
    const match = READY.exec(buffered);
    if (match) {
      runner.stdout.off('data', onData);
      runner.stdout.resume();
      resolve(match[1]);
      return;
    }
    const cut = buffered.lastIndexOf('\n');
    if (cut >= 0) {
      process.stdout.write(buffered.slice(0, cut + 1));
      buffered = buffered.slice(cut + 1);
    }
  };
  runner.stdout.setEncoding('utf8');
  runner.stdout.on('data', onData);
  exited.then(() => {
    process.stdout.write(buffered);
    resolve(null);
  });
});

if (served === null) {
  // A Node suite (or a runner error): its own exit status is the answer.
  const [code, signal] = await exited;
  process.exit(code ?? (signal ? 1 : 0));
}

const upstream = new URL(served);
const proxy = http.createServer((req, res) => {
  const forward = http.request({
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: { ...req.headers, host: upstream.host, connection: 'close' },
    agent: false,
  }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  forward.on('error', (error) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`runner's server: ${error.message}`);
  });
  req.pipe(forward);
});
proxy.listen(0, '127.0.0.1');
await once(proxy, 'listening');

const timeoutMs = Number(process.env.WASM_BINDGEN_TEST_TIMEOUT ?? 60) * 1000;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
const context = await browser.newContext({ permissions: ['notifications'] });
const page = await context.newPage();
const consoleLines = [];
page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
page.on('pageerror', (error) => consoleLines.push(`page error: ${error.message}`));

let output = '';
let status = 1;
try {
  const started = Date.now();
  await page.goto(`http://127.0.0.1:${proxy.address().port}/`, { timeout: timeoutMs });
  while (!output.includes('test result: ')) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`no test result within ${timeoutMs / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = await page.evaluate(() => document.getElementById('output')?.textContent ?? '');
    if (now.startsWith(output)) {
      process.stdout.write(now.slice(output.length));
    } else {
      process.stdout.write(`\n${now}`);
    }
    output = now;
  }
  status = output.includes('test result: ok') ? 0 : 1;
} catch (error) {
  console.log(`\n${error.message}`);
}
if (status !== 0 && consoleLines.length > 0) {
  console.log('\nthe page\'s console:');
  for (const line of consoleLines) console.log(`    ${line}`);
}
await browser.close();
proxy.close();
runner.kill();
process.exit(status);
