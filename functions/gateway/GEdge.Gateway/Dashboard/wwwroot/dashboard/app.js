// The dashboard: sign-in, the job table kept live by polling, the upload form, a finished job's result, and any job's
// timeline.
// Job data only ever reaches the page as text (textContent, attributes), never as markup.
import * as api from './api.js';
import { describeJob, keyFromFragment, pipelineModel, statusText } from './jobs.js';
import { drawDetectionsChart } from './detections-chart.js';
import { drawTimelineChart } from './timeline-chart.js';

const POLL_MS = 1000;
const POLL_HIDDEN_MS = 5000;
const PAGE_SIZE = 20;
// The cluster view is read at most this often: it reads every open job's segments.
const CLUSTER_MS = 5000;

const $ = (id) => {
  const element = document.getElementById(id);
  if (element === null) {
    throw new Error(`The page has no #${id}.`);
  }
  return element;
};

const ui = {
  loading: $('loading'),
  account: $('account'),
  userName: $('user-name'),
  signOut: $('sign-out'),
  signIn: $('sign-in'),
  signInForm: $('sign-in-form'),
  apiKey: $('api-key'),
  signInError: $('sign-in-error'),
  workspace: $('workspace'),
  uploadForm: $('upload-form'),
  videoFile: $('video-file'),
  uploadButton: $('upload-button'),
  uploadProgress: $('upload-progress'),
  uploadStatus: $('upload-status'),
  jobsStatus: $('jobs-status'),
  jobsBody: $('jobs-body'),
  jobsEmpty: $('jobs-empty'),
  pageNewer: $('page-newer'),
  pageOlder: $('page-older'),
  pagePosition: $('page-position'),
  rowTemplate: $('job-row'),
  result: $('result'),
  resultHeading: $('result-heading'),
  resultStatus: $('result-status'),
  resultClose: $('result-close'),
  resultVideo: $('result-video'),
  chartCanvas: $('detections-chart'),
  summaryBody: $('summary-body'),
  timeline: $('timeline'),
  timelineHeading: $('timeline-heading'),
  timelineStatus: $('timeline-status'),
  timelineClose: $('timeline-close'),
  timelineCanvas: $('timeline-chart'),
  timelineBody: $('timeline-body'),
  clusterStatus: $('cluster-status'),
  clusterBody: $('cluster-body'),
  timelineTrace: $('timeline-trace'),
  timelineTraceId: $('timeline-trace-id'),
};

const state = {
  pipeline: pipelineModel(null),
  user: null,
  offset: 0,
  pollTimer: 0,
  polling: false,
  pollAgain: false,
  rows: new Map(),
  statuses: new Map(),
  openJob: null,
  chart: null,
  // The job whose timeline is shown, its chart, and whether it has ended (its timeline is then final).
  timelineJob: null,
  timelineChart: null,
  timelineFinal: false,
  timelineLoading: false,
  clusterAt: 0,
};

// ---- Signing in and out ------------------------------------------------------------------------------------------

async function start() {
  window.addEventListener('hashchange', () => { void signInFromFragment(); });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.user !== null) {
      void poll();
    }
  });
  ui.signInForm.addEventListener('submit', onSignIn);
  ui.signOut.addEventListener('click', onSignOut);
  ui.uploadForm.addEventListener('submit', onUpload);
  ui.jobsBody.addEventListener('click', onJobAction);
  ui.pageNewer.addEventListener('click', () => turnPage(-PAGE_SIZE));
  ui.pageOlder.addEventListener('click', () => turnPage(PAGE_SIZE));
  ui.resultClose.addEventListener('click', closeResult);
  ui.timelineClose.addEventListener('click', closeTimeline);

  // The statuses and stages the step bars show come from the gateway, once: the page keeps no list of its own.
  try {
    state.pipeline = pipelineModel(await api.pipeline());
  } catch (error) {
    showSignIn(error.message);
    return;
  }
  if (await signInFromFragment()) {
    return;
  }
  if (!rememberedSession()) {
    showSignIn('');
    return;
  }
  try {
    const session = await api.session();
    signedIn(session.user);
  } catch (error) {
    showSignIn(error.status === 401 ? '' : error.message);
  }
}

