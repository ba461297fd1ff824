// Entry point. The background handlers are registered here, before anything renders: a data
// message or a button press may start the app headless, with no component mounted.
import { AppRegistry } from "react-native";
import App from "./App";
import { config } from "./src/config";
import { registerBackgroundHandlers } from "./src/notifications";
import { name } from "./app.json";

registerBackgroundHandlers(config);
AppRegistry.registerComponent(name, () => App);
