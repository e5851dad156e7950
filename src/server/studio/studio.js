// The preview studio: fills the page served at /_preview/ from the preview API, and
// polls it once a second. No framework and no build step. Every text, value and
// number from the server or the author is inserted with textContent or DOM calls,
// never as markup; the one document parsed is the journey's graph, as SVG, with
// scripts, styles and event attributes removed before it is shown.
'use strict';

(() => {
  const API = '/_preview/api';
  const POLL_MS = 1000;
  const $ = (id) => document.getElementById(id);

  // An element with attributes (`text` sets its text) and children (strings become
  // text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== undefined && c !== null) e.append(c);
    return e;
  }

  const state = {
    journeys: [],
    sessions: [],
    sessionsSig: '',
    chosen: null,
    detail: null,
    now: null,
    // Session ids seen before "Start" was pressed; a new one is chosen when it appears.
    before: null,
    frameSession: null,
    place: null,
    graphFor: null,
    conversationSig: '',
    polling: false,
  };

  // Whether `value` is what `key` showed last; a panel is redrawn only when its data
  // changed, so the focus and a screen reader's place stay where they are.
  const shown = new Map();
  function same(key, value) {
    const sig = JSON.stringify(value);
    if (shown.get(key) === sig) return true;
    shown.set(key, sig);
    return false;
  }

  // --- The status line, and the API ----------------------------------------------------

  function status(text, error) {
    const s = $('status');
    s.textContent = text;
    s.classList.toggle('error', Boolean(error));
  }

  async function problemText(r) {
    const text = await r.text().catch(() => '');
    try {
      const p = JSON.parse(text);
      const title = p.title || `${r.status} ${r.statusText}`;
      return p.detail ? `${title}: ${p.detail}` : title;
    } catch (_) {
      return text.trim() || `${r.status} ${r.statusText}`;
    }
  }

  // GET `path`, or POST `body` to it as JSON. Throws an Error saying what the server
  // answered (an RFC 9457 problem's title and detail).
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    };
    let r;
    try {
      r = await fetch(API + path, init);
    } catch (e) {
      throw new Error(`The server does not answer (${e.message}).`);
    }
    if (!r.ok) throw new Error(await problemText(r));
    return r.json();
  }

  // Runs an action of the author's, showing what it did or why it failed.
  async function act(what, fn) {
    status(`${what}…`);
    try {
      const done = await fn();
      status(done || `${what}: done.`);
    } catch (e) {
      status(`${what} failed: ${e.message}`, true);
    }
    poll();
  }

  // --- Times -------------------------------------------------------------------------

  function formatIn(iso, zone) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    try {
      return new Intl.DateTimeFormat('en-US', {
        timeZone: zone || 'UTC', weekday: 'short', year: 'numeric', month: 'short',
        day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false,
        timeZoneName: 'short',
      }).format(d);
    } catch (_) {
      return d.toISOString();
    }
  }

  function relative(iso) {
    if (!iso || !state.now) return '';
    const s = Math.round((new Date(iso) - new Date(state.now)) / 1000);
    const a = Math.abs(s);
    const text = a < 90 ? `${a} s` : a < 5400 ? `${Math.round(a / 60)} min`
      : a < 129600 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
    return s >= 0 ? `in ${text}` : `${text} ago`;
  }

  // --- The frame: the person's browser -------------------------------------------------

  function pathOf(link) {
    if (!link) return null;
    try {
      const u = new URL(link, location.href);
      return u.pathname + u.search;
    } catch (_) {
      return null;
    }
  }

  function framePath() {
    try {
      const l = $('frame').contentWindow.location;
      return l.href === 'about:blank' ? null : l.pathname + l.search;
    } catch (_) {
      return null;
    }
  }

  function openInFrame(path) {
    $('frame').src = path;
    $('frame-url').textContent = path;
  }

  // The page the frame shows, as `step.page` indices, from its form.
  function framePlace() {
    try {
      const input = $('frame').contentDocument.querySelector('input[name=_page]');
      return input ? input.value : null;
    } catch (_) {
      return null;
    }
  }

  function journeyOf(name) {
    return state.journeys.find((j) => j.name === name) || null;
  }

  function placeIndices(d) {
    const j = journeyOf(d.journey);
    if (!j || !d.page) return null;
    const s = j.steps.findIndex((step) => step.name === d.step);
    const p = s < 0 ? -1 : j.steps[s].pages.indexOf(d.page);
    return p < 0 ? null : `${s}.${p}`;
  }

  // Shows the chosen session's journey link, and reloads it when the session moves on
  // by itself (a timer, a text) — but not when the frame already shows where it is.
  function syncFrame(d) {
    const path = pathOf(d.link);
    const place = `${d.status}/${d.step}/${d.page}`;
    if (state.frameSession !== d.session.id) {
      state.frameSession = d.session.id;
      state.place = place;
      if (path && framePath() !== path) openInFrame(path);
      return;
    }
    if (place === state.place) return;
    state.place = place;
    if (!path || framePath() !== path) return;
    const shown = framePlace();
    if (shown === null || shown !== placeIndices(d)) openInFrame(path);
  }

  // --- Journeys and sessions -----------------------------------------------------------

  function dd(...children) {
    return el('dd', null, ...children);
  }

  function personPhone() {
    return $('person-phone').value.trim();
  }

  function renderJourneys() {
    const box = $('journeys');
    box.replaceChildren();
    if (!state.journeys.length) {
      box.append(el('p', { class: 'empty', text: 'No journeys are served.' }));
      return;
    }
    const needsPhone = state.journeys.some((j) => j.sms_numbers.length || j.call_numbers.length);
    if (needsPhone) {
      box.append(el('p', { class: 'field' },
        el('label', { for: 'person-phone', text: "The person's phone (for texts and calls)" }),
        el('input', { id: 'person-phone', type: 'tel', value: '+14155550100', autocomplete: 'off' })));
    }
    for (const j of state.journeys) {
      const facts = el('dl');
      for (const l of j.starting_links) {
        const start = el('button', { type: 'button', class: 'start', 'data-slug': l.slug, text: 'Start' });
        start.setAttribute('aria-label', `Start ${j.name} from /start/${l.slug}`);
        start.addEventListener('click', () => startLink(l.slug));
        facts.append(el('dt', { text: 'Starting link' }), dd(el('code', { text: `/start/${l.slug}` }), ' ', start));
      }
      for (const n of j.sms_numbers) {
        const text = el('button', { type: 'button', text: 'Text it' });
        text.setAttribute('aria-label', `Text ${n} from the person's phone`);
        text.addEventListener('click', () => act(`Texting ${n}`, async () => {
          const r = await api('/sms', { from: personPhone(), to: n, body: 'Hi' });
          return r.reply ? `Answered: ${r.reply}` : `Texted ${n}.`;
        }));
        facts.append(el('dt', { text: 'Texts to' }), dd(el('code', { text: n }), ' ', text));
      }
      for (const n of j.call_numbers) {
        const call = el('button', { type: 'button', text: 'Call it' });
        call.setAttribute('aria-label', `Call ${n} from the person's phone`);
        call.addEventListener('click', () => act(`Calling ${n}`, async () => {
          const r = await api('/call', { to: n, from: personPhone() });
          return `Called ${n}: ${(r.said || []).join(' ') || 'nothing said'}`;
        }));
        facts.append(el('dt', { text: 'Calls to' }), dd(el('code', { text: n }), ' ', call));
      }
      if (j.api) facts.append(el('dt', { text: 'API' }), dd(el('code', { text: `POST /api/v1/journeys/${j.name}/sessions` })));
      for (const s of j.schedules || []) {
        facts.append(el('dt', { text: 'Schedule' }), dd(el('code', { text: s.cron }), s.time_zone ? ` in ${s.time_zone}` : ''));
      }
      if (j.sms_from) facts.append(el('dt', { text: 'Texts from' }), dd(el('code', { text: j.sms_from })));
      box.append(el('article', { class: 'journey-card' },
        el('h3', { text: j.name }),
        el('p', { class: 'meta', text: `version ${j.version}${j.time_zone ? ` · ${j.time_zone}` : ''}` }),
        facts));
    }
  }

  function startLink(slug) {
    state.before = new Set(state.sessions.map((s) => s.id));
    openInFrame(`/start/${encodeURIComponent(slug)}`);
    status(`Started /start/${slug} in the browser panel; its session appears in the list.`);
  }

  function placeText(s) {
    return s.page ? `${s.step} › ${s.page}` : s.step;
  }

  function renderSessions() {
    const sig = JSON.stringify([state.chosen, state.sessions.map((s) => [s.id, s.status, s.step, s.page, s.actor && s.actor.phone])]);
    if (sig === state.sessionsSig) return;
    state.sessionsSig = sig;
    const list = $('sessions');
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.session : undefined;
    list.replaceChildren();
    if (!state.sessions.length) {
      list.append(el('li', { class: 'empty', text: 'No sessions yet: start a journey.' }));
    }
    for (const s of state.sessions) {
      const b = el('button', { type: 'button', class: 'session', 'data-session': s.id, 'aria-pressed': String(s.id === state.chosen) },
        el('span', { class: 'id', text: s.id }), ' ',
        el('span', { text: `${s.journey} v${s.version}` }), ' ',
        el('span', { class: 'place', text: placeText(s) }), ' ',
        el('span', { class: `badge ${s.status}`, text: s.status }),
        s.actor && s.actor.phone ? el('span', { class: 'phone', text: s.actor.phone }) : null);
      b.addEventListener('click', () => choose(s.id));
      list.append(el('li', null, b));
      if (focused === s.id) b.focus();
    }
  }

  function choose(id) {
    if (state.chosen !== id) {
      state.chosen = id;
      state.detail = null;
      state.conversationSig = '';
      history.replaceState(null, '', `#session=${encodeURIComponent(id)}`);
    }
    state.sessionsSig = '';
    renderSessions();
    poll();
  }

  // A session started from "Start" is chosen when it appears: the one whose link the
  // frame shows, or else the newest that was not there before.
  function chooseStarted() {
    if (!state.before) return;
    const fresh = state.sessions.filter((s) => !state.before.has(s.id));
    if (!fresh.length) return;
    const here = framePath();
    const pick = fresh.find((s) => here && pathOf(s.link) === here) || fresh[0];
    state.before = null;
    state.frameSession = pick.id;
    state.place = null;
    status(`Following the new session ${pick.id}.`);
    choose(pick.id);
  }

  // --- The phone ----------------------------------------------------------------------

  // The person's side of the conversation, as the API reads it from the session's
  // log: their texts, their calls, the words said, and answers given at once.
  function spoken(c) {
    switch (c.kind) {
      case 'text': return { kind: 'out', text: c.body };
      case 'answer': return { kind: 'in', text: c.body, note: 'answered at once' };
      case 'call': return { kind: 'call', text: `Called from ${c.from}` };
      default: return { kind: 'said', text: c.body };
    }
  }

  function smsNumber(j) {
    return j ? j.sms_numbers[0] || j.sms_from : null;
  }

  // Texts `body` from the actor's phone to the journey's number.
  function text(body) {
    const d = state.detail;
    if (!d) return status('Choose a session first.', true);
    const from = d.actor && d.actor.phone;
    const to = smsNumber(journeyOf(d.journey));
    if (!from) return status('This session has no actor phone yet, so it cannot text.', true);
    if (!to) return status(`${d.journey} has no number to text.`, true);
    return act(`Texting ${body}`, async () => {
      const r = await api('/sms', { from, to, body });
      return r.reply ? `Sent ${body}; answered: ${r.reply}` : `Sent ${body}.`;
    });
  }

  function call() {
    const d = state.detail;
    if (!d) return status('Choose a session first.', true);
    const j = journeyOf(d.journey);
    const to = j && (j.call_numbers[0] || smsNumber(j));
    if (!to) return status(`${d.journey} has no number to call.`, true);
    const from = d.actor && d.actor.phone;
    return act(`Calling ${to}`, async () => {
      const r = await api('/call', from ? { to, from } : { to });
      return (r.said || []).length ? `Heard: ${r.said.join(' ')}` : 'The call was answered with silence.';
    });
  }

  // `body` with each web address a link: journey links open in the browser panel.
  // A journey link whose token was redacted once the text left is this session's.
  function linkified(body, sessionLink) {
    const out = document.createDocumentFragment();
    const re = /https?:\/\/[^\s<>"]+/g;
    let last = 0;
    let m;
    while ((m = re.exec(body)) !== null) {
      const url = m[0].replace(/[.,;:!?)]+$/, '');
      out.append(body.slice(last, m.index));
      last = m.index + url.length;
      re.lastIndex = last;
      let u;
      try {
        u = new URL(url);
      } catch (_) {
        out.append(url);
        continue;
      }
      const journey = u.pathname.startsWith('/j/') || u.pathname.startsWith('/start/');
      const redacted = decodeURIComponent(u.pathname).includes('[redacted]');
      const path = redacted ? pathOf(sessionLink) : u.pathname + u.search;
      const a = el('a', { href: journey && path ? path : url, text: url });
      if (journey && path) {
        a.classList.add('journey-link');
        a.title = 'Opens in the browser panel';
        a.addEventListener('click', (e) => {
          e.preventDefault();
          openInFrame(path);
        });
      } else {
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
      }
      out.append(a);
    }
    out.append(body.slice(last));
    return out;
  }

  function renderPhone(d) {
    const phone = d.actor && d.actor.phone;
    $('actor-phone').textContent = phone || 'not known yet';
    const j = journeyOf(d.journey);
    const canText = Boolean(phone && smsNumber(j));
    for (const id of ['reply', 'stop', 'help']) $(id).disabled = !canText;
    $('reply-form').querySelector('button').disabled = !canText;
    const items = d.messages.map((m, i) => ({ at: m.created_at, order: 1, i, kind: 'msg', m }))
      .concat((d.conversation || []).map((c, i) => ({ at: c.at, order: 0, i, kind: 'said', x: spoken(c) })));
    items.sort((a, b) => (new Date(a.at) - new Date(b.at)) || (a.order - b.order) || (a.i - b.i));
    const sig = JSON.stringify([d.session.id, d.link, items]);
    if (sig === state.conversationSig) return;
    state.conversationSig = sig;
    const list = $('conversation');
    list.replaceChildren();
    if (!items.length) list.append(el('li', { class: 'empty', text: 'No texts yet.' }));
    for (const item of items) {
      if (item.kind === 'msg') {
        const m = item.m;
        const quiet = m.status === 'suppressed';
        const failed = m.status === 'failed' || m.status === 'undelivered';
        const mine = phone && m.from === phone;
        const li = el('li', { class: `bubble ${mine ? 'out' : 'in'}${quiet ? ' suppressed' : ''}${failed ? ' failed' : ''}`, 'data-message': m.id, 'data-status': m.status });
        li.append(el('p', { class: 'body' }, linkified(m.body, d.link)));
        const meta = el('p', { class: 'meta' }, el('span', { text: formatIn(m.created_at, zoneOf(d)) }), ' · ',
          el('span', { class: 'status', text: quiet ? 'not sent' : m.status }));
        li.append(meta);
        if (m.note) li.append(el('p', { class: 'note', text: quiet ? `Suppressed: ${m.note}` : m.note }));
        if (!quiet && !failed) li.append(deliveryButtons(m));
        list.append(li);
      } else {
        const x = item.x;
        const cls = x.kind === 'out' ? 'bubble out' : x.kind === 'in' ? 'bubble in' : 'bubble call';
        const li = el('li', { class: cls }, el('p', { class: 'body', text: x.kind === 'said' ? `🔊 ${x.text}` : x.text }));
        if (x.note) li.append(el('p', { class: 'note', text: x.note }));
        list.append(li);
      }
    }
    list.scrollTop = list.scrollHeight;
  }

  // Twilio's delivery callbacks, simulated: delivered, or failed as Twilio says
  // 30003 (unreachable).
  function deliveryButtons(m) {
    const row = el('details', { class: 'delivery' }, el('summary', { text: 'Delivery' }));
    const button = (label, body) => {
      const b = el('button', { type: 'button', class: 'small', text: label });
      b.setAttribute('aria-label', `Mark text ${m.id} ${label}`);
      b.addEventListener('click', () => act(`Marking text ${m.id} ${body.status}`,
        () => api(`/messages/${encodeURIComponent(m.id)}/status`, body).then((r) => `Text ${r.id} is ${r.status}.`)));
      return b;
    };
    if (m.status !== 'delivered') row.append(button('delivered', { status: 'delivered' }), ' ');
    row.append(button('undelivered', { status: 'undelivered', error_code: '30003' }));
    return row;
  }

  // --- The clock ----------------------------------------------------------------------

  function zoneOf(d) {
    const j = journeyOf(d.journey);
    return (j && j.time_zone) || d.time_zone || 'UTC';
  }

  function renderClock(d) {
    if (same('clock', [state.now, d.journey, d.actor, d.time_zone, d.timers])) return;
    const j = journeyOf(d.journey);
    const zones = $('zones');
    zones.replaceChildren();
    const row = (label, zone) => zones.append(el('dt', { text: label }), el('dd', { text: formatIn(state.now, zone) }));
    row(`Journey (${(j && j.time_zone) || 'UTC'})`, j && j.time_zone);
    const actorZone = (d.actor && d.actor.time_zone) || d.time_zone;
    row(`Actor (${actorZone || 'no zone: UTC'})`, actorZone);
    const timers = $('timers');
    timers.replaceChildren();
    if (!d.timers.length) timers.append(el('li', { class: 'empty', text: 'None.' }));
    for (const t of d.timers) {
      timers.append(el('li', null,
        el('strong', { text: t.key }), ' ',
        el('span', { text: `due ${formatIn(t.due, zoneOf(d))} (${relative(t.due)})` }),
        t.calendar ? el('span', { class: 'calendar', text: ` on ${t.calendar}` }) : null,
        t.fires ? el('span', { class: 'fires', text: ` → ${Array.isArray(t.fires) ? t.fires.join('; ') : show(t.fires)}` }) : null));
    }
  }

  function renderNow() {
    $('now').textContent = state.now ? formatIn(state.now, 'UTC') : '…';
    const to = $('advance-to');
    if (state.now && document.activeElement !== to && !to.dataset.edited) {
      to.value = state.now.slice(0, 16);
    }
  }

  function advance(body, what) {
    act(what, async () => {
      const r = await api('/clock/advance', body);
      state.now = r.now;
      renderNow();
      return `Now ${formatIn(r.now, 'UTC')}; ${r.fired} fired.`;
    });
  }

  // --- The session --------------------------------------------------------------------

  function show(value) {
    if (value === null || value === undefined) return '—';
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  function renderSession(d) {
    if (same('session', [d.session.id, d.journey, d.version, d.status, d.step, d.page, d.link, d.variables, d.events])) return;
    const facts = $('facts');
    facts.replaceChildren();
    const fact = (k, ...v) => facts.append(el('dt', { text: k }), dd(...v));
    fact('Session', el('code', { text: d.session.id }));
    fact('Journey', `${d.journey} v${d.version}`);
    fact('Status', el('span', { class: `badge ${d.status}`, text: d.status }));
    fact('Step', d.step || '—');
    fact('Page', d.page || '—');
    const path = pathOf(d.link);
    if (path) {
      const a = el('a', { href: path, text: 'open in the browser panel', class: 'journey-link' });
      a.addEventListener('click', (e) => { e.preventDefault(); openInFrame(path); });
      fact('Journey link', a);
    }
    const vars = $('vars');
    vars.replaceChildren();
    for (const v of d.variables) {
      vars.append(el('tr', null, el('th', { scope: 'row', text: v.name }), el('td', { text: v.type }),
        el('td', { class: v.value === null ? 'null' : null, text: show(v.value) })));
    }
    if (!d.variables.length) vars.append(el('tr', null, el('td', { colspan: 3, class: 'empty', text: 'None.' })));
    const events = $('events');
    events.replaceChildren();
    for (const e of d.events.slice().reverse()) {
      events.append(el('li', null, el('time', { datetime: e.at, text: formatIn(e.at, zoneOf(d)) }), ' ', el('span', { text: e.text })));
    }
    if (!d.events.length) events.append(el('li', { class: 'empty', text: 'Nothing yet.' }));
  }

  // --- The graph ----------------------------------------------------------------------

  function stepsList(j) {
    const ol = el('ol', { class: 'steps' });
    for (const s of (j && j.steps) || []) {
      ol.append(el('li', { 'data-step': s.name }, el('strong', { text: s.name }),
        el('ul', null, ...s.pages.map((p) => el('li', { 'data-page': `${s.name} › ${p}`, text: p })))));
    }
    return ol;
  }

  async function loadGraph(name) {
    state.graphFor = name;
    const box = $('graph');
    box.replaceChildren(el('p', { class: 'empty', text: 'Drawing…' }));
    try {
      const r = await fetch(`${API}/journeys/${encodeURIComponent(name)}/graph.svg`);
      if (!r.ok) throw new Error(await problemText(r));
      const doc = new DOMParser().parseFromString(await r.text(), 'image/svg+xml');
      const root = doc.documentElement;
      if (root.localName !== 'svg' || doc.getElementsByTagName('parsererror').length) {
        throw new Error('the answer is not SVG');
      }
      // Nothing that runs, styles itself or points elsewhere is kept.
      for (const bad of root.querySelectorAll('script, style, foreignObject, iframe')) bad.remove();
      for (const node of [root, ...root.querySelectorAll('*')]) {
        for (const a of [...node.attributes]) {
          const local = a.localName.toLowerCase();
          if (local.startsWith('on') || (local === 'href' && !a.value.startsWith('#'))) node.removeAttribute(a.name);
        }
      }
      const svg = document.importNode(root, true);
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', `The graph of ${name}, with the session's page marked`);
      if (state.graphFor === name) box.replaceChildren(svg);
    } catch (e) {
      if (state.graphFor !== name) return;
      box.replaceChildren(el('p', { class: 'empty', text: `No graph (${e.message}); the steps:` }), stepsList(journeyOf(name)));
    }
    if (state.detail) highlight(state.detail);
  }

  // Marks the session's page: its shape (`g.page` whose id ends `_s{step}_p{page}`)
  // and its label, the <text> that reads "Step › Page"; or, in the plain list, its item.
  function highlight(d) {
    const box = $('graph');
    for (const c of box.querySelectorAll('.current')) c.classList.remove('current');
    for (const m of box.querySelectorAll('.current-mark')) m.remove();
    if (!d.page) return;
    const label = `${d.step} › ${d.page}`;
    for (const li of box.querySelectorAll('li[data-page]')) {
      if (li.dataset.page === label) li.classList.add('current');
    }
    const svg = box.querySelector('svg');
    if (!svg) return;
    const text = [...svg.querySelectorAll('text')].find((t) => {
      const first = t.querySelector('tspan');
      return (first ? first.textContent : t.textContent).trim() === label;
    });
    if (text) text.classList.add('current');
    const at = placeIndices(d);
    const shape = at ? svg.querySelector(`g.page[id$="_s${at.replace('.', '_p')}"]`) : null;
    if (shape) {
      shape.classList.add('current');
    } else if (text) {
      const b = text.getBBox();
      const mark = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      for (const [k, v] of Object.entries({ x: b.x - 8, y: b.y - 6, width: b.width + 16, height: b.height + 12, rx: 8 })) {
        mark.setAttribute(k, String(v));
      }
      mark.setAttribute('class', 'current-mark');
      text.parentNode.insertBefore(mark, text);
    }
    const target = shape || text;
    if (target) {
      const r = target.getBoundingClientRect();
      const c = box.getBoundingClientRect();
      if (r.left < c.left || r.right > c.right) box.scrollLeft += r.left - c.left - (c.width - r.width) / 2;
    }
  }

  // --- Polling ------------------------------------------------------------------------

  function render(d) {
    state.detail = d;
    renderPhone(d);
    renderClock(d);
    renderSession(d);
    syncFrame(d);
    if (state.graphFor !== d.journey) loadGraph(d.journey);
    else highlight(d);
  }

  async function poll() {
    if (state.polling) return;
    state.polling = true;
    try {
      const list = await api('/sessions');
      state.now = list.now;
      state.sessions = list.sessions;
      chooseStarted();
      renderSessions();
      renderNow();
      if (state.chosen) {
        const d = await api(`/sessions/${encodeURIComponent(state.chosen)}`);
        state.now = d.now;
        render(d);
      }
      if ($('status').classList.contains('error') && $('status').dataset.poll) {
        status('');
      }
      delete $('status').dataset.poll;
    } catch (e) {
      status(`Updating failed: ${e.message}`, true);
      $('status').dataset.poll = '1';
    } finally {
      state.polling = false;
    }
  }

  async function loadJourneys() {
    try {
      const r = await api('/journeys');
      state.journeys = r.journeys;
      state.now = r.now;
      renderJourneys();
      renderNow();
    } catch (e) {
      status(`Reading the journeys failed: ${e.message}`, true);
      setTimeout(loadJourneys, 3000);
    }
  }

  function wire() {
    $('reply-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = $('reply');
      const body = input.value.trim();
      if (!body) return;
      input.value = '';
      text(body);
    });
    $('stop').addEventListener('click', () => text('STOP'));
    $('help').addEventListener('click', () => text('HELP'));
    $('call').addEventListener('click', call);
    $('advance-hour').addEventListener('click', () => advance({ seconds: 3600 }, 'Advancing 1 hour'));
    $('advance-day').addEventListener('click', () => advance({ seconds: 86400 }, 'Advancing 1 day'));
    $('advance-timer').addEventListener('click', () => advance({ next_timer: true }, 'Advancing to the next timer'));
    const to = $('advance-to');
    to.addEventListener('input', () => { to.dataset.edited = '1'; });
    $('advance-to-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const when = new Date(`${to.value}:00Z`);
      if (Number.isNaN(when.getTime())) return status('Choose a date and time to advance to.', true);
      delete to.dataset.edited;
      advance({ to: when.toISOString().replace('.000Z', 'Z') }, `Advancing to ${to.value} UTC`);
    });
    $('frame').addEventListener('load', () => {
      const path = framePath();
      $('frame-url').textContent = path || 'about:blank';
    });
    const m = /^#session=(.+)$/.exec(location.hash);
    if (m) state.chosen = decodeURIComponent(m[1]);
  }

  async function main() {
    wire();
    await loadJourneys();
    const tick = async () => {
      if (!document.hidden) await poll();
      setTimeout(tick, POLL_MS);
    };
    tick();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
  else main();
})();
