// Recording a voice message or a video clip (issue 9), loaded on the first click on the mic or
// camera button. A modal dialog shows the timer (and the camera's picture), records with
// MediaRecorder (Opus in WebM or Ogg), stops by itself at the limit, and resolves with a File for
// the upload tray, or null when cancelled. The microphone and camera are released when it closes.
import { h, icon } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { formatDuration } from './media.js';

await loadStrings('later'); // the strings of the parts loaded on first use (locales/later-*.js)

export const LIMITS_MS = { audio: 5 * 60_000, video: 2 * 60_000 };
const TYPES = {
  audio: ['audio/ogg;codecs=opus', 'audio/webm;codecs=opus', 'audio/webm'],
  video: ['video/webm;codecs=vp9,opus', 'video/webm;codecs=vp8,opus', 'video/webm'],
};
const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 } };

function pickType(kind) {
  return TYPES[kind].find((type) => MediaRecorder.isTypeSupported(type)) ?? '';
}

function fileName(kind, type) {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  const ext = type.includes('ogg') ? 'ogg' : 'webm';
  return `${kind === 'audio' ? 'voice' : 'video'}-${stamp}.${ext}`;
}

/** Records from the microphone (`audio`) or camera and microphone (`video`); throws if refused. */
export async function recordClip(kind) {
  const stream = await navigator.mediaDevices.getUserMedia(kind === 'audio' ? { audio: true } : { audio: true, video: VIDEO });
  const type = pickType(kind);
  const recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
  const chunks = [];
  recorder.addEventListener('dataavailable', (event) => event.data.size && chunks.push(event.data));

  const limit = LIMITS_MS[kind];
  const time = h('span', { class: 'rec-time', role: 'timer', 'aria-live': 'off' }, formatDuration(0));
  const bar = h('progress', { class: 'rec-bar', max: limit, value: 0, 'aria-hidden': 'true' });
  const preview = kind === 'video' ? h('video', { class: 'rec-preview', muted: true, autoplay: true, playsinline: true }) : null;
  if (preview) {
    preview.muted = true;
    preview.srcObject = stream;
  }
  const stop = h('button', { type: 'submit', class: 'btn primary rec-stop' }, icon('stop'), t('uploads.recordStop'));
  const cancel = h('button', { type: 'button', class: 'btn rec-cancel' }, t('common.cancel'));
  const title = t(kind === 'audio' ? 'uploads.recordingVoice' : 'uploads.recordingVideo');
  const form = h('form', { class: 'dialog-form recorder' },
    h('h2', {}, h('span', { class: 'rec-dot', 'aria-hidden': 'true' }), title),
    preview,
    h('div', { class: 'rec-clock' }, time, h('span', { class: 'muted' }, ' / ', formatDuration(limit))),
    bar,
    h('div', { class: 'dialog-actions' }, cancel, stop));
  const dialog = h('dialog', { class: `dialog recorder-dialog ${kind}`, 'aria-label': title }, form);
  const opener = document.activeElement;

  return new Promise((resolve) => {
    let keep = false;
    const started = performance.now();
    const tick = setInterval(() => {
      const elapsed = performance.now() - started;
      time.textContent = formatDuration(elapsed);
      bar.value = Math.min(limit, elapsed);
      if (elapsed >= limit) finish(true);
    }, 250);

    function finish(save) {
      if (recorder.state === 'inactive') return;
      keep = save;
      recorder.stop();
    }
    recorder.addEventListener('stop', () => {
      clearInterval(tick);
      for (const track of stream.getTracks()) track.stop();
      dialog.close();
      const mime = (recorder.mimeType || type || (kind === 'audio' ? 'audio/webm' : 'video/webm')).split(';')[0];
      resolve(keep && chunks.length ? new File(chunks, fileName(kind, mime), { type: mime }) : null);
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      finish(true);
    });
    cancel.addEventListener('click', () => finish(false));
    // Escape cancels (the dialog would close without stopping the recorder otherwise).
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener?.isConnected) opener.focus();
    });
    document.body.append(dialog);
    dialog.showModal();
    stop.focus();
    recorder.start(1000);
  });
}
