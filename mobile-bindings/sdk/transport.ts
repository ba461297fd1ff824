// The default HTTP transport: fetch, with a timeout; no answer → GatebellError.Network.
import { GatebellError, type HttpRequest, type HttpResponse, type HttpTransport } from "./bindings";

const REQUEST_TIMEOUT_MS = 15_000;

/** The core's transport over `fetch` to `apiBase` (`https://gatebell.example.com`). */
export function fetchTransport(apiBase: string): HttpTransport {
  return {
    async send(request: HttpRequest): Promise<HttpResponse> {
      const abort = new AbortController();
      const timeout = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
      try {
        const response = await fetch(apiBase + request.path, {
          method: request.method,
          headers: Object.fromEntries(request.headers),
          body: request.body === "" ? undefined : request.body,
          signal: abort.signal,
        });
        return { status: response.status, body: await response.text() };
      } catch (e) {
        throw new GatebellError.Network({ reason: String(e) });
      } finally {
        clearTimeout(timeout);
      }
    },
  };
}
