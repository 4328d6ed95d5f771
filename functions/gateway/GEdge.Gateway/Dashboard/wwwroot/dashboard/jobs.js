// What the dashboard shows of a job, worked out from the API's documents: no DOM here, so Node's test runner can
// check it (tests/browser/dashboard-logic.test.mjs).

/**
 * The pipeline as the page uses it, made from what `GET /api/pipeline` answers (`{statuses, stages}`, each stage
 * `{name, consumes, working, completes}`): the statuses in the order a job passes through them, the ones in which a
 * stage is working on the job (the others are waiting for the next stage, or the end), and the stage timings the API
 * may give, in the order they happen, with the words the page shows. The page keeps no list of its own.
 */
export function pipelineModel(pipeline) {
  const statuses = Array.isArray(pipeline?.statuses) ? pipeline.statuses.map(String) : [];
  const stages = Array.isArray(pipeline?.stages) ? pipeline.stages : [];
  return Object.freeze({
    statuses: Object.freeze(statuses),
    working: new Set(stages.map((stage) => String(stage.working))),
    stages: Object.freeze(stages.map((stage) => Object.freeze({ name: String(stage.name), working: String(stage.working), label: capitalized(String(stage.name)) }))),
    timingLabels: Object.freeze([
      ['queued', 'Queued'],
      ...stages.map((stage) => [String(stage.working), capitalized(String(stage.name))]),
      ['total', 'Total'],
      ['longest', 'Longest request'],
    ]),
  });
}

function capitalized(text) {
  return text.length === 0 ? text : text[0].toUpperCase() + text.slice(1);
}

/** A status as words: `Preprocessing_complete` → `Preprocessing complete`. */
export function statusText(status) {
  return String(status).replaceAll('_', ' ');
}

