// The two things react-native-gatebell takes from react-native.
export const Platform: { OS: "android" | "ios" } = { OS: "android" };

type AppStateStatus = "active" | "background" | "inactive";
export const appStateListeners: ((state: AppStateStatus) => void)[] = [];
export const AppState = {
  addEventListener(_type: "change", listener: (state: AppStateStatus) => void) {
    appStateListeners.push(listener);
    return {
      remove() {
        const i = appStateListeners.indexOf(listener);
        if (i >= 0) appStateListeners.splice(i, 1);
      },
    };
  },
};
