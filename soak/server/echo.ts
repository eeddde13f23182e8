/**
 * The soak's TCP echo handler for serveTcp: sends back every byte it gets,
 * until the client's EOF (then it closes its side) or the client breaks the
 * connection (a reset is the client's doing, not the server's error).
 */
import { BrokenResourceError } from "@weft/core";
import type { SocketStream } from "@weft/net";

export interface EchoServer {
  readonly handler: (stream: SocketStream) => Promise<void>;
  connections: number;
  bytesEchoed: number;
}

export function echoServer(): EchoServer {
  const server: EchoServer = {
    connections: 0,
    bytesEchoed: 0,
    handler: async (stream) => {
      server.connections++;
      try {
        while (true) {
          const chunk = await stream.receiveSome();
          if (chunk.length === 0) break;
          await stream.sendAll(chunk);
          server.bytesEchoed += chunk.length;
        }
      } catch (error) {
        // Reset by the client (the soak's echo clients reset some connections on purpose).
        if (!(error instanceof BrokenResourceError)) throw error;
      }
    },
  };
  return server;
}
