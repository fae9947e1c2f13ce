/**
 * Output a person can read: records as indented `key: value` lines, lists as tables, events
 * and progress as one line each.
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** A record as indented `key: value` lines (nested objects indented, short lists inline). */
export function renderRecord(value: unknown, indent = ''): string[] {
  if (!isObject(value)) return [`${indent}${scalar(value)}`];
  const lines: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (isObject(v) && Object.keys(v).length > 0) {
      lines.push(`${indent}${k}:`);
      lines.push(...renderRecord(v, `${indent}  `));
    } else if (Array.isArray(v) && v.some((x) => typeof x === 'object' && x !== null)) {
      lines.push(`${indent}${k}:`);
      for (const item of v) {
        const inner = renderRecord(item, `${indent}    `);
        lines.push(`${indent}  - ${(inner[0] ?? '').trimStart()}`, ...inner.slice(1));
      }
    } else if (Array.isArray(v)) {
      lines.push(`${indent}${k}: ${v.length ? v.map(scalar).join(', ') : '(none)'}`);
    } else if (isObject(v)) {
      lines.push(`${indent}${k}: {}`);
    } else {
      lines.push(`${indent}${k}: ${scalar(v)}`);
    }
  }
  return lines;
}

/** Rows as a table with a header; each cell a short string. */
export function renderTable(columns: string[], rows: string[][]): string[] {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map(line)];
}

const short = (id: unknown): string => (typeof id === 'string' ? id.slice(0, 8) : '-');
const time = (at: unknown): string => (typeof at === 'string' ? at.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
const ms = (v: unknown): string => (typeof v === 'number' ? (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`) : '-');

/** Table columns per list query. */
const tables: Record<string, { columns: string[]; row: (r: Json) => string[] }> = {
  'flake.list': {
    columns: ['PATH', 'TEMPLATE', 'INPUTS', 'VERSION', 'UPDATED'],
    row: (r) => [
      scalar(r['path']),
      scalar(r['template']),
      Object.keys(isObject(r['inputs']) ? r['inputs'] : {}).join(',') || '-',
      scalar(r['version']),
      time(r['updated_at']),
    ],
  },
  'package.list': {
    columns: ['PACKAGE', 'STATE', 'BUILDS', 'FAILURES', 'VERSION', 'UPDATED'],
    row: (r) => [
      `${scalar(r['flake_ref'])}#${scalar(r['attribute'])}`,
      scalar(r['state']),
      scalar(r['builds']),
      scalar(r['failures']),
      scalar(r['version']),
      time(r['updated_at']),
    ],
  },
  'module.list': {
    columns: ['NAME', 'STATE', 'FILE', 'VERSION', 'UPDATED'],
    row: (r) => [scalar(r['name']), scalar(r['state']), scalar(r['file']), scalar(r['version']), time(r['updated_at'])],
  },
  'config.list': {
    columns: ['NAME', 'STATE', 'CURRENT', 'GENERATION', 'HOSTNAME', 'VERSION'],
    row: (r) => [
      scalar(r['name']),
      scalar(r['state']),
      r['current'] === true ? 'yes' : '',
      scalar(r['current_generation']),
      scalar(isObject(r['configuration']) ? r['configuration']['hostname'] : undefined),
      scalar(r['version']),
    ],
  },
  'config.get_history': {
    columns: ['#', 'KIND', 'TYPE', 'GENERATION', 'EXECUTED', 'AT'],
    row: (r) => [
      scalar(r['entry']),
      scalar(r['kind']),
      scalar(r['activation_type']),
      r['kind'] === 'rolled_back' ? `${scalar(r['from_generation'])} -> ${scalar(r['to_generation'])}` : scalar(r['generation']),
      scalar(r['executed']),
      time(r['at']),
    ],
  },
  'package.status': {
    columns: ['BUILD', 'OUTCOME', 'STARTED', 'DURATION', 'EXIT', 'OUTPUT / MESSAGE'],
    row: (r) => [
      scalar(r['build']),
      scalar(r['outcome']),
      time(r['started_at']),
      ms(r['duration_ms']),
      scalar(r['exit_code']),
      isObject(r['store_paths']) ? Object.values(r['store_paths']).map(scalar).join(' ') : scalar(r['message']),
    ],
  },
};
tables['overlay.list'] = tables['module.list']!;

