// A room's Files panel (issue 9), loaded on first use: the room's uploads, newest first, a page at
// a time (GET /rooms/{id}/uploads?before=), with files sent while it is open added on top.
import { api } from '../api.js';
import { h, icon, iconButton, userText } from '../dom.js';
import { formatDay, formatTime, loadStrings, t } from '../i18n.js';
import { on, timeline } from '../state.js';
import { fitBox, formatDuration, formatSize, mediaKind } from './media.js';
import { describeError } from './ui.js';

await loadStrings('later'); // the strings of the parts loaded on first use (locales/later-*.js)

const PAGE = 30;
const THUMB = { width: 48, height: 48 };

export function createFilesPanel(roomId, onClose) {
  const list = h('ul', { class: 'files-list' });
  const state = h('p', { class: 'files-state muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'btn small wide files-more', hidden: true }, t('uploads.more'));
  const heading = h('h3', { id: `files-${roomId}` }, t('uploads.files'));
  const el = h('aside', { class: 'files-panel', id: `files-panel-${roomId}`, 'aria-labelledby': heading.id },
    h('div', { class: 'panel-head' }, heading, iconButton('close', t('uploads.closeFiles'), onClose, { class: 'icon-btn' })),
    h('div', { class: 'files-scroll' }, list, state, more));
  const shown = new Set();
  let oldest = null;

  async function load() {
    more.disabled = true;
    state.textContent = t('common.loading');
    try {
      const page = await api.uploads(roomId, { before: oldest ?? undefined, limit: PAGE });
      const uploads = page.uploads ?? [];
      for (const upload of uploads) add(upload, 'end');
      if (uploads.length) oldest = uploads.at(-1).id;
      more.hidden = !(page.has_more ?? uploads.length === PAGE);
      state.textContent = shown.size ? '' : t('uploads.noFiles');
    } catch (err) {
      state.textContent = describeError(err);
    } finally {
      more.disabled = false;
    }
  }

  function add(upload, where) {
    if (shown.has(upload.id)) return;
    shown.add(upload.id);
    const row = fileRow(upload);
    if (where === 'start') list.prepend(row);
    else list.append(row);
    state.textContent = '';
  }

  more.addEventListener('click', load);
  const offs = [
    on('timeline', ({ roomId: id, change }) => {
      if (id !== roomId || change?.kind !== 'append') return;
      for (const event of timeline(roomId).events.slice(-change.count)) {
        for (const upload of event.attachments ?? []) add(upload, 'start');
      }
    }),
  ];
  load();
  return { el, destroy: () => offs.forEach((off) => off()) };
}

function fileRow(upload) {
  const kind = mediaKind(upload);
  let preview;
  if (kind === 'image') {
    const size = fitBox(upload.width, upload.height, THUMB);
    preview = h('button', { type: 'button', class: 'att-image files-thumb', 'aria-label': t('uploads.openImage', { name: upload.name }) },
      h('img', { src: upload.thumbnail_url, alt: '', width: size.width, height: size.height, loading: 'lazy' }));
    preview.upload = upload;
    preview.addEventListener('click', async () => (await import('./lightbox.js')).openLightbox(preview));
  } else {
    preview = h('span', { class: 'files-thumb files-icon', 'aria-hidden': 'true' },
      icon(kind === 'audio' ? 'mic' : kind === 'video' ? 'camera' : 'file'));
  }
  const details = [formatSize(upload.size)];
  if (upload.duration_ms) details.push(formatDuration(upload.duration_ms));
  if (upload.created_at) details.push(`${formatDay(upload.created_at)} ${formatTime(upload.created_at)}`);
  return h('li', { class: 'files-item', dataset: { uploadId: upload.id } }, preview,
    h('span', { class: 'files-info' },
      h('a', { href: upload.url, download: upload.name, class: 'files-name', title: upload.name }, userText(upload.name)),
      h('span', { class: 'files-meta' }, details.join(' · '))));
}
