// Voice and video calls (issue 13), loaded on first use: the join banner, ringing in direct chats,
// and the call itself — a mesh of RTCPeerConnections, one per other participant connection, whose
// offers, answers and ICE candidates go through the server (`call_*` frames over the socket). The
// peer connections do not depend on the socket: after a reconnect the call is taken over again
// with the same participant id, and links whose network path broke restart ICE.
import { api } from '../api.js';
import { h, icon as baseIcon, iconButton as baseButton } from '../dom.js';
import { formatSpan, loadStrings, t } from '../i18n.js';
import { personLabel, roomLabel } from '../people.js';
import { on, store } from '../state.js';
import { sendFrame } from '../ws.js';
import { describeError } from './ui.js';

// The icons only the call's screen uses (dom.js has the phone, the microphone, the camera...).
const ICONS = {
  hangup: 'M3 14c5-5 13-5 18 0l-2 3-4-1v-3a9 9 0 0 0-6 0v3l-4 1z',
  screen: 'M3 5h18v11H3zM8 20h8M12 16v4',
};
function icon(name) {
  const svg = baseIcon(ICONS[name] ? 'phone' : name);
  if (ICONS[name]) svg.querySelector('path').setAttribute('d', ICONS[name]);
  return svg;
}
function iconButton(name, label, onClick, props) {
  const button = baseButton('phone', label, onClick, props);
  button.replaceChildren(icon(name));
  return button;
}

const RING_MS = 45_000; // how long a direct call rings before it counts as missed
const SPEAKER_MS = 400; // how often the active speaker is looked for
const SPEAKING_LEVEL = 0.02;

let styles = null;
const ready = () => {
  styles ??= Promise.all([loadStrings('call'), new Promise((resolve) => {
    const link = h('link', { rel: 'stylesheet', href: new URL('../call.css', import.meta.url).pathname });
    link.addEventListener('load', resolve);
    link.addEventListener('error', resolve);
    document.head.append(link);
  })]);
  return styles;
};

const running = new Map(); // room id -> the running call as the server last told it (or null)
let call = null; // the call I am in
let ringing = null; // { call, room, dialog, timer, notification }
let refs = 0;
const waiting = new Map(); // ref -> resolve of call_joined / error

// -- frames and events from sync.js and reducers.js ----------------------------------------------------

export function onFrame(frame) {
  if (frame.type === 'error') return onError(frame);
  if (frame.type === 'call_state') return onState(frame.room, frame.call);
  if (frame.type === 'call_joined') return onJoined(frame);
  if (frame.type === 'call_signal') return onSignal(frame).catch((err) => console.warn('call signal', err));
  return undefined;
}

/** `call_started` and `call_ended`, as they reach the room log live. */
export async function onEvent(room, event) {
  await ready();
  if (event.type === 'call_ended') {
    if (ringing?.call === event.call) stopRinging();
    if (call?.id === event.call) teardown();
    onState(room.id, null);
    return;
  }
  const fromMe = event.sender?.id === store.me.id;
  if (room.kind !== 'direct' || fromMe || call || Date.now() - event.ts > RING_MS) return;
  const answer = await get(`/rooms/${room.id}/call`).catch(() => ({}));
  if (answer.call?.id === event.call) ring(room, event);
}

const get = (path) => api.call('GET', path);

// -- the join banner ---------------------------------------------------------------------------------------

function onState(roomId, view) {
  running.set(roomId, view);
  renderBanner(roomId);
  if (!call?.id || call.room !== roomId) return; // (before call_joined, the state is of the call I enter)
  if (view && view.id === call.id) {
    const present = new Set(view.participants.map((p) => p.peer));
    for (const [peer, found] of call.links) {
      if (!present.has(peer)) dropLink(peer, found);
      else if (!found.user.username) found.tile.el.lastChild.textContent = personLabel(found.user = participant(peer).user);
    }
    // A direct call is over for me once the other side hung up.
    if (store.rooms.get(roomId)?.kind === 'direct' && view.answered && view.participants.length === 1) leaveCall();
  }
  if (call && (!view || view.id !== call.id)) teardown();
}

/** A participant of my call as the server last told it (with the user's name). */
function participant(peer) {
  return running.get(call?.room)?.participants.find((p) => p.peer === peer);
}

