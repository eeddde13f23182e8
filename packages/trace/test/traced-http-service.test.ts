/**
 * The traced HTTP service example: one request gives one trace, the request's
 * span over one span per upstream fetch task, each over the upstream's own
 * request span (joined through the traceparent header).
 */
import { SpanKind } from "@opentelemetry/api";
import { describe, expect, test } from "vitest";
import { main, spanTree, tracedRequest } from "../../../examples/traced-http-service.ts";
import { parentId, spanId } from "./opentelemetry-support.ts";

describe("examples/traced-http-service.ts", () => {
  test("a request's span has one child span per upstream fetch task, each over the upstream's request span", async () => {
    const { quote, spans } = await tracedRequest();
    expect(quote).toEqual({ item: "loom", price: 12.5, stock: 3 });
    const named = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };
    const client = named("client GET /quote");
    const request = named("GET /quote");
    const fetchPrice = named("fetch /price");
    const fetchStock = named("fetch /stock");
    const upstreamPrice = named("GET /price");
    const upstreamStock = named("GET /stock");
    expect(spans).toHaveLength(6);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(parentId(client)).toBeUndefined();
    expect(parentId(request)).toBe(spanId(client));
    expect(request.kind).toBe(SpanKind.SERVER);
    expect(request.attributes["http.response.status_code"]).toBe(200);
    expect(parentId(fetchPrice)).toBe(spanId(request));
    expect(parentId(fetchStock)).toBe(spanId(request));
    expect(fetchPrice.attributes["weft.task.name"]).toBe("fetch /price");
    expect(parentId(upstreamPrice)).toBe(spanId(fetchPrice));
    expect(parentId(upstreamStock)).toBe(spanId(fetchStock));
    // The two fetches ran at once: each started before the other ended.
    const ns = ([s, n]: readonly [number, number]) => s * 1e9 + n;
    expect(ns(fetchPrice.startTime)).toBeLessThan(ns(fetchStock.endTime));
    expect(ns(fetchStock.startTime)).toBeLessThan(ns(fetchPrice.endTime));
    expect(spanTree(spans)).toEqual([
      "client GET /quote",
      "  GET /quote",
      "    fetch /price",
      "      GET /price",
      "    fetch /stock",
      "      GET /stock",
    ]);
  });

  test("main() prints the tree and returns its lines", async () => {
    const logged: string[] = [];
    const original = console.log;
    console.log = (line: string) => logged.push(line);
    let lines: string[];
    try {
      lines = await main();
    } finally {
      console.log = original;
    }
    expect(lines).toEqual([
      "client GET /quote",
      "  GET /quote",
      "    fetch /price",
      "      GET /price",
      "    fetch /stock",
      "      GET /stock",
    ]);
    expect(logged[0]).toBe('GET /quote?item=loom -> {"item":"loom","price":12.5,"stock":3}');
    expect(logged.slice(-6)).toEqual(lines.map((line) => `  ${line}`));
  });
});
