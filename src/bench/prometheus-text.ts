/**
 * Renders prom-client metrics as the Prometheus text exposition that Go's client_golang (`expfmt`) writes, so the
 * bench client's output reads like the reference's line for line. prom-client's own renderer differs in three ways
 * that matter to people diffing the two: it puts `quantile` before the other labels, it prints large numbers in
 * full (`276459200` where Go prints `2.764592e+08`), and it separates families with blank lines.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/** Text exposition of `families`, sorted by name like Go's registry output. */
export function renderGoStyleText(families: readonly MetricObjectWithValues<MetricValue<string>>[]): string {
  const lines: string[] = [];
  for (const family of [...families].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${String(family.type)}`);
    for (const sample of family.values) {
      const name = (sample as { metricName?: string }).metricName ?? family.name;
      // expfmt writes summary and histogram counts as integers, every other sample as a float.
      const isCount = name.endsWith('_count') && name !== family.name && Number.isSafeInteger(sample.value);
      const value = isCount ? String(sample.value) : formatGoFloat(sample.value);
      lines.push(`${name}${formatLabels(sample.labels)} ${value}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Labels sorted by name with `quantile` (and `le`) last, as client_golang writes them. */
function formatLabels(labels: Record<string, string | number | undefined>): string {
  const names = Object.keys(labels).filter((n) => labels[n] !== undefined);
  if (names.length === 0) return '';
  const special = (n: string): boolean => n === 'quantile' || n === 'le';
  names.sort((a, b) => Number(special(a)) - Number(special(b)) || (a < b ? -1 : a > b ? 1 : 0));
  const parts = names.map((n) => {
    const raw = labels[n] as string | number;
    const value = typeof raw === 'number' ? formatGoFloat(raw) : raw;
    return `${n}="${escapeLabelValue(value)}"`;
  });
  return `{${parts.join(',')}}`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * A number as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it (what expfmt uses): the shortest digits that
 * round-trip, in exponent form when the decimal exponent is below -4 or at least 6, with an exponent of at least
 * two digits (`1e+06`, `2.764592e+08`, `1e-05`); otherwise plain decimal (`1600`, `0.249329709`).
 */
export function formatGoFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  // JavaScript's toExponential() without an argument gives the same shortest round-trip digits Go uses.
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  // In this range JavaScript's decimal form is the shortest round-trip digits too, never in exponent form.
  return String(value);
}
