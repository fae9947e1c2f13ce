/**
 * Every bad query of every query subject gets the right error code with the field named, an
 * error-topic record on `P.error.query.<agg>.<action>` with the original payload, and the
 * service keeps answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namedId } from '../../../src/domain/ids.js';
import { allQueries } from '../../../src/domain/queries.js';
import { startNatsServer, type NatsServer } from '../../support/natsServer.js';
import { startTestService, type TestService } from '../../support/service.js';
import { collect, type Collector } from '../../support/collect.js';
import { ATTR, cmd, moduleBody, ok, query, type Body } from './support.js';

let server: NatsServer;
let svc: TestService;
let errors: Collector;

beforeAll(async () => {
  server = await startNatsServer();
  svc = await startTestService(server);
  errors = await collect(svc.client, `${svc.prefix}.error.query.>`);
});

afterAll(async () => {
  errors?.stop();
  await svc?.stop();
  await server?.dispose();
});

/** A well-formed payload per query subject, and a field it cannot do without (when it has one). */
const valid: Record<string, { payload: Body; required?: string }> = {
  'flake.get': { payload: { path: 'a' }, required: 'path' },
  'flake.list': { payload: { limit: 5 } },
  'flake.get_inputs': { payload: { path: 'a' }, required: 'path' },
  'package.get': { payload: { flake_ref: 'path:a', attribute: ATTR }, required: 'attribute' },
  'package.list': { payload: { state: 'built' } },
  'package.status': { payload: { flake_ref: 'path:a', attribute: ATTR }, required: 'attribute' },
  'package.get_status': { payload: { flake_ref: 'path:a', attribute: ATTR }, required: 'attribute' },
  'module.get': { payload: { name: 'm' }, required: 'name' },
  'module.list': { payload: { state: 'active' } },
  'overlay.get': { payload: { name: 'o' }, required: 'name' },
  'overlay.list': { payload: {} },
  'config.get': { payload: { name: 'c' }, required: 'name' },
  'config.list': { payload: { state: 'created' } },
  'config.current': { payload: {} },
  'config.get_current': { payload: {} },
  'config.get_history': { payload: { name: 'c' }, required: 'name' },
};

const subjects = allQueries().map((q) => `${q.aggregate}.${q.action}`);

/** The error-topic record of a query sent with this exact payload text. */
async function recordOf(subject: string, text: string): Promise<Body> {
  const b64 = Buffer.from(text).toString('base64');
  const full = `${svc.prefix}.query.${subject}`;
  await expect.poll(() => errors.messages.find((m) => m.data['subject'] === full && m.data['payload_base64'] === b64)).toBeDefined();
  const rec = errors.messages.find((m) => m.data['subject'] === full && m.data['payload_base64'] === b64)!;
  expect(rec.subject).toBe(`${svc.prefix}.error.query.${subject}`);
  return rec.data;
}

describe('bad queries', () => {
  it('has a table row for every query subject', () => {
    expect(Object.keys(valid).sort()).toEqual([...subjects].sort());
  });

  for (const subject of subjects) {
    describe(subject, () => {
      it('rejects a payload that is not JSON as invalid_json, recorded with the payload', async () => {
        const text = `{not json ${subject}`;
        const reply = await query(svc, subject, text, { raw: true });
        expect(reply).toMatchObject({ status: 'error', code: 'invalid_json' });
        expect(String(reply['message'])).toMatch(/not valid JSON/);
        expect(await recordOf(subject, text)).toMatchObject({ code: 'invalid_json', payload_bytes: text.length });
      });

      it('rejects a JSON array as validation', async () => {
        const text = `[1, "${subject}"]`;
        const reply = await query(svc, subject, text, { raw: true });
        expect(reply).toMatchObject({
          status: 'error',
          code: 'validation',
          message: expect.stringMatching(/must be a JSON object, got an array/),
        });
        await recordOf(subject, text);
      });

      it('rejects an unknown field, naming it', async () => {
        const payload = { ...valid[subject]!.payload, colour: 'blue' };
        const reply = await query(svc, subject, payload);
        expect(reply).toMatchObject({ status: 'error', code: 'validation' });
        expect(String(reply['message'])).toMatch(/unknown field 'colour'/);
        expect(await recordOf(subject, JSON.stringify(payload))).toMatchObject({ code: 'validation', reason: reply['message'] });
      });

      it('rejects a field of the wrong type, naming it', async () => {
        const field = valid[subject]!.required ?? 'min_sequence';
        const payload = { ...valid[subject]!.payload, [field]: field === 'min_sequence' ? 'soon' : 12345 };
        const reply = await query(svc, subject, payload);
        expect(reply).toMatchObject({ status: 'error', code: 'validation' });
        expect(String(reply['message'])).toContain(field);
        expect((reply['details'] as { fields: string[] }).fields).toContain(field);
        await recordOf(subject, JSON.stringify(payload));
      });

      const required = valid[subject]!.required;
      if (required) {
        it(`rejects a payload without its address (${required}), naming it`, async () => {
          const reply = await query(svc, subject, '', { raw: true });
          expect(reply).toMatchObject({ status: 'error', code: 'validation' });
          expect(String(reply['message'])).toMatch(/required to name/);
          await recordOf(subject, '');
        });
      } else {
        it('answers an empty payload as an empty query', async () => {
          const reply = await query(svc, subject, '', { raw: true });
          // config.current has nothing current in this suite: not_found, with what to do.
          expect(reply['status'] === 'ok' || reply['code'] === 'not_found').toBe(true);
        });
      }
    });
  }
});

