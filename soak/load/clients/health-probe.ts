/**
 * The health probe: once a second, a new connection to each server — GET
 * /health over HTTP, "ping" over TCP echo — which must be answered within 5
 * s. A probe that fails or times out means the server stopped accepting (or
 * answering), and fails the run.
 */
import { request } from "undici";
import { ROUTES } from "../../protocol.ts";
import type { ClientKind } from "../client-kind.ts";
import { RawConnection } from "../raw-connection.ts";

export const healthProbe: ClientKind = {
  name: "health-probe",
  concurrency: 1,
  capMs: 5_000,
  pauseMs: 1_000,
  async run(target, signal) {
    const { statusCode, body } = await request(`${target.origin}${ROUTES.health}`, {
      dispatcher: target.fresh,
      reset: true,
      signal,
    });
    const text = await body.text();
    if (statusCode !== 200 || text !== "ok") throw new Error(`/health answered ${statusCode}`);
    const connection = await RawConnection.open(target.tcpPort, signal);
    target.connectionOpened();
    try {
      await connection.write("ping");
      if (!(await connection.until(() => connection.received >= 4))) {
        throw new Error("the echo server closed the probe's connection");
      }
      if (connection.head.toString("latin1") !== "ping")
        throw new Error("the echo probe got other bytes");
      return { type: "response", status: statusCode };
    } finally {
      connection.destroy();
    }
  },
};
