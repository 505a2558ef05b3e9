// Building the page from data without ever parsing HTML: every string goes in as a text node or
// an attribute value, so text typed by a user can never become markup.

const PROPERTIES = new Set(['value', 'checked']);
const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an element. props: attributes, plus `class`, `dataset`, `on` (event handlers). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

function setProps(el, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.setAttribute('class', value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'on') for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    else if (/^on/i.test(key) || key === 'style') throw new Error(`refusing attribute ${key}`);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

/** Appends children: nodes, strings (as text), arrays of those; null and false are skipped. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces an element's children (same rules as append). */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Text that came from a user (names, topics, messages): marked so tests and styles can tell. */
export function userText(text, tag = 'span', props = {}) {
  return h(tag, { ...props, 'data-user': true }, text);
}

/** A visually hidden text for screen readers. */
export function srOnly(text) {
  return h('span', { class: 'sr-only' }, text);
}

const ICONS = {
  back: 'M15 5l-7 7 7 7',
  plus: 'M12 5v14M5 12h14',
  people: 'M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM3 19c0-3 3-5 6-5s6 2 6 5M16 11a3 3 0 1 0 0-6M21 19c0-2.5-2-4.5-4.5-5',
  invite: 'M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM3 19c0-3 3-5 6-5s6 2 6 5M19 8v6M16 11h6',
  leave: 'M14 5h5v14h-5M10 8l-4 4 4 4M6 12h10',
  close: 'M6 6l12 12M18 6L6 18',
  send: 'M4 12l16-8-6 16-3-7z',
  menu: 'M4 7h16M4 12h16M4 17h16',
  edit: 'M5 19h4L19 9l-4-4L5 15zM13 7l4 4',
  lock: 'M7 11V8a5 5 0 0 1 10 0v3M5 11h14v9H5z',
  crown: 'M4 18h16M5 15L4 7l5 4 3-6 3 6 5-4-1 8z',
  // uploads (issue 9)
  attach: 'M20 11l-8 8a5 5 0 0 1-7-7l8-8a3.5 3.5 0 0 1 5 5l-8 8a2 2 0 0 1-3-3l7-7',
  mic: 'M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM5 11a7 7 0 0 0 14 0M12 18v3',
  camera: 'M3 7h12v10H3zM15 10l6-3v10l-6-3',
  file: 'M6 3h8l4 4v14H6zM14 3v4h4',
  files: 'M3 6h6l2 2h10v11H3z',
  download: 'M12 4v11M7 10l5 5 5-5M5 20h14',
  play: 'M8 5v14l11-7z',
  pause: 'M8 5v14M16 5v14',
  prev: 'M15 5l-7 7 7 7',
  next: 'M9 5l7 7-7 7',
  retry: 'M4 12a8 8 0 1 0 3-6.2M4 4v5h5',
  stop: 'M7 7h10v10H7z',
  // -- message actions --
  reply: 'M10 8L5 12l5 4M5 12h9a5 5 0 0 1 5 5v1',
  thread: 'M5 5h14v10H10l-4 4v-4H5z',
  trash: 'M5 7h14M10 7V5h4v2M7 7l1 12h8l1-12',
  pin: 'M9 4h6l-1 6 3 3H7l3-3zM12 13v7',
  link: 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1',
  more: 'M6 12h.01M12 12h.01M18 12h.01',
  smile: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM8 14s1.5 2 4 2 4-2 4-2M9 9.5h.01M15 9.5h.01',
  bell: 'M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0',
  bellOff: 'M6 16V11a6 6 0 0 1 9-5.2M18 11v5l2 2H8M10 20a2 2 0 0 0 4 0M4 4l16 16',
  search: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM20 20l-4-4',
  // moderation
  shield: 'M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z',
  sliders: 'M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1M15 4v4M9 10v4M17 16v4',
  flag: 'M5 21V4h11l-2 4 2 4H5',
  phone: 'M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2', // calls
};

/** A decorative line icon; the button around it carries the label. */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

/** A button showing only an icon, labelled for assistive technology and as a tooltip. */
export function iconButton(name, label, onClick, props = {}) {
  return h('button', { type: 'button', class: 'icon-btn', 'aria-label': label, title: label, ...props,
    on: { click: onClick } }, icon(name));
}

/** Links a stylesheet once (for the parts loaded on first use); resolves when it has loaded. */
export function stylesheet(href) {
  let link = document.head.querySelector(`link[href="${href}"]`);
  if (!link) document.head.append(link = h('link', { rel: 'stylesheet', href }));
  return link.sheet ? Promise.resolve() : new Promise((done) => {
    link.addEventListener('load', done, { once: true });
    link.addEventListener('error', done, { once: true });
  });
}
