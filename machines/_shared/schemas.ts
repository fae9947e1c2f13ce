import { z } from 'zod';

/** Deeper than this a value is refused (accepted payloads nest at most 64 levels anyway). */
const MAX_JSON_DEPTH = 256;

/** A string, finite number, boolean, null, or an array or plain object of such values. */
export function isJsonValue(v: unknown, depth = 0): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object': {
      if (v === null) return true;
      if (depth >= MAX_JSON_DEPTH) return false;
      if (Array.isArray(v)) {
        for (const item of v) if (!isJsonValue(item, depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      const record = v as Record<string, unknown>;
      for (const key in record) if (!isJsonValue(record[key], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/**
 * A JSON value, as carried inside module options, overlay overrides and the like: one walk
 * of the value. (A union of string, number, boolean, null, array and record schemas tried
 * each branch for each value, about 1 KB of garbage per value on every command.) As JSON
 * Schema it is any value, which is what the CLI made of the union's `$ref` too.
 */
export const JsonValue: z.ZodType<unknown> = z.custom<unknown>((v) => isJsonValue(v), {
  message: 'must be a JSON value: a string, a finite number, true, false, null, or an array or object of such values',
});

/** An attribute name usable as a Nix identifier or a flake input name. */
export const NixName = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z_][A-Za-z0-9_'-]*$/, "must start with a letter or '_' and contain only letters, digits, '_', '-' or \"'\"")
  // Names become keys of plain objects (a flake's inputs): `__proto__` would rewrite a prototype.
  .refine((v) => v !== '__proto__', "must not be '__proto__'");

/** A name of a module, overlay or configuration: also a file name under the workspace. */
export const ResourceName = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must start with a letter or digit and contain only letters, digits, '.', '_' or '-'");

/** The longest file name (one path segment) Linux file systems accept, in bytes. */
export const MAX_SEGMENT_BYTES = 255;
/** The longest workspace path a command may name (a flake path, an out-link), in bytes. */
export const MAX_PATH_BYTES = 1024;
/** The longest flake reference, input URL or cache URL, in bytes. */
export const MAX_URL_BYTES = 2048;

const utf8 = new TextEncoder();

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The rules of every string the service hands to a program (nix, git, nixos-rebuild) or the
 * file system: it is never read as an option (no leading `-`), holds no control character
 * (NUL, `\n`, `\r`, tab …) and is well-formed Unicode, and it fits the file system (no `/`
 * segment over {@link MAX_SEGMENT_BYTES} bytes, the whole at most `maxBytes`).
 */
function programArgument(maxBytes: number, noun: string): z.ZodString {
  return z.string().superRefine((value, ctx) => {
    const fail = (message: string): void => void ctx.addIssue({ code: 'custom', message });
    if (value.length === 0) return fail('must not be empty');
    if (value.startsWith('-')) return fail(`must not start with '-' (a program would read it as an option); write the ${noun} without it`);
    if (CONTROL.test(value)) return fail('must not contain control characters (NUL, tab, newline, carriage return …)');
    if (LONE_SURROGATE.test(value)) return fail('must be well-formed Unicode (it holds a lone surrogate)');
    const bytes = utf8.encode(value).length;
    if (bytes > maxBytes) return fail(`is ${bytes} bytes long; a ${noun} is limited to ${maxBytes} bytes`);
    const longest = Math.max(...value.split('/').map((segment) => utf8.encode(segment).length));
    if (longest > MAX_SEGMENT_BYTES) {
      return fail(`has a segment of ${longest} bytes; a file name is limited to ${MAX_SEGMENT_BYTES} bytes (shorten it)`);
    }
  });
}

/**
 * A path inside the workspace that is never handed to nix as a flake (an out-link): any
 * characters but control characters, no leading `-`, segments and length that fit the file
 * system. Confinement and reserved names are checked against the workspace at intake.
 */
export const WorkspacePathText = programArgument(MAX_PATH_BYTES, 'path');

/**
 * A flake directory, relative to the workspace (or absolute inside it). Nix reads a flake
 * path as a URL — `?` starts a query, `#` an attribute, `%` an escape, and white space or
 * anything outside its path alphabet makes it no URL at all — so a flake path holds only
 * letters, digits, `.`, `_`, `+`, `-` and `/`.
 */
export const FlakePath = programArgument(MAX_PATH_BYTES, 'path').regex(
  /^[A-Za-z0-9._+/-]+$/,
  "may hold only letters, digits, '.', '_', '+', '-' and '/' (nix would read '?', '#', '%', spaces and other characters as URL syntax)",
);

/** A flake URL or reference (`path:./x`, `github:o/r`, `git+file:///…`): no white space, no `#` fragment. */
export const FlakeUrl = programArgument(MAX_URL_BYTES, 'reference')
  .regex(/^\S+$/, 'must not contain white space')
  .regex(/^[^#]+$/, "must not contain '#' (nix reads what follows it as an attribute; give the attribute separately)");

/** A binary cache URL from a command; which schemes and places are allowed is checked at intake. */
export const CacheUrl = programArgument(MAX_URL_BYTES, 'cache URL')
  .regex(/^\S+$/, 'must not contain white space')
  .regex(/^[^#]+$/, "must not contain '#'");

/** The target of an input's `follows`: input names separated by `/` (`nixpkgs`, `dep/nixpkgs`). */
export const FollowsTarget = z
  .string()
  .max(512, 'must be at most 512 characters')
  .regex(
    /^[A-Za-z_][A-Za-z0-9_'-]*(?:\/[A-Za-z_][A-Za-z0-9_'-]*)*$/,
    "must be input names separated by '/', such as nixpkgs or dep/nixpkgs",
  );
