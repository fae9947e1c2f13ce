/**
 * Natural keys written one way (SPEC §11: one directory, one aggregate): flake paths,
 * `path:` references and attribute paths are normalised before an aggregate id is derived
 * from them. Pure string work (no file system), so every instance derives the same id.
 */

/** `a/./b//c/../d` → `a/b/d`; keeps a leading `/`; `..` above a relative start is kept. */
function normalisePosix(path: string): string {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..' && out.length > 0 && out.at(-1) !== '..') out.pop();
    else if (segment === '..' && absolute) continue;
    else out.push(segment);
  }
  const joined = out.join('/');
  return absolute ? `/${joined}` : joined;
}

/**
 * A flake path as one key: `./a/b/`, `a//b`, `a/./b`, `a/b` and (given the workspace root)
 * `<workspace>/a/b` are `a/b`; the root itself is `.`. A path outside the workspace stays
 * absolute (the intake refuses it).
 */
export function normaliseFlakePath(path: string, workspace?: string): string {
  let p = normalisePosix(path.replace(/\\/g, '/'));
  if (workspace !== undefined && p.startsWith('/')) {
    const root = normalisePosix(workspace.replace(/\\/g, '/'));
    if (p === root) p = '';
    else if (p.startsWith(`${root}/`)) p = p.slice(root.length + 1);
  }
  return p === '' ? '.' : p;
}

/**
 * A flake reference as one key: the path of a `path:` reference as a flake path
 * (`path:./a/` and `path:<workspace>/a` are `path:a`), its query kept; other references as
 * given, trimmed.
 */
export function normaliseFlakeRef(ref: string, workspace?: string): string {
  const r = ref.trim();
  if (!r.startsWith('path:')) return r;
  const rest = r.slice('path:'.length);
  const q = rest.search(/[?#]/);
  const [pathPart, suffix] = q < 0 ? [rest, ''] : [rest.slice(0, q), rest.slice(q)];
  if (pathPart === '') return r;
  return `path:${normaliseFlakePath(pathPart, workspace)}${suffix}`;
}

const BARE_SEGMENT = /^[A-Za-z_][A-Za-z0-9_'-]*$/;
const KEYWORDS = new Set(['if', 'then', 'else', 'assert', 'with', 'let', 'in', 'rec', 'inherit', 'or']);

/** `packages."x86_64-linux".default` is `packages.x86_64-linux.default`: quotes only where needed. */
export function normaliseAttribute(attribute: string): string {
  if (!attribute.includes('"')) return attribute;
  const segments = attribute.match(/"[^"\\]*"|[^.]+/g) ?? [];
  return segments
    .map((s) => {
      if (!s.startsWith('"')) return s;
      const inner = s.slice(1, -1);
      return BARE_SEGMENT.test(inner) && !KEYWORDS.has(inner) ? inner : s;
    })
    .join('.');
}
