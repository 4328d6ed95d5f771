// The chart of detections per class over time, drawn with Chart.js (the vendored UMD build defines window.Chart),
// with a playhead that follows the video and a click that seeks it.
import { classColor, detectionSeries } from './jobs.js';

const playhead = {
  id: 'gedgePlayhead',
  afterDatasetsDraw(chart, _args, options) {
    const time = options.time?.();
    const x = chart.scales.x;
    if (typeof time !== 'number' || !Number.isFinite(time) || time < x.min || time > x.max) {
      return;
    }
    const { ctx, chartArea } = chart;
    const left = x.getPixelForValue(time);
    ctx.save();
    ctx.strokeStyle = options.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(left, chartArea.top);
    ctx.lineTo(left, chartArea.bottom);
    ctx.stroke();
    ctx.restore();
  },
};

/**
 * Draws `document` (detections.json) on `canvas`, following `video`'s time. Returns what was drawn: the chart (to
 * destroy before the next one) and the series.
 */
export function drawDetectionsChart(canvas, document, video) {
  const Chart = window.Chart;
  if (typeof Chart !== 'function') {
    throw new Error('Chart.js did not load (/dashboard/vendor/chart.js-4.6.1/chart.umd.min.js).');
  }

  const data = detectionSeries(document);
  const style = getComputedStyle(canvas);
  const text = style.getPropertyValue('--chart-text').trim() || '#444';
  const grid = style.getPropertyValue('--chart-grid').trim() || 'rgba(0, 0, 0, 0.1)';
  const duration = document?.video?.fps > 0 && document?.video?.frames > 0
    ? document.video.frames / document.video.fps
    : (data.times.at(-1) ?? 0);
  const perFrame = data.framesPerPoint > 1 ? `objects per frame (mean of ${data.framesPerPoint} frames)` : 'objects per frame';

  const chart = new Chart(canvas, {
    type: 'line',
    data: {
      datasets: data.series.map((series) => ({
        label: series.label,
        data: data.times.map((time, i) => ({ x: time, y: series.values[i] })),
        borderColor: classColor(series.classId),
        backgroundColor: classColor(series.classId),
        borderWidth: 2,
        pointRadius: 0,
        pointHitRadius: 6,
        // Counts per frame are whole numbers that hold until the next frame: steps, not curves.
        stepped: 'after',
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      color: text,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: {
          type: 'linear',
          min: 0,
          max: Math.max(duration, 0.001),
          title: { display: true, text: 'time (s)', color: text },
          ticks: { color: text },
          grid: { color: grid },
        },
        y: {
          beginAtZero: true,
          title: { display: true, text: perFrame, color: text },
          ticks: { color: text, precision: 0 },
          grid: { color: grid },
        },
      },
      plugins: {
        legend: { position: 'bottom', labels: { color: text, boxWidth: 14 } },
        tooltip: {
          callbacks: {
            title: (items) => `${items[0].parsed.x.toFixed(2)} s`,
          },
        },
        gedgePlayhead: { time: () => video.currentTime, color: text },
      },
      onClick: (_event, _elements, target) => {
        const x = target.scales.x.getValueForPixel(_event.x);
        if (Number.isFinite(x) && Number.isFinite(video.duration)) {
          video.currentTime = Math.min(Math.max(x, 0), video.duration);
        }
      },
    },
    plugins: [playhead],
  });

  const redraw = () => chart.draw();
  video.addEventListener('timeupdate', redraw);
  video.addEventListener('seeked', redraw);
  const destroy = () => {
    video.removeEventListener('timeupdate', redraw);
    video.removeEventListener('seeked', redraw);
    chart.destroy();
  };

  const labels = data.series.map((series) => series.label);
  canvas.dataset.classes = labels.join(',');
  canvas.setAttribute('aria-label', labels.length === 0
    ? 'Detections per class over time: nothing was detected.'
    : `Detections per class over time, ${labels.length} ${labels.length === 1 ? 'line' : 'lines'}: ${labels.join(', ')}. ` +
      'The table below gives the figures.');
  return { chart, data, destroy };
}
