/**
 * A dataset profile's per-column statistics in azureml-dataprep's `DataProfile` JSON shape (a list of
 * `ProfileResult` pods, what `DataProfile._from_json` reads): counts, missing values, inferred type,
 * min/max, moments and quantiles of numeric columns, value counts. Fields this server does not
 * compute (histograms, semantic types, string lengths, whiskers) are null, which the client allows.
 */

/** azureml-dataprep's `FieldType` numbers. */
export const FieldType = { STRING: 0, BOOLEAN: 1, INTEGER: 2, DECIMAL: 3 } as const;
type FieldTypeNumber = (typeof FieldType)[keyof typeof FieldType];

/** Distinct values counted per column; more is reported as '>1000', as azureml-dataprep does. */
const MAX_DISTINCT = 1000;
/** Values listed in a column's value counts (the most frequent first). */
const TOP_VALUES = 100;

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const BOOL = /^(true|false)$/i;

class Column {
  count = 0;
  missing = 0;
  ints = 0;
  decimals = 0;
  bools = 0;
  numbers: number[] = [];
  distinct = new Map<string, number>();
  overflow = false;
  minText: string | undefined;
  maxText: string | undefined;
  constructor(readonly name: string) {}

  add(v: string | undefined): void {
    this.count++;
    if (v === undefined || v === '') {
      this.missing++;
      return;
    }
    if (INTEGER.test(v)) this.ints++;
    else if (DECIMAL.test(v)) this.decimals++;
    else if (BOOL.test(v)) this.bools++;
    if (INTEGER.test(v) || DECIMAL.test(v)) this.numbers.push(Number(v));
    if (this.minText === undefined || v < this.minText) this.minText = v;
    if (this.maxText === undefined || v > this.maxText) this.maxText = v;
    const n = this.distinct.get(v);
    if (n !== undefined) this.distinct.set(v, n + 1);
    else if (this.distinct.size < MAX_DISTINCT) this.distinct.set(v, 1);
    else this.overflow = true;
  }

  type(): FieldTypeNumber {
    const present = this.count - this.missing;
    if (present === 0) return FieldType.STRING;
    if (this.ints === present) return FieldType.INTEGER;
    if (this.ints + this.decimals === present) return FieldType.DECIMAL;
    if (this.bools === present) return FieldType.BOOLEAN;
    return FieldType.STRING;
  }

  pod(): Record<string, unknown> {
    const type = this.type();
    const numeric = type === FieldType.INTEGER || type === FieldType.DECIMAL;
    const present = this.count - this.missing;
    const value = (s: string): unknown =>
      numeric ? Number(s) : type === FieldType.BOOLEAN ? s.toLowerCase() === 'true' : s;
    let min: unknown = null;
    let max: unknown = null;
    let moments: Record<string, number | null> | null = null;
    let quantiles: Record<string, number> | null = null;
    if (numeric && this.numbers.length) {
      const xs = Float64Array.from(this.numbers).sort();
      min = { type, value: xs[0] };
      max = { type, value: xs[xs.length - 1] };
      moments = momentsOf(xs);
      const q = (p: number) => quantile(xs, p);
      quantiles = {
        p0D1: q(0.001),
        p1: q(0.01),
        p5: q(0.05),
        p25: q(0.25),
        p50: q(0.5),
        p75: q(0.75),
        p95: q(0.95),
        p99: q(0.99),
        p99D9: q(0.999),
      };
    } else if (this.minText !== undefined && this.maxText !== undefined) {
      min = { type, value: value(this.minText) };
      max = { type, value: value(this.maxText) };
    }
    const top = [...this.distinct.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, TOP_VALUES);
    return {
      columnName: this.name,
      count: this.count,
      emptyCount: 0,
      errorCount: 0,
      missingCount: this.missing,
      notMissingCount: present,
      percentMissing: this.count ? this.missing / this.count : 0,
      type,
      min,
      max,
      moments,
      quantiles,
      histogram: null,
      typeCounts: [
        ...(present ? [{ type, count: present }] : []),
        ...(this.missing ? [{ type: 7, count: this.missing }] : []),
      ],
      valueCounts: top.map(([v, count]) => ({ value: { type, value: value(v) }, count })),
      sTypeCounts: null,
      uniqueValues: this.overflow ? null : this.distinct.size,
      averageSpacesCount: null,
      stringLengths: null,
      whiskerTop: null,
      whiskerBottom: null,
    };
  }
}

/** Linear interpolation between the closest ranks (pandas' and numpy's default). */
function quantile(sorted: Float64Array, p: number): number {
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Mean, sample variance and standard deviation, bias-corrected skewness and excess kurtosis (as pandas). */
function momentsOf(xs: Float64Array): Record<string, number | null> {
  const n = xs.length;
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (const x of xs) {
    const d = x - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  const variance = n > 1 ? m2 / (n - 1) : null;
  const skewness = n > 2 && m2 > 0 ? ((Math.sqrt(n * (n - 1)) / (n - 2)) * (m3 / n)) / Math.pow(m2 / n, 1.5) : null;
  const kurtosis =
    n > 3 && m2 > 0
      ? (((n + 1) * n * (n - 1)) / ((n - 2) * (n - 3))) * (m4 / (m2 * m2)) - (3 * (n - 1) ** 2) / ((n - 2) * (n - 3))
      : null;
  return {
    mean,
    variance,
    standardDeviation: variance === null ? null : Math.sqrt(variance),
    skewness,
    kurtosis,
  };
}

/** Accumulates rows (header names first) and answers the profile. */
export class ProfileBuilder {
  private columns: Column[] = [];

  header(names: string[]): void {
    const seen = new Map<string, number>();
    this.columns = names.map((n) => {
      // azureml-dataprep names repeated headers 'name_1', 'name_2', …
      const k = seen.get(n) ?? 0;
      seen.set(n, k + 1);
      return new Column(k ? `${n}_${k}` : n);
    });
  }

  row(values: string[]): void {
    while (values.length > this.columns.length) this.columns.push(new Column(`Column${this.columns.length + 1}`));
    this.columns.forEach((c, i) => c.add(values[i]));
  }

  get rowCount(): number {
    return this.columns[0]?.count ?? 0;
  }

  result(): Record<string, unknown>[] {
    return this.columns.map((c) => c.pod());
  }
}
