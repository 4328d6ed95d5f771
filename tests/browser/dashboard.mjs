// The dashboard's acceptance test in a real browser: Debian's chromium, driven by playwright-core.
//
//   GEDGE_DASHBOARD_URL=http://127.0.0.1:PORT/#key=KEY node tests/browser/dashboard.mjs
//
// It signs in with the key in the link (as `gedge serve` prints it), uploads a video through the form, watches the
// job's status on the page reach Exit, opens the result, plays the annotated video, checks the chart of detections,
// checks the cluster view counts the job's segments done by every stage, opens the job's timeline and checks a bar is
// drawn for each stage, keeps screenshots (the page, and the timeline
// beside it: dashboard-timeline.png), deletes the job, signs out and in again with the key pasted. Any failure, or any error in the
// page's console, ends it with exit code 1 and a message saying what was expected. GEdge.Cluster.Tests'
// DashboardBrowserTests runs it against a `gedge serve` cluster.
//
// Environment: GEDGE_DASHBOARD_URL (required), GEDGE_VIDEO (default tests/assets/videos/road.mp4), GEDGE_SCREENSHOT
// (default TestResults/artifacts/dashboard.png), GEDGE_EXPECT_CLASS (default car), GEDGE_EXPECT_WIDTH (default 1280),
// GEDGE_JOB_TIMEOUT_S (default 300), CHROMIUM_PATH (default /usr/bin/chromium).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

const settings = {
  url: process.env.GEDGE_DASHBOARD_URL ?? '',
  video: resolve(process.env.GEDGE_VIDEO || resolve(root, 'tests', 'assets', 'videos', 'road.mp4')),
  screenshot: resolve(process.env.GEDGE_SCREENSHOT || resolve(root, 'TestResults', 'artifacts', 'dashboard.png')),
  expectClass: process.env.GEDGE_EXPECT_CLASS || 'car',
  expectWidth: Number(process.env.GEDGE_EXPECT_WIDTH || 1280),
  jobTimeoutMs: Number(process.env.GEDGE_JOB_TIMEOUT_S || 300) * 1000,
  chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
};

class Failure extends Error {}

// What a Chart.js chart drew on a canvas, read in the page (page.evaluate sends this function's source there): its
// category labels, each dataset's label, points and highest numeric y, the canvas's size, and how many pixels hold ink.
function chartOnCanvas(canvas) {
  const instance = window.Chart?.getChart(canvas);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) {
    if (pixels[i] !== 0) {
      inked++;
    }
  }
  return {
    labels: instance ? [...(instance.data.labels ?? [])] : null,
    datasets: instance
      ? instance.data.datasets.map((set) => ({
        label: set.label,
        points: set.data.length,
        peak: Math.max(...set.data.map((point) => (typeof point.y === 'number' ? point.y : -Infinity))),
      }))
      : null,
    size: [canvas.width, canvas.height],
    inked,
  };
}

function fail(message) {
  throw new Failure(message);
}

function log(message) {
  console.log(`dashboard test: ${message}`);
}

function check() {
  const key = settings.url.includes('#') ? new URLSearchParams(settings.url.split('#')[1]).get('key') : null;
  if (!settings.url.startsWith('http') || !key) {
    fail(`GEDGE_DASHBOARD_URL must be the dashboard's address with the key, as gedge serve prints it (http://127.0.0.1:PORT/#key=KEY); it is '${settings.url}'.`);
  }
  if (!existsSync(settings.chromium)) {
    fail(`${settings.chromium} does not exist: install Debian's chromium with 'apt-get install chromium', or set CHROMIUM_PATH.`);
  }
  if (!existsSync(settings.video)) {
    fail(`The video to upload, ${settings.video}, does not exist.`);
  }
  return key;
}

let key;
let chromium;
try {
  key = check();
  ({ chromium } = await import('playwright-core').catch((error) => {
    fail(`playwright-core is not installed (${error.message}): run 'npm ci --prefix tests/browser'.`);
  }));
} catch (error) {
  console.error(`dashboard test FAILED: ${error.message}`);
  process.exit(1);
}

const origin = new URL(settings.url).origin;
const consoleErrors = [];
const videoResponses = [];
let expectedUnauthorized = false;
let expectedRefusal = false;

