// A job's timeline as a Gantt chart, drawn with Chart.js's floating horizontal bars: a row per segment (and for the cut
// and the join), each stage's work in its colour, the waits before them in grey, failed attempts in red.
import { timelineBars } from './jobs.js';

const STAGE_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948'];
const WAIT_COLOR = 'rgba(150, 150, 150, 0.45)';
const FAILED_COLOR = '#e15759';
const STEP_COLOR = '#9c755f';

/**
 * Draws `timeline` (GET /api/jobs/{id}/timeline) on `canvas`, the stages in the pipeline's order (`stages`, their
 * names). Returns the chart (to destroy before the next one) and the model it drew.
 */
export function drawTimelineChart(canvas, timeline, stages) {
  const Chart = window.Chart;
  if (typeof Chart !== 'function') {
    throw new Error('Chart.js did not load (/dashboard/vendor/chart.js-4.6.1/chart.umd.min.js).');
  }

  const model = timelineBars(timeline);
  const style = getComputedStyle(canvas);
  const text = style.getPropertyValue('--chart-text').trim() || '#444';
  const grid = style.getPropertyValue('--chart-grid').trim() || 'rgba(0, 0, 0, 0.1)';
  const points = (bars) => bars.map((bar) => ({ x: [bar.from, Math.max(bar.to, bar.from + 0.005)], y: bar.row, bar }));
  const datasets = [
    { label: 'waiting', data: points(model.bars.filter((bar) => bar.kind === 'wait')), backgroundColor: WAIT_COLOR },
    ...stages.map((stage, i) => ({
      label: stage,
      data: points(model.bars.filter((bar) => bar.kind === 'work' && bar.stage === stage)),
      backgroundColor: STAGE_COLORS[i % STAGE_COLORS.length],
    })),
    { label: 'failed attempt', data: points(model.bars.filter((bar) => bar.kind === 'failed')), backgroundColor: FAILED_COLOR },
    { label: 'cut / join', data: points(model.bars.filter((bar) => bar.kind === 'step')), backgroundColor: STEP_COLOR },
  ];

  // Room for every row: a segment a line.
  canvas.parentElement.style.height = `${Math.max(10, 5 + (1.6 * model.rows.length))}rem`;
  const chart = new Chart(canvas, {
    type: 'bar',
    data: { labels: model.rows, datasets },
    options: {
      indexAxis: 'y',
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      color: text,
      // Waits and work of one row never overlap in time: every dataset draws on the row's one band.
      datasets: { bar: { grouped: false, barPercentage: 0.9, categoryPercentage: 0.9 } },
      scales: {
        x: {
          type: 'linear',
          min: 0,
          max: Math.max(model.end, 0.001),
          title: { display: true, text: 'seconds after the upload', color: text },
          ticks: { color: text },
          grid: { color: grid },
        },
        y: { type: 'category', labels: model.rows, ticks: { color: text }, grid: { color: grid } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { color: text, boxWidth: 14 } },
        tooltip: {
          callbacks: {
            label: (item) => {
              const { bar } = item.raw;
              const span = `${bar.from.toFixed(2)}–${bar.to.toFixed(2)} s${bar.open ? ' (going on)' : ''}`;
              const what = bar.kind === 'wait' ? `waiting for ${bar.stage}` : bar.kind === 'failed' ? `${bar.stage}, failed attempt` : bar.stage;
              return `${what}: ${span}${bar.worker ? ` on ${bar.worker}` : ''}`;
            },
          },
        },
      },
    },
  });

  const drawn = stages.filter((stage) => model.bars.some((bar) => bar.kind === 'work' && bar.stage === stage));
  canvas.dataset.stages = drawn.join(',');
  canvas.dataset.bars = String(model.bars.length);
  canvas.setAttribute('aria-label', model.rows.length === 0
    ? 'The job\'s timeline: nothing has happened yet.'
    : `The job's timeline: ${model.rows.length} rows, ${model.bars.length} bars; stages drawn: ${drawn.join(', ') || 'none yet'}. ` +
      'The table below gives the figures per stage.');
  return { chart, model };
}
