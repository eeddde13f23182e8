/** `HttpStatusError`: what the body-reading fetch helpers raise for a non-2xx answer. */

/**
 * Raised by `fetchText` / `fetchJson` / `fetchBytes` when the server answered
 * with a status outside 200–299. The request itself worked (so this is not a
 * `BrokenResourceError`); the answer is just not the one asked for. The body
 * was discarded; use `fetch` and read it yourself if you need it.
 */
export class HttpStatusError extends Error {
  /** The HTTP status code, e.g. 404. */
  readonly status: number;
  /** The status text the server sent, e.g. "Not Found" (may be empty). */
  readonly statusText: string;
  /** The URL of the response (after redirects). */
  readonly url: string;

  constructor(
    method: string,
    url: string,
    status: number,
    statusText: string,
    options?: ErrorOptions,
  ) {
    const text = statusText === "" ? "" : ` ${statusText}`;
    super(`${method} ${url}: HTTP ${status}${text}`, options);
    this.name = "HttpStatusError";
    this.status = status;
    this.statusText = statusText;
    this.url = url;
  }
}
