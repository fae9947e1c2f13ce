/**
 * The command ledger of one aggregate: the last commands it handled, by `message_id`, with
 * their replies (or the callers still waiting for one). A retried command is answered from
 * here and produces no new event. The ledger is rebuilt from the stored events (every event
 * names its command) and kept in snapshots, so it survives passivation and restarts.
 */
import type { Identity } from '../domain/identity.js';
import type { EventRef, OkReply } from '../domain/replies.js';
import type { ErrorReply } from '../errors.js';
import type { StoredEvent } from '../store/index.js';

export type Reply = OkReply | ErrorReply;
export type Respond = (reply: Reply) => void;

/**
 * One command the aggregate handled or is handling. An entry lives for the aggregate's next
 * 64 commands, so it is old-generation data: every field is set when it is made (no property
 * store added later), and a finished entry holds no array of its own beyond its events.
 */
export interface LedgerEntry {
  identity: Identity;
  events: EventRef[];
  reply: Reply | undefined;
  waiters: Respond[];
}

/** The waiters of a finished entry: nobody (shared; `answer` never adds to a finished entry). */
const ANSWERED: Respond[] = Object.freeze([]) as unknown as Respond[];
/** The events of an entry that has stored none yet (shared; events are replaced, never pushed). */
export const NO_EVENTS: EventRef[] = Object.freeze([]) as unknown as EventRef[];

/** A finished entry as kept in a snapshot. */
export interface LedgerRecord {
  identity: Identity;
  events: EventRef[];
  reply: Reply;
}

export const LEDGER_SIZE = 64;

export class CommandLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  get(messageId: string): LedgerEntry | undefined {
    return this.entries.get(messageId);
  }

  /** Answer from the ledger: true when the command is known (answered now or when done). */
  answer(messageId: string, respond: Respond): boolean {
    const entry = this.entries.get(messageId);
    if (!entry) return false;
    if (entry.reply) respond(entry.reply);
    else entry.waiters.push(respond);
    return true;
  }

  remember(entry: LedgerEntry): void {
    const key = entry.identity.message_id;
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size <= LEDGER_SIZE) return;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= LEDGER_SIZE) break;
      if (e.reply) this.entries.delete(k);
    }
  }

  /** Finish an entry: keep the reply and answer everyone waiting. */
  static finish(entry: LedgerEntry, reply: Reply): void {
    entry.reply = reply;
    const waiters = entry.waiters;
    entry.waiters = ANSWERED;
    for (const w of waiters) w(reply);
  }

  /** Drop an entry, so a retry of that command is decided again (after a transient failure). */
  forget(messageId: string): void {
    this.entries.delete(messageId);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Finished entries, oldest first, for a snapshot. */
  records(): LedgerRecord[] {
    const out: LedgerRecord[] = [];
    for (const e of this.entries.values()) if (e.reply) out.push({ identity: e.identity, events: e.events, reply: e.reply });
    return out;
  }

  restore(records: readonly LedgerRecord[]): void {
    for (const r of records) this.entries.set(r.identity.message_id, { identity: r.identity, events: r.events, reply: r.reply, waiters: ANSWERED });
  }

  /**
   * Add the commands of replayed events. `isFinal(fact)` says whether the command was done
   * after that fact; `reply(entry)` builds its ok reply.
   */
  replay(events: readonly StoredEvent[], eventSubject: (fact: string) => string, isFinal: (fact: string) => boolean, reply: (entry: LedgerEntry) => OkReply): void {
    // Only the last LEDGER_SIZE commands stay in the ledger: group those, newest first, then
    // take them oldest first (a 1,000-event rebuild handles 64 commands, not 1,000).
    const newestFirst = new Map<string, StoredEvent[]>();
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i] as StoredEvent;
      const g = newestFirst.get(e.command_id);
      if (g) g.unshift(e);
      else if (newestFirst.size < LEDGER_SIZE) newestFirst.set(e.command_id, [e]);
    }
    const groups = new Map([...newestFirst].reverse());
    for (const [commandId, group] of groups) {
      const last = group.at(-1)!;
      const previous = this.entries.get(commandId);
      const known = new Set(previous?.events.map((e) => e.event_id));
      const entry: LedgerEntry = {
        identity: { message_id: commandId, correlation_id: last.event.identity.correlation_id, causation_id: commandId },
        events: [
          ...(previous?.events ?? []),
          ...group
            .filter((s) => !known.has(s.event.identity.message_id))
            .map((s) => ({
              event_type: s.event.event_type,
              event_id: s.event.identity.message_id,
              subject: eventSubject(s.fact),
              sequence: s.event.sequence,
            })),
        ],
        reply: undefined,
        waiters: previous?.waiters ?? [],
      };
      if (isFinal(last.fact)) entry.reply = reply(entry);
      this.remember(entry);
    }
  }
}
