import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

/**
 * The public surface of weft's packages, read from their sources with the
 * TypeScript compiler: every callable that an entry point of a package's
 * `exports` (its "weft-source" condition) exports — functions, class
 * constructors, static and prototype methods, setters, and the members of
 * exported namespaces (`lowlevel`) — with each parameter's name, optionality
 * and declared type. The bad-input fuzz test generates its wrong values from it.
 */

/** What a value is, at run time, as far as a declared type can tell. */
export type ValueKind =
  | "undefined"
  | "null"
  | "boolean"
  | "number"
  | "bigint"
  | "string"
  | "symbol"
  | "function"
  | "array"
  | "bytes"
  | "iterable"
  | "object";

/** A declared type, reduced to the kinds of value it accepts. */
export interface TypeShape {
  /** The type as TypeScript prints it. */
  readonly text: string;
  /** `true` for `unknown`, `any` and unconstrained type parameters: every value is accepted. */
  readonly anything: boolean;
  readonly kinds: readonly ValueKind[];
  /**
   * For an object type with at least one required member (an interface such
   * as `Clock`, a class instance): `{}` does not satisfy it.
   */
  readonly hasRequiredMembers: boolean;
  /** The declared properties of an options-like object type (not of a class, an array, a function). */
  readonly properties: readonly PropertyInfo[];
}

export interface PropertyInfo {
  readonly name: string;
  readonly optional: boolean;
  readonly type: TypeShape;
}

export interface ParameterInfo {
  readonly name: string;
  readonly optional: boolean;
  readonly rest: boolean;
  readonly type: TypeShape;
}

export type CallableKind = "function" | "constructor" | "static" | "method" | "setter";

export interface CallableInfo {
  /** The import specifier of the entry point: `@weft/core`, `@weft/core/streams`… */
  readonly entry: string;
  /**
   * How it is reached from the entry point's namespace: `sleep`,
   * `lowlevel.reschedule`, `new CancelScope`, `Lock.prototype.acquire`,
   * `Simulation.prototype.host`, `CancelScope.prototype.deadline=`.
   */
  readonly id: string;
  readonly kind: CallableKind;
  /** The exported name of the function or class, with its namespace (`lowlevel.ParkingLot`). */
  readonly owner: string;
  /** The method's or setter's name (the function's name for a function). */
  readonly member: string;
  /** One entry per overload (most have one). */
  readonly signatures: readonly (readonly ParameterInfo[])[];
  /** `true` when every signature returns a promise (a `Promise` or `PromiseLike` type). */
  readonly returnsPromise: boolean;
  /** `true` for a constructor declared `private` or `protected` (not public API). */
  readonly hidden: boolean;
  /**
   * Where it is declared (file, position, member): the same callable
   * re-exported by several entry points has the same `declaredAt`.
   */
  readonly declaredAt: string;
}

const ROOT = path.resolve(import.meta.dirname, "../../../..");

/** The entry points of every package: import specifier → source file. */
export function entryPoints(): Map<string, string> {
  const entries = new Map<string, string>();
  const packagesDirectory = path.join(ROOT, "packages");
  for (const directory of fs.readdirSync(packagesDirectory).sort()) {
    const manifestPath = path.join(packagesDirectory, directory, "package.json");
    if (!fs.existsSync(manifestPath)) continue;
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as {
      name: string;
      exports?: Record<string, string | Record<string, string>>;
    };
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      if (typeof target !== "object" || target["weft-source"] === undefined) continue;
      const specifier = subpath === "." ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
      entries.set(specifier, path.join(packagesDirectory, directory, target["weft-source"]));
    }
  }
  return entries;
}

let cached: Map<string, CallableInfo[]> | undefined;

/**
 * Every callable of every entry point, keyed by entry point. Reading the
 * sources takes the compiler seconds, so the result is kept in
 * `node_modules/.cache/weft/` under a hash of every package's sources and
 * manifest: a change to any of them reads the sources again.
 */
