// HTTP over `fetch` for the wasm package (`src/http.rs` binds it): browser plumbing is smaller
// as JS than as wasm bindings.

/**
 * Sends a request and resolves with `{ status, body }` (the body as text) whatever the status;
 * rejects when there was no answer (offline, DNS, CORS) or none within `timeoutMs`.
 */
export async function sendText(url, method, bearer, body, timeoutMs) {
  const headers = { Accept: "application/json" };
  if (bearer !== undefined) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const response = await fetch(new Request(url, { method, headers, body, signal: abort.signal }));
    return { status: response.status, body: await response.text() };
  } finally {
    clearTimeout(timer);
  }
}