// The session cookie is HttpOnly, so the page cannot see it; a flag beside it says whether there is one worth asking
// the gateway about, which spares a first visit a 401 (and the browser's console line about it).
const SESSION_FLAG = 'gedge.signedIn';

function rememberedSession() {
  try {
    return window.localStorage.getItem(SESSION_FLAG) === 'true';
  } catch {
    return true;
  }
}

function rememberSession(signed) {
  try {
    if (signed) {
      window.localStorage.setItem(SESSION_FLAG, 'true');
    } else {
      window.localStorage.removeItem(SESSION_FLAG);
    }
  } catch {
    // Storage is off (a private window's policy, say): the page asks the gateway every time instead.
  }
}

// `gedge serve` prints the dashboard's address with the key in the fragment, which browsers never send to the server.
// The page takes it, drops it from the address bar and the history at once, and trades it for the session cookie.
async function signInFromFragment() {
  const key = keyFromFragment(window.location.hash);
  if (key === null) {
    return false;
  }
  history.replaceState(history.state, '', window.location.pathname + window.location.search);
  try {
    const session = await api.signIn(key);
    signedIn(session.user);
  } catch (error) {
    showSignIn(error.status === 401 ? 'The key in the link was not accepted: paste a valid key.' : error.message);
  }
  return true;
}

async function onSignIn(event) {
  event.preventDefault();
  const key = ui.apiKey.value.trim();
  if (key.length === 0) {
    ui.signInError.textContent = 'Paste an API key first.';
    return;
  }
  ui.signInError.textContent = '';
  try {
    const session = await api.signIn(key);
    ui.apiKey.value = '';
    signedIn(session.user);
  } catch (error) {
    ui.signInError.textContent = error.status === 401 ? 'That key was not accepted.' : error.message;
    ui.apiKey.focus();
  }
}

async function onSignOut() {
  try {
    await api.signOut();
  } catch (error) {
    // The cookie may already be gone; the page signs out either way.
    console.warn('Signing out:', error.message);
  }
  showSignIn('');
}

function signedIn(user) {
  rememberSession(true);
  state.user = user;
  ui.userName.textContent = user;
  ui.loading.hidden = true;
  ui.signIn.hidden = true;
  ui.account.hidden = false;
  ui.workspace.hidden = false;
  document.body.dataset.signedIn = 'true';
  void poll();
}

function showSignIn(message) {
  rememberSession(false);
  state.user = null;
  window.clearTimeout(state.pollTimer);
  closeResult();
  closeTimeline();
  ui.clusterBody.replaceChildren();
  ui.clusterStatus.textContent = '';
  state.clusterAt = 0;
  for (const row of state.rows.values()) {
    row.remove();
  }
  state.rows.clear();
  state.statuses.clear();
  state.offset = 0;
  ui.loading.hidden = true;
  ui.account.hidden = true;
  ui.workspace.hidden = true;
  ui.signIn.hidden = false;
  ui.signInError.textContent = message;
  document.body.dataset.signedIn = 'false';
  ui.apiKey.focus();
}

// ---- The job table -------------------------------------------------------------------------------------------------

// One poll at a time: a poll asked for while one is running (after an upload, say) runs right after it.
async function poll() {
  if (state.user === null) {
    return;
  }
  if (state.polling) {
    state.pollAgain = true;
    return;
  }
  window.clearTimeout(state.pollTimer);
  state.polling = true;
  try {
    const page = await api.jobs(state.offset, PAGE_SIZE);
    if (state.user === null) {
      return;
    }
    renderJobs(page);
    if (Date.now() - state.clusterAt >= CLUSTER_MS) {
      state.clusterAt = Date.now();
      void refreshCluster();
    }
  } catch (error) {
    if (error.status === 401) {
      showSignIn('Your session ended: sign in again.');
      return;
    }
    ui.jobsStatus.textContent = `Could not update the jobs: ${error.message}`;
  } finally {
    state.polling = false;
  }
  if (state.user === null) {
    return;
  }
  if (state.pollAgain) {
    state.pollAgain = false;
    void poll();
    return;
  }
  state.pollTimer = window.setTimeout(poll, document.hidden ? POLL_HIDDEN_MS : POLL_MS);
}

