/**
 * `build <flake_ref>[#attribute]`: sends package.build and shows the build live — its
 * progress lines and events — until the final event (PackageBuilt or PackageBuildFailed).
 */
import type { Subscription } from '@nats-io/transport-node';
import { commandSpecs } from '../../domain/commands.js';
import { packageId } from '../../domain/ids.js';
import { UsageError } from '../args.js';
import { ExitCode, openClient, requestJson } from '../client.js';
import { renderErrorReply, renderEvent, renderProgress } from '../format.js';
import { EXIT_HELP, GLOBAL_HELP, type Subcommand } from '../io.js';
import { commandPayload } from './send.js';

/** `packages.<system>.default` of the machine the CLI runs on (what `nix build` would pick). */
export function defaultAttribute(): string {
  const arch = process.arch === 'arm64' ? 'aarch64' : process.arch === 'x64' ? 'x86_64' : process.arch;
  return `packages.${arch}-${process.platform === 'darwin' ? 'darwin' : 'linux'}.default`;
}

const duration = (ms: number): string => (ms >= 1_000 ? `${(ms / 1_000).toFixed(1)} s` : `${Math.round(ms)} ms`);

/** How long to wait for the final event after the reply (it is published right after it is stored). */
const FINAL_EVENT_GRACE_MS = 2_000;

export const build: Subcommand = {
  summary: 'build a package and show its progress live until it is built or has failed',
  help: () =>
    [
      'Usage: cim-domain-nix build <flake_ref>[#attribute] [--output_path <path>]',
      '       cim-domain-nix build --flake_ref <ref> --attribute <attr> [--output_path <path>]',
      '',
      `Sends package.build and prints the build's output lines and events as they happen, then the`,
      `store paths (or the failure with the end of the log). The attribute defaults to ${defaultAttribute()}.`,
      'Exit code 0 when built, 1 when the build failed or was refused.',
      '',
      'Example:',
      '  cim-domain-nix build path:hello',
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
    const spec = commandSpecs.get('package.build')!;
    const installable = args.positional[0];
    if (args.positional.length > 1) throw new UsageError(`give one flake reference, got ${args.positional.join(' ')}`);
    const fields = [...args.fields];
    if (installable !== undefined) {
      const hash = installable.indexOf('#');
      fields.unshift(
        ['flake_ref', hash < 0 ? installable : installable.slice(0, hash)],
        ['attribute', hash < 0 ? defaultAttribute() : installable.slice(hash + 1)],
      );
    } else if (!fields.some(([f]) => f === 'attribute') && fields.some(([f]) => f === 'flake_ref')) {
      fields.push(['attribute', defaultAttribute()]);
    }
    const payload = await commandPayload(spec, { ...args, fields }, [], io);
    const flakeRef = payload['flake_ref'] as string;
    const attribute = payload['attribute'] as string;
    const id = packageId(flakeRef, attribute);

    const client = await openClient(args.global, io.env);
    const subs: Subscription[] = [];
    try {
      const json = args.global.json;
      const seenEvents = new Set<string>();
      let finalWaiter: { id: string; resolve: () => void } | undefined;
      subs.push(
        client.nc.subscribe(client.subjects.progress('package', id), {
          callback: (_e, m) => {
            const data = m.json<Record<string, unknown>>();
            io.out(json ? JSON.stringify({ kind: 'progress', subject: m.subject, data }) : renderProgress(data));
          },
        }),
        client.nc.subscribe(client.subjects.event('package.*'), {
          callback: (_e, m) => {
            const data = m.json<Record<string, unknown>>();
            if (data['aggregate_id'] !== id) return;
            const eventId = (data['identity'] as { message_id?: string } | undefined)?.message_id ?? '';
            seenEvents.add(eventId);
            io.out(json ? JSON.stringify({ kind: 'event', subject: m.subject, data }) : renderEvent(data));
            if (finalWaiter?.id === eventId) finalWaiter.resolve();
          },
        }),
      );
      await client.nc.flush();
      if (!json) io.err(`building ${flakeRef}#${attribute} (package ${id})`);
      const timeout = args.global.timeout ?? client.config.aggregates.commandTimeoutMs + 5_000;
      const reply = await requestJson(client, client.subjects.command('package', 'build'), payload, timeout);
      if (reply['status'] !== 'ok') {
        if (json) io.out(JSON.stringify({ kind: 'reply', data: reply }));
        else io.err(renderErrorReply(reply));
        return ExitCode.failed;
      }
      const final = ((reply['events'] as Array<{ event_type?: string; event_id?: string }> | undefined) ?? []).at(-1);
      const finalId = final?.event_id ?? '';
      // The reply can overtake the published event: give the event a moment, so it is shown too.
      if (finalId && !seenEvents.has(finalId)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, FINAL_EVENT_GRACE_MS);
          finalWaiter = {
            id: finalId,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          };
        });
      }
      // The outcome in full, from the read model (waiting for this very version).
      const status = await requestJson(
        client,
        client.subjects.query('package', 'get'),
        { package_id: id, min_sequence: reply['version'], timeout_ms: 10_000 },
        15_000,
      );
      const pkg = (status['package'] ?? {}) as Record<string, unknown>;
      const last = (pkg['last_build'] ?? {}) as Record<string, unknown>;
      const built = final?.event_type === 'PackageBuilt';
      if (json) {
        io.out(JSON.stringify({ kind: 'reply', data: reply }));
        if (status['status'] === 'ok') io.out(JSON.stringify({ kind: 'package', data: pkg }));
      } else if (built) {
        const paths = Object.entries((pkg['store_paths'] ?? {}) as Record<string, string>);
        io.out(`built ${flakeRef}#${attribute}${typeof last['duration_ms'] === 'number' ? ` in ${duration(last['duration_ms'])}` : ''}`);
        for (const [output, path] of paths) io.out(`  ${output}: ${path}`);
      } else {
        io.err(`build failed: ${typeof last['message'] === 'string' ? last['message'] : (final?.event_type ?? 'unknown reason')}`);
        for (const line of (last['log_tail'] as string[] | undefined) ?? []) io.err(`  ${line}`);
      }
      return built ? ExitCode.ok : ExitCode.failed;
    } finally {
      for (const s of subs) s.unsubscribe();
      await client.close();
    }
  },
};