/** A query reply for a person. */
export function renderQueryReply(query: string, body: Json): string[] {
  const table = tables[query];
  if (query === 'package.status') {
    const builds = isObject(body['builds']) ? body['builds'] : {};
    const d = isObject(builds['duration_ms']) ? builds['duration_ms'] : {};
    const out = [
      `${scalar(body['flake_ref'])}#${scalar(body['attribute'])}  (${short(body['package_id'])})  state: ${scalar(body['state'])}  version: ${scalar(body['version'])}`,
      `builds: ${scalar(builds['total'])} total, ${scalar(builds['succeeded'])} succeeded, ${scalar(builds['failed'])} failed` +
        `${builds['running'] === true ? ', one running' : ''}, ${scalar(builds['consecutive_failures'])} failed in a row`,
      `duration: last ${ms(d['last'])}, average ${ms(d['average'])}, min ${ms(d['min'])}, max ${ms(d['max'])}`,
      '',
      ...renderTable(table!.columns, ((body['history'] as Json[] | undefined) ?? []).map(table!.row)),
    ];
    return withCursor(out, body);
  }
  if (table && Array.isArray(body['items'])) {
    const head =
      query === 'config.get_history'
        ? [`${scalar(body['name'])}: ${scalar(body['total'])} entries, current generation ${scalar(body['current_generation'])}`, '']
        : [];
    const items = body['items'] as Json[];
    if (items.length === 0) return withCursor([...head, '(none)'], body);
    return withCursor([...head, ...renderTable(table.columns, items.map(table.row))], body);
  }
  const rest: Json = { ...body };
  delete rest['status'];
  const keys = Object.keys(rest);
  // `{ flake: {...} }` and the like: show the record itself.
  return renderRecord(keys.length === 1 && isObject(rest[keys[0]!]) ? rest[keys[0]!] : rest);
}

function withCursor(lines: string[], body: Json): string[] {
  const cursor = body['next_cursor'];
  return typeof cursor === 'string' ? [...lines, '', `more: add --cursor ${cursor} (or --all)`] : lines;
}

/** Payload fields worth a glance on an event line. */
function eventSummary(data: Json): string {
  const skip = new Set(['identity', 'event_type', 'aggregate_type', 'aggregate_id', 'sequence', 'occurred_at', 'log_tail']);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (skip.has(k)) continue;
    let text: string;
    if (isObject(v))
      text = Object.entries(v)
        .map(([a, b]) => `${a}=${typeof b === 'object' ? JSON.stringify(b) : scalar(b)}`)
        .join(',');
    else text = Array.isArray(v) ? v.map(scalar).join(',') : scalar(v);
    if (text.length > 80) text = `${text.slice(0, 77)}...`;
    parts.push(`${k}=${text}`);
  }
  return parts.join(' ');
}

const clock = (at?: unknown): string => {
  const d = typeof at === 'string' ? new Date(at) : new Date();
  return Number.isNaN(d.getTime()) ? new Date().toISOString().slice(11, 23) : d.toISOString().slice(11, 23);
};

/** One line for a domain event. */
export function renderEvent(data: Json): string {
  return `${clock(data['occurred_at'])}  ${scalar(data['event_type']).padEnd(22)} ${scalar(data['aggregate_type'])} ${short(data['aggregate_id'])} v${scalar(data['sequence'])}  ${eventSummary(data)}`.trimEnd();
}

/** One line for a progress message (build output). */
export function renderProgress(data: Json): string {
  return `${clock(data['at'])}  | ${scalar(data['aggregate_type'])} ${short(data['aggregate_id'])}  ${scalar(data['line'])}`;
}

/** One line for an error-topic record. */
export function renderRejection(data: Json): string {
  return `${clock(data['received_at'])}  ! rejected ${scalar(data['subject'])}: ${scalar(data['code'])}: ${scalar(data['reason'])}`;
}

/** An error reply for a person. */
export function renderErrorReply(body: Json): string {
  return `error (${scalar(body['code'])}): ${scalar(body['message'])}`;
}
