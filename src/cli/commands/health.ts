/** `health`: asks health.cim-domain-nix and prints the answer. */
import { HEALTH_SUBJECT } from '../../domain/subjects.js';
import { ExitCode, withClient, requestJson } from '../client.js';
import { renderRecord } from '../format.js';
import { EXIT_HELP, GLOBAL_HELP, type Subcommand } from '../io.js';

export const health: Subcommand = {
  summary: 'ask the running service how it is (exit 1 unless healthy)',
  help: () =>
    [
      'Usage: cim-domain-nix health',
      '',
      `Asks ${HEALTH_SUBJECT} and prints the answer: status, version, NATS connection, aggregates,`,
      'publisher, intake counters and whether nix is available. Exit code 0 when healthy, 1 when degraded or unhealthy.',
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
    return withClient(args.global, io.env, async (client) => {
      const reply = await requestJson(client, HEALTH_SUBJECT, undefined, args.global.timeout ?? 5_000);
      if (args.global.json) io.out(JSON.stringify(reply));
      else for (const line of renderRecord(reply)) io.out(line);
      return reply['status'] === 'healthy' ? ExitCode.ok : ExitCode.failed;
    });
  },
};
