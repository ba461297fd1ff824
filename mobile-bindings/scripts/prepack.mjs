// `npm pack` / `npm publish` run this first: generate the TurboModule (TypeScript, C++,
// Android and iOS glue, podspec) from the Rust library, compile its TypeScript into lib/, and
// refuse to pack when anything the tarball must hold is missing. Generated files are never
// committed (see README.md, "Generated, not committed").
//
// GATEBELL_GENERATED=1 skips the generation (`cargo xtask mobile test` has just run it).
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const run = (command, args) => execFileSync(command, args, { cwd: here, stdio: "inherit" });

if (process.env.GATEBELL_GENERATED !== "1") {
  run("cargo", ["xtask", "mobile", "generate"]);
}
rmSync(join(here, "lib"), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
run(process.execPath, [tsc, "-p", "tsconfig.build.json"]);

const required = [
  "generated/react-native/src/index.tsx",
  "generated/react-native/src/NativeGatebell.ts",
  "generated/react-native/cpp/generated/gatebell_mobile.cpp",
  "generated/react-native/android/build.gradle",
  "generated/react-native/android/CMakeLists.txt",
  "Gatebell.podspec",
  "lib/module/sdk/index.js",
  "lib/typescript/sdk/index.d.ts",
  "sdk/index.ts",
];
const missing = required.filter((file) => !existsSync(join(here, file)));
if (missing.length > 0) {
  console.error(`prepack: missing ${missing.join(", ")}`);
  process.exit(1);
}
for (const [what, file] of [
  ["Android libraries (ubrn build android)", "generated/react-native/android/src/main/jniLibs"],
  ["iOS framework (ubrn build ios)", "build/GatebellMobileFramework.xcframework"],
]) {
  if (!existsSync(join(here, file))) {
    console.warn(`prepack: no ${what} at ${file}: the tarball carries sources only; see README.md`);
  }
}
