import fc from "fast-check";

/**
 * Arbitraries for the fuzz: hostile values (huge and tiny numbers, far dates, NUL, lone surrogates,
 * long strings, deep nesting, prototype keys, wrong types), and inputs derived from a JSON Schema
 * (zod 4's `z.toJSONSchema(schema, { io: "input" })`): valid ones, near-valid ones (one valid value
 * with one part broken) and wholly hostile ones.
 */

/** A JSON text spliced into the body as it is: what JSON.stringify cannot write (1e400, depth 100,000). */
export class RawJson {
  constructor(readonly text: string) {}
  toJSON() {
    return `<raw ${this.text.length > 80 ? `${this.text.slice(0, 80)}… (${this.text.length} chars)` : this.text}>`;
  }
}

/** JSON text of a value that may hold RawJson parts and own `__proto__` keys. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : toJsonText(v))).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const parts: string[] = [];
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${toJsonText(item)}`);
    }
    return `{${parts.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A copy of `obj` with `key` set as an own property (`__proto__` included, which `=` would not make). */
export function withKey(obj: object, key: string, value: unknown): Record<string, unknown> {
  const copy = Object.defineProperties({}, Object.getOwnPropertyDescriptors(obj)) as Record<string, unknown>;
  if (value === undefined) delete copy[key];
  else Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

export const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "__defineGetter__", "then", "toJSON"];

export const HOSTILE_NUMBERS = [
  0, -0, -1, 1.5, 0.1, 1e-320, 5e-324, -1e-320, 2 ** 31 - 1, 2 ** 31, 2 ** 32, -(2 ** 31) - 1, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2,
  -(2 ** 53), 1e15, 1e21, 1e300, Number.MAX_VALUE, -Number.MAX_VALUE,
];
/** Numbers only raw JSON can carry: JSON.parse turns them into Infinity, 0, or a rounded double. */
export const RAW_NUMBERS = ["1e400", "-1e400", "1e-400", "123456789012345678901234567890", "-0", "0.00000000000000000000000000000000000000000001", "1E2"].map((t) => new RawJson(t));

export const FAR_DATES = [
  "9999-12-31T23:59:59-14:00", // year 10000 in UTC
  "9999-12-31T23:59:59-23:59",
  "9999-12-31T23:59:59.999999999Z",
  "+275760-09-13T00:00:00Z", // the last instant a JS Date holds
  "+275760-09-13T00:00:00.001Z", // one past it
  "-271821-04-20T00:00:00Z",
  "0000-01-01T00:00:00Z",
  "0000-01-01T00:00:00+23:59", // before year 0 in UTC
  "0001-01-01T00:00:00+14:00",
  "1969-12-31T23:59:59.999Z",
  "2026-02-29T00:00:00Z", // not a leap year
  "2028-02-29T24:00:00Z",
  "2030-01-01T09:00:00.1234567890123456789012345Z",
  "2030-01-01T09:00:00",
  "2030-01-01",
  "2030-13-01T00:00:00Z",
  "294277-01-01T00:00:00Z", // past PostgreSQL's timestamptz
];

export const HOSTILE_STRINGS = [
  "", " ", "  \t\n ", "NaN", "-NaN", "Infinity", "-Infinity", "1e-320", "-0", "0x10", "null", "undefined", "true", "[]", "{}",
  "\u0000", "a\u0000b", "\ud800", "\udfff", "x\ud83d", "\udc00\ud800", "😀", "\u202e\u202d", "\ufeff", "\u2028\u2029", "\r\n\r\n",
  "'; select pg_sleep(1); --", "\\", "\\u0000", "%", "%00", "%E0%A4%A", "../../../etc/passwd", "${process.exit()}", "{{constructor}}",
  "<script>alert(1)</script>", "------------------------------------", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
  "0190A3A4-1111-7222-8333-444455556666", "0190a3a4-1111-7222-8333-44445555666", " 0190a3a4-1111-7222-8333-444455556666",
  "a".repeat(26), "A".repeat(26), "OWNER", "owner ", "Tutor", ...PROTOTYPE_KEYS, ...FAR_DATES,
];

/** Strings that are long, in ASCII, in 2-byte, astral (surrogate pairs) and combining characters. */
const longString = fc
  .tuple(fc.constantFrom(64, 120, 201, 255, 256, 513, 4001, 10_000, 65_537, 200_000), fc.constantFrom("x", " ", "é", "😀", "e\u0301", "\u0000", "%"))
  .map(([n, ch]) => ch.repeat(Math.ceil(n / ch.length)).slice(0, n));

