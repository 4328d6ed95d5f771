// The dashboard's pure logic (functions/gateway/GEdge.Gateway/Dashboard/wwwroot/dashboard/jobs.js), on Node's test runner:
// `node --test tests/browser/`. GEdge.Cluster.Tests' DashboardLogicTests runs it with the other tests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  classColor,
  describeJob,
  detectionSeries,
  formatSeconds,
  keyFromFragment,
  problemMessage,
  pipelineModel,
  segmentBars,
  stepStates,
  timelineBars,
  timingEntries,
  videoName,
} from '../../functions/gateway/GEdge.Gateway/Dashboard/wwwroot/dashboard/jobs.js';

// What GET /api/pipeline answers (GEdge.Gateway.Tests' JobsApiTests checks the gateway answers exactly this).
const PIPELINE = pipelineModel({
  statuses: [
    'Enqueue', 'Preprocessing', 'Preprocessing_complete', 'Inferencing',
    'Inferencing_complete', 'Postprocessing', 'Postprocessing_complete', 'Exit',
  ],
  stages: [
    { name: 'preprocess', consumes: 'Enqueue', working: 'Preprocessing', completes: 'Preprocessing_complete' },
    { name: 'infer', consumes: 'Preprocessing_complete', working: 'Inferencing', completes: 'Inferencing_complete' },
    { name: 'postprocess', consumes: 'Inferencing_complete', working: 'Postprocessing', completes: 'Postprocessing_complete' },
  ],
});

test('the pipeline the gateway describes gives the steps, the working statuses and the timing labels', () => {
  assert.equal(PIPELINE.statuses.length, 8);
  assert.deepEqual([...PIPELINE.working], ['Preprocessing', 'Inferencing', 'Postprocessing']);
  assert.deepEqual(PIPELINE.timingLabels.map(([, label]) => label), ['Queued', 'Preprocess', 'Infer', 'Postprocess', 'Total', 'Longest request']);
  assert.deepEqual(pipelineModel(null).statuses, []);
});

test('a key comes from the #key= fragment that gedge serve prints, and only from there', () => {
  assert.equal(keyFromFragment('#key=gedge_abc-DEF_123'), 'gedge_abc-DEF_123');
  assert.equal(keyFromFragment('#other=1&key=gedge_x'), 'gedge_x');
  assert.equal(keyFromFragment('#key=gedge_a%2Bb'), 'gedge_a+b');
  assert.equal(keyFromFragment(''), null);
  assert.equal(keyFromFragment('#'), null);
  assert.equal(keyFromFragment('#jobs'), null);
});

test('steps: done before the status, working or waiting at it, todo after', () => {
  assert.deepEqual(stepStates(PIPELINE, 'Enqueue', false), ['waiting', 'todo', 'todo', 'todo', 'todo', 'todo', 'todo', 'todo']);
  assert.deepEqual(stepStates(PIPELINE, 'Inferencing', false), ['done', 'done', 'done', 'current', 'todo', 'todo', 'todo', 'todo']);
  assert.deepEqual(stepStates(PIPELINE, 'Inferencing_complete', false), ['done', 'done', 'done', 'done', 'waiting', 'todo', 'todo', 'todo']);
  assert.deepEqual(stepStates(PIPELINE, 'Exit', false), Array(8).fill('done'));
  assert.deepEqual(stepStates(PIPELINE, 'Exit', true), [...Array(7).fill('done'), 'failed']);
  assert.deepEqual(stepStates(PIPELINE, 'Unknown', false), Array(8).fill('todo'));
});

test('a job that failed early shows done only the steps its history went through', () => {
  const visited = new Set(['Enqueue', 'Preprocessing', 'Exit']);
  assert.deepEqual(stepStates(PIPELINE, 'Exit', true, visited), ['done', 'done', 'todo', 'todo', 'todo', 'todo', 'todo', 'failed']);
  assert.deepEqual(stepStates(PIPELINE, 'Exit', false, visited), Array(8).fill('done'));
  const cancelled = describeJob(PIPELINE, {
    job: { id: '3', status: 'Exit', error: 'cancelled by the user' },
    history: [{ status: 'Enqueue' }, { status: 'Preprocessing' }, { status: 'Preprocessing_complete' }, { status: 'Exit' }],
  });
  assert.deepEqual(cancelled.steps, ['done', 'done', 'done', 'todo', 'todo', 'todo', 'todo', 'failed']);
});

