/**
 * A figure is one row of the results table: a measured value, its SPEC §8 target (if it has
 * one), its ratio to the limit measured in the same run (if there is one) and a verdict.
 * A figure that could not be measured says why; it never carries a made-up number.
 */

export type Verdict = 'pass' | 'fail' | 'info' | 'not judged' | 'not measured';

export interface Target {
  op: '<=' | '>=';
  value: number;
}

export interface Figure {
  section: string;
  name: string;
  /** null when not measured. */
  value: number | null;
  unit: string;
  target?: Target;
  /** Ratio to the limit (or the limit's figure) measured in the same run. */
  ratio?: { value: number; against: string };
  verdict: Verdict;
  /** Why not measured, why failed beyond the number (error replies), or how it was taken. */
  note?: string;
}

export interface JudgeInput {
  section: string;
  name: string;
  value: number;
  unit: string;
  target?: Target;
  ratio?: { value: number; against: string };
  /** Error replies or timeouts in the phase: a figure with failures cannot pass. */
  failures?: Record<string, number>;
  note?: string;
  /** Smoke runs report but do not judge. */
  smoke: boolean;
}

export function describeFailures(failures: Record<string, number> | undefined): string | undefined {
  if (!failures) return undefined;
  const parts = Object.entries(failures)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code}×${n}`);
  return parts.length ? `failed requests: ${parts.join(', ')}` : undefined;
}

/** Build a figure and its verdict. */
export function judge(input: JudgeInput): Figure {
  const failureNote = describeFailures(input.failures);
  const note = [failureNote, input.note].filter(Boolean).join('; ') || undefined;
  let verdict: Verdict;
  if (!input.target) verdict = 'info';
  else if (input.smoke) verdict = 'not judged';
  else if (failureNote || !Number.isFinite(input.value)) verdict = 'fail';
  else verdict = (input.target.op === '<=' ? input.value <= input.target.value : input.value >= input.target.value) ? 'pass' : 'fail';
  return {
    section: input.section,
    name: input.name,
    value: Number.isFinite(input.value) ? input.value : null,
    unit: input.unit,
    ...(input.target ? { target: input.target } : {}),
    ...(input.ratio && Number.isFinite(input.ratio.value) ? { ratio: input.ratio } : {}),
    verdict,
    ...(note ? { note } : {}),
  };
}

/** A figure whose capability is missing: the reason instead of a value. */
export function notMeasured(section: string, name: string, unit: string, reason: string, target?: Target): Figure {
  return { section, name, value: null, unit, ...(target ? { target } : {}), verdict: 'not measured', note: reason };
}

/** Format a value in its unit for the table. */
export function formatValue(value: number | null, unit: string): string {
  if (value === null) return '—';
  switch (unit) {
    case 'ms':
      return value < 1 ? `${value.toFixed(3)} ms` : value < 100 ? `${value.toFixed(2)} ms` : `${value.toFixed(0)} ms`;
    case 'bytes':
      return formatBytes(value);
    case '×':
      return `${value.toFixed(2)}×`;
    case '%':
      return `${(value * 100).toFixed(1)} %`;
    default:
      return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
  }
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

export function formatTarget(t: Target | undefined, unit: string): string {
  if (!t) return '';
  return `${t.op === '<=' ? '≤' : '≥'} ${formatValue(t.value, unit)}`;
}