/** Any UTF-16 code unit, lone surrogates and NUL included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...HOSTILE_STRINGS), weight: 6 },
  { arbitrary: longString, weight: 2 },
  { arbitrary: fc.string({ unit: codeUnit, maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 1 },
);

export const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(...HOSTILE_NUMBERS), weight: 6 },
  { arbitrary: fc.constantFrom(...RAW_NUMBERS), weight: 2 },
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 2 },
  { arbitrary: fc.integer(), weight: 1 },
);

/** Nesting deeper than any parser or validator should walk into: raw text, so nothing here recurses. */
const deepNesting = fc
  .tuple(fc.constantFrom(64, 1000, 10_000, 100_000), fc.constantFrom("array", "object", "mixed"))
  .map(([depth, shape]) => {
    if (shape === "array") return new RawJson(`${"[".repeat(depth)}${"]".repeat(depth)}`);
    if (shape === "object") return new RawJson(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
    return new RawJson(`${'{"__proto__":['.repeat(depth)}null${"]}".repeat(depth)}`);
  });

/** An object carrying prototype keys as its own properties. */
const prototypeObject = fc
  .tuple(fc.subarray(PROTOTYPE_KEYS, { minLength: 1 }), fc.constantFrom<unknown>({ polluted: true }, null, 1, "x", [], { isAdmin: true }))
  .map(([keys, v]) => keys.reduce<Record<string, unknown>>((o, k) => withKey(o, k, v), {}));

/** Any value of any JSON type, weighted towards the ones that broke things before. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: hostileString, weight: 5 },
  { arbitrary: hostileNumber, weight: 4 },
  { arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, [null], [[]], { "": "" }), weight: 2 },
  { arbitrary: deepNesting, weight: 1 },
  { arbitrary: prototypeObject, weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
);

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  not?: JsonSchema;
  default?: unknown;
};

export type Path = ReadonlyArray<string | number>;
/** A field-specific arbitrary of valid values (known ids, emails, near dates), or undefined for the schema's own. */
export type Override = (path: Path, schema: JsonSchema) => fc.Arbitrary<unknown> | undefined;

const MAX_ITEMS = 6;

function isNever(schema: JsonSchema): boolean {
  return schema.not !== undefined && Object.keys(schema.not).length === 0;
}

function typeOf(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type[0];
  if (schema.type) return schema.type;
  if (schema.properties) return "object";
  return undefined;
}

function stringArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Math.max(min, 40);
  const fits = (s: string) => s.length >= min && s.length <= max;
  if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter(fits);
  if (schema.format === "email") return fc.emailAddress().filter(fits);
  if (schema.format === "uuid") return fc.uuid();
  // Mostly letters and digits with inner spaces (zod trims before it counts), now and then any grapheme.
  const unit = fc.oneof({ arbitrary: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), weight: 12 }, { arbitrary: fc.constant(" "), weight: 2 }, { arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }), weight: 1 });
  return fc.string({ unit, minLength: min, maxLength: Math.min(max, min + 40) }).map((s) => s.replace(/^\s|\s$/g, "x")).filter(fits);
}

