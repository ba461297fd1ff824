// Autolinking (React Native CLI and Expo): where this package's native projects are. The
// TurboModule's sources are generated into generated/react-native/ by `npm pack`'s prepack
// (`cargo xtask mobile generate`), not kept at the package root as hand-written libraries do.
module.exports = {
  dependency: {
    platforms: {
      android: {
        sourceDir: "./generated/react-native/android",
      },
      ios: {
        podspecPath: "./Gatebell.podspec",
      },
    },
  },
};
