// Node resolve hook: the generated bindings import "./gatebell_mobile-ffi" and "./generated"
// without extensions (as React Native's bundler allows); Node's ESM loader wants files.
export async function resolve(specifier, context, next) {
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
