/**
 * The README follows the code: every command, query, event type and setting the code knows
 * is documented, and the README opens with the two commands.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registry } from '../../machines/index.js';
import { commandSpecs } from '../../src/domain/commands.js';
import { allQueries } from '../../src/domain/queries.js';
import { describeSettings } from '../../src/config.js';
import { generatedSections, generatedText } from '../../src/config/readmeSections.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('opens with the two commands that run the service and every test', () => {
    const firstBlock = readme.slice(readme.indexOf('```sh'), readme.indexOf('```', readme.indexOf('```sh') + 5));
    expect(firstBlock).toMatch(/^```sh\nnpm start .*\nnpm test /m);
    expect(readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8')).toMatch(/^npm test$/m);
  });

  it('documents every command subject', () => {
    const missing = [...commandSpecs.values()].filter((s) => !readme.includes(`\`${s.type}\``)).map((s) => s.type);
    expect(missing).toEqual([]);
  });

  it('documents every query subject', () => {
    const missing = allQueries().filter((q) => !readme.includes(`\`${q.action}\``));
    expect(missing).toEqual([]);
  });

  it('documents every event type with its subject', () => {
    const missing: string[] = [];
    for (const def of Object.values(registry)) {
      for (const [fact, info] of Object.entries(def.facts)) {
        if (!readme.includes(`| \`${info.event_type}\` | \`P.event.${fact}\` |`)) missing.push(info.event_type);
      }
    }
    expect(missing).toEqual([]);
  });

  it('holds the configuration table generated from the settings table (npm run docs writes it)', () => {
    for (const [name, text] of Object.entries(generatedSections())) {
      expect(generatedText(readme, name), `README section ${name}: run npm run docs`).toBe(text);
    }
  });

  it('documents every setting by its environment variable', () => {
    const missing = describeSettings().filter((s) => !readme.includes(`\`${s.env}\``)).map((s) => s.env);
    expect(missing).toEqual([]);
  });
});
