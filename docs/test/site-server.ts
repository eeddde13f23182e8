/**
 * A static server for the built site (docs/.vitepress/dist) on 127.0.0.1, resolving URLs the way
 * a host serving VitePress's clean URLs does: `/guides/tutorial` → `guides/tutorial.html`,
 * `/api/` → `api/index.html`; anything else is the site's 404 page with status 404.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

/** The file a URL path names in `root`, or undefined for none (a 404). */
export function fileFor(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const relative = path.posix.normalize(decoded).replace(/^\/+/, "");
  if (relative.startsWith("..")) return undefined;
  const base = path.join(root, relative);
  const candidates = decoded.endsWith("/")
    ? [path.join(base, "index.html")]
    : [base, `${base}.html`, path.join(base, "index.html")];
  return candidates.find((file) => fs.existsSync(file) && fs.statSync(file).isFile());
}

export interface SiteServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves `root` on an ephemeral port of 127.0.0.1. */
export async function serveSite(root: string): Promise<SiteServer> {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const file = fileFor(root, url.pathname);
    const status = file === undefined ? 404 : 200;
    const served = file ?? path.join(root, "404.html");
    response.writeHead(status, {
      "content-type": TYPES[path.extname(served)] ?? "application/octet-stream",
    });
    fs.createReadStream(served).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