/** The open room view's join banner (views/room.js), shown while a call I am not in runs there. */
async function renderBanner(roomId) {
  const el = document.querySelector(`.call-banner[data-call-room="${Number(roomId)}"]`);
  if (!el) return;
  await ready();
  const view = running.get(roomId);
  const mine = call?.id === view?.id;
  el.hidden = !view || mine;
  if (!view || mine) return el.replaceChildren();
  const count = view.participants.length;
  el.replaceChildren(icon('phone'), h('span', { class: 'call-banner-text' }, t('call.running', { count })),
    h('button', { type: 'button', class: 'btn primary small', on: { click: () => joinCall(view.id, roomId) } },
      t('call.join')));
  return undefined;
}

// -- ringing ------------------------------------------------------------------------------------------------

function ring(room, event) {
  stopRinging();
  const who = personLabel(event.sender);
  const title = t('call.incoming', { user: who });
  const accept = h('button', { type: 'button', class: 'btn primary call-accept' }, icon('phone'), t('call.accept'));
  const decline = h('button', { type: 'button', class: 'btn danger call-decline' }, t('call.decline'));
  const dialog = h('dialog', { class: 'dialog call-ring', 'aria-label': title },
    h('p', { class: 'call-ring-title' }, title), h('p', { class: 'muted' }, roomLabel(room)),
    h('div', { class: 'dialog-actions' }, decline, accept));
  const state = { call: event.call, room: room.id, dialog };
  accept.addEventListener('click', () => {
    stopRinging();
    joinCall(event.call, room.id);
  });
  decline.addEventListener('click', () => {
    stopRinging();
    sendFrame({ type: 'call_decline', call: event.call });
  });
  dialog.addEventListener('cancel', (e) => e.preventDefault());
  document.body.append(dialog);
  dialog.showModal();
  state.timer = setTimeout(stopRinging, RING_MS);
  if (document.hidden && 'Notification' in window && Notification.permission === 'granted') {
    state.notification = new Notification(title, { body: roomLabel(room), tag: `parley-call-${event.call}`,
      requireInteraction: true });
    state.notification.onclick = () => {
      window.focus();
      location.hash = `#/room/${room.id}`;
    };
  }
  ringing = state;
}

function stopRinging() {
  if (!ringing) return;
  clearTimeout(ringing.timer);
  ringing.notification?.close();
  ringing.dialog.close();
  ringing.dialog.remove();
  ringing = null;
}

// -- starting, joining, leaving --------------------------------------------------------------------------

export async function startCall(roomId, video = true) {
  if (call) return call.room === roomId ? undefined : leaveCall();
  return enter(roomId, { type: 'call_start', room: roomId, video });
}

export async function joinCall(callId, roomId) {
  if (call?.id === callId) return undefined;
  if (call) leaveCall();
  return enter(roomId, { type: 'call_join', call: callId });
}

async function enter(roomId, frame) {
  await ready();
  const acceptedAt = performance.now();
  const [media, iceConfig] = await Promise.all([localMedia(frame.video !== false), iceServers()]);
  call = { id: null, room: roomId, peer: null, links: new Map(), media, ice: iceConfig, acceptedAt,
    firstFrameAt: null, outbox: [], muted: false, cameraOff: false, screen: null, ui: null, offs: [], video: frame.video !== false };
  buildUi();
  const ref = `call-${++refs}`;
  const joined = new Promise((resolve) => waiting.set(ref, resolve));
  if (!sendFrame({ ...frame, ref })) {
    waiting.delete(ref);
    teardown();
    showNotice({ code: 'network' });
    return undefined;
  }
  const answer = await joined;
  if (answer.type === 'error') {
    teardown();
    showNotice(answer);
    return undefined;
  }
  return call;
}

/** Errors of call frames come back as `error` frames with the ref; sync.js shows the others. */
export function onError(frame) {
  const resolve = waiting.get(frame.ref);
  if (!resolve) return false;
  waiting.delete(frame.ref);
  resolve(frame);
  return true;
}

function onJoined(frame) {
  const resolve = waiting.get(frame.ref);
  waiting.delete(frame.ref);
  if (!call) return;
  call.id = frame.call.id;
  call.peer = frame.peer;
  running.set(call.room, frame.call);
  renderBanner(call.room);
  // Nobody picks up a direct call: it ends as missed.
  if (store.rooms.get(call.room)?.kind === 'direct' && !frame.call.answered && !call.ringTimer) {
    call.ringTimer = setTimeout(() => call && !running.get(call.room)?.answered && leaveCall(), RING_MS);
  }
  // The newcomer (or the one coming back) offers to everyone it has no link with; the others answer.
  for (const p of frame.call.participants) {
    if (p.peer === call.peer) continue;
    const existing = call.links.get(p.peer);
    if (!existing) offerTo(p.peer, p.user);
    else if (!['connected', 'completed'].includes(existing.pc.iceConnectionState)) offer(p.peer, true);
  }
  call.away = false;
  for (const queued of call.outbox.splice(0)) sendFrame(queued);
  resolve?.(frame);
}

