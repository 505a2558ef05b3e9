// The image viewer (issue 9), loaded on the first click on a thumbnail. A modal <dialog>: focus
// stays inside it (the page behind is inert), Escape closes it and focus returns to the thumbnail;
// Left and Right step through the images of the history on screen.
import { h, icon, iconButton, userText } from '../dom.js';
import { formatNumber, loadStrings, t } from '../i18n.js';
import { formatSize } from './media.js';

await loadStrings('later'); // the strings of the parts loaded on first use (locales/later-*.js)

/** Opens the image of `thumb` (a .att-image button carrying its upload as `thumb.upload`). */
export function openLightbox(thumb) {
  const scope = thumb.closest('.timeline, .files-panel') ?? document;
  const thumbs = () => [...scope.querySelectorAll('.att-image')].filter((el) => el.upload);
  let current = thumb;

  const img = h('img', { class: 'lightbox-img', alt: '' });
  const caption = h('p', { class: 'lightbox-caption' });
  const position = h('span', { class: 'lightbox-pos', 'aria-live': 'polite' });
  const download = h('a', { class: 'icon-btn', download: '' }, icon('download'));
  const prev = iconButton('prev', t('uploads.previous'), () => step(-1), { class: 'icon-btn lightbox-prev' });
  const next = iconButton('next', t('uploads.next'), () => step(1), { class: 'icon-btn lightbox-next' });
  const close = iconButton('close', t('uploads.closeImage'), () => dialog.close(), { class: 'icon-btn lightbox-close' });
  const dialog = h('dialog', { class: 'lightbox', 'aria-label': t('uploads.viewer') },
    h('div', { class: 'lightbox-bar' }, position, caption, download, close),
    h('div', { class: 'lightbox-stage' }, prev, img, next));

  function show(target) {
    current = target;
    const upload = target.upload;
    const list = thumbs();
    const index = list.indexOf(target);
    // The full image replaces the thumbnail once loaded; the thumbnail (cached) shows meanwhile.
    img.src = upload.thumbnail_url;
    img.width = upload.width;
    img.height = upload.height;
    img.alt = upload.name;
    const full = new Image();
    full.onload = () => { if (current === target) img.src = upload.url; };
    full.src = upload.url;
    caption.replaceChildren(userText(upload.name), ' · ', formatSize(upload.size));
    position.textContent = list.length > 1 ? t('uploads.position', { n: formatNumber(index + 1), total: formatNumber(list.length) }) : '';
    download.href = upload.url;
    download.setAttribute('download', upload.name);
    download.setAttribute('aria-label', t('uploads.download', { name: upload.name }));
    download.title = t('uploads.download', { name: upload.name });
    prev.disabled = index <= 0;
    next.disabled = index < 0 || index >= list.length - 1;
  }

  function step(delta) {
    const list = thumbs();
    const target = list[list.indexOf(current) + delta];
    if (target) show(target);
  }

  dialog.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowLeft') step(-1);
    else if (event.key === 'ArrowRight') step(1);
    else if (event.key === 'Tab') trapTab(event);
    else return;
    event.preventDefault();
  });
  // Tab cycles within the viewer rather than leaving for the browser's own controls.
  function trapTab(event) {
    const stops = [...dialog.querySelectorAll('button:not(:disabled), a[href]')];
    const at = stops.indexOf(document.activeElement);
    const to = (at + (event.shiftKey ? -1 : 1) + stops.length) % stops.length;
    stops[to].focus();
  }

  // A click on the backdrop (outside the picture and the buttons) closes too.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog || event.target.classList.contains('lightbox-stage')) dialog.close();
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    // Back to the picture shown last; the one opened is in view already, so nothing scrolls for it.
    const back = current.isConnected ? current : thumb;
    if (back.isConnected) back.focus({ preventScroll: back === thumb });
  });
  document.body.append(dialog);
  show(thumb);
  dialog.showModal();
  close.focus();
  return dialog;
}
