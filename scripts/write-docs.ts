/**
 * `npm run docs`: writes the parts of README.md that are generated from the code (the
 * configuration table, from the settings table in src/config/settings.ts), between their
 * `<!-- generated:… -->` markers. test/unit/readme.test.ts fails when they are out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { generatedSections, replaceGenerated } from '../src/config/readmeSections.js';

const file = new URL('../README.md', import.meta.url);
const before = readFileSync(file, 'utf8');
const after = replaceGenerated(before, generatedSections());
if (after !== before) writeFileSync(file, after);
console.log(after === before ? 'README.md is up to date' : 'README.md: generated sections written');
