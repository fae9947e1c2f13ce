/** `watch [pattern]`: domain events and build progress as they happen, one line each. */
import type { Msg, Subscription } from '@nats-io/transport-node';
import { UsageError } from '../args.js';
import { ExitCode, openClient } from '../client.js';
import { renderEvent, renderProgress, renderRejection } from '../format.js';
import { EXIT_HELP, GLOBAL_HELP, type Subcommand } from '../io.js';

const TOKEN_PATTERN = /^([A-Za-z0-9_-]+|\*|>)(\.([A-Za-z0-9_-]+|\*|>))*$/;

export const watch: Subcommand = {
  summary: 'follow events and build progress live (Ctrl-C to stop)',
  switches: ['--errors', '--no-progress'],
  help: () =>
    [
      'Usage: cim-domain-nix watch [pattern] [--errors] [--no-progress] [--count N]',
      '',
      'Prints every domain event on nix.event.<pattern> and every build progress line on',
      'nix.progress.<pattern> as it happens. The pattern is in subject form after the kind: package.>,',
      'flake.created, *.deleted (default >). A pattern starting with the prefix is used as given.',
      '  --errors        also rejected commands and queries (nix.error.<pattern>)',
      '  --no-progress   events only',
      '  --count N       stop after N messages',
      '  --json          one JSON line per message: { kind, subject, headers, data }',
      '',
      GLOBAL_HELP,
      '',
      EXIT_HELP,
    ].join('\n'),
  async run(args, io) {
    if (args.global.help) {
      io.out(this.help());
      return ExitCode.ok;
    }
    const switches = new Set(args.fields.filter(([, v]) => v === undefined).map(([f]) => f));
    const countRaw = args.fields.find(([f]) => f === 'count')?.[1];
    const unknown = args.fields.filter(([f]) => !['errors', 'no-progress', 'count'].includes(f)).map(([f]) => `--${f}`);
    if (unknown.length) throw new UsageError(`unknown option ${unknown.join(', ')} (see watch --help)`);
    const count = countRaw === undefined ? undefined : Number(countRaw);
    if (count !== undefined && (!Number.isInteger(count) || count <= 0))
      throw new UsageError(`--count must be a positive whole number, got ${JSON.stringify(countRaw)}`);
    if (args.positional.length > 1) throw new UsageError(`give one pattern, got ${args.positional.join(' ')}`);
    const pattern = args.positional[0] ?? '>';
    if (!TOKEN_PATTERN.test(pattern))
      throw new UsageError(`'${pattern}' is not a subject pattern: dot-separated tokens, * or > (e.g. package.>)`);

    const client = await openClient(args.global, io.env);
    const p = client.subjects.prefix;
    const given = pattern.startsWith(`${p}.`);
    const kinds: Array<['event' | 'progress' | 'error', string]> = given
      ? [['event', pattern]]
      : [
          ['event', client.subjects.within('event', pattern)],
          ...(switches.has('no-progress') ? [] : [['progress', client.subjects.within('progress', pattern)] as ['progress', string]]),
          ...(switches.has('errors') ? [['error', client.subjects.within('error', pattern)] as ['error', string]] : []),
        ];
    let seen = 0;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const show = (kind: 'event' | 'progress' | 'error', msg: Msg): void => {
      let data: Record<string, unknown>;
      try {
        data = msg.json<Record<string, unknown>>();
      } catch {
        data = { raw: msg.string() };
      }
      const family = client.subjects.parse(msg.subject)?.kind;
      const kindOf = given ? (family === 'progress' || family === 'error' ? family : 'event') : kind;
      if (args.global.json) {
        const headers: Record<string, string> = {};
        if (msg.headers) for (const [k, v] of msg.headers) headers[k] = v[0] ?? '';
        io.out(JSON.stringify({ kind: kindOf, subject: msg.subject, headers, data }));
      } else {
        io.out(kindOf === 'progress' ? renderProgress(data) : kindOf === 'error' ? renderRejection(data) : renderEvent(data));
      }
      seen++;
      if (count !== undefined && seen >= count) finish();
    };
    const subs: Subscription[] = kinds.map(([kind, subject]) =>
      client.nc.subscribe(subject, { callback: (err, msg) => (err ? finish() : show(kind, msg)) }),
    );
    await client.nc.flush();
    io.err(`watching ${kinds.map(([, s]) => s).join(', ')}${count !== undefined ? ` for ${count} messages` : ''} (Ctrl-C to stop)`);
    const onAbort = (): void => finish();
    io.signal.addEventListener('abort', onAbort, { once: true });
    void client.nc.closed().then(() => finish());
    await done;
    io.signal.removeEventListener('abort', onAbort);
    for (const s of subs) s.unsubscribe();
    await client.close();
    return ExitCode.ok;
  },
};