/** Values the schema accepts (as far as JSON Schema can say: zod's refinements are not in it). */
export function validArbitrary(schema: JsonSchema, override: Override = () => undefined, path: Path = []): fc.Arbitrary<unknown> {
  const own = override(path, schema);
  if (own) return own;
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) return fc.oneof(...branches.map((b) => validArbitrary(b, override, path)));
  switch (typeOf(schema)) {
    case "object": {
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, child] of Object.entries(schema.properties ?? {})) {
        if (!isNever(child)) model[key] = validArbitrary(child, override, [...path, key]);
      }
      return fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in model) });
    }
    case "array": {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? MAX_ITEMS, MAX_ITEMS));
      // Unique entries: several lists refuse a repeat (a refinement JSON Schema does not carry); `mutate` adds repeats.
      return fc.uniqueArray(validArbitrary(schema.items ?? {}, override, [...path, 0]), { minLength, maxLength, selector: (v) => JSON.stringify(v) });
    }
    case "string":
      return stringArbitrary(schema);
    case "integer": {
      const min = Math.max(schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : Number.MIN_SAFE_INTEGER), Number.MIN_SAFE_INTEGER);
      const max = Math.min(schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
      const small = { min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) };
      if (small.min === min && small.max === max) return fc.integer({ min, max });
      const wide = fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);
      return small.min <= small.max ? fc.oneof(fc.integer(small), wide) : wide;
    }
    case "number":
      return fc.double({
        min: schema.minimum ?? schema.exclusiveMinimum ?? -1e308,
        max: schema.maximum ?? schema.exclusiveMaximum ?? 1e308,
        minExcluded: schema.minimum === undefined && schema.exclusiveMinimum !== undefined,
        maxExcluded: schema.maximum === undefined && schema.exclusiveMaximum !== undefined,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Values just outside (and on) the schema's bounds. */
function boundaryValues(schema: JsonSchema): unknown[] {
  const out: unknown[] = [];
  const type = typeOf(schema);
  if (type === "integer" || type === "number") {
    for (const b of [schema.minimum, schema.maximum, schema.exclusiveMinimum, schema.exclusiveMaximum]) {
      if (b === undefined) continue;
      out.push(b, b - 1, b + 1, b - 0.5, b + 0.5, b - Number.EPSILON * Math.max(1, Math.abs(b)), b + Number.EPSILON * Math.max(1, Math.abs(b)));
    }
    if (type === "integer") out.push(1.5, 2 ** 31, 2 ** 53, -(2 ** 31) - 1);
    out.push(1e-320, -1e-320, 5e-324);
  }
  if (type === "string") {
    const ch = schema.enum ? "x" : "a";
    if (schema.minLength) out.push(ch.repeat(schema.minLength - 1), " ".repeat(schema.minLength), `${" ".repeat(schema.minLength)}${ch}`);
    if (schema.maxLength !== undefined) out.push(ch.repeat(schema.maxLength), ch.repeat(schema.maxLength + 1), `${ch.repeat(schema.maxLength)} `, `${"é".repeat(schema.maxLength)}`);
    if (schema.pattern || schema.format) out.push("x", "0", "-", " ");
  }
  if (schema.enum) for (const v of schema.enum) if (typeof v === "string") out.push(v.toUpperCase(), ` ${v}`, `${v}\u0000`, v.slice(0, -1));
  if (type === "array") {
    if (schema.minItems) out.push([]);
  }
  return out;
}

function wrongTypes(schema: JsonSchema): unknown[] {
  switch (typeOf(schema)) {
    case "string":
      return [0, 12345, true, null, [], {}, ["a"]];
    case "integer":
    case "number":
      return ["1", "12", "1e-320", "NaN", "Infinity", "0x10", true, null, [], [1], {}];
    case "boolean":
      return ["true", 1, 0, null, []];
    case "array":
      return ["a", 1, null, {}, { 0: "a", length: 1 }];
    case "object":
      return ["{}", 1, null, [], [{}], true];
    default:
      return [];
  }
}

function childSchema(schema: JsonSchema, key: string): JsonSchema {
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) {
    const found = branches.find((b) => b.properties?.[key]);
    if (found) return childSchema(found, key);
  }
  return schema.properties?.[key] ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : {});
}

