/**
 * The settings table for people: `--help` and the README's configuration table, both
 * generated from {@link SETTINGS} (test/unit/readme.test.ts keeps the README equal to
 * {@link settingsMarkdown}; `npm run docs` writes it).
 */
import { DEFAULT_CONFIG_FILE, SETTINGS, type Setting } from './settings.js';

const ROWS = Object.entries(SETTINGS) as Array<[string, Setting]>;

/** A default as the docs show it. */
function defaultText(s: Setting): string {
  if (s.defaultText !== undefined) return s.defaultText;
  if (s.default === undefined) return '–';
  return `\`${typeof s.default === 'string' ? s.default : JSON.stringify(s.default)}\``;
}

/** The usage text for `--help`. */
export function usage(): string {
  const lines = [
    'Usage: cim-domain-nix [--config <file>]',
    '',
    `Reads ${DEFAULT_CONFIG_FILE} from the working directory (or the --config file), then`,
    'environment variables, which win. Settings (file key / environment variable / form, then',
    'what it is and its default):',
    '',
  ];
  const plain = (text: string): string => text.replace(/`/g, '').replace(/\[([^\]]+)\]\(#[^)]+\)/g, '$1');
  for (const [path, s] of ROWS) {
    lines.push(`  ${(s.fileKey ?? path).padEnd(32)} ${s.env.padEnd(28)} ${s.expected}`);
    lines.push(`      ${plain(s.help)} (default: ${plain(defaultText(s))})`);
  }
  return lines.join('\n');
}

/** The README's configuration table (markdown). */
export function settingsMarkdown(): string {
  const lines = ['| file key | environment variable | default | what it is |', '|---|---|---|---|'];
  for (const [path, s] of ROWS) lines.push(`| \`${s.fileKey ?? path}\` | \`${s.env}\` | ${defaultText(s)} | ${s.help} |`);
  return lines.join('\n');
}

/** Settings as (key, variable, expected form), for docs and tests. */
export function describeSettings(): { key: string; env: string; expected: string }[] {
  return ROWS.map(([path, s]) => ({ key: s.fileKey ?? path, env: s.env, expected: s.expected }));
}
