/** An error like the one Node gives for a failed socket call, with its `code`, marked as simulated. */
export function systemError(message: string, code: string): Error {
  return Object.assign(new Error(`${message} (simulated)`), { code });
}
