// Sending files (issue 9): the attach, voice and video buttons, drag and drop onto the room and
// paste from the clipboard. The tray above the composer (views/tray.js), the recorders and their
// styles load with the first file. The composer's text is the caption: sending waits until every
// file is stored, then the message carries their ids.
import { h, icon, iconButton } from '../dom.js';
import { t } from '../i18n.js';
import { uploadStyles } from './media.js';

// Each room keeps its tray while another room is on screen: uploads go on, and the files are
// there again when the reader comes back (the composer's draft is kept the same way).
const rooms = new Map();

function roomFiles(roomId) {
  if (!rooms.has(roomId)) rooms.set(roomId, { tray: null, loading: null, slot: null, status: '', waitingFor: 0, handlers: null });
  return rooms.get(roomId);
}

/**
 * The buttons and tray of one room's composer. `onChange()` runs whenever the files or their
 * state change, `onError(text)` shows a message; the composer asks `take()` for the stored uploads.
 */
export function createUploads(roomId, handlers) {
  const state = roomFiles(roomId);
  state.handlers = handlers;
  state.status = ''; // a new composer is not waiting to send
  state.tray?.setStatus('');
  const { onError } = handlers;
  const onChange = () => state.handlers.onChange();
  state.slot = state.tray ? null : h('div', { class: 'upload-slot', hidden: true });
  const load = () => {
    state.loading ??= Promise.all([import('./tray.js'), uploadStyles()]).then(([module]) => {
      state.tray = module.createTray(roomId, { onChange, onError: (text) => state.handlers.onError(text) });
      state.slot?.replaceWith(state.tray.tray);
      state.slot = null;
      state.tray.setStatus(state.status);
      return state.tray;
    });
    return state.loading;
  };
  const add = (files, options) => {
    if (!files.length) return;
    state.waitingFor += 1; // files handed over before the tray has loaded
    load().then((loaded) => loaded.add(files, options)).finally(() => {
      state.waitingFor -= 1;
      onChange();
    });
  };
  const picker = h('input', { type: 'file', multiple: true, hidden: true, tabindex: -1 });
  picker.addEventListener('change', () => {
    add([...picker.files]);
    picker.value = '';
  });
  const record = (kind) => async () => {
    try {
      const [{ recordClip }] = await Promise.all([import('./recorder.js'), uploadStyles()]);
      const file = await recordClip(kind);
      if (file) add([file]);
    } catch (err) {
      onError(t(err?.name === 'NotAllowedError' ? 'uploads.recordDenied' : 'uploads.recordFailed'));
    }
  };
  const canRecord = 'MediaRecorder' in window && navigator.mediaDevices;
  const buttons = h('div', { class: 'composer-tools' },
    iconButton('attach', t('uploads.attach'), () => picker.click(), { class: 'icon-btn attach-btn' }),
    canRecord ? iconButton('mic', t('uploads.recordVoice'), record('audio'), { class: 'icon-btn mic-btn' }) : null,
    canRecord ? iconButton('camera', t('uploads.recordVideo'), record('video'), { class: 'icon-btn camera-btn' }) : null,
    picker);

  return {
    tray: state.tray ? state.tray.tray : state.slot,
    buttons,
    add,
    /** Adds the clipboard's files, if any; says whether there were some. */
    paste(clipboard) {
      const files = [...(clipboard?.files ?? [])];
      add(files, { pasted: true });
      return files.length > 0;
    },
    get count() {
      return (state.tray?.count ?? 0) + state.waitingFor;
    },
    /** Still uploading, or the tray is on its way. */
    get busy() {
      return state.waitingFor > 0 || Boolean(state.tray?.busy);
    },
    get failed() {
      return Boolean(state.tray?.failed);
    },
    setStatus(text) {
      state.status = text;
      state.tray?.setStatus(text);
    },
    take() {
      return state.tray ? state.tray.take() : [];
    },
  };
}

/** Files dropped anywhere on `target` (the room) go to `add`; a frame shows while dragging over it. */
export function enableDrop(target, add) {
  let depth = 0;
  const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');
  const hint = h('div', { class: 'drop-hint', 'aria-hidden': 'true' }, h('span', {}, icon('attach'), t('uploads.drop')));
  target.append(hint);
  target.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    target.classList.add('dropping');
  });
  target.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) target.classList.remove('dropping');
  });
  target.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  target.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    target.classList.remove('dropping');
    add([...event.dataTransfer.files]);
  });
}
