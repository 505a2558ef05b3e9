// The message box: Enter sends, Shift+Enter starts a new line, IME composition is left alone.
import { sendMessage, typing } from '../actions.js';
import { h, icon } from '../dom.js';
import { t } from '../i18n.js';
import { store } from '../state.js';

const MAX_HEIGHT_PX = 200;

/** onSent() runs after a message goes out (the room view scrolls to it). */
export function createComposer(roomId, label, onSent) {
  const input = h('textarea', {
    class: 'composer-input', rows: 1, 'aria-label': label, placeholder: label,
    value: store.drafts.get(roomId) ?? '', enterkeyhint: 'send',
  });
  const form = h('form', { class: 'composer' }, input,
    h('button', { type: 'submit', class: 'send-btn', 'aria-label': t('composer.send'), title: t('composer.send') }, icon('send')));

  const grow = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, MAX_HEIGHT_PX)}px`;
  };
  const submit = () => {
    if (!input.value.trim()) return;
    sendMessage(roomId, input.value);
    input.value = '';
    store.drafts.delete(roomId);
    grow();
    onSent();
  };
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submit();
  });
  input.addEventListener('input', () => {
    store.drafts.set(roomId, input.value);
    grow();
    if (input.value.trim()) typing(roomId);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
    input.focus();
  });
  return { el: form, input, mounted: grow };
}
