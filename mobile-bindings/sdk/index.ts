// react-native-gatebell: the push integration (configure, sign-in, notifications on and off,
// the background handlers, where a tap leads) and, beneath it, the Rust core's bindings.
export * from "./bindings";
export * from "./push";
export { fetchTransport } from "./transport";
export { keychainStore } from "./storage";
