import { checkCount, checkFunction, checkOptionsObject } from "../errors/validate.ts";
import { requireTask } from "../kernel/context.ts";
import { openNursery } from "../scopes/nursery.ts";
import { type MemoryReceiveChannel, openMemoryChannel } from "./channel.ts";

/**
 * Runs an async generator (or any async iterable) in a background task and
 * lets `body` consume its values through a receive channel. When `body`
 * returns or throws, the producer is cancelled and has finished — its
 * `finally` blocks have run — before this resolves.
 *
 * Why not just `for await (const x of generator())`? A generator's code runs
 * in its consumer's task, a piece at a time. If the generator opens a cancel
 * scope or a nursery and yields inside it (`moveOnAfter(1000, async () => {
 * yield … })` in spirit), the scope stays open while the consumer's own code
 * runs: the generator's timeout cancels the consumer's unrelated work, and the
 * scopes no longer exit in the order they were entered (weft reports a
 * corrupted cancel scope stack). Here the generator runs in a task of its own,
 * so its scopes and nurseries wrap only its own code; each `yield` becomes a
 * send on an (unbuffered by default) channel, the way Trio's `as_safe_channel`
 * does it.
 *
 * ```ts
 * await generatorChannel(() => ticks(100), async (values) => {
 *   for await (const tick of values) if (tick > 10) break;
 * });
 * ```
 */
export function generatorChannel<T, R>(
  source: () => AsyncIterable<T>,
  body: (values: MemoryReceiveChannel<T>) => Promise<R>,
  options?: { bufferSize?: number },
): Promise<R> {
  try {
    return generatorChannelOrThrow(source, body, options);
  } catch (error) {
    return Promise.reject(error); // a bad argument
  }
}

function generatorChannelOrThrow<T, R>(
  source: () => AsyncIterable<T>,
  body: (values: MemoryReceiveChannel<T>) => Promise<R>,
  options?: { bufferSize?: number },
): Promise<R> {
  checkFunction("source", source);
  checkFunction("body", body);
  checkOptionsObject("options", options);
  const bufferSize = options?.bufferSize ?? 0;
  checkCount("options.bufferSize", bufferSize, { infinity: true });
  requireTask("generatorChannel()"); // outside run(), the error names this function
  const [send, receive] = openMemoryChannel<T>(bufferSize);
  return openNursery(
    async (nursery) => {
      nursery.startSoon(
        async () => {
          const iterator = source()[Symbol.asyncIterator]();
          try {
            let result = await iterator.next();
            while (result.done !== true) {
              try {
                await send.send(result.value);
              } catch (error) {
                // The generator waits at its yield until the value is taken, so
                // what interrupts the send (a Cancelled of one of the generator's
                // own scopes, still open across the yield) is raised there.
                if (iterator.throw === undefined) {
                  await iterator.return?.();
                  throw error;
                }
                result = await iterator.throw(error);
                continue;
              }
              result = await iterator.next();
            }
          } finally {
            send.close();
          }
        },
        { name: source.name || "generator" },
      );
      try {
        return await body(receive);
      } finally {
        // Stop the producer first (its pending send sees Cancelled, not a broken channel).
        nursery.cancelScope.cancel("the consumer is done");
        receive.close();
      }
    },
    { strictErrors: false },
  );
}