export function leaveCall() {
  if (!call) return;
  if (call.id) sendFrame({ type: 'call_leave', call: call.id });
  teardown();
}

function teardown() {
  if (!call) return;
  const { room, links, media, screen, ui, offs, timer, ringTimer } = call;
  clearInterval(timer);
  clearTimeout(ringTimer);
  offs.forEach((off) => off());
  for (const [peer, link] of links) dropLink(peer, link);
  media.getTracks().forEach((track) => track.stop());
  screen?.getTracks().forEach((track) => track.stop());
  ui?.remove();
  call = null;
  renderBanner(room);
}

async function localMedia(video) {
  for (const wanted of video ? [{ audio: true, video: true }, { audio: true }, { video: true }] : [{ audio: true }]) {
    try {
      return await navigator.mediaDevices.getUserMedia(wanted);
    } catch {
      // no such device, or no permission: try with less
    }
  }
  return new MediaStream(); // neither: I listen and watch
}

let iceCache = null;
async function iceServers() {
  if (iceCache && iceCache.until > Date.now()) return iceCache.config;
  const answer = await get('/calls/ice');
  const config = { iceServers: answer.ice_servers ?? [] };
  if (window.PARLEY_ICE_POLICY) config.iceTransportPolicy = window.PARLEY_ICE_POLICY; // "relay": tests, strict networks
  iceCache = { config, until: Date.now() + Math.max(30, (answer.ttl_s ?? 600) / 2) * 1000 };
  return config;
}

// -- the peer connections ------------------------------------------------------------------------------

/** My link with one participant connection. The offerer (the newcomer) lays out an audio and a video
 * transceiver; the answerer takes the offer's and puts its tracks on them. */
function link(peer, user, offerer) {
  let found = call.links.get(peer);
  if (found) return found;
  const pc = new RTCPeerConnection(call.ice);
  found = { pc, user, polite: call.peer > peer, candidates: [], stream: new MediaStream(), tile: tile(user) };
  call.links.set(peer, found);
  if (offerer) {
    for (const kind of ['audio', 'video']) {
      const track = call.media.getTracks().find((tr) => tr.kind === kind);
      pc.addTransceiver(track ?? kind, { direction: 'sendrecv', streams: [call.media] });
    }
  }
  pc.onicecandidate = ({ candidate }) => {
    if (candidate) signal(peer, { kind: 'ice', candidate: candidate.toJSON() });
  };
  pc.ontrack = ({ track }) => {
    found.stream.addTrack(track);
    if (found.tile.video.srcObject !== found.stream) found.tile.video.srcObject = found.stream;
  };
  pc.oniceconnectionstatechange = () => {
    found.tile.el.dataset.state = pc.iceConnectionState;
    // A broken network path: negotiate a new one (the impolite side; the other answers).
    if (pc.iceConnectionState === 'failed' && !found.polite) offer(peer, true);
  };
  call.ui?.grid.append(found.tile.el);
  return found;
}

async function offer(peer, iceRestart = false) {
  const found = call?.links.get(peer);
  if (!found) return;
  const description = await found.pc.createOffer({ iceRestart });
  await found.pc.setLocalDescription(description);
  signal(peer, { kind: 'offer', sdp: description.sdp, restart: iceRestart });
}

function offerTo(peer, user) {
  link(peer, user, true);
  offer(peer).catch((err) => console.warn('call offer', err));
}

function dropLink(peer, found) {
  found.pc.close();
  found.tile.el.remove();
  call?.links.delete(peer);
}

/** Signals sent while the socket is down wait for the next one (after `call_join` takes my place back). */
function signal(to, body) {
  if (!call?.id) return;
  const frame = { type: 'call_signal', call: call.id, to, ...body };
  if (call.away || !sendFrame(frame)) call.outbox.push(frame);
}

/** Offers, answers and candidates from another participant. Of two offers that cross (two ICE
 * restarts), the polite side's gives way. */
