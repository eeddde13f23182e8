import { describeValue, isRevokedProxy } from "@weft/core/validate";
/** Socket addresses and the argument checks shared by the socket constructors. */

/** A socket address. `port` is 0 for Unix sockets. */
export interface SocketAddress {
  /** IPv4, IPv6 or a Unix socket. */
  family: 4 | 6 | "unix";
  /** The IP address, or the Unix socket's path. */
  address: string;
  /** The port (0 for a Unix socket). */
  port: number;
}

/** Builds a `SocketAddress` from Node's `family` / `address` / `port` fields. */
export function makeAddress(
  family: string | number | undefined,
  address: string | undefined,
  port: number | undefined,
): SocketAddress {
  return {
    family: family === "IPv6" || family === "6" || family === 6 ? 6 : 4,
    address: address ?? "",
    port: port ?? 0,
  };
}

/** A Unix socket address (`port` 0). */
export function unixAddress(path: string): SocketAddress {
  return { family: "unix", address: path, port: 0 };
}

export function checkHost(host: unknown, name = "host"): asserts host is string {
  if (typeof host !== "string") {
    throw new TypeError(`${name} must be a string, got ${describeValue(host)}`);
  }
  if (host.length === 0) throw new TypeError(`${name} must be a non-empty string`);
}

export function checkPort(port: unknown, name = "port"): asserts port is number {
  if (typeof port !== "number") {
    throw new TypeError(`${name} must be a number, got ${describeValue(port)}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${name} must be an integer in 0..65535, got ${String(port)}`);
  }
}

/** A {@link SocketAddress}: `{ family, address, port }`. */
export function checkSocketAddress(name: string, value: unknown): asserts value is SocketAddress {
  const address = value as Partial<SocketAddress> | null;
  if (
    address === null ||
    typeof address !== "object" ||
    isRevokedProxy(address) ||
    (address.family !== 4 && address.family !== 6 && address.family !== "unix") ||
    typeof address.address !== "string" ||
    typeof address.port !== "number"
  ) {
    throw new TypeError(
      `${name} must be a SocketAddress ({ family: 4 | 6 | "unix", address, port }), got ${describeValue(value)}`,
    );
  }
}
