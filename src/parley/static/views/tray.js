// The upload tray (issue 9), loaded with the first file: each file uploads at once
// (XMLHttpRequest, for its progress) and shows a bar, Cancel and, after a failure, Retry and the
// reason (too large, over quota, interrupted...). views/uploads.js holds the always-present part.
import { h, icon, iconButton, userText } from '../dom.js';
import { formatNumber, loadStrings, t } from '../i18n.js';
import { formatSize } from './media.js';
import { describeError } from './ui.js';

await loadStrings('later'); // the strings of the parts loaded on first use (locales/later-*.js)

export const MAX_ATTACHMENTS = 10;

/** POSTs one file; `onProgress(fraction)`; resolves with the stored upload, rejects with {status, code, message}. */
export function uploadFile(roomId, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open('POST', `/api/v1/rooms/${roomId}/uploads`);
    xhr.setRequestHeader('X-Requested-With', 'parley');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (event) => event.lengthComputable && onProgress(event.loaded / event.total));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300 && xhr.response?.upload) resolve(xhr.response.upload);
      else {
        const error = xhr.response?.error ?? {};
        reject({ status: xhr.status, code: error.code ?? (xhr.status === 413 ? 'payload_too_large' : 'unavailable'), message: error.message ?? '' });
      }
    });
    xhr.addEventListener('error', () => reject({ status: 0, code: 'network', message: '' }));
    xhr.addEventListener('abort', () => reject({ status: 0, code: 'aborted', message: '' }));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}

/** Why an upload failed, in words: too large (with the limit when the server names it), quota, ... */
export function uploadError(error) {
  if (/quota/i.test(`${error?.code} ${error?.message}`)) return t('uploads.quota');
  if (error?.code === 'payload_too_large' || error?.status === 413) {
    // The server names its limit in bytes ("larger than 26214400 bytes") or MiB ("larger than 25 MiB").
    const found = /([\d.]+)\s*(bytes|MiB)/.exec(error.message ?? '');
    const limit = found && Number(found[1]) * (found[2] === 'MiB' ? 1024 * 1024 : 1);
    return limit ? t('uploads.tooLargeLimit', { max: formatSize(limit) }) : t('uploads.tooLarge');
  }
  const key = `uploads.error.${error?.code}`;
  const text = t(key);
  return text === key ? describeError(error) : text;
}

/** A file from the clipboard often has no useful name ("image.png"): give it one with the time. */
function namePasted(file) {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  const ext = (file.type.split('/')[1] ?? 'bin').replace('jpeg', 'jpg').replace(/[^a-z0-9]/gi, '');
  return new File([file], `pasted-${stamp}.${ext}`, { type: file.type, lastModified: Date.now() });
}

/**
 * The tray and buttons of one room's composer. `onChange()` runs whenever the set of files or
 * their state changes; `send(ids)` is not called here: the composer asks `take()` when it sends.
 */
export function createTray(roomId, { onChange, onError }) {
  const items = [];
  // Leaving the page would break off an upload: the browser asks first.
  window.addEventListener('beforeunload', (event) => {
    if (items.some((item) => item.status === 'uploading')) event.preventDefault();
  });
  const list = h('ul', { class: 'upload-tray', 'aria-label': t('uploads.tray') });
  const status = h('p', { class: 'upload-status', 'aria-live': 'polite' });
  const tray = h('div', { class: 'upload-tray-wrap', hidden: true }, list, status);
  function add(files) {
    const room = MAX_ATTACHMENTS - items.length;
    if (files.length > room) onError(t('uploads.tooMany', { max: formatNumber(MAX_ATTACHMENTS) }));
    for (const file of files.slice(0, Math.max(0, room))) {
      const item = { file, status: 'uploading', progress: 0, upload: null, error: null, request: null, preview: null };
      if (/^image\/(png|jpeg|gif|webp|avif)$/.test(file.type)) item.preview = URL.createObjectURL(file);
      item.el = h('li', { class: 'upload-item' });
      items.push(item);
      list.append(item.el);
      start(item);
    }
    changed();
  }

  function start(item) {
    Object.assign(item, { status: 'uploading', progress: 0, error: null });
    item.request = uploadFile(roomId, item.file, (fraction) => {
      item.progress = fraction;
      paintProgress(item);
    });
    item.request.done.then((upload) => {
      Object.assign(item, { status: 'done', upload, progress: 1 });
      changed();
    }, (error) => {
      if (error.code === 'aborted') return;
      Object.assign(item, { status: 'failed', error });
      changed();
    });
    paint(item);
  }

  function remove(item) {
    item.request?.abort();
    if (item.preview) URL.revokeObjectURL(item.preview);
    items.splice(items.indexOf(item), 1);
    item.el.remove();
    changed();
  }

  function paintProgress(item) {
    const bar = item.el.querySelector('progress');
    if (bar) bar.value = item.progress;
  }

  function paint(item) {
    const { file } = item;
    const thumb = item.preview ? h('img', { src: item.preview, alt: '', class: 'upload-thumb' })
      : h('span', { class: 'upload-thumb upload-icon', 'aria-hidden': 'true' },
        icon(file.type.startsWith('audio/') ? 'mic' : file.type.startsWith('video/') ? 'camera' : 'file'));
    const name = userText(file.name, 'span', { class: 'upload-name', title: file.name });
    const line = [];
    if (item.status === 'uploading') {
      line.push(h('progress', { max: 1, value: item.progress, 'aria-label': t('uploads.progress', { name: file.name }) }));
    } else if (item.status === 'done') {
      line.push(h('span', { class: 'upload-size' }, formatSize(item.upload?.size ?? file.size)));
    } else {
      line.push(h('span', { class: 'upload-error', role: 'alert' }, uploadError(item.error)));
    }
    const actions = [];
    if (item.status === 'failed') {
      actions.push(iconButton('retry', t('uploads.retry', { name: file.name }), () => start(item), { class: 'icon-btn small upload-retry' }));
    }
    const removeLabel = item.status === 'uploading' ? t('uploads.cancel', { name: file.name }) : t('uploads.remove', { name: file.name });
    actions.push(iconButton('close', removeLabel, () => remove(item), { class: 'icon-btn small upload-remove' }));
    item.el.className = `upload-item ${item.status}`;
    item.el.replaceChildren(thumb, h('span', { class: 'upload-info' }, name, ...line), ...actions);
  }

  function changed() {
    for (const item of items) paint(item);
    tray.hidden = items.length === 0;
    if (!items.length) status.textContent = '';
    onChange();
  }

  return {
    tray,
    /** Adds files; pasted ones (often just "image.png") are named by the time. */
    add(files, { pasted = false } = {}) {
      add(pasted ? files.map((file) => (!file.name || /^image\.\w+$/.test(file.name) ? namePasted(file) : file)) : files);
    },
    get count() {
      return items.length;
    },
    get busy() {
      return items.some((item) => item.status === 'uploading');
    },
    get failed() {
      return items.some((item) => item.status === 'failed');
    },
    /** Says what the composer waits for (empty when nothing). */
    setStatus(text) {
      status.textContent = text;
    },
    /** The stored uploads, handed to the message; the tray empties. */
    take() {
      const uploads = items.filter((item) => item.status === 'done').map((item) => item.upload);
      for (const item of [...items]) {
        if (item.preview) URL.revokeObjectURL(item.preview);
        item.el.remove();
      }
      items.length = 0;
      changed();
      return uploads;
    },
  };
}