async function onSignal(frame) {
  if (!call || frame.call !== call.id) return;
  const user = participant(frame.from)?.user ?? store.users.get(frame.user) ?? { id: frame.user };
  const found = link(frame.from, user, false);
  const { pc } = found;
  if (frame.kind === 'ice') {
    if (!pc.remoteDescription) found.candidates.push(frame.candidate);
    else await pc.addIceCandidate(frame.candidate).catch(() => {});
    return;
  }
  if (frame.kind === 'answer') {
    if (pc.signalingState === 'have-local-offer') await pc.setRemoteDescription({ type: 'answer', sdp: frame.sdp });
  } else {
    if (pc.signalingState !== 'stable' && !found.polite) return; // my offer wins; theirs is dropped
    await pc.setRemoteDescription({ type: 'offer', sdp: frame.sdp }); // (a polite side's own offer rolls back)
    for (const tr of pc.getTransceivers()) {
      if (tr.direction !== 'sendrecv') tr.direction = 'sendrecv';
      const kind = tr.receiver.track.kind;
      const track = kind === 'video' && call.screen ? call.screen.getVideoTracks()[0]
        : call.media.getTracks().find((x) => x.kind === kind);
      if (track && tr.sender.track !== track) {
        await tr.sender.replaceTrack(track);
        tr.sender.setStreams?.(call.media);
      }
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    signal(frame.from, { kind: 'answer', sdp: answer.sdp });
  }
  for (const candidate of found.candidates.splice(0)) await pc.addIceCandidate(candidate).catch(() => {});
}

// -- the call's screen -----------------------------------------------------------------------------------

function tile(user, self = false) {
  const video = h('video', { autoplay: true, playsinline: true, class: 'call-video' });
  video.muted = self;
  const el = h('figure', { class: `call-tile${self ? ' self' : ''}` }, video,
    h('figcaption', {}, self ? t('call.you') : personLabel(user)));
  if (!self) {
    const first = () => {
      if (call && call.firstFrameAt === null) call.firstFrameAt = performance.now();
    };
    if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(first);
    else video.addEventListener('loadeddata', first, { once: true });
  }
  return { el, video };
}

function buildUi() {
  const me = tile(store.me, true);
  me.video.srcObject = call.media;
  const grid = h('div', { class: 'call-grid' }, me.el);
  const toggle = (name, label, fn) => iconButton(name, label, fn, { class: 'icon-btn call-btn', 'aria-pressed': 'false' });
  const mute = toggle('mic', t('call.mute'), () => setMuted(!call.muted));
  const camera = toggle('camera', t('call.camera'), () => setCameraOff(!call.cameraOff));
  const share = toggle('screen', t('call.share'), () => (call.screen ? stopShare() : shareScreen()));
  const devices = iconButton('sliders', t('call.devices'), () => deviceMenu(), { class: 'icon-btn call-btn' });
  const hangup = iconButton('hangup', t('call.hangup'), () => leaveCall(), { class: 'icon-btn call-btn call-hangup' });
  const status = h('p', { class: 'call-status', 'aria-live': 'polite' });
  const menu = h('div', { class: 'call-devices', hidden: true });
  const title = h('h2', { class: 'call-title' }, roomLabel(store.rooms.get(call.room) ?? { id: call.room, name: '' }));
  const el = h('section', { class: 'call-view', 'aria-label': t('call.title') }, title, grid, status, menu,
    h('div', { class: 'call-controls' }, mute, camera, share, devices, hangup));
  Object.assign(el, { grid, me, buttons: { mute, camera, share }, status, menu });
  document.body.append(el);
  call.ui = el;
  call.timer = setInterval(findSpeaker, SPEAKER_MS);
  call.offs.push(on('connection', (state) => {
    status.textContent = state === 'connected' ? '' : t('call.reconnecting');
    if (call && state !== 'connected') call.away = true; // signals wait until my place is taken back
    // Back on a socket: take my participant over again; links that broke restart ICE (onJoined).
    if (state === 'connected' && call?.id) {
      const ref = `call-${++refs}`;
      sendFrame({ type: 'call_join', call: call.id, peer: call.peer, ref });
    }
  }));
  if (!call.media.getVideoTracks().length) camera.disabled = true;
}

function pressed(button, on) {
  button.setAttribute('aria-pressed', String(on));
}

function setMuted(muted) {
  call.muted = muted;
  call.media.getAudioTracks().forEach((track) => { track.enabled = !muted; });
  pressed(call.ui.buttons.mute, muted);
}

function setCameraOff(off) {
  call.cameraOff = off;
  call.media.getVideoTracks().forEach((track) => { track.enabled = !off; });
  pressed(call.ui.buttons.camera, off);
}

/** Puts `track` in every link's sender of its kind: no new offer is needed (replaceTrack). */
async function sendTrack(kind, track) {
  for (const { pc } of call.links.values()) {
    const sender = pc.getTransceivers().find((tr) => tr.receiver.track.kind === kind)?.sender;
    await sender?.replaceTrack(track);
  }
}

async function shareScreen() {
  try {
    call.screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
  } catch {
    return;
  }
  const [track] = call.screen.getVideoTracks();
  track.addEventListener('ended', stopShare);
  await sendTrack('video', track);
  call.ui.me.video.srcObject = call.screen;
  pressed(call.ui.buttons.share, true);
}

async function stopShare() {
  if (!call?.screen) return;
  call.screen.getTracks().forEach((track) => track.stop());
  call.screen = null;
  await sendTrack('video', call.media.getVideoTracks()[0] ?? null);
  call.ui.me.video.srcObject = call.media;
  pressed(call.ui.buttons.share, false);
}

async function deviceMenu() {
  const { menu } = call.ui;
  if (!menu.hidden) {
    menu.hidden = true;
    return;
  }
  const all = await navigator.mediaDevices.enumerateDevices();
  const select = (kind, label) => {
    const current = call.media.getTracks().find((tr) => `${tr.kind}input` === kind)?.getSettings().deviceId;
    const options = all.filter((d) => d.kind === kind).map((d, i) =>
      h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label || `${label} ${i + 1}`));
    return h('label', {}, h('span', {}, label), h('select', { on: { change: (e) => switchDevice(kind, e.target.value) } }, options));
  };
  menu.replaceChildren(select('audioinput', t('call.microphone')), select('videoinput', t('call.cameraDevice')));
  menu.hidden = false;
}