function turnPage(delta) {
  state.offset = Math.max(0, state.offset + delta);
  void poll();
}

function renderJobs(page) {
  const views = Array.isArray(page?.jobs) ? page.jobs : [];
  const total = Number(page?.total ?? views.length);
  if (views.length === 0 && state.offset > 0 && total > 0) {
    // The page emptied under us (jobs deleted): go back to the last page that has jobs.
    state.offset = Math.max(0, Math.floor((total - 1) / PAGE_SIZE) * PAGE_SIZE);
    state.pollAgain = true;
    return;
  }

  const seen = new Set();
  views.forEach((view, index) => {
    const job = describeJob(state.pipeline, view);
    seen.add(job.id);
    let row = state.rows.get(job.id);
    if (row === undefined) {
      row = createRow(job.id);
      state.rows.set(job.id, row);
    }
    updateRow(row, job);
    // Rows move only when they are out of place, so a focused button keeps its focus.
    if (ui.jobsBody.children[index] !== row) {
      ui.jobsBody.insertBefore(row, ui.jobsBody.children[index] ?? null);
    }
    announceChange(job);
  });
  for (const [id, row] of state.rows) {
    if (!seen.has(id)) {
      row.remove();
      state.rows.delete(id);
    }
  }

  ui.jobsEmpty.hidden = total > 0;
  ui.pageNewer.disabled = state.offset === 0;
  ui.pageOlder.disabled = page?.next === null || page?.next === undefined;
  ui.pagePosition.textContent = total === 0
    ? ''
    : `${state.offset + 1}–${state.offset + views.length} of ${total}`;
  // A shown timeline follows its job until it ends.
  if (state.timelineJob !== null && !state.timelineFinal) {
    void refreshTimeline(state.timelineJob);
  }
}

function createRow(id) {
  const row = ui.rowTemplate.content.firstElementChild.cloneNode(true);
  row.dataset.jobId = id;
  const steps = row.querySelector('.steps');
  steps.setAttribute('aria-hidden', 'true');
  for (const status of state.pipeline.statuses) {
    const step = document.createElement('li');
    step.title = statusText(status);
    step.dataset.status = status;
    steps.append(step);
  }
  return row;
}

function setText(element, text) {
  if (element.textContent !== text) {
    element.textContent = text;
  }
}

