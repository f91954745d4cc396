/**
 * In-process metrics, rendered as Prometheus text at /metrics. Counters
 * and gauges keyed by name plus a small, fixed label set (never user input).
 */
export class Metrics {
  #counters = new Map<string, number>();
  #gauges = new Map<string, () => number>();
  #histograms = new Map<string, Histogram>();
  #help = new Map<string, string>();
  /**
   * Series keys by labels object and name: callers on hot paths pass the
   * same labels objects again and again (see routes/app.ts `labelsOf`).
   */
  #keys = new WeakMap<Record<string, string>, Map<string, string>>();

  /** Sets the `# HELP` text of a metric name. */
  describe(name: string, help: string): void {
    this.#help.set(name, help);
  }

  /**
   * Records one observation (seconds, or bytes with `buckets`) in a
   * histogram series; buckets are fixed per series at its first use.
   */
  observe(
    name: string,
    labels: Record<string, string>,
    value: number,
    buckets: readonly number[] = SECONDS_BUCKETS,
  ): void {
    const key = this.#keyOf(name, labels);
    let h = this.#histograms.get(key);
    if (!h) {
      h = { name, labels, buckets, counts: buckets.map(() => 0), sum: 0, n: 0 };
      this.#histograms.set(key, h);
    }
    for (let i = 0; i < h.buckets.length; i++) {
      if (value <= h.buckets[i]) h.counts[i]++;
    }
    h.sum += value;
    h.n++;
  }

  #keyOf(name: string, labels: Record<string, string>): string {
    let byName = this.#keys.get(labels);
    if (!byName) {
      byName = new Map();
      this.#keys.set(labels, byName);
    }
    let key = byName.get(name);
    if (key === undefined) {
      key = seriesKey(name, labels);
      byName.set(name, key);
    }
    return key;
  }

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

  /**
   * Registers a gauge read at scrape time (idempotent: the last reader
   * wins); `labels` make it one series of a labelled gauge.
   */
  gauge(
    name: string,
    read: () => number,
    labels: Record<string, string> = {},
  ): void {
    name = seriesKey(name, labels);
    this.#gauges.set(name, read);
  }

  /** The current reading of a registered gauge, or null. */
  gaugeValue(name: string): number | null {
    const read = this.#gauges.get(name);
    return read ? read() : null;
  }

  /** The current value of a counter series (0 when never counted). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.#counters.get(seriesKey(name, labels)) ?? 0;
  }

  /** Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    const typed = new Set<string>();
    const head = (name: string, type: string) => {
      if (typed.has(name)) return;
      typed.add(name);
      const help = this.#help.get(name);
      if (help) lines.push(`# HELP ${name} ${help}`);
      lines.push(`# TYPE ${name} ${type}`);
    };
    for (const [key, value] of [...this.#counters].sort()) {
      head(key.split("{")[0], "counter");
      lines.push(`${key} ${value}`);
    }
    for (const [name, read] of [...this.#gauges].sort()) {
      head(name.split("{")[0], "gauge");
      lines.push(`${name} ${read()}`);
    }
    for (const [, h] of [...this.#histograms].sort()) {
      head(h.name, "histogram");
      h.buckets.forEach((le, i) => {
        lines.push(
          `${seriesKey(`${h.name}_bucket`, { ...h.labels, le: String(le) })} ${
            h.counts[i]
          }`,
        );
      });
      lines.push(
        `${seriesKey(`${h.name}_bucket`, { ...h.labels, le: "+Inf" })} ${h.n}`,
        `${seriesKey(`${h.name}_sum`, h.labels)} ${h.sum}`,
        `${seriesKey(`${h.name}_count`, h.labels)} ${h.n}`,
      );
    }
    return lines.join("\n") + "\n";
  }
}

/** Default histogram buckets, in seconds: 1 ms to 30 s. */
export const SECONDS_BUCKETS = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
] as const;

interface Histogram {
  name: string;
  labels: Record<string, string>;
  buckets: readonly number[];
  counts: number[];
  sum: number;
  n: number;
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) =>
    `${k}="${v.replace(/["\\\n]/g, "_")}"`
  );
  return parts.length ? `${name}{${parts.join(",")}}` : name;
}
