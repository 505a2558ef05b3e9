// The emoji picker and the emoji data behind it. The data (from emojibase-data, MIT: see
// static/emoji/LICENSE-emojibase.txt) ships with the client as static/emoji/emoji.json and is
// fetched once, on first use, so the first screen does not pay for it.
import { h, stylesheet } from '../dom.js';
import { language, loadStrings, t } from '../i18n.js';

await Promise.all([loadStrings('later'), stylesheet('/static/later.css')]); // strings and styles of the parts loaded on first use

const DATA_URL = '/static/emoji/emoji.json';
const RECENT_KEY = 'parley.emoji.recent';
const RECENT_MAX = 24;
const COLUMNS = 8;
const SEARCH_LIMIT = 120;
// Emojibase's groups (2, components, is left out of the data), each with the emoji on its tab.
export const GROUPS = [[0, '😀'], [1, '👋'], [3, '🐶'], [4, '🍎'], [5, '🚗'], [6, '⚽'], [7, '💡'], [8, '❤️'], [9, '🏁']];

let loading = null;

/** Loads the data once: [{emoji, group, en, zh, codes: [shortcode...], words: 'lower-case search text'}]. */
export function loadEmoji() {
  loading ??= fetch(DATA_URL, { credentials: 'same-origin' })
    .then((response) => {
      if (!response.ok) throw new Error(`emoji data: ${response.status}`);
      return response.json();
    })
    .then(({ emoji }) => emoji.map(([char, group, en, enTags, zh, zhTags, codes]) => ({
      emoji: char, group, en, zh, codes: codes ? codes.split(' ') : [],
      words: `${en} ${enTags} ${codes}`.toLowerCase(), zhWords: `${zh} ${zhTags}`,
    })))
    .catch((error) => { loading = null; throw error; });
  return loading;
}

/** The emoji's name in the language shown (Chinese names where the data has them). */
export function emojiName(item) {
  return language() === 'zh-CN' && item.zh ? item.zh : item.en;
}

/**
 * Emoji matching `query`, best first: an exact shortcode, then shortcodes starting with it, then
 * names and keywords with a word starting with it (English), then Chinese names and keywords
 * containing it. `shortcodesOnly` is for `:shortcode` completion.
 */
export function searchEmoji(list, query, { limit = SEARCH_LIMIT, shortcodesOnly = false } = {}) {
  const q = query.trim().toLowerCase().replace(/^:|:$/g, '');
  if (!q) return [];
  const scored = [];
  for (const item of list) {
    let score = 0;
    if (item.codes.includes(q)) score = 100;
    else if (item.codes.some((code) => code.startsWith(q))) score = 80;
    else if (item.codes.some((code) => code.includes(`_${q}`))) score = 60;
    else if (!shortcodesOnly && item.words.split(/[\s_]+/).some((word) => word.startsWith(q))) score = 40;
    else if (!shortcodesOnly && (item.words.includes(q) || item.zhWords.includes(query.trim()))) score = 20;
    if (score) scored.push([score, item]);
  }
  scored.sort((a, b) => b[0] - a[0]);
  return scored.slice(0, limit).map(([, item]) => item);
}

export function recentEmoji() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(list) ? list.filter((item) => typeof item === 'string').slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

/** Remembers an emoji as recently used (the picker's first tab). */
export function rememberEmoji(emoji) {
  const list = [emoji, ...recentEmoji().filter((item) => item !== emoji)].slice(0, RECENT_MAX);
  localStorage.setItem(RECENT_KEY, JSON.stringify(list));
}

let openPicker = null;

/**
 * Opens the picker beside `anchorEl` (on phones: along the bottom of the screen). Resolves with the
 * chosen emoji, or null when closed without one (Escape, a click outside). Focus returns to the anchor.
 */
