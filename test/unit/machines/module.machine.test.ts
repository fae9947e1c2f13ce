import { describe } from 'vitest';
import { moduleMachine } from '../../../machines/index.js';
import { resourceSuite } from './resourceSuite.js';

describe('module machine', () => {
  resourceSuite(
    'module',
    moduleMachine,
    { options: {}, config: { 'services.nginx.enable': true }, imports: [] },
    { options: { 'web.port': { type: 'port', default: 8080 } }, config: {}, imports: ['./base.nix'] },
  );
});
