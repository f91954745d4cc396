/**
 * In-process metrics, rendered as Prometheus text at /metrics. Counters
 * and gauges keyed by name plus a small, fixed label set (never user input).
 */
export class Metrics {
  #counters = new Map<string, number>();
  #gauges = new Map<string, () => number>();

  /** Adds `by` to a counter. */
  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    this.incSeries(seriesKey(name, labels), by);
  }

  /** Adds `by` to a series named by `series(name, labels)` (hot paths). */
  incSeries(key: string, by = 1): void {
    this.#counters.set(key, (this.#counters.get(key) ?? 0) + by);
  }

  /** The series key of a name and labels, to precompute for `incSeries`. */
  series(name: string, labels: Record<string, string> = {}): string {
    return seriesKey(name, labels);
  }

  /** Registers a gauge read at scrape time. */
  gauge(name: string, read: () => number): void {
    this.#gauges.set(name, read);
  }

  /** The current value of a counter series (0 when never counted). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.#counters.get(seriesKey(name, labels)) ?? 0;
  }

  /** Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    const typed = new Set<string>();
    for (const [key, value] of [...this.#counters].sort()) {
      const name = key.split("{")[0];
      if (!typed.has(name)) {
        lines.push(`# TYPE ${name} counter`);
        typed.add(name);
      }
      lines.push(`${key} ${value}`);
    }
    for (const [name, read] of [...this.#gauges].sort()) {
      lines.push(`# TYPE ${name} gauge`, `${name} ${read()}`);
    }
    return lines.join("\n") + "\n";
  }
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) =>
    `${k}="${v.replace(/["\\\n]/g, "_")}"`
  );
  return parts.length ? `${name}{${parts.join(",")}}` : name;
}