/** One value of `schema` broken in one place: a field, an element, a key, or the whole. */
export function mutate(schema: JsonSchema, value: unknown, path: Path = [], override: Override = () => undefined): fc.Arbitrary<unknown> {
  const local: Array<fc.WeightedArbitrary<unknown>> = [{ arbitrary: hostileValue, weight: 3 }];
  const bounds = boundaryValues(schema);
  if (bounds.length) local.push({ arbitrary: fc.constantFrom(...bounds), weight: 3 });
  const wrong = wrongTypes(schema);
  if (wrong.length) local.push({ arbitrary: fc.constantFrom(...wrong), weight: 2 });
  const structural: Array<fc.WeightedArbitrary<unknown>> = [];

  if (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof RawJson)) {
    const branches = schema.anyOf ?? schema.oneOf;
    const keys = [...new Set([...Object.keys(value), ...Object.keys(schema.properties ?? {}), ...(branches ?? []).flatMap((b) => Object.keys(b.properties ?? {}))])];
    if (keys.length) {
      structural.push({
        arbitrary: fc.constantFrom(...keys).chain((k) =>
          mutate(childSchema(schema, k), (value as Record<string, unknown>)[k], [...path, k], override).map((v) => withKey(value, k, v)),
        ),
        weight: 10,
      });
    }
    if (Object.keys(value).length) structural.push({ arbitrary: fc.constantFrom(...Object.keys(value)).map((k) => withKey(value, k, undefined)), weight: 2 });
    structural.push({
      arbitrary: fc.tuple(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 12 })), hostileValue).map(([k, v]) => withKey(value, k, v)),
      weight: 2,
    });
  } else if (Array.isArray(value)) {
    const items = schema.items ?? {};
    if (value.length) {
      structural.push({
        arbitrary: fc.nat({ max: value.length - 1 }).chain((i) => mutate(items, value[i], [...path, i], override).map((v) => value.map((x, j) => (j === i ? v : x)))),
        weight: 6,
      });
      structural.push({ arbitrary: fc.constant([...value, value[0]]), weight: 1 }); // a repeated entry
    }
    structural.push({ arbitrary: fc.array(hostileValue, { minLength: 1, maxLength: 3 }).map((extra) => [...value, ...extra]), weight: 2 });
    const max = schema.maxItems;
    if (max !== undefined) {
      structural.push({ arbitrary: validArbitrary(items, override, [...path, 0]).map((v) => Array.from({ length: max + 1 }, () => v)), weight: 1 });
    }
  }
  return fc.oneof(...structural, ...local);
}

/**
 * Inputs for a procedure: valid values, near-valid ones (one part broken, sometimes two) and hostile
 * ones, from the procedure's own input schema.
 */
export function inputArbitrary(schema: JsonSchema, override: Override = () => undefined, accepts?: (value: unknown) => boolean): fc.Arbitrary<unknown> {
  const fromSchema = validArbitrary(schema, override);
  // JSON Schema does not carry zod's refinements (start before end, kind-specific filters): of a few
  // candidates, the first the real schema accepts, so "valid" mostly is, and near-valid is one step off it.
  const valid = accepts ? fc.array(fromSchema, { minLength: 16, maxLength: 16 }).map((xs) => xs.find(accepts) ?? xs[0]) : fromSchema;
  const near = valid.chain((v) => mutate(schema, v, [], override));
  const nearTwice = near.chain((v) => mutate(schema, v, [], override));
  return fc.oneof(
    { arbitrary: valid, weight: 4 },
    { arbitrary: near, weight: 6 },
    { arbitrary: nearTwice, weight: 1 },
    { arbitrary: hostileValue, weight: 1 },
  );
}

/** The values that broke servers like this one before, tried on every leaf of a valid input in CI (not left to chance). */
export const CLASSIC_NUMBERS = [2 ** 31, 2 ** 53, 1e-320, 1e308, 1.5, -1];
export const CLASSIC_STRINGS = ["\u0000", "\ud800", "x".repeat(100_000)];
const ISO_INSTANT = /^[+-]?\d{4,6}-\d\d-\d\dT/;

/**
 * A valid input with one leaf (to depth 2) replaced by a classic hostile value: huge and tiny numbers,
 * NUL, a lone surrogate, a very long string, far dates where there is a date, and what `extra` adds
 * for a path (forged cursors, say); plus the input with prototype keys of its own.
 */
export function classicVariants(valid: Record<string, unknown>, extra: (path: string[]) => unknown[] = () => []): unknown[] {
  const out: unknown[] = [withKey(valid, "__proto__", { polluted: true }), withKey(valid, "constructor", { prototype: { polluted: true } })];
  const visit = (value: unknown, path: string[], replace: (v: unknown) => unknown) => {
    const candidates: unknown[] = [...extra(path)];
    if (typeof value === "number") candidates.push(...CLASSIC_NUMBERS);
    if (typeof value === "string") candidates.push(...CLASSIC_STRINGS, ...(ISO_INSTANT.test(value) ? FAR_DATES.slice(0, 5) : []));
    for (const c of candidates) out.push(replace(c));
    if (path.length < 2 && value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) visit(v, [...path, k], (nv) => replace(withKey(value, k, nv)));
    }
    if (path.length < 2 && Array.isArray(value) && value.length) visit(value[0], [...path, "0"], (nv) => replace([nv, ...value.slice(1)]));
  };
  for (const [k, v] of Object.entries(valid)) visit(v, [k], (nv) => withKey(valid, k, nv));
  return out;
}
