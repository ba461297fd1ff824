// The generated TurboModule (uniffi-bindgen-react-native), which the SDK drives. Its Node
// test puts the N-API build of the same library here: the same TypeScript API.
export * from "../generated/react-native/src/index";
