// The message box: Enter sends, Shift+Enter starts a new line, IME composition is left alone.
import { sendMessage, typing } from '../actions.js';
import { h, icon } from '../dom.js';
import { formatNumber, t } from '../i18n.js';
import { store } from '../state.js';
import { createUploads, enableDrop } from './uploads.js';

const MAX_HEIGHT_PX = 200;
// The server's longest message (PARLEY_MAX_TEXT); only the OpenAPI document tells it, a smaller
// limit shows from the server's refusal.
export const MAX_TEXT = 4000;
const COUNT_FROM = 0.9;

/** Length as the server counts it: code points, after its newline and NFC normalisation. */
function textLength(text) {
  return [...text.normalize('NFC')].length;
}

/**
 * onSent() runs after a send (the room scrolls to it). `extra()`: more send fields (reply_to,
 * thread_root); `keys(event, input)` sees each key first, true when handled (Up edits, Escape
 * cancels a reply); `above`: over the box (reply bar); `draftKey` keeps a thread's draft apart;
 * `files`: may files be attached (issue 9; the room's composer, not a thread's).
 */
export function createComposer(roomId, label, onSent, { extra = () => ({}), keys = () => false, above = null, draftKey = roomId, files = draftKey === roomId } = {}) {
  const input = h('textarea', {
    class: 'composer-input', rows: 1, 'aria-label': label, placeholder: label,
    value: store.drafts.get(draftKey) ?? '', enterkeyhint: 'send',
  });
  const count = h('span', { class: 'composer-count', 'aria-live': 'polite', hidden: true });
  const error = h('p', { class: 'form-error composer-error', role: 'alert', hidden: true });
  // uploads (issue 9): tray above, attach/record buttons before the text (the caption); the room's
  // composer only.
  let waiting = false;
  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
  };
  const uploads = files ? createUploads(roomId, {
    onError: showError,
    onChange: () => {
      if (!waiting || uploads.busy) return;
      waiting = false;
      if (uploads.failed) uploads.setStatus(t('uploads.waitFailed'));
      else submit();
    },
  }) : null;
  // The emoji button inserts at the cursor; the picker loads on first use.
  const emojiButton = h('button', { type: 'button', class: 'icon-btn composer-emoji', 'aria-label': t('composer.emoji'),
    title: t('composer.emoji'), 'aria-haspopup': 'dialog' }, icon('smile'));
  emojiButton.addEventListener('click', async () => {
    const { start, end } = { start: input.selectionStart, end: input.selectionEnd };
    const { pickEmoji } = await import('./emoji.js');
    const chosen = await pickEmoji(emojiButton);
    if (!chosen) return;
    input.focus();
    input.setRangeText(chosen, start, end, 'end');
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  const form = h('form', { class: 'composer' }, uploads?.buttons ?? null, input, count, emojiButton,
    h('button', { type: 'submit', class: 'send-btn', 'aria-label': t('composer.send'), title: t('composer.send') }, icon('send')));

  const grow = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, MAX_HEIGHT_PX)}px`;
  };
  /** Near the limit a counter shows; past it the text stays here and the error names the limit. */
  const measure = () => {
    const length = textLength(input.value);
    const over = length > MAX_TEXT;
    count.hidden = length < MAX_TEXT * COUNT_FROM;
    count.textContent = formatNumber(MAX_TEXT - length);
    count.title = t('composer.count', { count: formatNumber(length), max: formatNumber(MAX_TEXT) });
    count.classList.toggle('over', over);
    if (!over) error.hidden = true;
    return over;
  };
  const submit = () => {
    if (!input.value.trim() && !uploads?.count) return;
    if (measure()) {
      error.textContent = t('composer.tooLong', { max: formatNumber(MAX_TEXT) });
      error.hidden = false;
      return;
    }
    // uploads (issue 9): sent once every file is stored; a failed one is retried or removed
    if (uploads?.failed) {
      uploads.setStatus(t('uploads.waitFailed'));
      return;
    }
    if (uploads?.busy) {
      waiting = true;
      uploads.setStatus(t('uploads.waiting'));
      return;
    }
    const text = input.value;
    if (/^\/\w/.test(text) && !uploads?.count) import('./slash.js').then((m) => m.slash(roomId, text, extra(), showError));
    else sendMessage(roomId, text, extra(), uploads ? uploads.take() : []);
    input.value = '';
    store.drafts.delete(draftKey);
    grow();
    measure();
    onSent();
  };
  const wrap = h('div', { class: 'composer-wrap' }, above, error, uploads?.tray ?? null, form);
  // @mention, :shortcode: (issue 10), /command (issue 12) completion: loaded on first need.
  let completion = null;
  const complete = () => {
    if (completion || !/[@:]|^\//.test(input.value)) return;
    completion = import('./complete.js').then((module) => {
      const attached = module.attachCompletion(input, wrap, roomId);
      attached.update();
      return attached;
    });
  };
  input.addEventListener('keydown', (event) => {
    if (!event.isComposing && input.getAttribute('aria-expanded') !== 'true' && keys(event, input)) {
      event.preventDefault();
      return;
    }
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    if (input.getAttribute('aria-expanded') === 'true') return;
    event.preventDefault();
    submit();
  });
  input.addEventListener('input', () => {
    store.drafts.set(draftKey, input.value);
    grow();
    measure();
    complete();
    if (input.value.trim()) typing(roomId);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
    input.focus();
  });
  /** uploads (issue 9): files dropped on or pasted into `area` (the room) join the tray. */
  const acceptFiles = (area) => {
    if (!uploads) return;
    enableDrop(area, uploads.add);
    area.addEventListener('paste', (event) => {
      if (uploads.paste(event.clipboardData) && !event.clipboardData.getData('text/plain')) event.preventDefault();
    });
  };
  return { el: wrap, input, acceptFiles, mounted: () => { grow(); measure(); } };
}
