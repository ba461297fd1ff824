// Copies the wasm package's service-worker files into public/ so the site serves them
// unbundled at the root: the service worker /sw.js (its scope must cover the whole app), the
// handlers it imports (/worker.js), the worker's module (/gatebell_push_worker.js and
// /gatebell_push_worker_bg.wasm) and the JS snippets its glue imports (/snippets/…). The pages'
// module (gatebell_push.js and its .wasm) is bundled by Next instead. The copies are
// git-ignored; `cargo xtask wasm` makes pkg/.
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '../../wasm/pkg');
const pub = resolve(here, '../public');
const files = ['sw.js', 'worker.js', 'gatebell_push_worker.js', 'gatebell_push_worker_bg.wasm'];

const missing = files.filter((f) => !existsSync(join(pkg, f)));
if (missing.length > 0) {
  console.error(`wasm/pkg lacks ${missing.join(', ')}: build the package first with \`cargo xtask wasm\``);
  process.exit(1);
}
mkdirSync(pub, { recursive: true });
// Copies of the one-module package this replaced, which the worker no longer loads.
for (const f of ['gatebell_push.js', 'gatebell_push_bg.wasm']) rmSync(join(pub, f), { force: true });
for (const f of files) copyFileSync(join(pkg, f), join(pub, f));
// The glue imports its `#[wasm_bindgen(module = …)]` snippets by relative URL.
rmSync(join(pub, 'snippets'), { recursive: true, force: true });
if (existsSync(join(pkg, 'snippets'))) cpSync(join(pkg, 'snippets'), join(pub, 'snippets'), { recursive: true });
console.log(`copied ${files.join(', ')} and snippets/ from wasm/pkg to public/`);
