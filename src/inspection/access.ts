/**
 * Who may use the inspector's HTTP endpoint. With a token (required off loopback), every
 * data request carries `Authorization: Bearer <token>`, compared in constant time. Without
 * one (loopback only), requests must name this machine in their `Host` header, so a web
 * page elsewhere cannot read the endpoint through a DNS name rebound to 127.0.0.1.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Does the `Authorization` header carry `Bearer <token>`? Constant time in the token's content and length. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  // Hash both sides: equal-length buffers, so timingSafeEqual never throws nor leaks the length.
  const same = timingSafeEqual(digest(m?.[1] ?? ''), digest(token));
  return m !== null && same;
}

/** Host headers a loopback endpoint on `port` answers to. */
export function loopbackHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

export type Access = { ok: true } | { ok: false; status: 401 | 421; message: string };

/** The access decision for one request. */
export function checkAccess(headers: IncomingHttpHeaders, rule: { token: string | undefined; hosts: Set<string> }): Access {
  if (rule.token !== undefined) {
    return bearerMatches(headers.authorization, rule.token)
      ? { ok: true }
      : {
          ok: false,
          status: 401,
          message:
            'this inspector needs its token: send Authorization: Bearer <INSPECTOR_TOKEN> (the page takes it from #token=… in its URL)',
        };
  }
  const host = (headers.host ?? '').toLowerCase();
  return rule.hosts.has(host)
    ? { ok: true }
    : {
        ok: false,
        status: 421,
        message: `this inspector answers on loopback only; open it as http://127.0.0.1:<port>/ (got Host ${JSON.stringify(host)})`,
      };
}