test('a finished job can be opened and deleted, not cancelled', () => {
  const job = describeJob(PIPELINE, {
    job: {
      id: '7', user: 'local', path: 'uploads/local/7/road.mp4', type: 'mp4', status: 'Exit',
      start_time: '2026-05-09T10:00:00Z', end_time: '2026-05-09T10:00:09Z', iteration: '0',
    },
    history: [{ status: 'Enqueue', time: '2026-05-09T09:59:59Z' }],
    timings: { longest: 1.5, total: 9.2, Inferencing: 4.5, Preprocessing: 1.25, Postprocessing: 3.1, queued: 0.05 },
    results: { video: '/api/jobs/7/video', detections: '/api/jobs/7/detections', summary: '/api/jobs/7/summary' },
  });
  assert.equal(job.id, '7');
  assert.equal(job.name, 'road.mp4');
  assert.equal(job.step, 7);
  assert.equal(job.stepText, 'step 8 of 8');
  assert.equal(job.finished, true);
  assert.equal(job.failed, false);
  assert.equal(job.error, null);
  assert.equal(job.iteration, '0');
  assert.equal(job.start, '2026-05-09T10:00:00Z');
  assert.deepEqual(job.timings.map((t) => [t.name, t.label, t.text]), [
    ['queued', 'Queued', '0.05 s'],
    ['Preprocessing', 'Preprocess', '1.25 s'],
    ['Inferencing', 'Infer', '4.50 s'],
    ['Postprocessing', 'Postprocess', '3.10 s'],
    ['total', 'Total', '9.20 s'],
    ['longest', 'Longest request', '1.50 s'],
  ]);
  assert.deepEqual([job.canOpen, job.canCancel, job.canDelete], [true, false, true]);
  assert.equal(job.results.detections, '/api/jobs/7/detections');
});

test('a running job can be cancelled; a failed one shows its reason and has no result', () => {
  const running = describeJob(PIPELINE, { job: { id: 8, status: 'Preprocessing_complete', iteration: '1' }, results: {} });
  assert.equal(running.statusText, 'Preprocessing complete');
  assert.equal(running.stepText, 'step 3 of 8');
  assert.deepEqual([running.canOpen, running.canCancel, running.canDelete], [false, true, false]);
  assert.deepEqual(running.timings, []);

  const failed = describeJob(PIPELINE, { job: { id: '9', status: 'Exit', error: 'cancelled by the user' }, results: {} });
  assert.equal(failed.failed, true);
  assert.equal(failed.error, 'cancelled by the user');
  assert.deepEqual(failed.steps.at(-1), 'failed');
  assert.deepEqual([failed.canOpen, failed.canCancel, failed.canDelete], [false, false, true]);
});

test('timings the page has no word for still show, after the known ones', () => {
  assert.deepEqual(timingEntries(PIPELINE, { upload: 0.5, total: 2 }).map((t) => t.label), ['Total', 'upload']);
  assert.deepEqual(timingEntries(PIPELINE, null), []);
});

test('seconds read as people read them', () => {
  assert.equal(formatSeconds(0.8412), '0.84 s');
  assert.equal(formatSeconds(12.34), '12.3 s');
  assert.equal(formatSeconds(125.4), '2 min 05 s');
  assert.equal(formatSeconds(-1), '');
  assert.equal(formatSeconds(Number.NaN), '');
  assert.equal(formatSeconds(undefined), '');
});

test('the video name is the last segment of the job\'s path', () => {
  assert.equal(videoName('uploads/alice/12/clip one.mp4'), 'clip one.mp4');
  assert.equal(videoName('clip.mp4'), 'clip.mp4');
  assert.equal(videoName(undefined), '');
});

test('an API error reads as the problem document says, else as the status line', () => {
  assert.equal(problemMessage(413, 'Payload Too Large', { title: 'Too large', detail: 'The upload is over 1 GB.' }), 'The upload is over 1 GB.');
  assert.equal(problemMessage(404, 'Not Found', { title: 'No such job' }), 'No such job');
  assert.equal(problemMessage(502, 'Bad Gateway', null), '502 Bad Gateway');
});