/** Another microphone or camera: a new track replaces the old one in every link. */
export async function switchDevice(kind, deviceId) {
  const audio = kind === 'audioinput';
  const fresh = await navigator.mediaDevices.getUserMedia(audio ? { audio: { deviceId: { exact: deviceId } } }
    : { video: { deviceId: { exact: deviceId } } });
  const [track] = fresh.getTracks();
  const old = call.media.getTracks().find((tr) => tr.kind === track.kind);
  if (old) {
    call.media.removeTrack(old);
    old.stop();
  }
  call.media.addTrack(track);
  track.enabled = audio ? !call.muted : !call.cameraOff;
  if (!(track.kind === 'video' && call.screen)) await sendTrack(track.kind, track);
  call.ui.me.video.srcObject = call.screen ?? call.media;
}

/** The loudest participant (inbound audio level, from getStats) is highlighted. */
async function findSpeaker() {
  if (!call) return;
  let best = null;
  let loudest = SPEAKING_LEVEL;
  for (const found of call.links.values()) {
    const stats = await found.pc.getStats().catch(() => null);
    stats?.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio' && (s.audioLevel ?? 0) > loudest) {
        loudest = s.audioLevel;
        best = found;
      }
    });
  }
  for (const found of call?.links.values() ?? []) found.tile.el.classList.toggle('speaking', found === best);
}

function showNotice(frame) {
  const note = h('p', { class: 'call-notice', role: 'alert' },
    frame.code === 'call_full' ? t('call.full') : describeError({ code: frame.code, message: frame.message }));
  document.body.append(note);
  setTimeout(() => note.remove(), 6000);
}

// -- for the tests and the benchmark -----------------------------------------------------------------

/** What each link receives: bytes, decoded frames and the remote video's size. */
export async function stats() {
  if (!call) return null;
  const peers = {};
  for (const [peer, found] of call.links) {
    const out = { audioBytes: 0, videoBytes: 0, framesDecoded: 0, relay: false,
      videoWidth: found.tile.video.videoWidth, state: found.pc.iceConnectionState };
    const report = await found.pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out[s.kind === 'audio' ? 'audioBytes' : 'videoBytes'] += s.bytesReceived ?? 0;
        if (s.kind === 'video') out.framesDecoded += s.framesDecoded ?? 0;
      }
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = report.get(s.selectedCandidatePairId);
        out.relay ||= report.get(pair?.localCandidateId)?.candidateType === 'relay';
      }
    });
    peers[peer] = out;
  }
  return { id: call.id, peer: call.peer, peers, setupMs: call.firstFrameAt === null ? null : call.firstFrameAt - call.acceptedAt };
}
