// Attachments in the timeline (issue 9): raster images as thumbnails whose box is reserved from the
// stored width and height (nothing jumps while they load) and open the lightbox; audio (voice
// messages) with a waveform player (views/player.js, loaded with the first one); video inline with its poster; everything else (SVG and HTML
// included: never shown inline) as a card with a download link. The lightbox is loaded on first use.
import { h, icon, userText } from '../dom.js';
import { language, t, tCount } from '../i18n.js';

// Types the browser shows inline. SVG is an image type but may carry script: always a card.
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);
const THUMB_BOX = { width: 320, height: 240 };

let styles = null;
/** The stylesheet of the tray, lightbox, recorder and Files panel: added once, on first use. */
export function uploadStyles() {
  styles ??= new Promise((resolve) => {
    const link = h('link', { rel: 'stylesheet', href: new URL('../uploads.css', import.meta.url).pathname });
    link.addEventListener('load', resolve);
    link.addEventListener('error', resolve);
    document.head.append(link);
  });
  return styles;
}

/** What kind of thing an upload is, for how it is drawn. */
export function mediaKind(upload) {
  const type = String(upload.content_type ?? '').split(';')[0].trim().toLowerCase();
  if (INLINE_IMAGES.has(type) && upload.thumbnail_url && upload.width > 0 && upload.height > 0) return 'image';
  if (type.startsWith('audio/')) return 'audio';
  if (type.startsWith('video/')) return 'video';
  return 'file';
}

/** 1.2 MB, 340 kB, in the reader's language; counted in 1024s, as the server's limits are (25 MiB). */
export function formatSize(bytes) {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'];
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return new Intl.NumberFormat(language(), { style: 'unit', unit: units[unit], unitDisplay: unit ? 'short' : 'long',
    maximumFractionDigits: unit ? 1 : 0 }).format(value);
}

/** m:ss (h:mm:ss past an hour). */
export function formatDuration(ms) {
  const total = Math.max(0, Math.round((Number(ms) || 0) / 1000));
  const seconds = String(total % 60).padStart(2, '0');
  const minutes = Math.floor(total / 60);
  return minutes >= 60 ? `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** A one-line stand-in for a message with attachments and no text (notifications, screen readers). */
export function attachmentSummary(event) {
  const count = event.attachments?.length ?? 0;
  return count ? tCount('uploads.summary', count) : '';
}

/** The attachments of a message, or null when it has none: images side by side, then the rest. */
export function renderAttachments(attachments) {
  if (!attachments?.length) return null;
  const images = attachments.filter((upload) => mediaKind(upload) === 'image');
  const others = attachments.filter((upload) => mediaKind(upload) !== 'image');
  return h('div', { class: 'attachments' },
    images.length ? h('div', { class: 'att-images' }, images.map(imageThumb)) : null, others.map(renderAttachment));
}

export function renderAttachment(upload) {
  const kind = mediaKind(upload);
  if (kind === 'image') return imageThumb(upload);
  if (kind === 'audio') return audioSlot(upload);
  if (kind === 'video') return videoPlayer(upload);
  return fileCard(upload);
}

/** The size an image is shown at in the timeline: its own, scaled down into THUMB_BOX. */
export function fitBox(width, height, box = THUMB_BOX) {
  const scale = Math.min(1, box.width / width, box.height / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

function imageThumb(upload) {
  const size = fitBox(upload.width, upload.height);
  const img = h('img', { src: upload.thumbnail_url, alt: upload.name, width: size.width, height: size.height,
    loading: 'lazy', decoding: 'async', 'data-user': true });
  const button = h('button', { type: 'button', class: 'att-image', title: upload.name,
    'aria-label': t('uploads.openImage', { name: upload.name }), dataset: { uploadId: upload.id } }, img);
  button.upload = upload;
  button.addEventListener('click', async () => {
    const [{ openLightbox }] = await Promise.all([import('./lightbox.js'), uploadStyles()]);
    openLightbox(button);
  });
  return button;
}

function videoPlayer(upload) {
  // With a poster, nothing is fetched before Play (a busy room may hold many clips): the poster,
  // a play button and the duration show, and the browser's controls come with playing.
  const poster = upload.thumbnail_url;
  const props = { class: 'att-video', controls: !poster, preload: poster ? 'none' : 'metadata', playsinline: true,
    src: upload.url, poster, 'aria-label': upload.name };
  if (upload.width > 0 && upload.height > 0) Object.assign(props, fitBox(upload.width, upload.height));
  const video = h('video', props);
  const start = poster && h('button', { type: 'button', class: 'att-video-play', 'aria-label': t('uploads.playVideo', { name: upload.name }),
    title: t('uploads.playVideo', { name: upload.name }) }, icon('play'));
  start?.addEventListener('click', () => {
    video.controls = true;
    start.remove();
    video.focus();
    video.play().catch(() => {});
  });
  return h('figure', { class: 'att-video-wrap' }, h('div', { class: 'att-video-box' }, video, start),
    h('figcaption', { class: 'att-meta' }, userText(upload.name, 'span', { class: 'att-name' }),
      upload.duration_ms ? h('span', { class: 'att-duration' }, formatDuration(upload.duration_ms)) : null,
      downloadLink(upload)));
}

export function downloadLink(upload) {
  return h('a', { href: upload.url, download: upload.name, class: 'att-download', 'aria-label': t('uploads.download', { name: upload.name }),
    title: t('uploads.download', { name: upload.name }) }, icon('download'));
}

function fileCard(upload) {
  return h('div', { class: 'att-file' },
    h('span', { class: 'att-file-icon', 'aria-hidden': 'true' }, icon('file'), h('span', { class: 'att-ext' }, extension(upload.name))),
    h('span', { class: 'att-file-info' },
      h('a', { href: upload.url, download: upload.name, class: 'att-name', 'data-user': true }, upload.name),
      h('span', { class: 'att-size' }, formatSize(upload.size))),
    downloadLink(upload));
}

function extension(name) {
  const match = /\.([a-z0-9]{1,5})$/i.exec(String(name ?? ''));
  return match ? match[1].toUpperCase() : '';
}

/** Bar heights 0..1 from the server's waveform (any scale), resampled to `count` bars. */

let player = null; // views/player.js, the voice-message player: loaded with the first voice message
/** A voice message: the player, or, until its module has loaded, a slot it then takes. */
function audioSlot(upload) {
  if (player) return player.audioPlayer(upload);
  const slot = h('div', { class: 'att-audio', dataset: { uploadId: upload.id } });
  import('./player.js').then((module) => {
    player = module;
    slot.replaceWith(module.audioPlayer(upload));
  });
  return slot;
}