function updateRow(row, job) {
  const part = (testId) => row.querySelector(`[data-testid="${testId}"]`);
  row.dataset.status = job.status;
  row.classList.toggle('failed', job.failed);
  setText(part('job-id'), job.id);
  setText(part('job-name'), job.name);

  const status = part('job-status');
  status.dataset.status = job.status;
  setText(status, job.finished ? (job.failed ? 'Exit (failed)' : 'Exit (done)') : `${job.statusText} (${job.stepText})`);
  const steps = part('job-steps').children;
  job.steps.forEach((value, i) => {
    if (steps[i].dataset.state !== value) {
      steps[i].dataset.state = value;
    }
  });
  setText(part('job-error'), job.error ?? '');

  // One bar per stage, filling in as the stage finishes the job's segments.
  const segments = part('job-segments');
  const segmentsKey = job.segments.map((bar) => bar.text).join(';');
  if (segments.dataset.key !== segmentsKey) {
    segments.dataset.key = segmentsKey;
    segments.replaceChildren(...job.segments.map((bar) => {
      const item = document.createElement('li');
      item.dataset.stage = bar.working;
      const meter = document.createElement('progress');
      meter.max = bar.total;
      meter.value = bar.done;
      const label = document.createElement('span');
      label.textContent = bar.text;
      item.append(meter, label);
      return item;
    }));
  }

  setText(part('job-iteration'), String(job.iteration));
  setTime(part('job-start'), job.start);
  setTime(part('job-end'), job.end);

  const timings = part('job-timings');
  const key = job.timings.map((t) => `${t.name}=${t.text}`).join(';');
  if (timings.dataset.key !== key) {
    timings.dataset.key = key;
    timings.replaceChildren(...job.timings.flatMap((t) => {
      const term = document.createElement('dt');
      term.textContent = t.label;
      const value = document.createElement('dd');
      value.textContent = t.text;
      value.dataset.timing = t.name;
      return [term, value];
    }));
  }

  const open = part('job-open');
  open.hidden = !job.canOpen;
  open.setAttribute('aria-label', `Open the result of job ${job.id}`);
  const cancel = part('job-cancel');
  cancel.hidden = !job.canCancel;
  cancel.setAttribute('aria-label', `Cancel job ${job.id}`);
  const remove = part('job-delete');
  remove.hidden = !job.canDelete;
  remove.setAttribute('aria-label', `Delete job ${job.id} and its results`);
  row.job = job;
}

// Today's times as times; other days' with their date. The full UTC time is in the title.
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

function setTime(element, iso) {
  if ((element.getAttribute('datetime') ?? '') === (iso ?? '')) {
    return;
  }
  const date = iso ? new Date(iso) : null;
  if (date === null || Number.isNaN(date.getTime())) {
    element.removeAttribute('datetime');
    element.textContent = iso ?? '';
    return;
  }
  element.setAttribute('datetime', iso);
  element.textContent = (date.toDateString() === new Date().toDateString() ? timeFormat : dateTimeFormat).format(date);
  element.title = date.toISOString();
}

// Tells assistive technology when a job moves on, once per change (not on every poll).
function announceChange(job) {
  const before = state.statuses.get(job.id);
  state.statuses.set(job.id, job.status);
  if (before === undefined || before === job.status) {
    return;
  }
  ui.jobsStatus.textContent = job.failed
    ? `Job ${job.id} ended: ${job.error}`
    : job.finished ? `Job ${job.id} is done.` : `Job ${job.id}: ${job.statusText}.`;
}

async function onJobAction(event) {
  const button = event.target.closest('button[data-action]');
  const row = button?.closest('tr');
  if (!button || !row?.job) {
    return;
  }
  const job = row.job;
  if (button.dataset.action === 'open') {
    await openResult(job);
    return;
  }
  if (button.dataset.action === 'timeline') {
    await openTimeline(job);
    return;
  }
  if (button.dataset.action === 'delete' && !window.confirm(`Delete job ${job.id} and its results?`)) {
    return;
  }
  button.disabled = true;
  try {
    await api.removeJob(job.id);
    ui.jobsStatus.textContent = button.dataset.action === 'cancel' ? `Job ${job.id} was cancelled.` : `Job ${job.id} was deleted.`;
    if (button.dataset.action === 'delete' && state.openJob === job.id) {
      closeResult();
    }
    if (button.dataset.action === 'delete' && state.timelineJob === job.id) {
      closeTimeline();
    }
  } catch (error) {
    if (error.status === 401) {
      showSignIn('Your session ended: sign in again.');
      return;
    }
    ui.jobsStatus.textContent = `Job ${job.id}: ${error.message}`;
  } finally {
    button.disabled = false;
  }
  void poll();
}

// ---- Uploading ------------------------------------------------------------------------------------------------------

