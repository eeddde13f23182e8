/**
 * Observable Plot drawn on linkedom's document, for charts written to SVG
 * files without a browser (the benchmark chart, and the soak runs' chart,
 * which imports this as `@weft/bench/svg-document`): the document, an element
 * builder on it, and plots without Plot's class and stylesheet (the pictures
 * set their own fonts and colours, and a stylesheet keyed on a generated class
 * would only bloat the file).
 */
import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";

export const SVG_NS = "http://www.w3.org/2000/svg";

/** The little of linkedom's elements the charts use (the lib has no DOM types). */
export interface DomNode {
  readonly outerHTML: string;
  textContent: string | null;
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  append(...nodes: DomNode[]): void;
  remove(): void;
  querySelectorAll(selector: string): Iterable<DomNode>;
}

/** A linkedom document to draw one picture on. */
export interface SvgDocument {
  /** `Plot.plot(options)` drawn on this document, without Plot's class and stylesheet. */
  plot(options: Plot.PlotOptions): DomNode;
  /** An SVG element with these attributes (and text, which the document escapes). */
  element(name: string, attributes: Record<string, string | number>, text?: string): DomNode;
}

export function svgDocument(): SvgDocument {
  const { document } = parseHTML("<!doctype html><html><body></body></html>");
  return {
    plot(options) {
      const plot = Plot.plot({
        ...options,
        document: document as unknown as NonNullable<Plot.PlotOptions["document"]>,
      }) as unknown as DomNode;
      plot.removeAttribute("class");
      for (const style of plot.querySelectorAll("style")) style.remove();
      return plot;
    },
    element(name, attributes, text) {
      const node = document.createElementNS(SVG_NS, name) as unknown as DomNode;
      for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
      if (text !== undefined) node.textContent = text;
      return node;
    },
  };
}
