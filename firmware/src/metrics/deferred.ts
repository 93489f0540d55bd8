/**
 * The metrics the services feed from the start, with prom-client (and the http, https, zlib,
 * cluster and v8 modules it loads) loaded only once RADIUS is ready: what is recorded before
 * `load()` is kept and replayed into the real Metrics, so nothing is lost from the count.
 */
import type { Metrics, MetricsSources } from './metrics.ts';

type Recorder = Pick<Metrics, 'decision' | 'drop' | 'smsEvent' | 'directoryCall'>;

/** Bound on what is held before load() (a start that never loads them must not grow without end). */
const HELD_MAX = 10_000;

export class DeferredMetrics implements Recorder {
  private metrics: Metrics | undefined;
  private held: ((m: Metrics) => void)[] = [];

  decision(...a: Parameters<Metrics['decision']>): void {
    this.record((m) => m.decision(...a));
  }
  drop(...a: Parameters<Metrics['drop']>): void {
    this.record((m) => m.drop(...a));
  }
  smsEvent(...a: Parameters<Metrics['smsEvent']>): void {
    this.record((m) => m.smsEvent(...a));
  }
  directoryCall(...a: Parameters<Metrics['directoryCall']>): void {
    this.record((m) => m.directoryCall(...a));
  }

  /** Builds the real Metrics and replays what was recorded before; later calls go straight to it. */
  async load(sources: MetricsSources): Promise<Metrics> {
    if (this.metrics) return this.metrics;
    const { Metrics } = await import('./metrics.ts');
    const m = new Metrics(sources);
    for (const f of this.held.splice(0)) f(m);
    this.metrics = m;
    return m;
  }

  private record(f: (m: Metrics) => void): void {
    if (this.metrics) f(this.metrics);
    else if (this.held.length < HELD_MAX) this.held.push(f);
  }
}
