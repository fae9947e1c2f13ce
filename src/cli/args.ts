/**
 * Command-line parsing: global options (connection, output) wherever they appear, the
 * positional words, and `--field value` pairs turned into a payload guided by the target
 * schema (as JSON Schema), so `--limit 10` is a number, `--description 123` stays a string,
 * `--inputs dep` becomes `["dep"]` for an array field, and `--inputs.nixpkgs github:…`
 * fills an object.
 */
import { z } from 'zod';
import { UsageError } from '../errors.js';

/** Options every subcommand understands. */
export interface GlobalOptions {
  config?: string;
  server?: string;
  prefix?: string;
  user?: string;
  password?: string;
  token?: string;
  creds?: string;
  timeout?: number;
  json: boolean;
  help: boolean;
}

export interface ParsedArgs {
  global: GlobalOptions;
  /** Words that are not options. */
  positional: string[];
  /** `--name value` pairs other than the global options, in order (repeats kept). */
  fields: Array<[string, string | undefined]>;
}

const GLOBAL_WITH_VALUE: Record<string, keyof GlobalOptions> = {
  '--config': 'config',
  '-c': 'config',
  '--server': 'server',
  '-s': 'server',
  '--prefix': 'prefix',
  '--user': 'user',
  '--password': 'password',
  '--token': 'token',
  '--creds': 'creds',
  '--timeout': 'timeout',
};

/**
 * Split argv into global options, positional words and field pairs. `names` lists the
 * subcommand's own flags that take no value (`--all`, `--errors`).
 */
export function parseArgs(argv: readonly string[], switches: readonly string[] = []): ParsedArgs {
  const global: GlobalOptions = { json: false, help: false };
  const positional: string[] = [];
  const fields: Array<[string, string | undefined]> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      global.help = true;
      continue;
    }
    if (arg === '--json') {
      global.json = true;
      continue;
    }
    if (!arg.startsWith('--') && !(arg in GLOBAL_WITH_VALUE)) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (value === undefined && !switches.includes(flag)) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      }
    }
    const globalKey = GLOBAL_WITH_VALUE[flag];
    if (globalKey) {
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      if (globalKey === 'timeout') {
        const ms = Number(value);
        if (!Number.isInteger(ms) || ms <= 0)
          throw new UsageError(`--timeout must be a whole number of milliseconds, got ${JSON.stringify(value)}`);
        global.timeout = ms;
      } else {
        (global as unknown as Record<string, string>)[globalKey] = value;
      }
      continue;
    }
    fields.push([flag.slice(2), value]);
  }
  return { global, positional, fields };
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  required?: string[];
  minimum?: number;
  maximum?: number;
};

/** A zod schema as JSON Schema (for field conversion and help). */
export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

function childSchema(s: JsonSchema | undefined, key: string): JsonSchema | undefined {
  if (!s) return undefined;
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) {
    for (const alt of alternatives) {
      const c = childSchema(alt, key);
      if (c) return c;
    }
    return undefined;
  }
  if (s.properties?.[key]) return s.properties[key];
  return typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
}

const types = (s: JsonSchema): string[] => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);

/** A JSON literal, or the text itself when it is not one. */
function guess(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** Convert the raw text(s) of one flag to the value its schema wants. */
function convert(raw: string[], s: JsonSchema | undefined): unknown {
  const one = raw.length === 1 ? raw[0]! : undefined;
  if (!s) return one !== undefined ? guess(one) : raw.map(guess);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) {
    // Repeated flags pick the array alternative; a single one the first scalar one.
    const arrayAlt = alternatives.find((a) => types(a).includes('array'));
    const scalarAlt = alternatives.find((a) => !types(a).includes('array'));
    if (one === undefined || (one.startsWith('[') && arrayAlt)) return convert(raw, arrayAlt ?? scalarAlt);
    return convert(raw, scalarAlt ?? arrayAlt);
  }
  const t = types(s);
  if (t.includes('array')) {
    if (one !== undefined && one.startsWith('[')) return guess(one);
    return raw.map((r) => convert([r], s.items));
  }
  if (one === undefined) return raw.map((r) => convert([r], s));
  if (t.includes('string') || s.enum) return one;
  if (t.includes('integer') || t.includes('number')) return /^-?\d+(\.\d+)?$/.test(one.trim()) ? Number(one) : one;
  if (t.includes('boolean')) return one === 'true' ? true : one === 'false' ? false : one;
  return guess(one);
}