/** The key in a `#key=...` fragment (what `gedge serve` prints), or null when the fragment carries none. */
export function keyFromFragment(hash) {
  if (typeof hash !== 'string' || hash.length < 2) {
    return null;
  }
  const key = new URLSearchParams(hash.replace(/^#/, '')).get('key');
  return key === null ? null : key.trim();
}

/** The uploaded file's name from the job's `path` (`bucket/user/.../name.mp4`). */
export function videoName(path) {
  if (typeof path !== 'string' || path.length === 0) {
    return '';
  }
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * One state per status for a job's step bar: `done`, `current` (a stage is working), `waiting` (between stages),
 * `failed` (the job ended with an error: the step it ended in) or `todo`. A failed job jumps to Exit from wherever it
 * was, so its steps are done only where its history (`visited`, the statuses it entered) says it went.
 */
export function stepStates(pipeline, status, failed, visited = null) {
  const at = pipeline.statuses.indexOf(status);
  return pipeline.statuses.map((step, i) => {
    if (at < 0 || i > at) {
      return 'todo';
    }
    if (i < at) {
      return failed && visited !== null && !visited.has(step) ? 'todo' : 'done';
    }
    if (status === 'Exit') {
      return failed ? 'failed' : 'done';
    }
    return pipeline.working.has(status) ? 'current' : 'waiting';
  });
}

/** Seconds as people read them: `0.84 s`, `12.3 s`, `2 min 05 s`. */
export function formatSeconds(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    return '';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(2)} s`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
}

/** The known timings, in the order they happen, then any the page has no word for. */
export function timingEntries(pipeline, timings) {
  if (timings === null || typeof timings !== 'object') {
    return [];
  }
  const entries = [];
  const known = new Set();
  for (const [name, label] of pipeline.timingLabels) {
    known.add(name);
    if (typeof timings[name] === 'number') {
      entries.push({ name, label, seconds: timings[name], text: formatSeconds(timings[name]) });
    }
  }
  for (const [name, seconds] of Object.entries(timings)) {
    if (!known.has(name) && typeof seconds === 'number') {
      entries.push({ name, label: statusText(name), seconds, text: formatSeconds(seconds) });
    }
  }
  return entries;
}

/**
 * A job's segments as the page shows them filling in: per stage, how many of the job's segments it has done
 * (`{working, label, done, total, text}`, in pipeline order); empty until the job is cut into segments.
 */
export function segmentBars(pipeline, segments) {
  const total = Number(segments?.total);
  if (!Number.isInteger(total) || total < 1) {
    return [];
  }
  const done = segments?.done ?? {};
  return pipeline.stages.map(({ working, label }) => {
    const count = Number.isInteger(done[working]) ? Math.min(done[working], total) : 0;
    return { working, label, done: count, total, text: `${label} ${count}/${total}` };
  });
}

/** A JobView (`{job, history, timings, results, segments}`) as the page shows it, on the pipeline of {@link pipelineModel}. */
export function describeJob(pipeline, view) {
  const job = view?.job ?? {};
  const status = job.status ?? '';
  const error = typeof job.error === 'string' && job.error.length > 0 ? job.error : null;
  const step = pipeline.statuses.indexOf(status);
  const finished = status === 'Exit';
  const results = view?.results ?? {};
  const video = typeof results.video === 'string' ? results.video : null;
  return {
    id: String(job.id ?? ''),
    name: videoName(job.path),
    status,
    statusText: statusText(status),
    step,
    steps: stepStates(pipeline, status, error !== null, visitedStatuses(view?.history)),
    stepText: step < 0 ? statusText(status) : `step ${step + 1} of ${pipeline.statuses.length}`,
    error,
    failed: finished && error !== null,
    finished,
    iteration: job.iteration ?? '',
    start: job.start_time ?? null,
    end: job.end_time ?? null,
    // The job's trace in a tracing backend, when its upload was traced.
    traceId: typeof job.trace_id === 'string' && job.trace_id.length > 0 ? job.trace_id : null,
    timings: timingEntries(pipeline, view?.timings),
    segments: segmentBars(pipeline, view?.segments),
    results: {
      video,
      detections: typeof results.detections === 'string' ? results.detections : null,
      summary: typeof results.summary === 'string' ? results.summary : null,
    },
    canOpen: finished && error === null && video !== null,
    canCancel: !finished && step >= 0,
    canDelete: finished,
  };
}

function visitedStatuses(history) {
  return Array.isArray(history) ? new Set(history.map((entry) => entry?.status)) : null;
}

/**
 * The words of an API error: the problem document's detail (or title), else the status line. `body` is the parsed
 * JSON, or null when the answer was not JSON.
 */
export function problemMessage(status, statusText, body) {
  if (body !== null && typeof body === 'object') {
    for (const field of ['detail', 'title']) {
      if (typeof body[field] === 'string' && body[field].length > 0) {
        return body[field];
      }
    }
  }
  return `${status} ${statusText || 'error'}`.trim();
}

/**
 * Detections per class over time from a `detections.json` document (`{video: {fps, frames}, frames: [{index, time,
 * detections: [{label, classId}]}]}`), for a chart: frames grouped into at most `maxPoints` buckets of equal length,
 * each point the mean number of objects of the class per frame in its bucket (so the unit stays "per frame" however
 * long the video). At most `maxClasses` lines: the classes with the most detections, and when there are more classes
 * than that, a last line, `other`, that sums the rest.
 */
export function detectionSeries(document, { maxPoints = 150, maxClasses = 8 } = {}) {
  const frames = Array.isArray(document?.frames) ? document.frames : [];
  const size = Math.max(1, Math.ceil(frames.length / Math.max(1, maxPoints)));
  const buckets = Math.ceil(frames.length / size);
  const times = [];
  const counts = new Map();
  for (let b = 0; b < buckets; b++) {
    const first = frames[b * size];
    times.push(typeof first.time === 'number' ? first.time : b * size / (document?.video?.fps || 1));
  }

  frames.forEach((frame, i) => {
    const bucket = Math.floor(i / size);
    for (const detection of frame.detections ?? []) {
      let entry = counts.get(detection.classId);
      if (entry === undefined) {
        entry = { label: String(detection.label), classId: detection.classId, total: 0, sums: new Array(buckets).fill(0) };
        counts.set(detection.classId, entry);
      }
      entry.total++;
      entry.sums[bucket]++;
    }
  });

  const framesIn = (b) => Math.min(size, frames.length - b * size);
  const ranked = [...counts.values()].sort((a, b) => b.total - a.total || a.label.localeCompare(b.label));
  const kept = ranked.length > maxClasses ? ranked.slice(0, maxClasses - 1) : ranked;
  const rest = ranked.slice(kept.length);
  const series = kept.map((entry) => ({
    label: entry.label,
    classId: entry.classId,
    total: entry.total,
    values: entry.sums.map((sum, b) => round2(sum / framesIn(b))),
  }));
  if (rest.length > 0) {
    const sums = new Array(buckets).fill(0);
    for (const entry of rest) {
      entry.sums.forEach((sum, b) => { sums[b] += sum; });
    }
    series.push({
      label: `other (${rest.length} classes)`,
      classId: null,
      total: rest.reduce((total, entry) => total + entry.total, 0),
      values: sums.map((sum, b) => round2(sum / framesIn(b))),
    });
  }
  return { times, framesPerPoint: size, frames: frames.length, series };
}

function round2(value) {
  return Math.round(value * 100) / 100;
}

/**
 * The colour a class's boxes are drawn in on the annotated video (GEdge.Rendering's ClassPalette, the same
 * arithmetic), so a line in the chart matches its boxes. `null` (the "other" line) is grey.
 */
export function classColor(classId) {
  if (!Number.isInteger(classId) || classId < 0) {
    return 'rgb(128, 128, 128)';
  }
  const hue = (0.07 + classId * 0.6180339887498949) % 1.0;
  const [saturation, value] = [[0.90, 1.00], [0.75, 0.85], [1.00, 0.70]][classId % 3];
  const sector = hue * 6;
  const index = Math.trunc(sector) % 6;
  const fraction = sector - Math.floor(sector);
  const p = value * (1 - saturation);
  const q = value * (1 - saturation * fraction);
  const t = value * (1 - saturation * (1 - fraction));
  const [r, g, b] = [
    [value, t, p],
    [q, value, p],
    [p, value, t],
    [p, q, value],
    [t, p, value],
    [value, p, q],
  ][index];
  return `rgb(${toByte(r)}, ${toByte(g)}, ${toByte(b)})`;
}

// .NET's Math.Round rounds halves to even; so does this, so the colours are the same to the last bit.
function toByte(channel) {
  const x = channel * 255;
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) {
    return floor + 1;
  }
  if (diff < 0.5) {
    return floor;
  }
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * A job's timeline (GET /api/jobs/{id}/timeline) as bars, in seconds after its upload: a row for the cut, one per
 * segment (each stage's attempts at it, each after the wait that preceded it: a `wait` bar from when the segment was
 * ready for the stage to its claim, then a `work` bar, or a `failed` one for an attempt that went back), and one for the
 * join. A bar still going ends at `now` (ms since the epoch), and is `open`. Also each stage's breakdown, as text.
 */
export function timelineBars(timeline, now = Date.now()) {
  const attempts = Array.isArray(timeline?.attempts) ? timeline.attempts : [];
  const steps = Array.isArray(timeline?.steps) ? timeline.steps : [];
  const parse = (iso) => (typeof iso === 'string' ? Date.parse(iso) : Number.NaN);
  let origin = parse(timeline?.created);
  if (!Number.isFinite(origin)) {
    origin = Math.min(...attempts.map((a) => parse(a.ready)).filter(Number.isFinite), now);
  }
  const at = (iso) => {
    const time = parse(iso);
    return Number.isFinite(time) ? Math.max(0, (time - origin) / 1000) : null;
  };
  const end = at(timeline?.ended) ?? Math.max(0, (now - origin) / 1000);

  const bars = [];
  for (const step of steps) {
    const from = at(step.start);
    if (from !== null) {
      bars.push({ row: step.name, kind: 'step', stage: step.name, from, to: at(step.end) ?? end, open: at(step.end) === null });
    }
  }
  for (const attempt of attempts) {
    const row = `segment ${attempt.segment}`;
    const ready = at(attempt.ready);
    const claimed = at(attempt.started);
    const finished = at(attempt.ended);
    if (ready === null) {
      continue;
    }
    bars.push({ row, kind: 'wait', stage: attempt.stage, from: ready, to: claimed ?? finished ?? end, open: claimed === null && finished === null });
    if (claimed !== null) {
      bars.push({
        row,
        kind: attempt.outcome === 'Failed' ? 'failed' : 'work',
        stage: attempt.stage,
        from: claimed,
        to: finished ?? end,
        open: finished === null,
        outcome: attempt.outcome,
        worker: attempt.worker ?? null,
      });
    }
  }

  const segments = [...new Set(attempts.map((a) => a.segment))].sort((a, b) => a - b);
  const has = (name) => steps.some((step) => step.name === name);
  const rows = [...(has('cut') ? ['cut'] : []), ...segments.map((segment) => `segment ${segment}`), ...(has('join') ? ['join'] : [])];
  const breakdown = (Array.isArray(timeline?.stages) ? timeline.stages : []).map((stage) => ({
    stage: String(stage.stage),
    segments: Number(stage.segments ?? 0),
    attempts: Number(stage.attempts ?? 0),
    retries: Number(stage.retries ?? 0),
    worked: formatSeconds(stage.workSeconds),
    longest: formatSeconds(stage.longestWorkSeconds),
    waited: formatSeconds(stage.waitSeconds),
    longestWait: formatSeconds(stage.longestWaitSeconds),
  }));
  return { rows, bars, end, breakdown, ended: at(timeline?.ended) !== null };
}