describe('bad paging and consistency fields', () => {
  beforeAll(async () => {
    for (const name of ['p1', 'p2', 'p3']) await cmd(svc, 'module.create', { name, module: moduleBody() });
  });

  it('rejects a limit out of range, naming it', async () => {
    for (const limit of [0, 1001, 2.5]) {
      const reply = await query(svc, 'module.list', { limit });
      expect(reply).toMatchObject({ status: 'error', code: 'validation', details: { fields: ['limit'] } });
    }
  });

  it('rejects a cursor that is not one of ours, and a cursor of another list', async () => {
    const garbage = await query(svc, 'module.list', { cursor: 'not-a-cursor' });
    expect(garbage).toMatchObject({ status: 'error', code: 'validation', details: { fields: ['cursor'] } });
    expect(String(garbage['message'])).toMatch(/next_cursor of the previous page/);
    const page = await ok(svc, 'module.list', { limit: 1 });
    const cursor = page['next_cursor'] as string;
    expect(typeof cursor).toBe('string');
    const foreign = await query(svc, 'overlay.list', { cursor });
    expect(foreign).toMatchObject({ status: 'error', code: 'validation' });
    expect(String(foreign['message'])).toMatch(/belongs to module\.list, not to overlay\.list/);
    await recordOf('overlay.list', JSON.stringify({ cursor }));
  });

  it('asks for aggregate_id when a list gets min_sequence alone', async () => {
    const reply = await query(svc, 'module.list', { min_sequence: 3 });
    expect(reply).toMatchObject({ status: 'error', code: 'validation', details: { fields: ['aggregate_id'] } });
    expect(String(reply['message'])).toMatch(/aggregate_id of the command reply/);
  });

  it('rejects a timeout_ms above the bound and a negative min_sequence', async () => {
    expect(await query(svc, 'module.get', { name: 'p1', timeout_ms: 60_000 })).toMatchObject({
      code: 'validation',
      details: { fields: ['timeout_ms'] },
    });
    expect(await query(svc, 'module.get', { name: 'p1', min_sequence: -1 })).toMatchObject({
      code: 'validation',
      details: { fields: ['min_sequence'] },
    });
  });

  it('rejects a state that does not exist, listing the ones that do', async () => {
    const reply = await query(svc, 'package.list', { state: 'exploded' });
    expect(reply).toMatchObject({ status: 'error', code: 'validation', details: { fields: ['state'] } });
    expect(String(reply['message'])).toMatch(/building/);
  });

  it('rejects a name and an ID that disagree', async () => {
    const reply = await query(svc, 'module.get', { name: 'p1', module_id: namedId('module', 'p2') });
    expect(reply).toMatchObject({ status: 'error', code: 'validation', details: { fields: ['module_id'] } });
  });

  it('rejects a payload over 64 KiB', async () => {
    const reply = await query(svc, 'module.list', { name_prefix: 'x'.repeat(70_000) });
    expect(reply).toMatchObject({ status: 'error', code: 'validation', message: expect.stringMatching(/limited to 65536 bytes/) });
  });
});

describe('unknown query subjects', () => {
  it('answers unknown_subject for an action no aggregate has, listing the queries, on the error topic', async () => {
    const reply = await query(svc, 'flake.explode', {});
    expect(reply).toMatchObject({ status: 'error', code: 'unknown_subject' });
    expect(String(reply['message'])).toContain(`${svc.prefix}.query.flake.get_inputs`);
    await expect.poll(() => errors.messages.find((m) => m.subject === `${svc.prefix}.error.query.flake.explode`)).toBeDefined();
  });

  it('answers unknown_subject for extra subject tokens and an unknown aggregate', async () => {
    expect(await query(svc, 'module.get.more', { name: 'p1' })).toMatchObject({ status: 'error', code: 'unknown_subject' });
    expect(await query(svc, 'widget.get', {})).toMatchObject({ status: 'error', code: 'unknown_subject' });
  });

  it('still answers good queries after all of this', async () => {
    expect((await ok(svc, 'module.get', { name: 'p1' }))['module']).toMatchObject({ name: 'p1' });
  });
});
