/**
 * Writes src/generated/router.ts: the server's router type with every procedure's input and output
 * printed structurally, and the server's context left out. The published .d.ts then needs nothing
 * of the server (no drizzle, no ioredis, no server code), only @trpc/server's public types.
 *
 *   npm run generate -w @aiutami/client        (CI fails when the committed file is stale)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { appRouter } from "../../server/router";

const ROOT = join(import.meta.dirname, "..");
const SHAPE = join(ROOT, "scripts/router-shape.ts");
const OUT = join(ROOT, "src/generated/router.ts");

const program = ts.createProgram([SHAPE], {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  skipLibCheck: true,
  types: ["node"],
});
const checker = program.getTypeChecker();
const source = program.getSourceFile(SHAPE)!;
const moduleSymbol = checker.getSymbolAtLocation(source)!;
const exported = new Map(checker.getExportsOfModule(moduleSymbol).map((s) => [s.name, checker.getDeclaredTypeOfSymbol(s)]));

/** Named types that cross the wire as themselves. */
const OPAQUE = new Set(["FormData", "Blob", "File", "Date"]);

function print(type: ts.Type, depth = 0, dropUndefined = false): string {
  if (depth > 40) throw new Error("type too deep to print");
  const f = type.flags;
  if (f & ts.TypeFlags.Any || f & ts.TypeFlags.Unknown) return "unknown";
  if (f & ts.TypeFlags.String) return "string";
  if (f & ts.TypeFlags.Number) return "number";
  if (f & ts.TypeFlags.Boolean) return "boolean";
  if (f & ts.TypeFlags.BigInt) return "bigint";
  if (f & ts.TypeFlags.Null) return "null";
  if (f & ts.TypeFlags.Undefined) return "undefined";
  if (f & ts.TypeFlags.Void) return "void";
  if (f & ts.TypeFlags.Never) return "never";
  if (type.isStringLiteral()) return JSON.stringify(type.value);
  if (type.isNumberLiteral()) return String(type.value);
  if (f & ts.TypeFlags.BooleanLiteral) return checker.typeToString(type);
  if (type.isUnion()) {
    const members = dropUndefined ? type.types.filter((t) => !(t.flags & ts.TypeFlags.Undefined)) : type.types;
    const parts = members.map((t) => print(t, depth + 1));
    const hasTrue = parts.includes("true");
    const hasFalse = parts.includes("false");
    const merged = hasTrue && hasFalse ? [...parts.filter((p) => p !== "true" && p !== "false"), "boolean"] : parts;
    return merged.length === 1 ? merged[0]! : merged.map((p) => (p.includes("=>") ? `(${p})` : p)).join(" | ");
  }
  if (type.isIntersection()) return type.types.map((t) => `(${print(t, depth + 1)})`).join(" & ");
  if (checker.isTupleType(type)) {
    return `[${checker.getTypeArguments(type as ts.TypeReference).map((t) => print(t, depth + 1)).join(", ")}]`;
  }
  if (checker.isArrayType(type)) return `Array<${print(checker.getTypeArguments(type as ts.TypeReference)[0]!, depth + 1)}>`;
  const name = type.getSymbol()?.getName();
  if (name && OPAQUE.has(name)) return name;
  if (f & ts.TypeFlags.Object) {
    const members: string[] = [];
    for (const info of checker.getIndexInfosOfType(type)) {
      members.push(`[key: ${print(info.keyType, depth + 1)}]: ${print(info.type, depth + 1)}`);
    }
    for (const prop of checker.getPropertiesOfType(type)) {
      const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
      const key = /^[A-Za-z_$][\w$]*$/.test(prop.name) ? prop.name : JSON.stringify(prop.name);
      members.push(`${key}${optional ? "?" : ""}: ${print(checker.getTypeOfSymbol(prop), depth + 1, optional)}`);
    }
    return members.length ? `{ ${members.join("; ")} }` : "{}";
  }
  throw new Error(`cannot print type ${checker.typeToString(type)}`);
}

function propertyPath(type: ts.Type, path: string[]): ts.Type {
  let current = type;
  for (const key of path) {
    const prop = current.getProperty(key);
    if (!prop) throw new Error(`no ${path.join(".")} in the router type`);
    current = checker.getTypeOfSymbol(prop);
  }
  return current;
}

type Tree = { [key: string]: Tree | string };
const tree: Tree = {};
const procedures = (appRouter._def as unknown as { procedures: Record<string, { _def: { type: string } }> }).procedures;
for (const [path, procedure] of Object.entries(procedures).sort(([a], [b]) => a.localeCompare(b))) {
  const segments = path.split(".");
  const input = print(propertyPath(exported.get("Inputs")!, segments));
  const output = print(propertyPath(exported.get("Outputs")!, segments));
  const kind = procedure._def.type === "mutation" ? "TRPCMutationProcedure" : "TRPCQueryProcedure";
  let node = tree;
  for (const s of segments.slice(0, -1)) node = (node[s] ??= {}) as Tree;
  node[segments.at(-1)!] = `${kind}<{ input: ${input}; output: ${output}; meta: object }>`;
}

function render(node: Tree, indent: string): string {
  return Object.entries(node)
    .map(([key, value]) => (typeof value === "string" ? `${indent}${key}: ${value};` : `${indent}${key}: {\n${render(value, `${indent}  `)}\n${indent}};`))
    .join("\n");
}

const file = `// Generated by client-sdk/scripts/generate-router-types.ts from the server's router. Do not edit.
// Every procedure's input and output as plain types; the server's context is not part of it.
import type { TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure } from "@trpc/server";

/** The error shape every API error has (see the server's errorFormatter). */
export type ApiErrorShape = ${print(exported.get("ErrorShape")!)};

type Root = { ctx: object; meta: object; errorShape: ApiErrorShape; transformer: false };

/** The Aiutami API's router type, for \`createTRPCClient<AppRouter>\` and inference helpers. */
export type AppRouter = TRPCBuiltRouter<
  Root,
  {
${render(tree, "    ")}
  }
>;
`;
writeFileSync(OUT, file);
console.log(`wrote ${OUT} (${Object.keys(procedures).length} procedures)`);
