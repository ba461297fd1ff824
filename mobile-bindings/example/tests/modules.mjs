// Node resolve hook for the SDK's test: the React Native modules resolve to the fakes beside
// this file, react-native-gatebell to the package's SDK (whose bindings module is the N-API
// build: the same TypeScript API as the TurboModule), and extensionless relative imports (as
// React Native's bundler allows) to their .js files.
const modules = {
  "react-native": "./fakes/react-native.js",
  "@react-native-firebase/messaging": "./fakes/messaging.js",
  "@notifee/react-native": "./fakes/notifee.js",
  "react-native-keychain": "./fakes/keychain.js",
  "react-native-gatebell": "./sdk/index.js",
};

export async function resolve(specifier, context, next) {
  if (Object.hasOwn(modules, specifier)) {
    return next(new URL(modules[specifier], import.meta.url).href, context);
  }
  try {
    return await next(specifier, context);
  } catch (error) {
    if (!specifier.startsWith(".")) throw error;
    for (const candidate of [`${specifier}.js`, `${specifier}/index.js`]) {
      try {
        return await next(candidate, context);
      } catch {
        // try the next candidate
      }
    }
    throw error;
  }
}
