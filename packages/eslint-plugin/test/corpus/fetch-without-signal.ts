// expect: weft/require-signal-for-foreign-await
// fetch without a signal: cancelling the task does not abort the request.
import { sleep } from "@weft/core";

export async function poll(url: string): Promise<unknown> {
  await sleep(1000);
  const response = await fetch(url);
  return response.json();
}
