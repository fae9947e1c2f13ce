import { describe } from 'vitest';
import { overlayMachine } from '../../../machines/index.js';
import { resourceSuite } from './resourceSuite.js';

describe('overlay machine', () => {
  resourceSuite(
    'overlay',
    overlayMachine,
    { overrides: { hello: { version: '2.12' } }, additions: {} },
    { overrides: {}, additions: { greeter: { src: './greeter' } } },
  );
});