function frame(index, ...labels) {
  const ids = { person: 0, car: 2, truck: 7, bus: 5, bicycle: 1 };
  return { index, time: index / 10, detections: labels.map((label) => ({ label, classId: ids[label], score: 0.9, box: { x: 0, y: 0, width: 1, height: 1 } })) };
}

test('detections become objects per frame, per class, ranked by how often they were seen', () => {
  const document = {
    video: { width: 1280, height: 720, fps: 10, frames: 4 },
    frames: [frame(0, 'car', 'car', 'person'), frame(1, 'car'), frame(2), frame(3, 'car', 'truck')],
  };
  const chart = detectionSeries(document, { maxPoints: 10 });
  assert.equal(chart.framesPerPoint, 1);
  assert.equal(chart.frames, 4);
  assert.deepEqual(chart.times, [0, 0.1, 0.2, 0.3]);
  assert.deepEqual(chart.series.map((s) => [s.label, s.classId, s.total, s.values]), [
    ['car', 2, 4, [2, 1, 0, 1]],
    ['person', 0, 1, [1, 0, 0, 0]],
    ['truck', 7, 1, [0, 0, 0, 1]],
  ]);
});

test('long videos are averaged into at most maxPoints points, the last bucket over the frames it has', () => {
  const frames = Array.from({ length: 5 }, (_, i) => frame(i, ...(i % 2 === 0 ? ['car'] : [])));
  const chart = detectionSeries({ video: { fps: 10, frames: 5 }, frames }, { maxPoints: 2 });
  assert.equal(chart.framesPerPoint, 3);
  assert.deepEqual(chart.times, [0, 0.3]);
  // frames 0,1,2 → 2 cars over 3 frames; frames 3,4 → 1 car over 2 frames.
  assert.deepEqual(chart.series[0].values, [0.67, 0.5]);
});

test('beyond maxClasses lines, the least seen classes share one line', () => {
  const document = { frames: [frame(0, 'car', 'car', 'car', 'person', 'person', 'truck', 'bus', 'bicycle')] };
  const chart = detectionSeries(document, { maxClasses: 3 });
  assert.deepEqual(chart.series.map((s) => [s.label, s.total]), [['car', 3], ['person', 2], ['other (3 classes)', 3]]);
  assert.equal(chart.series[2].classId, null);
});

test('a video with no detections or no frames gives no lines', () => {
  assert.deepEqual(detectionSeries({ frames: [frame(0), frame(1)] }).series, []);
  assert.deepEqual(detectionSeries({}), { times: [], framesPerPoint: 1, frames: 0, series: [] });
});

test('a class has the colour its boxes have in the annotated video (GEdge.Rendering ClassPalette)', () => {
  // ClassPalette.ColorOf(id) for these ids, as SKColor's R, G, B.
  assert.equal(classColor(0), 'rgb(255, 122, 25)');
  assert.equal(classColor(1), 'rgb(75, 54, 217)');
  assert.equal(classColor(2), 'rgb(29, 178, 0)');
  assert.equal(classColor(7), 'rgb(54, 217, 116)');
  assert.equal(classColor(79), 'rgb(217, 54, 157)');
  assert.equal(classColor(null), 'rgb(128, 128, 128)');
});

test('a job cut into segments shows, per stage, the segments it has done of the job', () => {
  const job = describeJob(PIPELINE, {
    job: { id: '9', status: 'Inferencing' },
    history: [],
    segments: { total: 4, done: { Preprocessing: 4, Inferencing: 1, Postprocessing: 0 }, list: [] },
  });
  assert.deepEqual(job.segments.map((bar) => bar.text), ['Preprocess 4/4', 'Infer 1/4', 'Postprocess 0/4']);
  assert.deepEqual(job.segments.map((bar) => bar.done), [4, 1, 0]);
  assert.deepEqual(segmentBars(PIPELINE, undefined), []);
  assert.deepEqual(segmentBars(PIPELINE, { total: 2, done: { Preprocessing: 7 } }).map((bar) => bar.done), [2, 0, 0]);
});

