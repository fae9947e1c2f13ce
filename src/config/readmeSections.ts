/**
 * The README sections generated from the code, and how they sit in the README: between
 * `<!-- generated:<name> -->` and `<!-- /generated:<name> -->`.
 */
import { settingsMarkdown } from './docs.js';

/** Every generated section, by name. */
export function generatedSections(): Record<string, string> {
  return { settings: settingsMarkdown() };
}

const marker = (name: string): [string, string] => [`<!-- generated:${name} -->`, `<!-- /generated:${name} -->`];

/** The text between a section's markers (undefined when the markers are missing). */
export function generatedText(readme: string, name: string): string | undefined {
  const [open, close] = marker(name);
  const start = readme.indexOf(open);
  const end = readme.indexOf(close);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + open.length, end).trim();
}

/** The README with every section's text replaced by `sections`. */
export function replaceGenerated(readme: string, sections: Record<string, string>): string {
  let out = readme;
  for (const [name, text] of Object.entries(sections)) {
    const [open, close] = marker(name);
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start < 0 || end < start) throw new Error(`README.md has no ${open} … ${close} markers`);
    out = `${out.slice(0, start + open.length)}\n${text}\n${out.slice(end)}`;
  }
  return out;
}
