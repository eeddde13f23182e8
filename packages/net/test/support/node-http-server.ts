/** A plain node:http server for a test file's client tests (fetch against a known peer). */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type * as net from "node:net";
import { afterAll, beforeAll } from "vitest";

/**
 * Serves `handle` on 127.0.0.1 for the whole test file (started in
 * `beforeAll`, closed with its kept-alive connections in `afterAll`); returns
 * a getter for its base URL.
 */
export function useNodeHttpServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): () => string {
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = createServer(handle);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections(); // fetch keeps connections alive
    await closed;
  });
  return () => base;
}
