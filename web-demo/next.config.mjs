import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  // A static export: `gatebell serve` serves web-demo/out on the API's origin.
  output: 'export',
  reactStrictMode: true,
  devIndicators: false,
  // The repository is the project root: @gatebell/push is linked from ../wasm/pkg
  // ("file:../wasm/pkg"), and the bundler must read it there.
  turbopack: { root: resolve(here, '..') },
  // The build shares 2 cores with other builds.
  experimental: { cpus: 1, workerThreads: false },
  // `npm run build` type-checks with `tsc --noEmit` first (prebuild), against the wire types
  // generated from the Rust protocol (core/ts/protocol.ts); checking again here would only
  // cost time.
  typescript: { ignoreBuildErrors: true },
};

export default nextConfig;
