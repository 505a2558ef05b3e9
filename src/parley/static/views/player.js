// The voice-message player (issue 9): play/pause, the waveform (click or arrow keys to seek), time,
// 1x / 1.5x / 2x. Loaded with the first voice message on screen (views/media.js).
import { h, icon, userText } from '../dom.js';
import { formatNumber, loadStrings, t } from '../i18n.js';
import { downloadLink, formatDuration } from './media.js';

await loadStrings('later'); // the strings of the parts loaded on first use (locales/later-*.js)

const SPEEDS = [1, 1.5, 2];
const BARS = 48;
const SEEK_STEP_S = 5;

export function waveformBars(waveform, count = BARS) {
  const values = Array.isArray(waveform) ? waveform.map((v) => Math.abs(Number(v)) || 0) : [];
  if (!values.length) return Array(count).fill(0.15);
  const max = Math.max(...values) || 1;
  return Array.from({ length: count }, (_, i) => {
    const from = Math.floor((i * values.length) / count);
    const to = Math.max(from + 1, Math.floor(((i + 1) * values.length) / count));
    const peak = Math.max(...values.slice(from, to));
    return Math.max(0.08, peak / max);
  });
}

/** A voice message: play/pause, the waveform (click or arrow keys to seek), time, speed. */
export function audioPlayer(upload) {
  const knownMs = Number(upload.duration_ms) || 0;
  // The server measured the duration: nothing is fetched before Play.
  const audio = h('audio', { preload: knownMs ? 'none' : 'metadata', src: upload.url });
  const duration = () => (Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : knownMs / 1000);
  const playLabel = () => (audio.paused ? t('uploads.play') : t('uploads.pause'));
  const play = h('button', { type: 'button', class: 'att-play', 'aria-label': t('uploads.play'), title: t('uploads.play') }, icon('play'));
  const bars = waveformBars(upload.waveform).map((height) => {
    const bar = h('span', { class: 'wave-bar' });
    bar.style.height = `${Math.round(height * 100)}%`;
    return bar;
  });
  const wave = h('div', { class: 'wave', role: 'slider', tabindex: 0, 'aria-label': t('uploads.seek'),
    'aria-valuemin': 0, 'aria-valuemax': Math.round(knownMs / 1000), 'aria-valuenow': 0 }, bars);
  const time = h('span', { class: 'att-duration' }, formatDuration(knownMs));
  const speed = h('button', { type: 'button', class: 'att-speed', 'aria-label': t('uploads.speed', { speed: '1×' }) }, '1×');

  const paint = () => {
    const total = duration();
    const fraction = total ? Math.min(1, audio.currentTime / total) : 0;
    const played = Math.round(fraction * bars.length);
    bars.forEach((bar, i) => bar.classList.toggle('played', i < played));
    wave.setAttribute('aria-valuemax', String(Math.round(total)));
    wave.setAttribute('aria-valuenow', String(Math.round(audio.currentTime)));
    wave.setAttribute('aria-valuetext', `${formatDuration(audio.currentTime * 1000)} / ${formatDuration(total * 1000)}`);
    time.textContent = audio.paused && !audio.currentTime ? formatDuration(total * 1000) : formatDuration(audio.currentTime * 1000);
  };
  const showState = () => {
    play.replaceChildren(icon(audio.paused ? 'play' : 'pause'));
    play.setAttribute('aria-label', playLabel());
    play.title = playLabel();
    paint();
  };
  const seek = (seconds) => {
    const total = duration();
    if (!total) return;
    audio.currentTime = Math.max(0, Math.min(total, seconds));
    paint();
  };
  play.addEventListener('click', () => (audio.paused ? audio.play().catch(() => {}) : audio.pause()));
  wave.addEventListener('click', (event) => {
    const box = wave.getBoundingClientRect();
    const fraction = (event.clientX - box.left) / box.width;
    seek(fraction * duration());
  });
  wave.addEventListener('keydown', (event) => {
    const moves = { ArrowLeft: -SEEK_STEP_S, ArrowDown: -SEEK_STEP_S, ArrowRight: SEEK_STEP_S, ArrowUp: SEEK_STEP_S };
    if (event.key in moves) seek(audio.currentTime + moves[event.key]);
    else if (event.key === 'Home') seek(0);
    else if (event.key === 'End') seek(duration());
    else return;
    event.preventDefault();
  });
  speed.addEventListener('click', () => {
    const next = SPEEDS[(SPEEDS.indexOf(audio.playbackRate) + 1) % SPEEDS.length];
    audio.playbackRate = next;
    const label = `${formatNumber(next)}×`;
    speed.textContent = label;
    speed.setAttribute('aria-label', t('uploads.speed', { speed: label }));
  });
  for (const type of ['play', 'pause', 'ended']) audio.addEventListener(type, showState);
  for (const type of ['timeupdate', 'durationchange', 'loadedmetadata']) audio.addEventListener(type, paint);
  audio.addEventListener('ratechange', () => { speed.textContent = `${formatNumber(audio.playbackRate)}×`; });
  return h('div', { class: 'att-audio', dataset: { uploadId: upload.id } }, audio, play,
    h('div', { class: 'att-audio-main' }, wave,
      h('div', { class: 'att-meta' }, time, userText(upload.name, 'span', { class: 'att-name' }), speed, downloadLink(upload))));
}
