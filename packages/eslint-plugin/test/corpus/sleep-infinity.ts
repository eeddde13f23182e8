// expect: weft/no-huge-sleep
// Park the server task until it is cancelled.
import { sleep } from "@weft/core";

declare function listen(port: number): void;

export async function serve(port: number): Promise<void> {
  listen(port);
  await sleep(Infinity);
}
