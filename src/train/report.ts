// What a training command prints and writes: the results table (text), results.json and
// report.html (loss and accuracy curves, the learning rate and the gradient norm per step, as
// inline SVG; the table; which rule ran on which parameter). The page is self-contained: no script, no external file.
import type { LrSchedule, RunResult, TrainConfig } from './train.js';

export interface Results {
  runs: RunResult[];
  config: TrainConfig & { trainSize: number; testSize: number; data: string; threads: number };
  /** Wall-clock seconds for the whole command. */
  seconds: number;
  createdAt: string;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(2)} MiB`;
}

/** The --schedule a run used, in words. */
export function describeSchedule(s: LrSchedule | undefined): string {
  const pct = (f: number) => `${Number((f * 100).toPrecision(4))}%`;
  if (!s || s.name === 'constant') return "constant: each recipe's lr";
  if (s.name === 'cosine') return 'cosine from the peak to 0';
  if (s.name === 'warmup-cosine') return `warmup-cosine: ${pct(s.warmup!)} linear warm-up to the peak, then cosine to 0`;
  return `wsd: ${pct(s.warmup!)} warm-up, stable at the peak, the last ${pct(s.decay!)} linear decay to 0`;
}

const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : 'NaN');

/** Which rules ran on which parameters, e.g. "muon: W2; adamw: W1 b1 b2 W3 b3". */
export function ruleSummary(run: RunResult): string {
  const by = new Map<string, string[]>();
  for (const a of run.assignments) by.set(a.rule, [...(by.get(a.rule) ?? []), a.param]);
  return [...by].map(([rule, ps]) => `${rule}: ${ps.join(' ')}`).join('; ');
}

export const TABLE_HEADER = ['optimizer', 'final train loss', 'test accuracy', 'optimizer ms/step', 'fwd+bwd ms/step', 'state bytes', 'rule per parameter'];

export function tableRows(runs: RunResult[]): string[][] {
  return runs.map((r) => [
    r.optimizer + (r.error ? ' (stopped)' : ''),
    fixed(r.trainLoss, 4),
    fixed(r.testAccuracy, 4),
    fixed(r.msPerStep, 3),
    fixed(r.msForwardBackward, 2),
    `${r.stateBytes} (${formatBytes(r.stateBytes)})`,
    ruleSummary(r),
  ]);
}

/** A plain-text table with aligned columns (numbers right-aligned). */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  const numeric = header.map((_, j) => rows.length > 0 && rows.every((r) => /^[-\d.NaN]+( \(.*\))?$/.test(r[j])));
  const line = (r: string[]) => r.map((c, j) => (numeric[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A markdown table (for the README). */
export function formatMarkdown(header: string[], rows: string[][]): string {
  const numeric = header.map((_, j) => rows.length > 0 && rows.every((r) => /^[-\d.NaN]+( \(.*\))?$/.test(r[j])));
  return [
    `| ${header.join(' | ')} |`,
    `|${numeric.map((n) => (n ? '---:' : ':---')).join('|')}|`,
    ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
  ].join('\n');
}

// ------------------------------------------------------------------------------------ HTML

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#ad494a', '#637939', '#8c6d31', '#7b4173', '#3182bd', '#e6550d'];

export const colorOf = (i: number) => PALETTE[i % PALETTE.length];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const tickLabel = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(0) : String(Number(v.toPrecision(4))));

/** A line chart as an inline SVG element. logY: logarithmic y axis (values must be > 0). */
export function lineChart(opts: { title: string; xLabel: string; yLabel: string; series: Series[]; logY?: boolean; yMin?: number; yMax?: number; integerX?: boolean }): string {
  const W = 760;
  const H = 360;
  // The right margin holds the legend.
  const m = { left: 64, right: 136, top: 32, bottom: 48 };
  const pts = opts.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logY || y > 0));
  if (pts.length === 0) return `<p>${esc(opts.title)}: no finite values to plot.</p>`;
  const fy = (y: number) => (opts.logY ? Math.log10(y) : y);
  let xMin = Math.min(...pts.map((p) => p[0]));
  let xMax = Math.max(...pts.map((p) => p[0]));
  let yMin = opts.yMin ?? Math.min(...pts.map((p) => fy(p[1])));
  let yMax = opts.yMax ?? Math.max(...pts.map((p) => fy(p[1])));
  if (xMax === xMin) xMax = xMin + 1;
  if (yMax === yMin) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  if (opts.logY) {
    yMin = Math.floor(yMin * 4) / 4;
    yMax = Math.ceil(yMax * 4) / 4;
  }
  const sx = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * (W - m.left - m.right);
  const sy = (y: number) => H - m.bottom - ((fy(y) - yMin) / (yMax - yMin)) * (H - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(opts.title)}">`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" class="title">${esc(opts.title)}</text>`);
  // Grid and ticks.
  const yTicks = opts.logY
    ? Array.from({ length: Math.floor(yMax) - Math.ceil(yMin) + 1 }, (_, i) => 10 ** (Math.ceil(yMin) + i)).flatMap((d) => [d, 2 * d, 5 * d]).filter((v) => Math.log10(v) >= yMin - 1e-9 && Math.log10(v) <= yMax + 1e-9)
    : niceTicks(yMin, yMax);
  for (const v of yTicks) {
    const y = sy(v).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" class="grid"/><text x="${m.left - 6}" y="${y}" dy="4" text-anchor="end" class="tick">${tickLabel(v)}</text>`);
  }
  for (const v of niceTicks(xMin, xMax, 8).filter((t) => !opts.integerX || Number.isInteger(t))) {
    const x = sx(v).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${H - m.bottom}" class="grid"/><text x="${x}" y="${H - m.bottom + 16}" text-anchor="middle" class="tick">${tickLabel(v)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" class="frame"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 8}" text-anchor="middle" class="axis">${esc(opts.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle" class="axis">${esc(opts.yLabel)}</text>`);
  for (const s of opts.series) {
    const ok = s.points.filter(([x, y]) => Number.isFinite(y) && (!opts.logY || y > 0) && Number.isFinite(x));
    if (ok.length === 0) continue;
    const clampY = (y: number) => Math.min(H - m.bottom, Math.max(m.top, sy(y)));
    const d = ok.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)} ${clampY(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"><title>${esc(s.name)}</title></path>`);
    if (ok.length <= 40) for (const [x, y] of ok) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${clampY(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
  }
  opts.series.forEach((s, i) => {
    const y = m.top + 8 + i * 18;
    const x = W - m.right + 12;
    parts.push(`<line x1="${x}" x2="${x + 16}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="3"/><text x="${x + 22}" y="${y}" dy="4" class="tick">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Exponential moving average (debiased), for noisy per-step losses. */
export function smooth(values: number[], beta: number): number[] {
  let avg = 0;
  let weight = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return NaN;
    avg = beta * avg + (1 - beta) * v;
    weight = beta * weight + (1 - beta);
    return avg / weight;
  });
}

export function renderReport(results: Results): string {
  const { runs, config } = results;
  const legend = runs.map((r, i) => `<span class="key"><span class="swatch" style="background:${colorOf(i)}"></span>${esc(r.optimizer)}</span>`).join(' ');
  const stepsPerEpoch = Math.ceil(config.trainSize / config.batchSize);
  const beta = Math.min(0.98, Math.max(0.5, 1 - 4 / stepsPerEpoch));
  const lossChart = lineChart({
    title: `Training loss per mini-batch (EMA β = ${beta.toFixed(2)})`,
    xLabel: 'epoch',
    yLabel: 'cross-entropy (log scale)',
    logY: true,
    series: runs.map((r, i) => ({ name: r.optimizer, color: colorOf(i), points: smooth(r.lossCurve, beta).map((y, k): [number, number] => [(k + 1) / stepsPerEpoch, y]) })),
  });
  const accChart = lineChart({
    title: 'Test accuracy after each epoch',
    xLabel: 'epoch',
    yLabel: 'test accuracy',
    integerX: true,
    series: runs.map((r, i) => ({ name: r.optimizer, color: colorOf(i), points: r.epochs.filter((e) => e.epoch > 0).map((e): [number, number] => [e.epoch, e.testAccuracy]) })),
  });
  const trainLossChart = lineChart({
    title: 'Loss on the whole training set after each epoch',
    xLabel: 'epoch',
    integerX: true,
    yLabel: 'cross-entropy (log scale)',
    logY: true,
    series: runs.map((r, i) => ({ name: r.optimizer, color: colorOf(i), points: r.epochs.map((e): [number, number] => [e.epoch, e.trainLoss]) })),
  });
  // Peaks more than 10× apart (sgd's 0.1 and adam's 3e-3) would flatten the smaller on a linear axis.
  const peaks = runs.map((r) => Math.max(0, ...r.lrPerStep.filter((v): v is number => typeof v === 'number' && Number.isFinite(v))));
  const positive = peaks.filter((v) => v > 0);
  const lrLog = positive.length > 1 && Math.max(...positive) > 10 * Math.min(...positive);
  const lrChart = lineChart({
    title: `Learning rate per step (${describeSchedule(config.schedule)})`,
    xLabel: 'epoch',
    yLabel: lrLog ? 'lr of the run\'s rule (log scale)' : "lr of the run's rule",
    logY: lrLog,
    ...(lrLog ? {} : { yMin: 0 }),
    series: runs.map((r, i) => ({
      name: r.optimizer,
      color: colorOf(i),
      points: r.lrPerStep.map((y, k): [number, number] => [(k + 1) / stepsPerEpoch, typeof y === 'number' ? y : NaN]),
    })),
  });
  const clip = config.clip;
  const normChart = lineChart({
    title: `Total gradient norm per step${clip !== undefined ? `, before clipping to ${clip}` : ''}`,
    xLabel: 'epoch',
    yLabel: '‖g‖₂ of all parameters (log scale)',
    logY: true,
    series: [
      ...runs.map((r, i) => ({ name: r.optimizer, color: colorOf(i), points: r.gradNormPerStep.map((y, k): [number, number] => [(k + 1) / stepsPerEpoch, y ?? NaN]) })),
      ...(clip !== undefined ? [{ name: `clip ${clip}`, color: '#000000', points: [[1 / stepsPerEpoch, clip], [config.epochs, clip]] as [number, number][] }] : []),
    ],
  });
  const best = Math.max(...runs.map((r) => (Number.isFinite(r.testAccuracy) ? r.testAccuracy : -1)));
  const rows = runs
    .map((r, i) => {
      const cells = tableRows([r])[0];
      return `<tr${r.testAccuracy === best ? ' class="best"' : ''}><td><span class="swatch" style="background:${colorOf(i)}"></span>${esc(cells[0])}</td>${cells
        .slice(1, 6)
        .map((c) => `<td class="num">${esc(c)}</td>`)
        .join('')}<td>${esc(cells[6])}</td></tr>`;
    })
    .join('\n');
  const details = runs
    .map((r) => {
      const lines = r.assignments
        .map((a) => `<tr><td>${esc(a.param)}</td><td class="num">${a.shape[0]}×${a.shape[1]}</td><td>${esc(a.rule)}</td><td><code>${esc(JSON.stringify(a.hyper))}</code></td><td>${esc(a.reason)}</td></tr>`)
        .join('\n');
      const extra = [
        r.error ? `<p class="error">${esc(r.error)}</p>` : '',
        r.resumedFromEpoch !== undefined ? `<p>Resumed from a checkpoint at epoch ${r.resumedFromEpoch}.</p>` : '',
      ].join('');
      return `<h3>${esc(r.optimizer)}</h3><p>${esc(r.recipe)}</p>${extra}<table><tr><th>parameter</th><th>shape</th><th>rule</th><th>hyperparameters</th><th>why</th></tr>\n${lines}</table>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>specopt: MNIST MLP ${esc(config.sizes.join('-'))}, ${runs.length} optimizer${runs.length === 1 ? '' : 's'}</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1600px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; } h3 { font-size: 1rem; margin-bottom: .2rem; }
.sub { color: #555; margin-top: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
svg { max-width: 100%; height: auto; background: #fff; border: 1px solid #e3e3e3; border-radius: 4px; }
svg .grid { stroke: #eee; } svg .frame { fill: none; stroke: #999; } svg .tick { font-size: 11px; fill: #555; }
svg .axis { font-size: 12px; fill: #333; } svg .title { font-size: 14px; font-weight: 600; fill: #222; }
table { border-collapse: collapse; margin: .5rem 0 1rem; } th, td { padding: .25rem .6rem; border-bottom: 1px solid #e3e3e3; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.best td { font-weight: 600; } .swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .4em; vertical-align: -1px; }
.key { margin-right: 1rem; white-space: nowrap; } .error { color: #b00; } code { font-size: 12px; }
</style>
</head>
<body>
<h1>MNIST, MLP ${esc(config.sizes.join('-'))}: ${runs.length} optimizer${runs.length === 1 ? '' : 's'}</h1>
<p class="sub">${config.epochs} epoch${config.epochs === 1 ? '' : 's'}, batch ${config.batchSize}, seed ${config.seed}; lr ${esc(describeSchedule(config.schedule))}; ${clip !== undefined ? `gradients clipped to total norm ${clip}` : 'no gradient clipping'}; ${config.trainSize} training / ${config.testSize} test images (${esc(config.data)}); every optimizer from the same initial weights on the same batches; ${config.threads} thread${config.threads === 1 ? '' : 's'}; ${results.seconds.toFixed(1)} s in all; ${esc(results.createdAt)}.</p>
<p>${legend}</p>
<div class="charts">
${lossChart}
${accChart}
${trainLossChart}
${lrChart}
${normChart}
</div>
<h2>Results</h2>
<table>
<tr>${TABLE_HEADER.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>
${rows}
</table>
<p>Train loss: mean cross-entropy over the whole training set with the final weights. <b>Optimizer ms/step</b>: wall time of one optimizer step (one <code>stepMany</code> over all parameters), forward and backward passes excluded (those are the next column). State bytes: optimizer state summed over all parameters. The best test accuracy is in bold.</p>
<h2>Which rule trained which parameter</h2>
${details}
</body>
</html>
`;
}
