import { describe, expect, it } from 'vitest';
import type { OkReply } from '../../../src/domain/replies.js';
import type { StoredEvent } from '../../../src/store/index.js';
import { subjectsFor } from '../../../src/domain/subjects.js';
import { CommandLedger, LEDGER_SIZE, type LedgerEntry, type Reply } from '../../../src/runtime/commandLedger.js';

const stored = (command: string, sequence: number, fact = 'module.updated'): StoredEvent => ({
  event: {
    identity: { message_id: `e${sequence}`, correlation_id: `c-${command}`, causation_id: command },
    event_type: 'ModuleUpdated',
    aggregate_type: 'module',
    aggregate_id: 'a',
    sequence,
    occurred_at: '2026-11-26T00:00:00.000Z',
  },
  fact,
  command_id: command,
  stream_seq: sequence,
});

const okReply = (entry: LedgerEntry): OkReply => ({
  status: 'ok',
  command_id: entry.identity.message_id,
  aggregate_id: 'a',
  aggregate_type: 'module',
  version: entry.events.at(-1)?.sequence ?? 0,
  events: entry.events,
});

const answer = (ledger: CommandLedger, id: string): Reply | undefined => {
  let got: Reply | undefined;
  ledger.answer(id, (r) => (got = r));
  return got;
};

describe('command ledger', () => {
  it('rebuilt from a long history, answers the last LEDGER_SIZE commands with all their events, and no older one', () => {
    const events: StoredEvent[] = [];
    for (let i = 1; i <= 1000; i++) events.push(stored(`cmd${i}`, i));
    // The last command produced two events (e.g. an effect's start and its outcome).
    events.push(stored('cmd1000', 1001, 'module.deleted'));
    const ledger = new CommandLedger();
    ledger.replay(events, (f) => subjectsFor('nix').event(f), () => true, okReply);
    expect(answer(ledger, 'cmd1000')).toMatchObject({ version: 1001, events: [{ sequence: 1000 }, { sequence: 1001, subject: 'nix.event.module.deleted' }] });
    expect(answer(ledger, `cmd${1000 - LEDGER_SIZE + 1}`)).toMatchObject({ version: 1000 - LEDGER_SIZE + 1 });
    expect(answer(ledger, `cmd${1000 - LEDGER_SIZE}`)).toBeUndefined();
    expect(answer(ledger, 'cmd1')).toBeUndefined();
    expect(ledger.records()).toHaveLength(LEDGER_SIZE);
  });

  it('keeps a command unfinished while its last fact is not final, and finishes it when it is', () => {
    const ledger = new CommandLedger();
    const isFinal = (fact: string) => fact !== 'package.build_started';
    ledger.replay([stored('build', 1, 'package.build_started')], (f) => subjectsFor('nix').event(f), isFinal, okReply);
    expect(answer(ledger, 'build')).toBeUndefined();
    expect(ledger.get('build')?.reply).toBeUndefined();
    ledger.replay([stored('build', 2, 'package.built')], (f) => subjectsFor('nix').event(f), isFinal, okReply);
    expect(answer(ledger, 'build')).toMatchObject({ version: 2, events: [{ sequence: 1 }, { sequence: 2 }] });
  });
});
