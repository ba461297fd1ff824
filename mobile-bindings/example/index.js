// Entry point. react-native-gatebell is configured and its background handlers registered
// here, before anything renders: a data message or a button press may start the app
// headless, with no component mounted.
import { AppRegistry } from "react-native";
import { registerBackgroundHandlers } from "react-native-gatebell";
import "./src/push";
import App from "./App";
import { name } from "./app.json";

registerBackgroundHandlers();
AppRegistry.registerComponent(name, () => App);
