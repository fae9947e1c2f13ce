/** Helpers of the query tests: commands that must succeed, queries, pages walked to the end. */
import { expect } from 'vitest';
import { request } from '../../support/collect.js';
import type { TestService } from '../../support/service.js';

export type Body = Record<string, unknown>;

export interface Ok extends Body {
  status: 'ok';
  aggregate_id: string;
  version: number;
}

/** Send a command and insist on `ok`. */
export async function cmd(svc: TestService, subject: string, payload: Body, timeout = 120_000): Promise<Ok> {
  const reply = await request(svc.client, `${svc.prefix}.cmd.${subject}`, payload, { timeout });
  if (reply.data['status'] !== 'ok') throw new Error(`${subject} failed: ${JSON.stringify(reply.data)}`);
  return reply.data as Ok;
}

/** Send a query; the reply body. */
export async function query(
  svc: TestService,
  subject: string,
  payload: Body | string = {},
  options: { raw?: boolean; timeout?: number } = {},
): Promise<Body> {
  const reply = await request(svc.client, `${svc.prefix}.query.${subject}`, payload, {
    ...(options.raw ? { raw: true } : {}),
    timeout: options.timeout ?? 10_000,
  });
  return reply.data;
}

/** A query that must answer ok. */
export async function ok(svc: TestService, subject: string, payload: Body = {}): Promise<Body> {
  const body = await query(svc, subject, payload);
  expect(body, `${subject} ${JSON.stringify(payload)}`).toMatchObject({ status: 'ok' });
  return body;
}

/** Every page of a list (or history) query, following next_cursor; also the pages' sizes. */
export async function allPages(
  svc: TestService,
  subject: string,
  payload: Body,
  field = 'items',
): Promise<{ items: Body[]; pages: number[] }> {
  const items: Body[] = [];
  const pages: number[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 1_000; i++) {
    const body: Body = await ok(svc, subject, cursor ? { ...payload, cursor } : payload);
    const page = body[field] as Body[];
    items.push(...page);
    pages.push(page.length);
    cursor = body['next_cursor'] as string | null;
    if (cursor === null) return { items, pages };
  }
  throw new Error(`${subject}: more than 1,000 pages`);
}

export const ATTR = 'packages.x86_64-linux.default';

export const moduleBody = (port = 80) => ({ options: {}, config: { 'networking.firewall.allowedTCPPorts': [port] }, imports: [] });
export const overlayBody = (v = '1') => ({ overrides: { hello: { version: v } }, additions: {} });
export const configuration = (hostname: string, packages: string[] = []) => ({
  system: 'x86_64-linux',
  hostname,
  modules: [],
  overlays: [],
  packages,
  specialisations: {},
});
