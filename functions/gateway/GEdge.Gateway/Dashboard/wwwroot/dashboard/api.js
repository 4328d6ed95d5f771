// The jobs API as the page calls it: same origin, authenticated by the session cookie (`gedge_session`, HttpOnly) that
// POST /api/session sets, so the key itself never sits in the page's storage.
import { problemMessage } from './jobs.js';

/** An answer other than 2xx, with the problem document's words. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

async function call(method, url, body) {
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json, application/problem+json' },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, `The gateway did not answer (${error.message}).`);
  }
  if (!response.ok) {
    throw new ApiError(response.status, problemMessage(response.status, response.statusText, await jsonOrNull(response)));
  }
  if (response.status === 204) {
    return null;
  }
  return response.json();
}

async function jsonOrNull(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** The pipeline: `{statuses, stages}` (no key needed). */
export const pipeline = () => call('GET', '/api/pipeline');

/** `{user}` of the signed-in session; 401 when there is none. */
export const session = () => call('GET', '/api/session');

/** Trades an API key for the session cookie; `{user}`. */
export const signIn = (key) => call('POST', '/api/session', { key });

/** Clears the session cookie. */
export const signOut = () => call('DELETE', '/api/session');

/** One page of the caller's jobs, newest first: `{jobs, total, offset, limit, next}`. */
export const jobs = (offset, limit) => call('GET', `/api/jobs?offset=${encodeURIComponent(offset)}&limit=${encodeURIComponent(limit)}`);

/** Cancels a running job (200, its JobView) or deletes a finished one (204, null). */
export const removeJob = (id) => call('DELETE', `/api/jobs/${encodeURIComponent(id)}`);

/** A result document (detections or summary) by the path the JobView gives. */
export const result = (path) => call('GET', path);

/** What the cluster is doing: per stage, segments waiting, in flight and done in the last minute. */
export const cluster = () => call('GET', '/api/cluster');

/** Where a job's time went: each stage's attempts at each segment, the cut, the join, a breakdown per stage. */
export const timeline = (id) => call('GET', `/api/jobs/${encodeURIComponent(id)}/timeline`);

/**
 * Uploads a video as multipart form data (field `video`) with XMLHttpRequest, since fetch reports no upload
 * progress. `onProgress` gets the fraction sent, 0..1. Resolves with the new job's JobView.
 */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('video', file, file.name);
    const request = new XMLHttpRequest();
    request.open('POST', '/api/jobs');
    request.setRequestHeader('Accept', 'application/json, application/problem+json');
    request.responseType = 'text';
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) {
        onProgress(event.loaded / event.total);
      }
    });
    request.addEventListener('load', () => {
      let body = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        body = null;
      }
      if (request.status >= 200 && request.status < 300 && body !== null) {
        resolve(body);
      } else {
        reject(new ApiError(request.status, problemMessage(request.status, request.statusText, body)));
      }
    });
    request.addEventListener('error', () => reject(new ApiError(0, 'The upload was cut off: the gateway did not answer.')));
    request.addEventListener('abort', () => reject(new ApiError(0, 'The upload was stopped.')));
    request.send(form);
  });
}
