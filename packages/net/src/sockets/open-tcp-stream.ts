/**
 * `openTcpStream`: Happy Eyeballs (RFC 8305) as Trio's
 * `_highlevel_open_tcp_stream.py` implements it. Attempts run in a nursery: each
 * starts when the previous one failed or `happyEyeballsDelay` after it started,
 * whichever comes first; the first connection wins and cancels the rest.
 */
import * as net from "node:net";
import { Event, ExceptionGroup, isCancelled, lowlevel, moveOnAfter, openNursery } from "@weft/core";
import { acloseForcefully, type HalfCloseableStream } from "@weft/core/streams";
import { checkDuration, checkOptionsObject } from "@weft/core/validate";
import { checkHost, checkPort } from "./addresses.ts";
import type { SocketStream } from "./socket-stream.ts";
import {
  currentHostnameResolver,
  currentSocketFactory,
  formatHostPort,
  type ResolvedAddress,
} from "./tcp-seams.ts";

/** Options of {@link openTcpStream}. */
export interface OpenTcpStreamOptions {
  /**
   * Milliseconds to wait for an attempt before starting the next one in
   * parallel (default 250, RFC 8305's recommendation; `Infinity` tries one
   * address at a time).
   */
  happyEyeballsDelay?: number;
  /** Local address to bind each attempt's socket to. */
  localAddress?: string;
}

const DEFAULT_HAPPY_EYEBALLS_DELAY = 250;

/**
 * Connects to `host:port` and returns a `SocketStream` (or, under a custom
 * socket factory, whatever stream its `connect` returned).
 *
 * `host` is resolved (numeric addresses are used as they are); when the answer
 * has both families, the first address of the second family is moved to second
 * place, so a broken family costs one delay at most. All attempts failing throws
 * an `Error` ("all attempts to connect to HOST:PORT failed") whose `cause` is an
 * `ExceptionGroup` of every attempt's error.
 */
export async function openTcpStream(
  host: string,
  port: number,
  options?: OpenTcpStreamOptions,
): Promise<SocketStream> {
  checkHost(host);
  checkPort(port);
  checkOptionsObject("options", options);
  const delay = options?.happyEyeballsDelay ?? DEFAULT_HAPPY_EYEBALLS_DELAY;
  checkDuration("options.happyEyeballsDelay", delay);
  const localAddress = options?.localAddress;
  if (localAddress !== undefined) checkHost(localAddress, "options.localAddress");
  const cancelled = lowlevel.cancelPoint("openTcpStream()");
  if (cancelled !== null) await cancelled; // a schedule point, then Cancelled

  const targets = await resolve(host, port);
  if (targets.length === 0) {
    throw new Error(`no results found for hostname lookup: ${formatHostPort(host, port)}`);
  }
  reorderFamilies(targets);

  const factory = currentSocketFactory();
  const failures: unknown[] = [];
  let winner: HalfCloseableStream | null = null;
  try {
    await openNursery(async (nursery) => {
      for (const target of targets) {
        const attemptFailed = new Event();
        nursery.startSoon(
          async () => {
            let stream: HalfCloseableStream;
            try {
              stream = await factory.connect(
                { ...target },
                localAddress !== undefined ? { localAddress } : {},
              );
            } catch (error) {
              if (isCancelled(error)) throw error;
              failures.push(error);
              attemptFailed.set();
              return;
            }
            if (winner === null) {
              winner = stream;
              nursery.cancelScope.cancel("openTcpStream: another attempt connected");
            } else {
              // Two attempts connected in the same batch: the first one wins.
              await acloseForcefully(stream);
            }
          },
          { name: `openTcpStream attempt ${formatHostPort(target.address, target.port)}` },
        );
        await moveOnAfter(delay, () => attemptFailed.wait());
      }
    });
  } catch (error) {
    // Cancelled from outside (or a factory bug) after a winner was chosen.
    const won = winner as HalfCloseableStream | null;
    if (won !== null) await acloseForcefully(won);
    throw error;
  }
  if (winner === null) {
    throw new Error(`all attempts to connect to ${formatHostPort(host, port)} failed`, {
      cause: new ExceptionGroup(
        failures,
        `${failures.length} connection attempt(s) to ${formatHostPort(host, port)} failed`,
      ),
    });
  }
  // With the default factory this is a SocketStream; a custom factory's stream is
  // returned as it is (API.md).
  return winner as SocketStream;
}

async function resolve(host: string, port: number): Promise<ResolvedAddress[]> {
  const family = net.isIP(host);
  if (family === 4 || family === 6) return [{ family, address: host, port }];
  const found = await currentHostnameResolver().getaddrinfo(host, port);
  if (!Array.isArray(found)) {
    throw new TypeError("the hostname resolver's getaddrinfo must return an array of addresses");
  }
  return found.map((a) => ({ family: a.family, address: a.address, port: a.port }));
}

/**
 * RFC 6555 section 5.4, as Trio does it: if the list has more than one family,
 * move the first address of a family other than the first one's to second place.
 */
function reorderFamilies(targets: ResolvedAddress[]): void {
  const first = targets[0]!.family;
  const i = targets.findIndex((t) => t.family !== first);
  if (i > 1) targets.splice(1, 0, ...targets.splice(i, 1));
}