// What GET /api/jobs/{id}/timeline answers (GEdge.Pipeline.Tests' JobTimelineTests checks how the gateway reads it).
const TIMELINE = {
  created: '2026-12-06T12:00:00Z',
  ended: '2026-12-06T12:00:07Z',
  steps: [
    { name: 'cut', start: '2026-12-06T12:00:00.2Z', end: '2026-12-06T12:00:01Z' },
    { name: 'join', start: '2026-12-06T12:00:06.6Z', end: '2026-12-06T12:00:07Z' },
  ],
  attempts: [
    { segment: 0, stage: 'preprocess', ready: '2026-12-06T12:00:01Z', started: '2026-12-06T12:00:01.1Z', ended: '2026-12-06T12:00:02Z', outcome: 'Done', worker: 'h/1' },
    { segment: 1, stage: 'infer', ready: '2026-12-06T12:00:02.5Z', started: '2026-12-06T12:00:03Z', ended: '2026-12-06T12:00:03.5Z', outcome: 'Failed', worker: 'h/2' },
    { segment: 1, stage: 'infer', ready: '2026-12-06T12:00:03.5Z', started: '2026-12-06T12:00:04.5Z', ended: '2026-12-06T12:00:05.5Z', outcome: 'Done', worker: 'h/2' },
  ],
  stages: [
    { stage: 'preprocess', segments: 1, attempts: 1, retries: 0, workSeconds: 0.9, longestWorkSeconds: 0.9, waitSeconds: 0.1, longestWaitSeconds: 0.1 },
    { stage: 'infer', segments: 1, attempts: 2, retries: 1, workSeconds: 1.5, longestWorkSeconds: 1, waitSeconds: 1.5, longestWaitSeconds: 1 },
  ],
};

test('a timeline is a row per segment between the cut and the join, each attempt a wait then its work, a failed one apart', () => {
  const model = timelineBars(TIMELINE);
  assert.deepEqual(model.rows, ['cut', 'segment 0', 'segment 1', 'join']);
  assert.equal(model.end, 7);
  assert.equal(model.ended, true);
  const round = (bar) => ({ ...bar, from: Number(bar.from.toFixed(3)), to: Number(bar.to.toFixed(3)) });
  assert.deepEqual(model.bars.filter((bar) => bar.row === 'segment 1').map(round), [
    { row: 'segment 1', kind: 'wait', stage: 'infer', from: 2.5, to: 3, open: false },
    { row: 'segment 1', kind: 'failed', stage: 'infer', from: 3, to: 3.5, open: false, outcome: 'Failed', worker: 'h/2' },
    { row: 'segment 1', kind: 'wait', stage: 'infer', from: 3.5, to: 4.5, open: false },
    { row: 'segment 1', kind: 'work', stage: 'infer', from: 4.5, to: 5.5, open: false, outcome: 'Done', worker: 'h/2' },
  ]);
  assert.deepEqual(model.bars.filter((bar) => bar.kind === 'step').map((bar) => [bar.row, round(bar).from, round(bar).to]), [['cut', 0.2, 1], ['join', 6.6, 7]]);
  assert.deepEqual(model.breakdown.map((stage) => [stage.stage, stage.attempts, stage.retries, stage.worked, stage.waited]),
    [['preprocess', 1, 0, '0.90 s', '0.10 s'], ['infer', 2, 1, '1.50 s', '1.50 s']]);
});

test('a timeline still going ends its open bars now', () => {
  const model = timelineBars({
    created: '2026-12-06T12:00:00Z',
    ended: null,
    steps: [{ name: 'cut', start: '2026-12-06T12:00:00.2Z', end: '2026-12-06T12:00:01Z' }],
    attempts: [
      { segment: 0, stage: 'preprocess', ready: '2026-12-06T12:00:01Z', started: '2026-12-06T12:00:01.5Z', ended: null, outcome: 'Running' },
      { segment: 1, stage: 'preprocess', ready: '2026-12-06T12:00:01Z', started: null, ended: null, outcome: 'Waiting' },
    ],
    stages: [],
  }, Date.parse('2026-12-06T12:00:03Z'));
  assert.equal(model.ended, false);
  assert.equal(model.end, 3);
  assert.deepEqual(model.bars.filter((bar) => bar.open).map((bar) => [bar.row, bar.kind, bar.to]), [['segment 0', 'work', 3], ['segment 1', 'wait', 3]]);
  assert.deepEqual(timelineBars(null).rows, []);
});

test('a job names its trace when its record has one', () => {
  assert.equal(describeJob(PIPELINE, { job: { id: '4', status: 'Exit', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' } }).traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(describeJob(PIPELINE, { job: { id: '5', status: 'Exit' } }).traceId, null);
});