export function publicSurface(): Map<string, CallableInfo[]> {
  if (cached) return cached;
  const hash = sourcesHash();
  const cacheFile = path.join(ROOT, "node_modules/.cache/weft", `public-surface-${hash}.json`);
  if (fs.existsSync(cacheFile)) {
    cached = new Map(JSON.parse(fs.readFileSync(cacheFile, "utf8")) as [string, CallableInfo[]][]);
    return cached;
  }
  cached = readSurface();
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  // Older caches (other sources) go; another worker's file being written (a
  // `.json.<pid>` name) stays.
  for (const old of fs.readdirSync(path.dirname(cacheFile))) {
    const full = path.join(path.dirname(cacheFile), old);
    if (/^public-surface-[0-9a-f]{16}\.json$/.test(old) && full !== cacheFile) {
      fs.rmSync(full, { force: true });
    }
  }
  const temporary = `${cacheFile}.${process.pid}`;
  fs.writeFileSync(temporary, JSON.stringify([...cached]));
  fs.renameSync(temporary, cacheFile);
  return cached;
}

function sourcesHash(): string {
  const hash = createHash("sha256").update(ts.version);
  const walk = (directory: string): void => {
    for (const entry of fs
      .readdirSync(directory, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".ts")) hash.update(full).update(fs.readFileSync(full));
    }
  };
  const packagesDirectory = path.join(ROOT, "packages");
  for (const directory of fs.readdirSync(packagesDirectory).sort()) {
    const manifest = path.join(packagesDirectory, directory, "package.json");
    if (fs.existsSync(manifest)) hash.update(fs.readFileSync(manifest));
    const source = path.join(packagesDirectory, directory, "src");
    if (fs.existsSync(source)) walk(source);
  }
  hash.update(fs.readFileSync(import.meta.filename));
  return hash.digest("hex").slice(0, 16);
}

/** What an entry point exports, by name: its values and types, and the members of its namespaces. */
export interface ExportInfo {
  /** The import specifier of the entry point. */
  readonly entry: string;
  /** The exported name, with its namespace for a namespace's member (`lowlevel.ParkingLot`). */
  readonly name: string;
  /** `namespace` for `export * as lowlevel`, `value` for anything with a run-time value. */
  readonly kind: "value" | "type" | "namespace";
}

/**
 * Every export of every entry point (values, types, namespaces and their members), keyed by
 * entry point; a declaration marked `@internal` is left out. The documentation's API coverage
 * test checks that each has a section in the generated reference.
 */
export function publicExports(): Map<string, ExportInfo[]> {
  const { entries, program, checker } = surfaceProgram();
  const result = new Map<string, ExportInfo[]>();
  for (const [entry, file] of entries) {
    const exports: ExportInfo[] = [];
    const visit = (prefix: string, moduleSymbol: ts.Symbol): void => {
      for (const exported of checker.getExportsOfModule(moduleSymbol)) {
        const symbol = resolveAlias(checker, exported);
        const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
        if (declaration !== undefined && isInternal(declaration)) continue;
        const name = `${prefix}${exported.name}`;
        if (
          declaration !== undefined &&
          (ts.isSourceFile(declaration) || symbol.flags & ts.SymbolFlags.ValueModule)
        ) {
          exports.push({ entry, name, kind: "namespace" });
          visit(`${name}.`, symbol);
        } else {
          const value = symbol.flags & ts.SymbolFlags.Value && !isTypeOnlyExport(exported);
          exports.push({ entry, name, kind: value ? "value" : "type" });
        }
      }
    };
    visit("", moduleOf(program, checker, file));
    result.set(entry, exports);
  }
  return result;
}

function moduleOf(program: ts.Program, checker: ts.TypeChecker, file: string): ts.Symbol {
  const source = program.getSourceFile(file);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`cannot read the exports of ${file}`);
  return moduleSymbol;
}

/** One program over the entry points, with the repository's compiler options. */
function surfaceProgram(): {
  entries: Map<string, string>;
  program: ts.Program;
  checker: ts.TypeChecker;
} {
  const entries = entryPoints();
  const configPath = path.join(ROOT, "tsconfig.json");
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
      },
    },
  );
  if (!config) throw new Error(`cannot read ${configPath}`);
  const program = ts.createProgram([...entries.values()], { ...config.options, noEmit: true });
  return { entries, program, checker: program.getTypeChecker() };
}

