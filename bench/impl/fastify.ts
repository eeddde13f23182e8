/**
 * The Fastify implementation (http-hello only): Fastify 5 as its documentation
 * shows it, logger off, one route `GET /` whose handler returns the body
 * string ("hello world", sent as text/plain), listening on 127.0.0.1 port 0,
 * closed with `app.close()` after the run.
 */
import Fastify from "fastify";
import type { Implementation, RunResult, Size } from "../scenario.ts";
import { BODY, driveLoad, HOST } from "../support/http.ts";

async function httpHello(size: Size): Promise<RunResult> {
  const app = Fastify({ logger: false });
  app.get("/", async () => BODY);
  await app.listen({ port: 0, host: HOST });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("fastify: no TCP address");
  try {
    return await driveLoad(address.port, size);
  } finally {
    await app.close();
  }
}

/** The Fastify runners (see the file comment). */
export const scenarios: Implementation = { "http-hello": httpHello };
