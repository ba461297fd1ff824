// The worker's side of a tap with a window open (see listenForNavigation in foreground.js):
// posts the path to the window and resolves whether its page routed there itself.
export function askToNavigate(windowClient, path, route, timeoutMs) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(false), timeoutMs);
    channel.port1.onmessage = (e) => {
      clearTimeout(timer);
      resolve(Boolean(e.data && e.data.handled));
    };
    try {
      windowClient.postMessage({ type: 'gatebell:navigate', path, route }, [channel.port2]);
    } catch {
      clearTimeout(timer);
      resolve(false);
    }
  });
}