/**
 * Build a payload from a JSON object (the positional argument, if any) and field flags,
 * converting each flag by the schema. A flag without a value is `true`.
 */
export function buildPayload(
  base: Record<string, unknown>,
  fields: Array<[string, string | undefined]>,
  schema: JsonSchema,
): Record<string, unknown> {
  const payload: Record<string, unknown> = structuredClone(base);
  const grouped = new Map<string, string[]>();
  for (const [name, value] of fields) {
    const list = grouped.get(name) ?? [];
    list.push(value ?? 'true');
    grouped.set(name, list);
  }
  for (const [name, raw] of grouped) {
    const [first, ...rest] = name.split('.');
    // `--flake-ref` is `flake_ref`; later segments (input names) are kept as written.
    const path = [first!.replace(/-/g, '_'), ...rest];
    let target = payload;
    let s: JsonSchema | undefined = schema;
    for (const key of path.slice(0, -1)) {
      s = childSchema(s, key);
      const next = target[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    const last = path.at(-1)!;
    target[last] = convert(raw, childSchema(s, last));
  }
  return payload;
}

/** Read the optional positional JSON object (`-` reads it from stdin). */
export async function jsonArgument(text: string | undefined, stdin: () => Promise<string>): Promise<Record<string, unknown>> {
  if (text === undefined) return {};
  const source = text === '-' ? await stdin() : text;
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (e) {
    throw new UsageError(
      `the JSON argument is not valid JSON (${e instanceof Error ? e.message : String(e)}): quote it, e.g. '{"name":"web"}'`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError('the JSON argument must be an object, e.g. \'{"name":"web"}\'');
  return value as Record<string, unknown>;
}

/** One line per field of a schema: name, type, required, default, allowed values. */
export function describeFields(schema: JsonSchema, skip: readonly string[] = ['identity']): string[] {
  const required = new Set(schema.required ?? []);
  const lines: string[] = [];
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    if (skip.includes(name)) continue;
    lines.push(
      `  --${name.padEnd(16)} ${describeType(field)}${required.has(name) ? ' (required)' : ''}${field.default !== undefined ? ` (default ${JSON.stringify(field.default)})` : ''}`,
    );
  }
  return lines;
}

function describeType(s: JsonSchema): string {
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) {
    const scalar = alternatives.find((a) => !types(a).includes('array'));
    const list = alternatives.find((a) => types(a).includes('array'));
    // `x` or a list of `x`: one flag, or the flag repeated.
    if (scalar && list && JSON.stringify(list.items) === JSON.stringify(scalar))
      return `${describeType(scalar)} (repeat the flag for several)`;
    return alternatives.map(describeType).join(' | ');
  }
  if (s.enum) return s.enum.map((v) => String(v)).join('|');
  const t = types(s);
  if (t.includes('array')) return `${s.items ? describeType(s.items) : 'value'}… (repeat the flag)`;
  if (t.includes('object')) {
    if (s.properties) return `object {${Object.keys(s.properties).join(', ')}} (JSON, or --field.key value)`;
    return 'object (JSON, or --field.<key> value)';
  }
  if (t.includes('integer')) return s.maximum !== undefined && s.maximum < 1e15 ? `integer ${s.minimum ?? ''}..${s.maximum}` : 'integer';
  return t.join('|') || 'JSON value';
}

export { UsageError } from '../errors.js';