const browser = await chromium.launch({
  executablePath: settings.chromium,
  headless: true,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  timeout: 60_000,
}).catch((error) => {
  console.error(`dashboard test FAILED: ${settings.chromium} did not start: ${error.message}`);
  process.exit(1);
});
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
const page = await context.newPage();
page.setDefaultTimeout(30_000);

page.on('console', (message) => {
  if (message.type() !== 'error') {
    return;
  }
  const where = message.location()?.url ?? '';
  // The wrong-key step expects the browser's own "401" line for its sign-in request, and nothing else.
  if (expectedUnauthorized && /status of 401/.test(message.text()) && where.endsWith('/api/session')) {
    return;
  }
  // The non-video upload expects the browser's line for its refused upload (415, or 400/413/422 for a stricter gateway).
  if (expectedRefusal && /status of 4\d\d/.test(message.text()) && where.endsWith('/api/jobs')) {
    return;
  }
  consoleErrors.push(`${message.text()} (${where})`);
});
page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
page.on('response', (response) => {
  if (/\/api\/jobs\/[^/]+\/video$/.test(new URL(response.url()).pathname)) {
    videoResponses.push({ status: response.status(), range: response.request().headers().range ?? null });
  }
});

async function step(name, action) {
  const started = Date.now();
  try {
    const result = await action();
    log(`${name}: ok (${Date.now() - started} ms)`);
    return result;
  } catch (error) {
    throw new Failure(`${name}: ${error.message}`);
  }
}

function noConsoleErrors(when) {
  if (consoleErrors.length > 0) {
    fail(`the page's console has errors ${when}:\n  ${consoleErrors.join('\n  ')}`);
  }
}