function readSurface(): Map<string, CallableInfo[]> {
  const { entries, program, checker } = surfaceProgram();
  const surface = new Map<string, CallableInfo[]>();
  for (const [entry, file] of entries) {
    const moduleSymbol = moduleOf(program, checker, file);
    const callables: CallableInfo[] = [];
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      collect(checker, entry, exported.name, exported, callables);
    }
    surface.set(entry, callables);
  }
  return surface;
}

function resolveAlias(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

/** `export type { … }`, `export { type … }`: no value to call. */
function isTypeOnlyExport(symbol: ts.Symbol): boolean {
  return (symbol.declarations ?? []).some(
    (declaration) =>
      ts.isExportSpecifier(declaration) &&
      (declaration.isTypeOnly || declaration.parent.parent.isTypeOnly),
  );
}

/** A member marked `@internal` (or `#private`) is not public API, whatever TypeScript allows. */
function isInternal(declaration: ts.Node): boolean {
  return ts.getJSDocTags(declaration).some((tag) => tag.tagName.text === "internal");
}

function collect(
  checker: ts.TypeChecker,
  entry: string,
  name: string,
  exported: ts.Symbol,
  into: CallableInfo[],
): void {
  if (isTypeOnlyExport(exported)) return;
  const symbol = resolveAlias(checker, exported);
  const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
  if (!declaration || !(symbol.flags & ts.SymbolFlags.Value)) return; // a type only
  if (symbol.flags & ts.SymbolFlags.Class) {
    collectClass(checker, entry, name, symbol, declaration, into);
    return;
  }
  if (ts.isSourceFile(declaration) || symbol.flags & ts.SymbolFlags.ValueModule) {
    // `export * as lowlevel from …`: a namespace of values.
    for (const member of checker.getExportsOfModule(symbol)) {
      collect(checker, entry, `${name}.${member.name}`, member, into);
    }
    return;
  }
  const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
  const signatures = type.getCallSignatures();
  if (signatures.length === 0) return; // a constant
  into.push({
    entry,
    id: name,
    kind: "function",
    owner: name,
    member: name.slice(name.lastIndexOf(".") + 1),
    signatures: signatures.map((signature) => parametersOf(checker, signature, declaration)),
    returnsPromise: signatures.every((signature) => isPromise(checker, signature.getReturnType())),
    hidden: false,
    declaredAt: where(declaration, "function"),
  });
}

function where(declaration: ts.Node, member: string): string {
  const file = path.relative(ROOT, declaration.getSourceFile().fileName);
  return `${file}:${declaration.getStart()}:${member}`;
}

function collectClass(
  checker: ts.TypeChecker,
  entry: string,
  name: string,
  symbol: ts.Symbol,
  declaration: ts.Declaration,
  into: CallableInfo[],
): void {
  const staticType = checker.getTypeOfSymbolAtLocation(symbol, declaration);
  const constructors = staticType.getConstructSignatures();
  const constructorDeclaration = constructors[0]?.getDeclaration();
  const hidden =
    constructorDeclaration !== undefined &&
    ts.isConstructorDeclaration(constructorDeclaration) &&
    ((ts.getCombinedModifierFlags(constructorDeclaration) &
      (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !==
      0 ||
      isInternal(constructorDeclaration));
  into.push({
    entry,
    id: `new ${name}`,
    kind: "constructor",
    owner: name,
    member: "constructor",
    signatures: constructors.map((signature) => parametersOf(checker, signature, declaration)),
    returnsPromise: false,
    hidden,
    declaredAt: where(declaration, "constructor"),
  });
  const members = (type: ts.Type, kind: "static" | "method", prefix: string): void => {
    for (const property of checker.getPropertiesOfType(type)) {
      if (property.name.startsWith("#") || property.name === "prototype") continue;
      const memberDeclaration = property.valueDeclaration ?? property.declarations?.[0];
      if (!memberDeclaration || isFromDefaultLibrary(memberDeclaration)) continue;
      if (isInternal(memberDeclaration)) continue;
      if (
        ts.getCombinedModifierFlags(memberDeclaration) &
        (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)
      ) {
        continue;
      }
      if (property.flags & ts.SymbolFlags.SetAccessor) {
        const setter = property.declarations?.find(ts.isSetAccessorDeclaration);
        const parameter = setter?.parameters[0];
        if (setter && parameter) {
          into.push({
            entry,
            id: `${prefix}${property.name}=`,
            kind: "setter",
            owner: name,
            member: property.name,
            signatures: [
              [
                {
                  name: property.name,
                  optional: false,
                  rest: false,
                  type: shapeOf(checker, checker.getTypeAtLocation(parameter), new Set()),
                },
              ],
            ],
            returnsPromise: false,
            hidden: false,
            declaredAt: where(declaration, `${property.name}=`),
          });
        }
        continue;
      }
      if (!(property.flags & ts.SymbolFlags.Method)) continue;
      const signatures = checker
        .getTypeOfSymbolAtLocation(property, memberDeclaration)
        .getCallSignatures();
      if (signatures.length === 0) continue;
      into.push({
        entry,
        id: `${prefix}${symbolName(property)}`,
        kind,
        owner: name,
        member: symbolName(property),
        signatures: signatures.map((signature) =>
          parametersOf(checker, signature, memberDeclaration),
        ),
        returnsPromise: signatures.every((signature) =>
          isPromise(checker, signature.getReturnType()),
        ),
        hidden: false,
        declaredAt: where(declaration, `${kind}:${symbolName(property)}`),
      });
    }
  };
  members(staticType, "static", `${name}.`);
  members(checker.getDeclaredTypeOfSymbol(symbol), "method", `${name}.prototype.`);
}

/** `Symbol.asyncDispose` for a well-known symbol member, the name otherwise. */
function symbolName(symbol: ts.Symbol): string {
  const match = /^__@(\w+)@\d+$/.exec(symbol.escapedName as string);
  return match ? `[Symbol.${match[1]}]` : symbol.name;
}

function isFromDependency(declaration: ts.Node): boolean {
  return declaration.getSourceFile().fileName.includes("/node_modules/");
}

function isFromDefaultLibrary(declaration: ts.Node): boolean {
  const file = declaration.getSourceFile().fileName;
  return file.includes("/node_modules/typescript/lib/") || file.includes("/@types/node/");
}

function parametersOf(
  checker: ts.TypeChecker,
  signature: ts.Signature,
  at: ts.Node,
): ParameterInfo[] {
  return signature.getParameters().map((parameter) => {
    const declaration = parameter.valueDeclaration;
    const isParameter = declaration !== undefined && ts.isParameter(declaration);
    const rest = isParameter && declaration.dotDotDotToken !== undefined;
    let type = checker.getTypeOfSymbolAtLocation(parameter, declaration ?? at);
    if (rest) {
      // `...fns: T[]`: each argument is a T.
      type = checker.getIndexTypeOfType(type, ts.IndexKind.Number) ?? checker.getAnyType();
    }
    return {
      name: parameter.name,
      optional:
        rest ||
        (isParameter &&
          (declaration.questionToken !== undefined || declaration.initializer !== undefined)),
      rest,
      type: shapeOf(checker, type, new Set()),
    };
  });
}

function isPromise(checker: ts.TypeChecker, type: ts.Type): boolean {
  const types = type.isUnion() ? type.types : [type];
  return types.every((each) => {
    const name = each.getSymbol()?.name;
    return (
      name === "Promise" ||
      name === "PromiseLike" ||
      checker.getPropertyOfType(each, "then") !== undefined
    );
  });
}

const BYTES = new Set([
  "Uint8Array",
  "Buffer",
  "ArrayBufferView",
  "ArrayBuffer",
  "DataView",
  "Uint8ClampedArray",
]);
const ITERABLES = new Set([
  "Iterable",
  "AsyncIterable",
  "IterableIterator",
  "AsyncIterableIterator",
]);

function shapeOf(checker: ts.TypeChecker, type: ts.Type, seen: Set<ts.Type>): TypeShape {
  const text = checker.typeToString(type);
  const kinds = new Set<ValueKind>();
  let anything = false;
  let hasRequiredMembers = false;
  const properties: PropertyInfo[] = [];
  const visit = (each: ts.Type): void => {
    const flags = each.flags;
    if (flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) {
      anything = true;
    } else if (flags & ts.TypeFlags.TypeParameter) {
      const constraint = checker.getBaseConstraintOfType(each);
      if (!constraint || constraint === each || constraint.flags & ts.TypeFlags.Unknown) {
        anything = true;
      } else {
        visit(constraint);
      }
    } else if (each.isUnion()) {
      for (const member of each.types) visit(member);
    } else if (each.isIntersection()) {
      // `A & B`: the object parts' properties; kinds of the first non-object part.
      for (const member of each.types) visit(member);
    } else if (flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)) {
      kinds.add("undefined");
    } else if (flags & ts.TypeFlags.Null) {
      kinds.add("null");
    } else if (flags & ts.TypeFlags.BooleanLike) {
      kinds.add("boolean");
    } else if (flags & ts.TypeFlags.NumberLike) {
      kinds.add("number");
    } else if (flags & ts.TypeFlags.BigIntLike) {
      kinds.add("bigint");
    } else if (flags & (ts.TypeFlags.StringLike | ts.TypeFlags.TemplateLiteral)) {
      kinds.add("string");
    } else if (flags & ts.TypeFlags.ESSymbolLike) {
      kinds.add("symbol");
    } else if (flags & ts.TypeFlags.Never) {
      // accepts nothing
    } else if (flags & ts.TypeFlags.NonPrimitive) {
      // `object`
      kinds.add("object").add("function").add("array").add("bytes").add("iterable");
    } else if (flags & ts.TypeFlags.Object) {
      visitObject(each);
    } else {
      anything = true; // something this reader does not know: never call it wrong
    }
  };
  const visitObject = (each: ts.Type): void => {
    const name = each.getSymbol()?.name ?? "";
    if (checker.isArrayType(each) || checker.isTupleType(each)) {
      kinds.add("array");
      return;
    }
    if (BYTES.has(name)) {
      kinds.add("bytes");
      return;
    }
    if (ITERABLES.has(name)) {
      kinds.add("iterable").add("array").add("bytes").add("string");
      return;
    }
    if (name === "Object" || name === "Function") {
      kinds.add("object").add("function").add("array").add("bytes").add("iterable");
      return;
    }
    if (each.getCallSignatures().length > 0 || each.getConstructSignatures().length > 0) {
      kinds.add("function");
      // A function type with extra members is still a function.
      return;
    }
    kinds.add("object");
    const members = checker.getPropertiesOfType(each);
    if (members.length === 0) {
      // `{}`: anything but null and undefined
      kinds.add("function").add("array").add("bytes").add("iterable");
      kinds.add("boolean").add("number").add("string").add("symbol").add("bigint");
      return;
    }
    const required = members.filter((member) => !(member.flags & ts.SymbolFlags.Optional));
    if (required.length > 0) hasRequiredMembers = true;
    if (!isOptionsLike(each, members) || seen.has(each)) return;
    const inner = new Set(seen).add(each);
    for (const member of members) {
      const memberDeclaration = member.valueDeclaration ?? member.declarations?.[0];
      if (!memberDeclaration || member.flags & ts.SymbolFlags.Method) continue;
      // A property of a type declared outside weft (the platform's RequestInit,
      // Node's socket options) is passed on to the platform, which checks it.
      if (isFromDependency(memberDeclaration)) continue;
      properties.push({
        name: member.name,
        optional: (member.flags & ts.SymbolFlags.Optional) !== 0,
        type: shapeOf(checker, checker.getTypeOfSymbolAtLocation(member, memberDeclaration), inner),
      });
    }
  };
  visit(type);
  return { text, anything, kinds: [...kinds].sort(), hasRequiredMembers, properties };
}

/**
 * An options bag (`{ timeout?: number }`, `{ limit: number }`), whose
 * properties are fuzzed one by one, as opposed to an object that stands for
 * something (a class instance, a `Task`, a `Response`): no methods, no
 * readonly members.
 */
function isOptionsLike(type: ts.Type, members: readonly ts.Symbol[]): boolean {
  const symbol = type.getSymbol();
  if (symbol !== undefined && symbol.flags & ts.SymbolFlags.Class) return false;
  return members.every((member) => {
    if (member.flags & ts.SymbolFlags.Method) return false;
    const declaration = member.valueDeclaration ?? member.declarations?.[0];
    if (!declaration) return true;
    if (isFromDefaultLibrary(declaration)) return false;
    const readonly =
      ts.getCombinedModifierFlags(declaration as ts.Declaration) & ts.ModifierFlags.Readonly;
    return readonly === 0;
  });
}
