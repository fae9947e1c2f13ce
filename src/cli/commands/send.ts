/** `send <command>`: a command validated with its wire schema, then sent; the reply printed. */
import { commandSpecs, type CommandSpec } from '../../domain/commands.js';
import { describeZodError } from '../../domain/validation.js';
import { UsageError, buildPayload, describeFields, jsonArgument, jsonSchemaOf, type ParsedArgs } from '../args.js';
import { CliError, ExitCode, withClient, requestJson } from '../client.js';
import { renderErrorReply } from '../format.js';
import { EXIT_HELP, GLOBAL_HELP, type CliIo, type Subcommand } from '../io.js';

/** `flake.create`, or `flake create`. */
export function commandSpecOf(words: readonly string[]): { spec: CommandSpec; rest: string[] } {
  const [first, second, ...others] = words;
  if (first === undefined)
    throw new UsageError(`name the command, e.g. send flake.create; commands: ${[...commandSpecs.keys()].join(', ')}`);
  const dotted = commandSpecs.get(first);
  if (dotted) return { spec: dotted, rest: second === undefined ? others : [second, ...others] };
  const spaced = second !== undefined ? commandSpecs.get(`${first}.${second}`) : undefined;
  if (spaced) return { spec: spaced, rest: others };
  throw new UsageError(
    `unknown command '${first}${second !== undefined && !second.startsWith('{') ? ` ${second}` : ''}'; commands: ${[...commandSpecs.keys()].join(', ')}`,
  );
}

/** The validated payload of a command from its JSON argument and field flags. */
export async function commandPayload(spec: CommandSpec, args: ParsedArgs, rest: string[], io: CliIo): Promise<Record<string, unknown>> {
  if (rest.length > 1)
    throw new UsageError(`unexpected arguments ${rest.slice(1).join(' ')}: give fields as --name value, or one JSON object`);
  const base = await jsonArgument(rest[0], io.stdin);
  const payload = buildPayload(base, args.fields, jsonSchemaOf(spec.schema));
  const result = spec.schema.safeParse(payload);
  if (!result.success) {
    throw new CliError(`${spec.type}: ${describeZodError(result.error)} (nothing was sent; see send ${spec.type} --help)`, ExitCode.usage);
  }
  return payload;
}

export function commandHelp(spec: CommandSpec, lead: string): string {
  return [
    lead,
    '',
    `Fields of ${spec.type}:`,
    ...describeFields(jsonSchemaOf(spec.schema)),
    '  --identity.message_id <uuid>  (optional) a message id of your own: a retry with the same id is answered once',
  ].join('\n');
}

export const send: Subcommand = {
  summary: 'send a command (validated before sending) and print the reply',
  help: () =>
    [
      'Usage: cim-domain-nix send <aggregate.action> [JSON | -] [--field value ...]',
      '',
      'Sends one command to nix.cmd.<aggregate>.<action> and prints the reply. Fields come from a JSON',
      "object argument ('-' reads it from stdin), from --field value flags, or both (flags win).",
      'Nested fields: --inputs.nixpkgs github:NixOS/nixpkgs, or JSON: --module \'{"config":{}}\'.',
      'The payload is checked against the command schema first; nothing is sent when it fails (exit 2).',
      '',
      `Commands: ${[...commandSpecs.keys()].join(', ')}`,
      'Fields of one command: cim-domain-nix send <command> --help',
      '',
      'Examples:',
      '  cim-domain-nix send flake.create --path hello --description "Hello" --template minimal',
      '  cim-domain-nix send module.create \'{"name":"web","module":{"config":{"services.nginx.enable":true}}}\'',
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
    const { spec, rest } = commandSpecOf(args.positional);
    if (args.global.help) {
      io.out(commandHelp(spec, `Usage: cim-domain-nix send ${spec.type} [JSON | -] [--field value ...]`));
      return ExitCode.ok;
    }
    const payload = await commandPayload(spec, args, rest, io);
    return withClient(args.global, io.env, async (client) => {
      const timeout = args.global.timeout ?? client.config.aggregates.commandTimeoutMs + 5_000;
      const reply = await requestJson(client, client.subjects.command(spec.aggregate, spec.action), payload, timeout);
      if (args.global.json) io.out(JSON.stringify(reply));
      if (reply['status'] !== 'ok') {
        if (!args.global.json) io.err(renderErrorReply(reply));
        return ExitCode.failed;
      }
      if (!args.global.json) {
        io.out(
          `ok: ${spec.type} -> ${typeof reply['aggregate_type'] === 'string' ? reply['aggregate_type'] : spec.aggregate} ${String(reply['aggregate_id'])} version ${String(reply['version'])}`,
        );
        for (const e of (reply['events'] as Array<Record<string, unknown>> | undefined) ?? []) {
          io.out(`  ${String(e['event_type']).padEnd(22)} ${String(e['subject'])}  (event ${String(e['event_id'])})`);
        }
      }
      return ExitCode.ok;
    });
  },
};