async function onUpload(event) {
  event.preventDefault();
  const file = ui.videoFile.files?.[0];
  if (!file) {
    ui.uploadStatus.textContent = 'Choose a video file first.';
    return;
  }
  ui.uploadButton.disabled = true;
  ui.uploadProgress.hidden = false;
  ui.uploadProgress.value = 0;
  delete ui.uploadStatus.dataset.jobId;
  ui.uploadStatus.dataset.state = 'uploading';
  ui.uploadStatus.textContent = `Uploading ${file.name}…`;
  try {
    const view = await api.upload(file, (fraction) => {
      ui.uploadProgress.value = Math.round(fraction * 100);
    });
    const job = describeJob(state.pipeline, view);
    ui.uploadProgress.value = 100;
    ui.uploadStatus.dataset.state = 'done';
    ui.uploadStatus.dataset.jobId = job.id;
    ui.uploadStatus.textContent = `Uploaded ${file.name}: job ${job.id}.`;
    ui.uploadForm.reset();
    state.offset = 0;
    void poll();
  } catch (error) {
    ui.uploadStatus.dataset.state = 'failed';
    if (error.status === 401) {
      showSignIn('Your session ended: sign in again.');
      return;
    }
    ui.uploadStatus.textContent = `The upload failed: ${error.message}`;
  } finally {
    ui.uploadButton.disabled = false;
  }
}

// ---- A finished job's result ----------------------------------------------------------------------------------------

async function openResult(job) {
  closeResult();
  state.openJob = job.id;
  ui.result.hidden = false;
  ui.result.dataset.jobId = job.id;
  ui.result.dataset.state = 'loading';
  ui.resultHeading.textContent = `Job ${job.id}: ${job.name}`;
  ui.resultStatus.textContent = 'Loading the result…';
  ui.resultVideo.src = job.results.video;
  ui.result.scrollIntoView({ block: 'start' });
  ui.resultHeading.focus();

  try {
    const [detections, summary] = await Promise.all([api.result(job.results.detections), api.result(job.results.summary)]);
    if (state.openJob !== job.id) {
      return;
    }
    state.chart = drawDetectionsChart(ui.chartCanvas, detections, ui.resultVideo);
    renderSummary(summary);
    const frames = state.chart.data.frames;
    const total = state.chart.data.series.reduce((sum, series) => sum + series.total, 0);
    ui.resultStatus.textContent = `${frames} frames, ${total} detections.`;
    ui.result.dataset.state = 'ready';
  } catch (error) {
    if (state.openJob !== job.id) {
      return;
    }
    ui.result.dataset.state = 'failed';
    ui.resultStatus.textContent = `Could not load the result: ${error.message}`;
  }
}

function renderSummary(summary) {
  const classes = Array.isArray(summary?.classes) ? [...summary.classes] : [];
  classes.sort((a, b) => (b.detections ?? 0) - (a.detections ?? 0));
  ui.summaryBody.replaceChildren(...classes.map((entry) => figuresRow(entry.label, [entry.detections, entry.framesPresent, entry.peakInOneFrame])));
}

// A table row of figures: its name as the row's header, then each figure in a number cell, named by keys[i] (its
// data-count) where one is given. Text only, as all job data on the page.
function figuresRow(name, figures, keys = []) {
  const row = document.createElement('tr');
  const header = document.createElement('th');
  header.scope = 'row';
  header.textContent = String(name);
  row.append(header);
  figures.forEach((value, i) => {
    const cell = document.createElement('td');
    cell.className = 'num';
    if (keys[i]) {
      cell.dataset.count = keys[i];
    }
    cell.textContent = String(value ?? '');
    row.append(cell);
  });
  return row;
}

function closeResult() {
  state.openJob = null;
  state.chart?.destroy();
  state.chart = null;
  ui.result.hidden = true;
  delete ui.result.dataset.jobId;
  delete ui.result.dataset.state;
  delete ui.chartCanvas.dataset.classes;
  ui.resultVideo.pause();
  ui.resultVideo.removeAttribute('src');
  ui.resultVideo.load();
  ui.summaryBody.replaceChildren();
}

// ---- The cluster ---------------------------------------------------------------------------------------------------

