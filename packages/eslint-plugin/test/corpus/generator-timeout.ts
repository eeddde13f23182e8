// expect: weft/no-yield-in-cancel-scope
// A generator that wraps its work in a timeout and yields from inside it.
import { moveOnAfter } from "@weft/core";

declare function readRow(): Promise<string | undefined>;

export async function* rows() {
  yield "header";
  await moveOnAfter(5000, async function* () {
    for (let row = await readRow(); row !== undefined; row = await readRow()) {
      yield row;
    }
  });
}
