/**
 * Rules every JSON payload obeys before its schema is even looked at (SPEC §11: every user
 * string is hostile): at most {@link MAX_PAYLOAD_DEPTH} levels of nesting (deeper JSON would
 * overflow the stack of recursive validators), no `__proto__` key anywhere (it would be
 * dropped or rewrite a prototype, silently), and no NUL character in any key or string (no
 * Nix string, file name or program argument can hold one).
 */

/** The deepest nesting of objects and arrays a command or query may have. */
export const MAX_PAYLOAD_DEPTH = 64;

/** The first rule a payload breaks: the field (dotted path, `payload` for the root) and why. */
export interface ShapeProblem {
  field: string;
  message: string;
}

/** The field at `path` (plus `last`), as problems name it. */
function where(path: readonly (string | number)[], last?: string): string {
  const all = last === undefined ? path : [...path, last];
  if (all.length === 0) return 'payload';
  return all.length > 8 ? `${all.slice(0, 8).join('.')}.… (${all.length} levels)` : all.join('.');
}

/**
 * Checks a parsed JSON value; `undefined` when it obeys every rule. Recursive, but never
 * deeper than `maxDepth` + 1 calls, so a hostile depth cannot overflow the stack; the path
 * is one array pushed and popped on the way (built into a string only for a problem).
 * An object's keys are checked before any of its values is entered.
 */
export function checkPayloadShape(value: unknown, maxDepth = MAX_PAYLOAD_DEPTH): ShapeProblem | undefined {
  scratch.length = 0;
  return walk(value, 0, scratch, maxDepth);
}

/** The path of the walk in progress (the walk is synchronous: one at a time). */
const scratch: (string | number)[] = [];

function walk(v: unknown, depth: number, path: (string | number)[], maxDepth: number): ShapeProblem | undefined {
  if (typeof v === 'string') {
    return v.includes('\0') ? { field: where(path), message: 'contains a NUL character, which no Nix string, file name or argument can hold; remove it' } : undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  if (depth >= maxDepth) return { field: where(path), message: `nests deeper than ${maxDepth} levels of objects and arrays; flatten it` };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      const problem = walk(v[i], depth + 1, path, maxDepth);
      path.pop();
      if (problem) return problem;
    }
    return undefined;
  }
  const record = v as Record<string, unknown>;
  for (const key in record) {
    if (key === '__proto__') return { field: where(path, key), message: "'__proto__' is not allowed as a key; rename it" };
    if (key.includes('\0')) return { field: where(path), message: 'has a key with a NUL character; remove it' };
  }
  for (const key in record) {
    path.push(key);
    const problem = walk(record[key], depth + 1, path, maxDepth);
    path.pop();
    if (problem) return problem;
  }
  return undefined;
}