async function run() {
  const user = await step('sign in with the key in the link', async () => {
    const entries = await page.evaluate(() => history.length);
    await page.goto(settings.url, { waitUntil: 'load' });
    await page.locator('#workspace').waitFor({ state: 'visible' });
    const name = (await page.getByTestId('user-name').textContent()).trim();
    if (name.length === 0) {
      fail('the page shows no user name');
    }
    const address = page.url();
    if (address.includes('#') || address.includes(key)) {
      fail(`the key is still in the address bar: ${address}`);
    }
    if (await page.evaluate(() => history.length) !== entries + 1) {
      fail('signing in added a history entry (the address with the key must be replaced, not pushed)');
    }
    return name;
  });
  log(`signed in as ${user}`);

  const jobId = await step(`upload ${settings.video} through the form`, async () => {
    await page.getByLabel('Video file').setInputFiles(settings.video);
    await page.getByTestId('upload').click();
    const status = page.getByTestId('upload-status');
    await page.waitForFunction(() => document.getElementById('upload-status').dataset.state !== 'uploading');
    if (await status.getAttribute('data-state') !== 'done') {
      fail(`the upload did not succeed: ${await status.textContent()}`);
    }
    const progress = await page.getByTestId('upload-progress').evaluate((bar) => bar.value);
    if (progress !== 100) {
      fail(`the progress bar ended at ${progress}, not 100`);
    }
    return await status.getAttribute('data-job-id');
  });
  log(`job ${jobId} created`);

  const row = page.locator(`tr[data-job-id="${jobId}"]`);
  const seen = await step(`watch job ${jobId} reach Exit on the page`, async () => {
    await row.waitFor({ state: 'visible' });
    const statuses = [];
    const deadline = Date.now() + settings.jobTimeoutMs;
    for (;;) {
      const status = await row.getByTestId('job-status').getAttribute('data-status');
      if (statuses.at(-1) !== status) {
        statuses.push(status);
        log(`  job ${jobId}: ${status}`);
      }
      if (status === 'Exit') {
        break;
      }
      if (Date.now() > deadline) {
        fail(`the job was still in ${status} after ${settings.jobTimeoutMs / 1000} s (seen: ${statuses.join(' → ')})`);
      }
      await page.waitForTimeout(100);
    }
    const error = (await row.getByTestId('job-error').textContent()).trim();
    if (error.length > 0) {
      fail(`the job ended in Exit with an error: ${error}`);
    }
    const text = (await row.getByTestId('job-status').textContent()).trim();
    if (text !== 'Exit (done)') {
      fail(`the status reads '${text}', not 'Exit (done)'`);
    }
    const steps = await row.locator('[data-testid="job-steps"] li').evaluateAll((items) => items.map((item) => item.dataset.state));
    if (steps.length !== 8 || steps.some((state) => state !== 'done')) {
      fail(`the step bar shows ${JSON.stringify(steps)}, not eight steps done`);
    }
    const timings = await row.locator('[data-testid="job-timings"] dd').evaluateAll((items) => items.map((item) => item.dataset.timing));
    for (const stage of ['Preprocessing', 'Inferencing', 'Postprocessing']) {
      if (!timings.includes(stage)) {
        fail(`the stage times show ${JSON.stringify(timings)}, without ${stage}`);
      }
    }
    for (const cell of ['job-start', 'job-end']) {
      if (!(await row.getByTestId(cell).getAttribute('datetime'))) {
        fail(`the row's ${cell} has no time`);
      }
    }
    const iteration = (await row.getByTestId('job-iteration').textContent()).trim();
    if (iteration !== '0') {
      fail(`the job's iteration is '${iteration}', not 0`);
    }
    return statuses;
  });
  log(`statuses seen on the page: ${seen.join(' → ')}`);

  const cluster = await step('the cluster view lists every stage, each having done the job\'s segments in the last minute', async () => {
    const read = () => page.locator('#cluster-body tr').evaluateAll((rows) => rows.map((row) => ({
      stage: row.dataset.stage,
      waiting: Number(row.querySelector('[data-count="waiting"]')?.textContent),
      inFlight: Number(row.querySelector('[data-count="in-flight"]')?.textContent),
      done: Number(row.querySelector('[data-count="done"]')?.textContent),
    })));
    // It is read every few seconds: the reading after the job's end says so.
    const deadline = Date.now() + 15_000;
    let rows = await read();
    while ((rows.length < 3 || rows.some((row) => !(row.done > 0))) && Date.now() < deadline) {
      await page.waitForTimeout(250);
      rows = await read();
    }
    if (rows.length < 3 || rows.some((row) => !(row.done > 0) || row.inFlight !== 0)) {
      fail(`the cluster view shows ${JSON.stringify(rows)}: every stage should have done the job's segments, with none in flight`);
    }
    return rows;
  });
  log(`cluster: ${cluster.map((row) => `${row.stage} ${row.done} done`).join(', ')}`);

  await step('open the result', async () => {
    await row.getByTestId('job-open').click();
    await page.waitForFunction(() => ['ready', 'failed'].includes(document.getElementById('result').dataset.state));
    if (await page.getByTestId('result').getAttribute('data-state') !== 'ready') {
      fail(`the result did not load: ${await page.getByTestId('result-status').textContent()}`);
    }
  });

  const played = await step('play the annotated video', async () => {
    const video = page.getByTestId('result-video');
    const facts = await video.evaluate(async (element) => {
      element.muted = true;
      if (element.readyState < 1) {
        await new Promise((resolve, reject) => {
          element.addEventListener('loadedmetadata', resolve, { once: true });
          element.addEventListener('error', () => reject(new Error(`media error ${element.error?.code}: ${element.error?.message}`)), { once: true });
        });
      }
      await element.play();
      const from = element.currentTime;
      const until = Date.now() + 20_000;
      while (element.currentTime < from + 0.5) {
        if (element.error) {
          throw new Error(`media error ${element.error.code}: ${element.error.message}`);
        }
        if (Date.now() > until) {
          throw new Error(`currentTime stayed at ${element.currentTime} for 20 s after play()`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const playedTo = element.currentTime;
      // Then seek near the end, which a browser does with a range request when the file is not all buffered.
      element.pause();
      const target = element.duration * 0.8;
      const seeked = new Promise((resolve) => element.addEventListener('seeked', resolve, { once: true }));
      element.currentTime = target;
      await seeked;
      // A frame with boxes for the screenshot: two seconds in.
      const back = new Promise((resolve) => element.addEventListener('seeked', resolve, { once: true }));
      element.currentTime = Math.min(2, element.duration / 2);
      await back;
      return {
        width: element.videoWidth,
        height: element.videoHeight,
        duration: element.duration,
        playedTo,
        seekedTo: target,
        error: element.error ? element.error.code : null,
        readyState: element.readyState,
      };
    });
    if (facts.error !== null) {
      fail(`the video element has error ${facts.error}`);
    }
    if (facts.width !== settings.expectWidth) {
      fail(`videoWidth is ${facts.width}, not ${settings.expectWidth}`);
    }
    if (!(facts.duration > 1)) {
      fail(`the video's duration is ${facts.duration}`);
    }
    if (facts.readyState < 2) {
      fail(`after seeking, the video has no frame to show (readyState ${facts.readyState})`);
    }
    if (!videoResponses.some((response) => response.status === 206)) {
      fail(`the video was never answered with 206 Partial Content: ${JSON.stringify(videoResponses)}`);
    }
    return facts;
  });
  log(`video ${played.width}x${played.height}, ${played.duration.toFixed(2)} s; played to ${played.playedTo.toFixed(2)} s; ` +
    `video responses ${videoResponses.map((response) => response.status).join(',')}`);

  const chart = await step(`check the chart of detections shows ${settings.expectClass}`, async () => {
    const drawn = await page.getByTestId('detections-chart').evaluate(chartOnCanvas);
    if (drawn.datasets === null) {
      fail('there is no Chart.js chart on the canvas');
    }
    const line = drawn.datasets.find((set) => set.label === settings.expectClass);
    if (!line || !(line.peak > 0) || line.points < 2) {
      fail(`the chart has no line for ${settings.expectClass} with detections: ${JSON.stringify(drawn.datasets)}`);
    }
    if (drawn.inked < 2000) {
      fail(`the canvas (${drawn.size.join('x')}) is nearly blank: ${drawn.inked} pixels drawn`);
    }
    const summary = await page.locator('#summary-body th').allTextContents();
    if (!summary.includes(settings.expectClass)) {
      fail(`the summary table lists ${JSON.stringify(summary)}, without ${settings.expectClass}`);
    }
    return drawn;
  });
  log(`chart: ${chart.datasets.map((set) => `${set.label} (peak ${set.peak})`).join(', ')}`);

  const timeline = await step('open the job\'s timeline: the cut, the join, and each stage\'s work on its segments', async () => {
    await row.getByTestId('job-timeline').click();
    await page.waitForFunction(() => ['final', 'failed'].includes(document.getElementById('timeline').dataset.state));
    if (await page.getByTestId('timeline').getAttribute('data-state') !== 'final') {
      fail(`the timeline did not load: ${await page.getByTestId('timeline-status').textContent()}`);
    }
    const drawn = await page.getByTestId('timeline-chart').evaluate(chartOnCanvas);
    if (drawn.datasets === null) {
      fail('there is no Chart.js chart on the timeline\'s canvas');
    }
    // The stages the breakdown lists are the pipeline's, as the gateway gives them: each must have drawn work.
    const stages = await page.locator('#timeline-body th').allTextContents();
    if (stages.length < 3) {
      fail(`the timeline's table lists the stages ${JSON.stringify(stages)}`);
    }
    for (const stage of stages) {
      if (!(drawn.datasets.find((set) => set.label === stage)?.points > 0)) {
        fail(`the timeline draws no work of ${stage}: ${JSON.stringify(drawn.datasets)}`);
      }
    }
    if (!drawn.labels.includes('cut') || !drawn.labels.includes('join') || !drawn.labels.some((label) => label.startsWith('segment '))) {
      fail(`the timeline's rows are ${JSON.stringify(drawn.labels)}: no cut, join or segment`);
    }
    if (drawn.inked < 2000) {
      fail(`the timeline's canvas is nearly blank: ${drawn.inked} pixels drawn`);
    }
    const shot = settings.screenshot.replace(/\.png$/, '') + '-timeline.png';
    mkdirSync(dirname(shot), { recursive: true });
    await page.getByTestId('timeline').screenshot({ path: shot });
    return { ...drawn, stages, shot };
  });
  log(`timeline: rows ${timeline.labels.join(', ')}; ${timeline.datasets.map((set) => `${set.label} ${set.points}`).join(', ')}; screenshot ${timeline.shot}`);

  noConsoleErrors('after the result was shown');
  await step(`keep a screenshot at ${settings.screenshot}`, async () => {
    mkdirSync(dirname(settings.screenshot), { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: settings.screenshot, fullPage: true });
  });

  await step(`delete job ${jobId}`, async () => {
    page.once('dialog', (dialog) => dialog.accept());
    await row.getByTestId('job-delete').click();
    await row.waitFor({ state: 'detached' });
    // The page closes the result when the DELETE is answered; a poll answered just before it may already have removed
    // the row, so the result is given a moment to close rather than checked at the instant the row went.
    try {
      await page.getByTestId('result').waitFor({ state: 'hidden', timeout: 5_000 });
    } catch {
      fail('the deleted job\'s result is still shown');
    }
  });

  await step('upload a file that is not a video: the page says why it was refused', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'gedge-dashboard-'));
    const file = join(folder, 'notes.mp4');
    writeFileSync(file, 'These are notes, not a video.\n'.repeat(64));
    try {
      expectedRefusal = true;
      await page.getByLabel('Video file').setInputFiles(file);
      await page.getByTestId('upload').click();
      await page.waitForFunction(() => document.getElementById('upload-status').dataset.state !== 'uploading');
      expectedRefusal = false;
      const status = page.getByTestId('upload-status');
      const text = (await status.textContent()).trim();
      if (await status.getAttribute('data-state') === 'failed') {
        // Refused at the door (415): the reason is the gateway's, on the page.
        if (!text.startsWith('The upload failed: ') || text.length < 'The upload failed: '.length + 10) {
          fail(`the refusal gives no reason: '${text}'`);
        }
        log(`  refused: ${text}`);
        return;
      }
      // Taken, then failed by Preprocess: the job ends in Exit with its reason on the page.
      const id = await status.getAttribute('data-job-id');
      const failed = page.locator(`tr[data-job-id="${id}"]`);
      await failed.locator('[data-testid="job-status"][data-status="Exit"]').waitFor({ timeout: settings.jobTimeoutMs });
      const reason = (await failed.getByTestId('job-error').textContent()).trim();
      if (reason.length === 0) {
        fail(`job ${id} of a non-video ended in Exit without a reason`);
      }
      log(`  job ${id} ended in Exit: ${reason}`);
    } finally {
      expectedRefusal = false;
      rmSync(folder, { recursive: true, force: true });
    }
  });

  await step('sign out, refuse a wrong key, sign in with the key pasted', async () => {
    await page.getByTestId('sign-out').click();
    await page.getByTestId('sign-in-form').waitFor({ state: 'visible' });
    expectedUnauthorized = true;
    await page.getByLabel('API key').fill('gedge_not-a-key');
    await page.getByTestId('sign-in').click();
    await page.waitForFunction(() => document.getElementById('sign-in-error').textContent.length > 0);
    expectedUnauthorized = false;
    if (await page.locator('#workspace').isVisible()) {
      fail('a wrong key signed in');
    }
    await page.getByLabel('API key').fill(key);
    await page.getByTestId('sign-in').click();
    await page.locator('#workspace').waitFor({ state: 'visible' });
    const name = (await page.getByTestId('user-name').textContent()).trim();
    if (name !== user) {
      fail(`signed in again as '${name}', not '${user}'`);
    }
  });

  noConsoleErrors('at the end');
}

let code = 0;
try {
  await run();
  log(`passed: ${origin} signed in, uploaded, watched to Exit, played, charted, drew its timeline, deleted; screenshot ${settings.screenshot}`);
} catch (error) {
  code = 1;
  console.error(`dashboard test FAILED: ${error instanceof Failure ? error.message : error.stack}`);
  if (consoleErrors.length > 0) {
    console.error(`the page's console errors:\n  ${consoleErrors.join('\n  ')}`);
  }
  const shot = settings.screenshot.replace(/\.png$/, '') + '-failure.png';
  try {
    mkdirSync(dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    console.error(`the page at the failure: ${shot}`);
  } catch (screenshotError) {
    console.error(`no screenshot of the failure: ${screenshotError.message}`);
  }
} finally {
  await browser.close();
}
process.exit(code);
