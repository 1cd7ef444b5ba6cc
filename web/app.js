// SPDX-License-Identifier: MIT
// The web view's script: polls /api/cameras, shows a camera's MJPEG stream, follows /api/events/stream, shows /api/sinks.
'use strict';

const $ = (sel) => document.querySelector(sel);
let selected = null;     // the camera shown live
let lastSeq = 0;         // the newest event shown
const MAX_EVENTS = 50;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fmt(v, digits) {
  return typeof v === 'number' ? v.toFixed(digits) : '-';
}

async function getJSON(path) {
  const r = await fetch(path, { cache: 'no-store', credentials: 'same-origin' });
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return r.json();
}

function setStatus(text, ok) {
  const s = $('#status');
  s.textContent = text;
  s.className = ok ? 'ok' : 'bad';
}

function showFigures(cam) {
  const dl = $('#live-figures');
  dl.replaceChildren();
  const rows = [
    ['state', cam.state], ['url', cam.url], ['size', cam.width + 'x' + cam.height],
    ['fps in / processed', fmt(cam.fps_in, 1) + ' / ' + fmt(cam.fps_processed, 1)],
    ['frames / processed / skipped', cam.frames + ' / ' + cam.processed + ' / ' + cam.skipped],
    ['latency p50 / p99 ms', fmt(cam.latency_ms && cam.latency_ms.p50, 1) + ' / ' + fmt(cam.latency_ms && cam.latency_ms.p99, 1)],
    ['reconnects', cam.reconnects], ['last error', cam.last_error || '-'],
  ];
  for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, v));
}

function select(cam) {
  selected = cam.name;
  $('#live-panel').hidden = false;
  $('#live-name').textContent = cam.name;
  $('#live').src = 'api/cameras/' + encodeURIComponent(cam.name) + '/stream.mjpg';
  for (const tr of document.querySelectorAll('#cameras tbody tr'))
    tr.classList.toggle('selected', tr.dataset.name === cam.name);
  showFigures(cam);
}

async function refreshCameras() {
  try {
    const cams = await getJSON('api/cameras');
    setStatus('live', true);
    const tbody = $('#cameras tbody');
    tbody.replaceChildren();
    for (const cam of cams) {
      const tr = el('tr', { 'data-name': cam.name, class: cam.name === selected ? 'selected' : '' },
        el('td', {}, cam.name), el('td', { class: 'state-' + cam.state }, cam.state),
        el('td', {}, fmt(cam.fps_processed, 1)), el('td', {}, cam.processed),
        el('td', {}, cam.skipped), el('td', {}, fmt(cam.latency_ms && cam.latency_ms.p50, 1)));
      tr.addEventListener('click', () => select(cam));
      tbody.append(tr);
      if (cam.name === selected) showFigures(cam);
    }
    $('#cameras-empty').hidden = cams.length > 0;
  } catch (e) {
    setStatus('not reachable (' + e.message + ')', false);
  }
}

function addEvent(ev) {
  if (typeof ev.seq === 'number') {
    if (ev.seq <= lastSeq) return;
    lastSeq = ev.seq;
  }
  const when = new Date().toLocaleTimeString();
  const text = el('div', {},
    el('strong', {}, (ev.rule || 'event') + ' '), (ev.rule_kind || '') + (ev.zone ? ' ' + ev.zone : '') + ' ',
    el('span', { class: 'muted' }, (ev.camera_name || '') + (ev.track_id ? ' #' + ev.track_id : '') +
      (typeof ev.score === 'number' ? ' ' + ev.score.toFixed(2) : '') + ' ' + when));
  const li = el('li', { class: 'event' });
  if (ev.snapshot) {
    const href = 'snapshots/' + encodeURIComponent(ev.snapshot.split('/').pop());
    const img = el('img', { src: href, alt: 'snapshot' });
    // the event can arrive before its snapshot is written (the writer has its own thread): retry a few times
    let tries = 0;
    img.addEventListener('error', () => {
      if (++tries <= 5) setTimeout(() => { img.src = href + '?retry=' + tries; }, 400 * tries);
    });
    li.append(el('a', { href: href, target: '_blank' }, img));
  }
  li.append(text);
  const ul = $('#events');
  ul.prepend(li);
  while (ul.children.length > MAX_EVENTS) ul.lastChild.remove();
  $('#events-empty').hidden = true;
}

async function startEvents() {
  try {
    const evs = await getJSON('api/events');
    for (const ev of evs) addEvent(ev);
  } catch (e) {
    $('#events-empty').textContent = 'no event log (no rules configured)';
    return;
  }
  const es = new EventSource('api/events/stream?since=' + lastSeq);
  es.onmessage = (m) => {
    try { addEvent(JSON.parse(m.data)); } catch (e) { /* a malformed line: skip it */ }
  };
}

async function refreshSinks() {
  let sinks;
  try { sinks = await getJSON('api/sinks'); } catch (e) { return; }
  if (!Array.isArray(sinks) || sinks.length === 0) return;
  const keys = [...new Set(sinks.flatMap((s) => Object.keys(s)))];
  $('#sinks thead').replaceChildren(el('tr', {}, ...keys.map((k) => el('th', {}, k))));
  $('#sinks tbody').replaceChildren(...sinks.map((s) =>
    el('tr', {}, ...keys.map((k) => el('td', {}, typeof s[k] === 'object' ? JSON.stringify(s[k]) : (s[k] ?? ''))))));
  $('#sinks-panel').hidden = false;
}

refreshCameras();
refreshSinks();
startEvents();
setInterval(refreshCameras, 2000);
setInterval(refreshSinks, 5000);
