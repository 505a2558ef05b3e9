// Shared building blocks for views: labelled fields, modal dialogs and error messages.
import { h } from '../dom.js';
import { LANGUAGES, language, t, tError } from '../i18n.js';

let counter = 0;

/** A unique id for label/aria wiring. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A visible label wrapping its control, with an optional hint tied by aria-describedby. */
export function field(label, control, hint) {
  const hintEl = hint && h('span', { class: 'field-hint', id: uid('hint') }, hint);
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control, hintEl);
}

/** A check that failed in the browser, before any request; `code` picks the message. */
export class FormError extends Error {
  constructor(code) {
    super(code);
    this.code = code;
  }
}

/** The language switcher; each language is named in itself. */
export function languageSelect(onChange) {
  const select = h('select', { class: 'lang-select', 'aria-label': t('settings.language') },
    LANGUAGES.map((lang) => h('option', { value: lang.code, selected: lang.code === language(), lang: lang.code }, lang.name)));
  select.addEventListener('change', () => onChange(select.value));
  return select;
}

/** A translated message for a failed request; `invalid` names its field in the server's message. */
export function describeError(error) {
  if (error?.code === 'invalid') {
    const fieldName = String(error.message ?? '').split(/\s/)[0];
    const key = `invalid.${fieldName}`;
    const text = t(key);
    return text === key ? tError('invalid') : text;
  }
  return tError(error?.code ?? 'unknown');
}

/**
 * A modal dialog holding a form. onSubmit may throw an API error, shown in the dialog; on success
 * the dialog closes. Esc and Cancel close it too, and focus returns where it was.
 */
export function openDialog({ title, body, submitLabel, onSubmit, danger = false, describe = describeError }) {
  const titleId = uid('dialog-title');
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: danger ? 'btn danger' : 'btn primary' }, submitLabel);
  const cancel = h('button', { type: 'button', class: 'btn', on: { click: () => dialog.close() } }, t('common.cancel'));
  const form = h('form', { class: 'dialog-form' }, h('h2', { id: titleId }, title), body, error,
    h('div', { class: 'dialog-actions' }, cancel, submit));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
  const opener = document.activeElement;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    try {
      await onSubmit();
      dialog.close();
    } catch (err) {
      error.textContent = describe(err);
    } finally {
      submit.disabled = false;
    }
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener?.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/**
 * A dialog of views/dialogs.js that loads on first use (the first screen stays small):
 * `dialog('topicDialog')` is a function with the same arguments, returning a promise.
 */
export function dialog(name) {
  return async (...args) => (await import('./dialogs.js'))[name](...args);
}
