/**
 * Whether this process is out of file descriptors, for `SocketListener`.
 *
 * Node cannot leave a connection in the kernel's queue: libuv accepts every
 * queued connection as soon as the listening socket is readable, and when
 * accept() fails with EMFILE or ENFILE it closes a descriptor it keeps in
 * reserve, accepts and closes every queued connection, and reopens the
 * reserve (`uv__emfile_trick` in libuv's src/unix/stream.c). Node is never
 * told, so neither is the listener. The only way to see that state from
 * JavaScript is to try to open a descriptor ourselves.
 */
import * as fs from "node:fs";
import { errorCode } from "./error-codes.ts";

/** POSIX only: libuv's Windows accept path has no such trick, and no /dev/null. */
const CAN_PROBE = process.platform !== "win32";

/**
 * Opens and closes /dev/null: the EMFILE or ENFILE error if that fails (no
 * descriptor is free, in this process or in the system), else `null`. Any
 * other failure (no /dev/null in a sandbox) also gives `null`: unknown is
 * not out. Two system calls; synchronous, so no other JavaScript can take or
 * free a descriptor between the test and its result.
 */
export function descriptorShortage(): Error | null {
  if (!CAN_PROBE) return null;
  let fd: number;
  try {
    fd = fs.openSync("/dev/null", "r");
  } catch (error) {
    const code = errorCode(error);
    return code === "EMFILE" || code === "ENFILE" ? (error as Error) : null;
  }
  fs.closeSync(fd);
  return null;
}
