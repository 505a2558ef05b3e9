// Log in or register. On success onSignedIn(user) starts the session. Issue 11: the server's
// registration mode (GET /api/v1/server) asks for an invite code, or says registration is closed;
// an invite link (`/?invite=CODE`) opens the sign-up form with its code filled in.
import { api } from '../api.js';
import { h } from '../dom.js';
import { loadStrings, t } from '../i18n.js';
import { describeError, field, languageSelect } from './ui.js';

await loadStrings('auth'); // locales/auth-*.js

export function createAuthView({ onSignedIn, onLanguage, mode = 'login' }) {
  const username = h('input', { name: 'username', required: true, autocomplete: 'username', minlength: 3, maxlength: 32,
    pattern: '[A-Za-z0-9_.\\-]{3,32}', autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', required: true, minlength: 8, maxlength: 256 });
  const displayNameInput = h('input', { name: 'display_name', maxlength: 64, autocomplete: 'nickname' });
  const invited = new URLSearchParams(location.search).get('invite') ?? '';
  if (invited) mode = 'register';
  const invite = h('input', { name: 'invite', autocomplete: 'off', maxlength: 64, value: invited, spellcheck: 'false' });
  const inviteField = field(t('auth.invite'), invite);
  const closed = h('p', { class: 'muted', role: 'status' }, t('auth.closed'));
  let registration = invited ? 'invite' : 'open';
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn primary wide' });
  const nameField = field(t('auth.displayName'), displayNameInput, t('auth.displayNameHint'));
  const userField = field(t('auth.username'), username, t('auth.usernameHint'));
  const tabs = {
    login: h('button', { type: 'button', class: 'tab', on: { click: () => setMode('login') } }, t('auth.login')),
    register: h('button', { type: 'button', class: 'tab', on: { click: () => setMode('register') } }, t('auth.register')),
  };
  const title = h('h2', { id: 'auth-title' });
  const form = h('form', { class: 'auth-form', 'aria-labelledby': 'auth-title' },
    title, closed, userField, field(t('auth.password'), password), nameField, inviteField, error, submit);
  const el = h('main', { class: 'auth' },
    h('div', { class: 'auth-card' },
      h('div', { class: 'auth-top' }, h('h1', { class: 'brand', translate: 'no' }, t('app.name')),
        languageSelect((code) => onLanguage(code, mode))),
      h('p', { class: 'muted' }, t('app.tagline')),
      h('div', { class: 'tabs', role: 'group', 'aria-label': t('auth.choose') }, tabs.login, tabs.register),
      form));

  function setMode(next) {
    mode = next;
    const registering = mode === 'register';
    title.textContent = registering ? t('auth.registerTitle') : t('auth.loginTitle');
    submit.textContent = registering ? t('auth.register') : t('auth.login');
    nameField.hidden = !registering;
    inviteField.hidden = !registering || registration !== 'invite';
    closed.hidden = !registering || registration !== 'closed';
    submit.disabled = !closed.hidden;
    invite.required = !inviteField.hidden;
    password.autocomplete = registering ? 'new-password' : 'current-password';
    userField.querySelector('.field-hint').hidden = !registering;
    tabs.login.setAttribute('aria-pressed', String(!registering));
    tabs.register.setAttribute('aria-pressed', String(registering));
    error.textContent = '';
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    try {
      const { user } = mode === 'register'
        ? await api.register(username.value.trim(), password.value, displayNameInput.value.trim(), inviteField.hidden ? '' : invite.value.trim())
        : await api.login(username.value.trim(), password.value);
      if (invited) history.replaceState(null, '', location.pathname + location.hash);
      onSignedIn(user);
    } catch (err) {
      error.textContent = err.code === 'unauthorized' ? t('auth.failed') : err.code?.startsWith('invite_') ? t('auth.inviteRefused')
        : err.code === 'registration_closed' ? t('auth.closed') : describeError(err);
      submit.disabled = false;
    }
  });
  setMode(mode);
  fetch('/api/v1/server', { headers: { Accept: 'application/json' } }).then((r) => (r.ok ? r.json() : null)).then((server) => {
    const known = server?.registration?.mode ?? server?.registration_mode ?? server?.registration;
    if (!['open', 'invite', 'closed'].includes(known)) return;
    registration = known;
    setMode(mode);
  }, () => {});
  return { el, mounted: () => username.focus() };
}
