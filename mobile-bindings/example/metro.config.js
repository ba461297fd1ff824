// Metro for the example inside the repository: react-native-gatebell is the package's source
// beside it (sdk/, over the TurboModule `cargo xtask mobile generate` writes), resolved like
// an installed package, and the packages it imports resolve from this folder (not from
// mobile-bindings/node_modules above it), so the bundle has one React Native. An app that
// installed the package from npm needs none of this.
const path = require("path");
const { getDefaultConfig, mergeConfig } = require("@react-native/metro-config");

const generated = path.resolve(__dirname, "../generated/react-native");
const sdk = path.resolve(__dirname, "../sdk");
// `cargo xtask mobile test` keeps Metro's transform cache with its other caches
// (~/.cache/gatebell/metro), so CI transforms React Native once, not on every run.
const cacheDir = process.env.GATEBELL_METRO_CACHE;
const fromHere = path.join(__dirname, "index.js");

module.exports = mergeConfig(getDefaultConfig(__dirname), {
  ...(cacheDir ? { cacheStores: [new (require("metro-cache").FileStore)({ root: cacheDir })] } : {}),
  watchFolders: [sdk, generated],
  resolver: {
    resolveRequest(context, moduleName, platform) {
      if (moduleName === "react-native-gatebell") {
        return { type: "sourceFile", filePath: path.join(sdk, "index.ts") };
      }
      const bare = !moduleName.startsWith(".") && !path.isAbsolute(moduleName);
      const inPackage = [sdk, generated].some((dir) => context.originModulePath.startsWith(dir + path.sep));
      if (bare && inPackage) {
        return context.resolveRequest({ ...context, originModulePath: fromHere }, moduleName, platform);
      }
      return context.resolveRequest(context, moduleName, platform);
    },
  },
});
