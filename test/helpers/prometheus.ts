/**
 * Prometheus text format, read back by an independent parser (parse-prometheus-text-format,
 * which ships no types), and small look-ups over what it returns.
 */
import { createRequire } from 'node:module';

export interface PromSample {
  labels?: Record<string, string>;
  value?: string;
  count?: string;
  sum?: string;
  buckets?: Record<string, string>;
}
export interface PromFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: PromSample[];
}

const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => PromFamily[];

export function parsePrometheus(text: string): PromFamily[] {
  return parse(text);
}

export function family(fams: PromFamily[], name: string): PromFamily {
  const f = fams.find((x) => x.name === name);
  if (!f) throw new Error(`no metric family ${name}`);
  return f;
}

/** The value (counter, gauge) or count (histogram) of the sample whose labels include `labels`; 0 if none. */
export function sample(fams: PromFamily[], name: string, labels: Record<string, string> = {}): number {
  const f = fams.find((x) => x.name === name);
  const m = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  if (!m) return 0;
  return Number(m.value ?? m.count ?? 0);
}

/**
 * A labelled histogram's `_count` or `_sum` from the raw text: the parser above folds labelled
 * histograms into one sample and loses them. `labels` must all be present on the line.
 */
export function histogramValue(
  text: string,
  name: string,
  part: 'count' | 'sum',
  labels: Record<string, string> = {},
): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_${part}(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const have = m[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) total += Number(m[2]);
  }
  return total;
}
