// Small accessible SVG line charts: every series is scaled to its own
// range (bitrate, fps and keyframe interval share one time axis), the
// latest values are in the image's label and a visually hidden table
// carries the recent samples for screen readers.

const NS = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 160;
const PAD = 4;

const svgEl = (tag, attrs = {}) => {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};

// createChart draws into container (whose id is the test hook). series:
// [{label, format(value) → text}]. update(points) takes
// [{at: Date, values: [number|null, …]}] oldest first.
export function createChart(container, { title, series, timeFormat, tableRows = 10 }) {
  const fmtTime = timeFormat || new Intl.DateTimeFormat(document.documentElement.lang || undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', preserveAspectRatio: 'none' });
  const axis = svgEl('line', { x1: 0, y1: H - PAD, x2: W, y2: H - PAD, class: 'axis' });
  const lines = series.map((_, i) => svgEl('path', { class: `line s${i}`, d: '' }));
  svg.append(axis, ...lines);
  const legend = document.createElement('ul');
  legend.className = 'chart-legend';
  legend.setAttribute('aria-hidden', 'true');
  const legendItems = series.map((s, i) => {
    const li = document.createElement('li');
    li.className = `k${i}`;
    legend.append(li);
    return li;
  });
  // A table ignores width: 1px, so the hidden box is a wrapper around it.
  const hidden = document.createElement('div');
  hidden.className = 'sr-only';
  const table = document.createElement('table');
  hidden.append(table);
  const caption = table.createCaption();
  caption.textContent = title;
  const head = table.createTHead().insertRow();
  for (const label of ['', ...series.map((s) => s.label)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = label;
    head.append(th);
  }
  const body = table.createTBody();
  container.replaceChildren(svg, legend, hidden);
  container.dataset.points = '0';

  function update(points) {
    const n = points.length;
    const t0 = n ? +points[0].at : 0;
    const span = n > 1 ? +points[n - 1].at - t0 : 1;
    series.forEach((s, i) => {
      const vals = points.map((p) => p.values[i]).filter((v) => Number.isFinite(v));
      const max = Math.max(...vals, s.min ?? 1e-9);
      let d = '';
      let pen = 'M';
      for (const p of points) {
        const v = p.values[i];
        if (!Number.isFinite(v)) { pen = 'M'; continue; }
        const x = n > 1 ? ((+p.at - t0) / span) * W : W / 2;
        const y = H - PAD - (v / max) * (H - 2 * PAD);
        d += `${pen}${x.toFixed(1)},${y.toFixed(1)}`;
        pen = 'L';
      }
      lines[i].setAttribute('d', d);
      const last = n ? points[n - 1].values[i] : null;
      legendItems[i].textContent = `${s.label}: ${Number.isFinite(last) ? s.format(last) : '–'}`;
    });
    svg.setAttribute('aria-label', `${title}. ${legendItems.map((li) => li.textContent).join(', ')}`);
    body.replaceChildren(...points.slice(-tableRows).map((p) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = fmtTime.format(p.at);
      tr.append(th, ...p.values.map((v, i) => {
        const td = document.createElement('td');
        td.textContent = Number.isFinite(v) ? series[i].format(v) : '–';
        return td;
      }));
      return tr;
    }));
    container.dataset.points = String(n);
  }
  update([]);
  return { update };
}
