/** `query <query>`: a query validated with its wire schema, sent, and its answer printed (every page with --all). */
import { allQueries, canonicalQuery, type QueryDef } from '../../domain/queries.js';
import { describeZodError } from '../../domain/validation.js';
import { UsageError, buildPayload, describeFields, jsonArgument, jsonSchemaOf } from '../args.js';
import { CliError, ExitCode, withClient, requestJson } from '../client.js';
import { renderErrorReply, renderQueryReply } from '../format.js';
import { EXIT_HELP, GLOBAL_HELP, type Subcommand } from '../io.js';

const names = (): string =>
  allQueries()
    .map((q) => `${q.aggregate}.${q.action}`)
    .join(', ');

function queryOf(words: readonly string[]): { def: QueryDef; subject: [string, string]; rest: string[] } {
  const [first, second, ...others] = words;
  if (first === undefined) throw new UsageError(`name the query, e.g. query flake.list; queries: ${names()}`);
  const [agg, action] = first.split('.', 2);
  if (action !== undefined) {
    const def = canonicalQuery(agg!, action);
    if (def) return { def, subject: [agg!, action], rest: second === undefined ? others : [second, ...others] };
  } else if (second !== undefined) {
    const def = canonicalQuery(first, second);
    if (def) return { def, subject: [first, second], rest: others };
  }
  throw new UsageError(`unknown query '${first}'; queries: ${names()}`);
}

export const query: Subcommand = {
  summary: 'ask a read model (get, list, status, current, history) and print the answer',
  switches: ['--all'],
  help: () =>
    [
      'Usage: cim-domain-nix query <aggregate.action> [JSON | -] [--field value ...] [--all]',
      '',
      'Sends one query to nix.query.<aggregate>.<action> and prints the answer: a record, or a table',
      'for lists. Lists take --limit and --cursor; --all follows next_cursor through every page.',
      'Read your own write: --min_sequence <version from the command reply> (lists: plus --aggregate_id).',
      '',
      `Queries: ${names()}`,
      'Fields of one query: cim-domain-nix query <query> --help',
      '',
      'Examples:',
      '  cim-domain-nix query flake.get --path hello',
      '  cim-domain-nix query package.status --flake_ref path:hello --attribute packages.x86_64-linux.default',
      '  cim-domain-nix query package.list --state failed --state building --all',
      '  cim-domain-nix query config.current',
      '',
      GLOBAL_HELP,
      '',
      EXIT_HELP,
    ].join('\n'),
  async run(args, io) {
    if (args.global.help && args.positional.length === 0) {
      io.out(this.help());
      return ExitCode.ok;
    }
    const { def, subject, rest } = queryOf(args.positional);
    const { name, schema } = def;
    const all = args.fields.some(([f]) => f === 'all');
    const fields = args.fields.filter(([f]) => f !== 'all');
    if (args.global.help) {
      io.out(
        [
          `Usage: cim-domain-nix query ${subject.join('.')} [JSON | -] [--field value ...]${'cursor' in jsonSchemaOf(schema).properties! ? ' [--all]' : ''}`,
          '',
          `Fields of ${name}:`,
          ...describeFields(jsonSchemaOf(schema)),
        ].join('\n'),
      );
      return ExitCode.ok;
    }
    if (rest.length > 1)
      throw new UsageError(`unexpected arguments ${rest.slice(1).join(' ')}: give fields as --name value, or one JSON object`);
    const payload = buildPayload(await jsonArgument(rest[0], io.stdin), fields, jsonSchemaOf(schema));
    const checked = schema.safeParse(payload);
    if (!checked.success)
      throw new CliError(`${name}: ${describeZodError(checked.error)} (nothing was sent; see query ${name} --help)`, ExitCode.usage);

    return withClient(args.global, io.env, async (client) => {
      const timeout = args.global.timeout ?? 10_000;
      const to = client.subjects.query(subject[0], subject[1]);
      let reply = await requestJson(client, to, payload, timeout);
      if (all && reply['status'] === 'ok') {
        const field = Array.isArray(reply['history']) ? 'history' : 'items';
        const items = [...((reply[field] as unknown[] | undefined) ?? [])];
        for (let page = 0; typeof reply['next_cursor'] === 'string' && page < 100_000; page++) {
          const next = await requestJson(client, to, { ...payload, cursor: reply['next_cursor'] }, timeout);
          if (next['status'] !== 'ok') {
            reply = next;
            break;
          }
          items.push(...((next[field] as unknown[] | undefined) ?? []));
          reply = { ...next, [field]: items };
        }
      }
      if (reply['status'] !== 'ok') {
        if (args.global.json) io.out(JSON.stringify(reply));
        else io.err(renderErrorReply(reply));
        return ExitCode.failed;
      }
      if (args.global.json) io.out(JSON.stringify(reply));
      else for (const line of renderQueryReply(name, reply)) io.out(line);
      return ExitCode.ok;
    });
  },
};
