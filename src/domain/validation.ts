/**
 * Zod failures in words a person can act on, and the fields they name: shared by the
 * command and query intakes (the reply's `message` and `details.fields`) and the CLI
 * (which checks a payload before sending it).
 */
import type { ZodError } from 'zod';

type Issue = ZodError['issues'][number];

const dotted = (path: readonly PropertyKey[]): string => path.map(String).join('.');

/** Render a zod error as one sentence naming every failing field. */
export function describeZodError(error: ZodError): string {
  return error.issues
    .map((i) => {
      const where = i.path.length ? dotted(i.path) : 'payload';
      if (i.code === 'unrecognized_keys') {
        const within = i.path.length ? ` in ${where}` : '';
        return `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')}${within} (remove ${i.keys.length > 1 ? 'them' : 'it'})`;
      }
      if (i.code === 'invalid_type' && i.message.includes('received undefined')) return `${where}: is required`;
      return `${where}: ${i.message}`;
    })
    .join('; ');
}

/**
 * The dotted paths of the fields a zod error names, for `details.fields`: an unknown field
 * is named by its own path (`configuration.colour`), not by the object that holds it.
 */
export function zodFields(error: ZodError): string[] {
  const fields = error.issues.flatMap((i: Issue) =>
    i.code === 'unrecognized_keys' ? i.keys.map((k) => dotted([...i.path, k])) : [dotted(i.path)],
  );
  return [...new Set(fields)];
}
