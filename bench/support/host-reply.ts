/**
 * A promise settled by a host callback, as a database client's reply is: the
 * await of the `foreign-await` scenario. `setImmediate` stands for the I/O
 * callback so the scenario measures the runtime, not a socket.
 */
export function hostReply(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