export function pickEmoji(anchorEl) {
  openPicker?.close(null);
  return new Promise((resolve) => {
    const search = h('input', { type: 'search', class: 'emoji-search', autocomplete: 'off', spellcheck: 'false',
      placeholder: t('emoji.search'), 'aria-label': t('emoji.search') });
    const tabs = h('div', { class: 'emoji-tabs', role: 'tablist', 'aria-label': t('emoji.categories') });
    const grid = h('div', { class: 'emoji-grid', role: 'group', 'aria-label': t('emoji.title') });
    const preview = h('p', { class: 'emoji-preview', 'aria-live': 'polite' });
    const el = h('div', { class: 'emoji-picker', role: 'dialog', 'aria-label': t('emoji.title'), tabindex: '-1' },
      search, tabs, grid, preview);
    let data = [];
    let current = recentEmoji().length ? 'recent' : 0;

    const close = (value, { refocus = true } = {}) => {
      if (openPicker !== api) return;
      openPicker = null;
      document.removeEventListener('pointerdown', outside, true);
      window.removeEventListener('resize', place);
      el.remove();
      if (value) rememberEmoji(value);
      if (refocus && anchorEl?.isConnected) anchorEl.focus();
      resolve(value);
    };
    const api = { close };
    openPicker = api;
    const outside = (event) => { if (!el.contains(event.target) && !anchorEl?.contains(event.target)) close(null); };

    const byChar = () => new Map(data.map((item) => [item.emoji, item]));
    const cell = (item) => {
      const name = emojiName(item);
      const code = item.codes[0] ? ` :${item.codes[0]}:` : '';
      const button = h('button', { type: 'button', class: 'emoji-cell', 'aria-label': name, title: `${name}${code}`,
        dataset: { emoji: item.emoji } }, item.emoji);
      button.addEventListener('click', () => close(item.emoji));
      const show = () => { preview.replaceChildren(h('span', { class: 'emoji-big', 'aria-hidden': 'true' }, item.emoji), ` ${name}${code}`); };
      button.addEventListener('mouseenter', show);
      button.addEventListener('focus', show);
      return button;
    };
    const fill = (items, emptyText) => {
      grid.replaceChildren(...items.map(cell));
      if (!items.length) grid.append(h('p', { class: 'emoji-empty muted' }, emptyText));
      grid.scrollTop = 0;
      preview.textContent = '';
      [...grid.querySelectorAll('.emoji-cell')].forEach((button, i) => { button.tabIndex = i === 0 ? 0 : -1; });
    };
    const showGroup = (group) => {
      current = group;
      for (const tab of tabs.children) tab.setAttribute('aria-selected', String(tab.dataset.group === String(group)));
      if (group === 'recent') {
        const known = byChar();
        fill(recentEmoji().map((char) => known.get(char) ?? { emoji: char, en: char, zh: '', codes: [] }), t('emoji.noRecent'));
      } else {
        fill(data.filter((item) => item.group === group), '');
      }
    };
    const tab = (group, glyph, label) => {
      const button = h('button', { type: 'button', role: 'tab', class: 'emoji-tab', 'aria-label': label, title: label,
        dataset: { group: String(group) }, 'aria-selected': 'false' }, glyph);
      button.addEventListener('click', () => { search.value = ''; showGroup(group); });
      return button;
    };
    const runSearch = () => {
      const q = search.value.trim();
      tabs.hidden = Boolean(q);
      if (q) fill(searchEmoji(data, q), t('emoji.none'));
      else showGroup(current);
    };

    /** Arrow keys move between cells (COLUMNS per row); Home/End; Up from the first row returns to the search. */
    grid.addEventListener('keydown', (event) => {
      const cells = [...grid.querySelectorAll('.emoji-cell')];
      const i = cells.indexOf(document.activeElement);
      if (i < 0) return;
      const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS };
      let next = null;
      if (event.key in moves) next = i + moves[event.key];
      else if (event.key === 'Home') next = 0;
      else if (event.key === 'End') next = cells.length - 1;
      else return;
      event.preventDefault();
      if (next < 0) { search.focus(); return; }
      next = Math.min(next, cells.length - 1);
      cells[i].tabIndex = -1;
      cells[next].tabIndex = 0;
      cells[next].focus();
    });
    // Left and right move between the category tabs, choosing as they go.
    tabs.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
      const all = [...tabs.children];
      const next = all[(all.indexOf(document.activeElement) + (event.key === 'ArrowRight' ? 1 : -1) + all.length) % all.length];
      event.preventDefault();
      next.focus();
      next.click();
    });
    search.addEventListener('input', runSearch);
    search.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowDown') {
        event.preventDefault();
        grid.querySelector('.emoji-cell')?.focus();
      } else if (event.key === 'Enter') {
        event.preventDefault();
        const first = grid.querySelector('.emoji-cell');
        if (first) close(first.dataset.emoji);
      }
    });
    // Tabbing out of the picker closes it, leaving focus where it went.
    el.addEventListener('focusout', (event) => {
      if (event.relatedTarget && !el.contains(event.relatedTarget)) close(null, { refocus: false });
    });
    el.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        close(null);
      }
    });

    function place() {
      if (window.innerWidth < 520 || !anchorEl?.isConnected) {
        el.classList.add('sheet');
        el.style.removeProperty('left');
        el.style.removeProperty('top');
        return;
      }
      el.classList.remove('sheet');
      const rect = anchorEl.getBoundingClientRect();
      const { width, height } = el.getBoundingClientRect();
      const left = Math.max(8, Math.min(rect.right - width, window.innerWidth - width - 8));
      const above = rect.top - height - 6;
      const top = above >= 8 ? above : Math.min(rect.bottom + 6, window.innerHeight - height - 8);
      el.style.left = `${left}px`;
      el.style.top = `${Math.max(8, top)}px`;
    }

    tabs.append(tab('recent', '🕘', t('emoji.recent')), ...GROUPS.map(([group, glyph]) => tab(group, glyph, t(`emoji.group.${group}`))));
    grid.append(h('p', { class: 'emoji-empty muted' }, t('common.loading')));
    document.body.append(el);
    place();
    document.addEventListener('pointerdown', outside, true);
    window.addEventListener('resize', place);
    search.focus();
    loadEmoji().then((list) => {
      if (openPicker !== api) return;
      data = list;
      runSearch();
      place();
    }, () => {
      grid.replaceChildren(h('p', { class: 'form-error' }, t('emoji.failed')));
    });
  });
}
