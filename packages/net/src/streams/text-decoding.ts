/**
 * Text decoding options shared by `TextReceiveStream` and
 * `BufferedReceiveStream.lines()`: building a checked `TextDecoder` and turning
 * its errors into ones that say what went wrong.
 */
import { TextDecoder } from "node:util";

/** How received bytes are decoded to text. */
export interface TextDecodingOptions {
  /** A WHATWG encoding label, e.g. `"utf-8"` (the default) or `"latin1"`. */
  encoding?: string;
  /**
   * `true`: invalid data throws a `TypeError` (as a fatal `TextDecoder` does).
   * `false` (the default): each invalid sequence decodes to U+FFFD.
   */
  fatal?: boolean;
}

/**
 * A streaming-capable decoder for `options`; `name` is the options argument's
 * name in error messages. A leading byte order mark is dropped, as
 * `TextDecoder` does by default.
 */
export function createTextDecoder(
  name: string,
  options: TextDecodingOptions | undefined,
): TextDecoder {
  const encoding = options?.encoding ?? "utf-8";
  const fatal = options?.fatal ?? false;
  if (typeof encoding !== "string") {
    throw new TypeError(`${name}.encoding must be a string, got ${typeof encoding}`);
  }
  if (typeof fatal !== "boolean") {
    throw new TypeError(`${name}.fatal must be a boolean, got ${typeof fatal}`);
  }
  try {
    return new TextDecoder(encoding, { fatal });
  } catch (error) {
    throw new RangeError(`${name}.encoding: unsupported encoding ${JSON.stringify(encoding)}`, {
      cause: error,
    });
  }
}

/**
 * `decoder.decode(bytes, { stream })`, with a decoding failure (fatal decoders
 * only) rethrown as a `TypeError` whose message names the encoding and whose
 * `cause` is the decoder's error.
 */
export function decodeChecked(decoder: TextDecoder, bytes: Uint8Array, stream: boolean): string {
  try {
    return decoder.decode(bytes, { stream });
  } catch (error) {
    throw new TypeError(`the received data is not valid ${decoder.encoding}`, { cause: error });
  }
}
