// charts.jsx - time series with uPlot (a small canvas chart library) and
// bar charts as SVG. A chart's element carries data-points (how many
// points it drew) for the browser tests and for people reading the DOM.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

// series: [{label, color, values: [...]}] over times (seconds), all the
// same length; unit: text after values on the axis.
export function TimeChart({ title, times, series, unit, height = 180 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const shape = series.map((s) => s.label).join('|');
  const points = series.reduce((n, s) => n + s.values.filter((v) => v !== null && v !== undefined).length, 0);

  useEffect(() => {
    const el = box.current;
    const opts = {
      width: Math.max(el.clientWidth, 200),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max((max || 0) * 1.1, unit === 'B/s' ? 1024 : 1)] } },
      axes: [
        { stroke: '#555' },
        { stroke: '#555', size: 70, values: (u, vals) => vals.map((v) => formatValue(v, unit)) },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: s.color + '22',
          width: 2,
          points: { show: true, size: 4 },
          value: (u, v) => (v === null || v === undefined ? '-' : formatValue(v, unit)),
        })),
      ],
    };
    plot.current = new uPlot(opts, [times, ...series.map((s) => s.values)], el);
    const ro = new ResizeObserver(() => {
      if (plot.current && el.clientWidth) plot.current.setSize({ width: el.clientWidth, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, height, unit]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)]);
  });

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" data-points={points} role="img" aria-label={`${title}: ${points} samples`} />
      {points === 0 && <p class="muted chart-empty">No samples yet: kumod samples running VMs every few seconds.</p>}
    </figure>
  );
}

export function formatValue(v, unit) {
  if (v === null || v === undefined) return '-';
  if (unit === '%') return `${v.toFixed(v < 10 ? 1 : 0)} %`;
  if (unit === 'B/s') {
    const u = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < u.length - 1) {
      v /= 1024;
      i++;
    }
    return `${v.toFixed(v < 10 && i ? 1 : 0)} ${u[i]}`;
  }
  if (unit === '$') return `$${v.toFixed(v < 1 ? 4 : 2)}`;
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${unit ? ' ' + unit : ''}`;
}

// Horizontal bars: rows [{label, value}], values >= 0.
// compact: for a narrow card (the overview), in the same font size.
export function BarChart({ title, rows, unit, compact }) {
  const max = Math.max(...rows.map((r) => r.value), 0) || 1;
  const rowH = 28;
  const labelW = compact ? 110 : 220;
  const width = compact ? 380 : 760;
  const barW = width - labelW - (compact ? 80 : 110);
  return (
    <figure class="chart bar-chart">
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`0 0 ${width} ${Math.max(rows.length, 1) * rowH + 6}`}
        width="100%"
        role="img"
        aria-label={title}
        data-points={rows.length}
      >
        {rows.map((r, i) => (
          <g transform={`translate(0 ${i * rowH + 4})`}>
            <text x={labelW - 8} y={rowH / 2 + 4} text-anchor="end" class="bar-label">
              {r.label.length > (compact ? 14 : 32) ? r.label.slice(0, compact ? 13 : 31) + '…' : r.label}
            </text>
            <rect x={labelW} y={3} height={rowH - 8} width={Math.max((r.value / max) * barW, 1)} rx={3} class="bar" />
            <text x={labelW + Math.max((r.value / max) * barW, 1) + 6} y={rowH / 2 + 4} class="bar-value">
              {formatValue(r.value, unit)}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}