async function refreshCluster() {
  try {
    const activity = await api.cluster();
    const stages = Array.isArray(activity?.stages) ? activity.stages : [];
    ui.clusterBody.replaceChildren(...stages.map((stage) => {
      const row = figuresRow(stage.stage, [stage.waiting ?? 0, stage.inFlight ?? 0, stage.doneLastMinute ?? 0], ['waiting', 'in-flight', 'done']);
      row.dataset.stage = String(stage.stage);
      return row;
    }));
    const open = Number(activity?.openJobs ?? 0);
    ui.clusterStatus.textContent = `${open} ${open === 1 ? 'job' : 'jobs'} open, every user's`;
  } catch (error) {
    if (error.status !== 401) {
      ui.clusterStatus.textContent = `Could not read the cluster: ${error.message}`;
    }
  }
}

// ---- A job's timeline -----------------------------------------------------------------------------------------------

async function openTimeline(job) {
  closeTimeline();
  state.timelineJob = job.id;
  ui.timeline.hidden = false;
  ui.timeline.dataset.jobId = job.id;
  ui.timeline.dataset.state = 'loading';
  ui.timelineHeading.textContent = `Job ${job.id}: timeline`;
  ui.timelineStatus.textContent = 'Loading the timeline…';
  ui.timelineTrace.hidden = job.traceId === null;
  ui.timelineTraceId.textContent = job.traceId ?? '';
  ui.timeline.scrollIntoView({ block: 'start' });
  ui.timelineHeading.focus();
  await refreshTimeline(job.id);
}

// Reads the job's timeline again and redraws it; one read at a time, and none for a timeline closed meanwhile.
async function refreshTimeline(id) {
  if (state.timelineLoading) {
    return;
  }
  state.timelineLoading = true;
  try {
    const timeline = await api.timeline(id);
    if (state.timelineJob !== id) {
      return;
    }
    state.timelineChart?.chart.destroy();
    state.timelineChart = drawTimelineChart(ui.timelineCanvas, timeline, state.pipeline.stages.map((stage) => stage.name));
    const { model } = state.timelineChart;
    state.timelineFinal = model.ended;
    renderBreakdown(model.breakdown);
    const retries = model.breakdown.reduce((sum, stage) => sum + stage.retries, 0);
    const segments = model.rows.filter((row) => row.startsWith('segment')).length;
    ui.timelineStatus.textContent = `${segments} ${segments === 1 ? 'segment' : 'segments'}, ` +
      `${retries} ${retries === 1 ? 'retry' : 'retries'}; ${model.ended ? `ended ${model.end.toFixed(2)} s after the upload` : 'going on'}.`;
    ui.timeline.dataset.state = model.ended ? 'final' : 'live';
  } catch (error) {
    if (state.timelineJob !== id) {
      return;
    }
    if (error.status === 401) {
      showSignIn('Your session ended: sign in again.');
      return;
    }
    ui.timeline.dataset.state = 'failed';
    ui.timelineStatus.textContent = `Could not load the timeline: ${error.message}`;
  } finally {
    state.timelineLoading = false;
  }
}

function renderBreakdown(breakdown) {
  ui.timelineBody.replaceChildren(...breakdown.map((stage) => {
    const row = figuresRow(stage.stage, [stage.segments, stage.attempts, stage.retries, stage.worked, stage.longest, stage.waited, stage.longestWait]);
    row.dataset.stage = stage.stage;
    return row;
  }));
}

function closeTimeline() {
  state.timelineJob = null;
  state.timelineFinal = false;
  state.timelineChart?.chart.destroy();
  state.timelineChart = null;
  ui.timeline.hidden = true;
  delete ui.timeline.dataset.jobId;
  delete ui.timeline.dataset.state;
  delete ui.timelineCanvas.dataset.stages;
  delete ui.timelineCanvas.dataset.bars;
  ui.timelineBody.replaceChildren();
  ui.timelineTrace.hidden = true;
  ui.timelineTraceId.textContent = '';
}

void start();
