/**
 * A fast check of a stored event's payload, compiled from its fact's zod schema: the
 * top-level fields' JSON types, required or optional, and enum values. The read models run
 * it on every event of a catch-up, where a full zod parse of every payload costs more than
 * the rest of the work together; the events were validated when they were decided, so the
 * check only has to keep a malformed or foreign event from being applied half.
 */
import type { ZodType } from 'zod';

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'any';

interface FieldCheck {
  name: string;
  kind: Kind;
  optional: boolean;
  values?: ReadonlySet<unknown>;
}

interface Def {
  type: string;
  innerType?: ZodType;
  shape?: Record<string, ZodType>;
  entries?: Record<string, unknown>;
  values?: unknown[];
}

const defOf = (s: ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

function field(name: string, schema: ZodType): FieldCheck {
  let s = schema;
  let optional = false;
  for (let d = defOf(s); ; d = defOf(s)) {
    if ((d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'prefault') && d.innerType) {
      optional = true;
      s = d.innerType;
      continue;
    }
    switch (d.type) {
      case 'string':
        return { name, kind: 'string', optional };
      case 'number':
      case 'int':
        return { name, kind: 'number', optional };
      case 'boolean':
        return { name, kind: 'boolean', optional };
      case 'object':
      case 'record':
        return { name, kind: 'object', optional };
      case 'array':
        return { name, kind: 'array', optional };
      case 'enum':
        return { name, kind: 'string', optional, values: new Set(Object.values(d.entries ?? {})) };
      case 'literal':
        return { name, kind: 'any', optional, values: new Set(d.values ?? []) };
      default:
        return { name, kind: 'any', optional };
    }
  }
}

function matches(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'any':
      return true;
  }
}

/** A predicate for payloads of `schema` (an object schema; anything else falls back to a full parse). */
export function compileFactCheck(schema: ZodType): (payload: Record<string, unknown>) => boolean {
  const d = defOf(schema);
  if (d.type !== 'object' || !d.shape) return (p) => schema.safeParse(p).success;
  const fields = Object.entries(d.shape).map(([name, s]) => field(name, s));
  return (p) => {
    for (const f of fields) {
      const v = p[f.name];
      if (v === undefined) {
        if (f.optional) continue;
        return false;
      }
      if (!matches(f.kind, v) || (f.values !== undefined && !f.values.has(v))) return false;
    }
    return true;
  };
}
