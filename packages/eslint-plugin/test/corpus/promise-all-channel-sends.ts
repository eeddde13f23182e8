// expect: weft/no-concurrent-weft-operations
// Two sends at once from one task: weft operations are not meant to run concurrently in a task.
import { openMemoryChannel } from "@weft/core";

const [toA, fromA] = openMemoryChannel<string>(0);
const [toB, fromB] = openMemoryChannel<string>(0);
export const receivers = [fromA, fromB];

export async function broadcast(message: string): Promise<void> {
  await Promise.all([toA.send(message), toB.send(message)]);
}
