/** Socket addresses and the argument checks shared by the socket constructors. */

/** A socket address. `port` is 0 for Unix sockets. */
export interface SocketAddress {
  family: 4 | 6 | "unix";
  address: string;
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
  if (typeof host !== "string") throw new TypeError(`${name} must be a string, got ${typeof host}`);
  if (host.length === 0) throw new TypeError(`${name} must be a non-empty string`);
}

export function checkPort(port: unknown): asserts port is number {
  if (typeof port !== "number") throw new TypeError(`port must be a number, got ${typeof port}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer in 0..65535, got ${String(port)}`);
  }
}
