// A small, safe Markdown subset rendered straight to DOM nodes: **bold**, *italic*, ~~strike~~,
// `code`, ``` code blocks ```, [links](https://...), bare URLs and @mentions; and as blocks:
// > quotes, - / * / + bullet lists, 1. numbered lists and # headings (shown as bold lines). Nothing here ever
// produces an HTML string; unknown or unsafe syntax simply stays visible as the text it was.
import { h } from './dom.js';

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);
const LINK_REL = 'noopener noreferrer nofollow';
const ESCAPABLE = '\\`*_~[]()#+-.!@>';
const EMPHASIS = [
  { marker: '**', tag: 'strong' },
  { marker: '__', tag: 'strong' },
  { marker: '~~', tag: 's' },
  { marker: '*', tag: 'em' },
  { marker: '_', tag: 'em' },
];
const BARE_URL = /^(?:https?:\/\/|mailto:)[^\s<>"'`]+/i;
const MENTION = /^@([A-Za-z0-9_.-]{3,32})/;
const WORD = /[\p{L}\p{N}_]/u;
const MAX_DEPTH = 8;

/** The URL if it is absolute and http(s) or mailto, else null. */
function safeUrl(raw) {
  try {
    const url = new URL(raw.trim());
    return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/** Whether `text` mentions @username (case-insensitively, as a whole name). */
export function mentions(text, username) {
  const name = username.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_.-])@${name}(?![A-Za-z0-9_-]|\\.[A-Za-z0-9_-])`, 'i').test(text);
}

/**
 * Renders message text to a fragment. Only the @names in `mentioned` (lower-case usernames the
 * server resolved) are styled as mentions; `me` (my username) among them is highlighted.
 */
export function renderMarkdown(text, { me = '', mentioned = new Set() } = {}) {
  const fragment = document.createDocumentFragment();
  fragment.append(...renderBlocks(text, { me: me.toLowerCase(), mentioned, depth: 0, links: true }));
  return fragment;
}

const QUOTE = /^ {0,3}> ?(.*)$/;
const BULLET = /^ {0,3}[-*+][ \t]+(\S.*)$/;
const NUMBERED = /^ {0,3}(\d{1,9})[.)][ \t]+(\S.*)$/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(\S.*?)(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^\s*```/;
const MAX_QUOTE_DEPTH = 4;

/** Turns text into block nodes: code, quotes (rendered again inside), lists, headings, paragraphs. */
function renderBlocks(text, ctx) {
  return splitBlocks(text, ctx.depth < MAX_QUOTE_DEPTH).map((block) => {
    const inlineNodes = (src) => inline(src, ctx);
    switch (block.kind) {
      case 'code': return h('pre', {}, h('code', {}, block.text));
      case 'quote': return h('blockquote', {}, ...renderBlocks(block.text, { ...ctx, depth: ctx.depth + 1 }));
      case 'ul': return h('ul', {}, ...block.items.map((item) => h('li', {}, ...inlineNodes(item))));
      case 'ol': return h('ol', { start: block.start === 1 ? null : block.start }, ...block.items.map((item) => h('li', {}, ...inlineNodes(item))));
      case 'heading': return h('p', { class: 'md-heading' }, h('strong', {}, ...inlineNodes(block.text)));
      default: return h('p', {}, ...inlineNodes(block.text));
    }
  });
}

/**
 * Splits text into blocks. A ``` fence runs to its closing fence (or the end); consecutive `>`
 * lines make a quote, consecutive `- ` / `1. ` lines a list (a list's kind is set by its first
 * item); a `# ` line is a heading; other lines, blank ones included, stay together as a paragraph.
 */
function splitBlocks(text, quotes = true) {
  const blocks = [];
  let lines = [];
  const flushText = () => {
    const joined = lines.join('\n').replace(/^\n+|\n+$/g, '');
    if (joined) blocks.push({ kind: 'p', text: joined });
    lines = [];
  };
  const all = text.split('\n');
  for (let i = 0; i < all.length; i += 1) {
    const line = all[i];
    if (FENCE.test(line)) {
      flushText();
      const code = [];
      for (i += 1; i < all.length && !/^\s*```\s*$/.test(all[i]); i += 1) code.push(all[i]);
      blocks.push({ kind: 'code', text: code.join('\n') });
      continue;
    }
    const last = blocks.at(-1);
    const joinsLast = lines.length === 0;
    let match;
    if (quotes && (match = line.match(QUOTE))) {
      flushText();
      if (joinsLast && last?.kind === 'quote') last.text += `\n${match[1]}`;
      else blocks.push({ kind: 'quote', text: match[1] });
    } else if ((match = line.match(BULLET))) {
      flushText();
      if (joinsLast && last?.kind === 'ul') last.items.push(match[1]);
      else blocks.push({ kind: 'ul', items: [match[1]] });
    } else if ((match = line.match(NUMBERED))) {
      flushText();
      if (joinsLast && last?.kind === 'ol') last.items.push(match[2]);
      else blocks.push({ kind: 'ol', start: Number(match[1]), items: [match[2]] });
    } else if ((match = line.match(HEADING))) {
      flushText();
      blocks.push({ kind: 'heading', text: match[2] });
    } else {
      lines.push(line);
    }
  }
  flushText();
  return blocks;
}

/** Parses inline syntax into a list of nodes and strings. */
function inline(src, ctx) {
  const out = [];
  let plain = '';
  const emit = (node, length) => {
    if (plain) out.push(plain);
    plain = '';
    out.push(node);
    return length;
  };
  let i = 0;
  while (i < src.length) {
    const token = ctx.depth < MAX_DEPTH && matchToken(src, i, ctx);
    if (token) {
      i += emit(token.node, token.length);
    } else if (src[i] === '\\' && ESCAPABLE.includes(src[i + 1] ?? '\0')) {
      plain += src[i + 1];
      i += 2;
    } else {
      plain += src[i];
      i += 1;
    }
  }
  if (plain) out.push(plain);
  return out;
}

function matchToken(src, i, ctx) {
  const ch = src[i];
  const before = src[i - 1] ?? ' ';
  if (ch === '`') return codeSpan(src, i);
  if (ch === '[' && ctx.links) return markdownLink(src, i, ctx);
  if (ctx.links && (ch === 'h' || ch === 'H' || ch === 'm' || ch === 'M') && !WORD.test(before)) return bareUrl(src, i);
  if (ch === '@' && !/[A-Za-z0-9_.-]/.test(before)) return mention(src, i, ctx);
  if (ch === '*' || ch === '_' || ch === '~') return emphasis(src, i, ctx);
  return null;
}

function codeSpan(src, i) {
  const run = src.slice(i).match(/^`+/)[0];
  const end = src.indexOf(run, i + run.length);
  if (end < 0) return null;
  const code = src.slice(i + run.length, end);
  return code.trim() ? { node: h('code', {}, code), length: end + run.length - i } : null;
}

function link(href, children) {
  return h('a', { href, target: '_blank', rel: LINK_REL }, ...children);
}

/** [text](url): the url must be safe and may hold balanced parentheses, but no spaces. */
function markdownLink(src, i, ctx) {
  const close = matchingBracket(src, i, '[', ']');
  if (close < 0 || src[close + 1] !== '(') return null;
  const end = matchingBracket(src, close + 1, '(', ')');
  if (end < 0) return null;
  const target = src.slice(close + 2, end);
  const href = !/\s/.test(target.trim()) && safeUrl(target);
  const label = src.slice(i + 1, close);
  if (!href || !label.trim()) return null;
  const children = inline(label, { ...ctx, links: false, depth: ctx.depth + 1 });
  return { node: link(href, children), length: end + 1 - i };
}

function matchingBracket(src, start, open, close) {
  let depth = 0;
  for (let j = start; j < src.length; j += 1) {
    if (src[j] === '\\') j += 1;
    else if (src[j] === open) depth += 1;
    else if (src[j] === close && --depth === 0) return j;
    else if (src[j] === '\n') return -1;
  }
  return -1;
}

/** A bare URL, without trailing punctuation or an unbalanced closing parenthesis. */
function bareUrl(src, i) {
  let raw = src.slice(i).match(BARE_URL)?.[0];
  if (!raw) return null;
  for (;;) {
    const trimmed = raw.replace(/[.,;:!?*_~]+$/, '');
    const unbalanced = trimmed.endsWith(')') && count(trimmed, '(') < count(trimmed, ')');
    const next = unbalanced ? trimmed.slice(0, -1) : trimmed;
    if (next === raw) break;
    raw = next;
  }
  const href = safeUrl(raw);
  if (!href || /^(https?:\/\/|mailto:)$/i.test(raw)) return null;
  return { node: link(href, [raw]), length: raw.length };
}

function count(text, ch) {
  return text.split(ch).length - 1;
}

function mention(src, i, ctx) {
  const name = src.slice(i).match(MENTION)?.[1].replace(/[.-]+$/, '');
  if (!name || name.length < 3) return null;
  // An @name the server did not resolve to a user stays plain text (still one token, so an
  // underscore in it never starts emphasis).
  if (!ctx.mentioned.has(name.toLowerCase())) return { node: `@${name}`, length: name.length + 1 };
  const mine = name.toLowerCase() === ctx.me;
  return { node: h('span', { class: mine ? 'mention mention-me' : 'mention' }, `@${name}`), length: name.length + 1 };
}

/** Emphasis: the opening marker must touch text on its right, the closing one on its left. */
function emphasis(src, i, ctx) {
  for (const { marker, tag } of EMPHASIS) {
    if (!src.startsWith(marker, i)) continue;
    const start = i + marker.length;
    if (!src[start] || /\s/.test(src[start]) || (marker.length === 1 && src[start] === marker)) continue;
    if (marker[0] === '_' && WORD.test(src[i - 1] ?? ' ')) continue;
    const end = closingMarker(src, start, marker);
    if (end < 0) continue;
    const children = inline(src.slice(start, end), { ...ctx, depth: ctx.depth + 1 });
    return { node: h(tag, {}, ...children), length: end + marker.length - i };
  }
  return null;
}

/**
 * Where `marker` closes, skipping escapes and code spans. A run of the marker character closes a
 * single marker only when it is one long, and a double one when it is two or three long (its end).
 */
function closingMarker(src, from, marker) {
  const ch = marker[0];
  for (let j = from; j < src.length; j += 1) {
    if (src[j] === '\\') { j += 1; continue; }
    if (src[j] === '`') { j += (codeSpan(src, j)?.length ?? 1) - 1; continue; }
    if (src[j] !== ch) continue;
    let run = 1;
    while (src[j + run] === ch) run += 1;
    const fits = marker.length === 1 ? run === 1 : run === 2 || run === 3;
    const at = j + run - marker.length;
    const touches = at > from && !/\s/.test(src[at - 1]);
    const wordAfter = ch === '_' && WORD.test(src[j + run] ?? ' ');
    if (fits && touches && !wordAfter) return at;
    j += run - 1;
  }
  return -1;
}
