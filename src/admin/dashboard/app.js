// haven's admin dashboard. Polls api/status once a second (the next poll starts only after the
// previous one has finished or timed out) and renders listeners with their SLOs, pools with
// their servers, and the event history. Nodes are keyed by name and updated in place rather than
// rebuilt, so a button under the pointer survives a refresh and a click is never lost.
// Every string from the API goes in through textContent or attributes, never as markup.
// The JSON contract is documented in tests/integration/dashboard_mock.py.
'use strict';

(() => {
  const POLL_MS = 1000;
  const REQUEST_TIMEOUT_MS = 4000;
  const TOKEN_KEY = 'haven.admin.token';
  const ACTIONS = [
    // [action, label, admin state after it (the button is disabled when already there)]
    ['drain', 'Drain', 'drain'],
    ['enable', 'Enable', 'ready'],
    ['maint', 'Maint', 'maint'],
  ];

  const { byTestId, h, setText, setAttr, setClass, sync, DASH, isNum, fmt } = window.havenDom;

  // --- Token (sessionStorage: forgotten when the tab closes) -----------------------------------

  let memoryToken = ''; // used only when sessionStorage is unavailable

  function getToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return memoryToken; }
  }

  function storeToken(token) {
    memoryToken = token;
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: the token lives in this page only */ }
    renderTokenState();
    if (lastStatus) render(lastStatus);
  }

  function renderTokenState() {
    const has = getToken() !== '';
    document.body.classList.toggle('can-write', has);
    byTestId('token-clear').hidden = !has;
    setText(byTestId('token-state'), has ? 'token set: actions on' : 'read-only');
    setAttr(byTestId('token-state'), 'data-state', has ? 'set' : 'none');
  }

  function setupToken() {
    const form = byTestId('token-form');
    const input = byTestId('token-input');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const token = input.value.trim();
      input.value = '';
      storeToken(token);
    });
    byTestId('token-clear').addEventListener('click', () => storeToken(''));
    renderTokenState();
  }

  // --- Messages (results of write actions) -----------------------------------------------------

  let messageSeq = 0; // data-seq: how many messages were shown, so a reader can tell a new one

  function showMessage(text, kind) {
    const box = byTestId('action-message');
    setText(box.querySelector('.message-text'), text);
    setAttr(box, 'data-kind', kind);
    setAttr(box, 'data-seq', String(++messageSeq));
    box.hidden = false;
  }

  function setupMessage() {
    const box = byTestId('action-message');
    box.querySelector('.message-close').addEventListener('click', () => { box.hidden = true; });
  }

  // --- HTTP ------------------------------------------------------------------------------------

  async function fetchWithTimeout(url, options = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      return await fetch(url, { cache: 'no-store', credentials: 'same-origin', ...options, signal: controller.signal });
    } catch (e) {
      if (e.name === 'AbortError') throw new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`);
      throw new Error('cannot reach haven');
    } finally {
      clearTimeout(timer);
    }
  }

  // The message of an error answer ({"error": "..."}), or the status line when it has none.
  async function errorOf(res) {
    try {
      const body = await res.json();
      if (body && typeof body.error === 'string' && body.error) return `${body.error} (HTTP ${res.status})`;
    } catch (e) { /* not JSON */ }
    return `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  }

  const pendingActions = new Set(); // "pool/server" with a write in flight

  async function runAction(pool, server, action) {
    const token = getToken();
    const key = `${pool}/${server}`;
    if (!token || pendingActions.has(key)) return;
    pendingActions.add(key);
    if (lastStatus) render(lastStatus);
    showMessage(`${action} ${key}…`, 'pending');
    const url = `api/pools/${encodeURIComponent(pool)}/servers/${encodeURIComponent(server)}/${action}`;
    try {
      const res = await fetchWithTimeout(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(await errorOf(res));
      showMessage(`${action} ${key}: done`, 'ok');
    } catch (e) {
      showMessage(`${action} ${key} failed: ${e.message}`, 'error');
    } finally {
      pendingActions.delete(key);
      poll(); // at once, or right after the poll in flight
    }
  }

  // --- Polling ---------------------------------------------------------------------------------
  // One request at a time; a failure marks the page stale but keeps showing the last data.

  let lastStatus = null;
  let lastOkAt = 0;
  let inFlight = false;
  let again = false;
  let timer = null;

  async function poll() {
    if (inFlight) {
      again = true;
      return;
    }
    clearTimeout(timer);
    inFlight = true;
    const started = Date.now();
    try {
      // haven wants the token for reads too when the browser is not on the same host.
      const token = getToken();
      const res = await fetchWithTimeout('api/status', token ? { headers: { Authorization: `Bearer ${token}` } } : {});
      if (res.status === 401) {
        setConnection(false, `${await errorOf(res)}: enter the admin token above`, 'error');
        return;
      }
      if (!res.ok) throw new Error(await errorOf(res));
      const status = await res.json();
      lastStatus = status;
      lastOkAt = Date.now();
      try {
        render(status);
      } catch (e) {
        // haven answered, but with something this page does not understand.
        console.error(e);
        setConnection(false, `cannot show the status: ${e.message}`, 'error');
        return;
      }
      setConnection(true);
    } catch (e) {
      setConnection(false, e.message, 'stale');
    } finally {
      inFlight = false;
      const wait = again ? 0 : Math.max(0, POLL_MS - (Date.now() - started));
      again = false;
      timer = setTimeout(poll, wait);
    }
  }

  function setConnection(ok, reason, kind = 'stale') {
    const conn = byTestId('conn');
    document.body.classList.toggle('stale', !ok);
    if (ok) {
      setAttr(conn, 'data-state', 'live');
      setText(conn, 'live');
      setAttr(conn, 'title', null);
      setText(byTestId('updated'), `updated ${new Date(lastOkAt).toLocaleTimeString()}`);
      document.title = titleFor(lastStatus);
      return;
    }
    // The text changes once per outage (it is a live region); the footer keeps the time of the
    // last good update.
    const since = lastOkAt ? `showing data from ${new Date(lastOkAt).toLocaleTimeString()}` : 'no data yet';
    setAttr(conn, 'data-state', kind);
    setText(conn, kind === 'error' ? reason : `disconnected, ${since}`);
    setAttr(conn, 'title', reason || 'request failed');
    document.title = `(disconnected) ${titleFor(lastStatus)}`;
  }

  function titleFor(status) {
    if (!status || !Array.isArray(status.pools)) return 'haven';
    const bad = status.pools.filter((p) => isNum(p.healthy) && isNum(p.total) && p.healthy < p.total).length;
    return bad ? `haven: ${bad} pool${bad > 1 ? 's' : ''} degraded` : 'haven';
  }

  // --- Rendering -------------------------------------------------------------------------------

  function render(status) {
    setText(byTestId('version'), status.version ? `v${status.version}` : '');
    setText(byTestId('uptime'), fmt.duration(status.uptime_seconds));
    const ready = byTestId('ready');
    const readyState = status.ready === true ? 'ready' : status.ready === false ? 'not-ready' : 'unknown';
    setText(ready, readyState.replace('-', ' '));
    setClass(ready, `badge ready-${readyState}`);
    setAttr(ready, 'data-state', readyState);

    const listeners = Array.isArray(status.listeners) ? status.listeners : [];
    sync(byTestId('listeners'), listeners, (l) => l.name, createListener, updateListener);
    byTestId('listeners-empty').hidden = listeners.length > 0;

    const pools = Array.isArray(status.pools) ? status.pools : [];
    sync(byTestId('pools'), pools, (p) => p.name, createPool, updatePool);
    byTestId('pools-empty').hidden = pools.length > 0;

    const events = Array.isArray(status.events) ? status.events.slice().reverse() : [];
    sync(byTestId('events'), events, (e) => `${e.seq}@${e.time}`, createEvent, updateEvent);
    byTestId('events-empty').hidden = events.length > 0;

    window.havenServices.render(status);

    const subsystems = Array.isArray(status.subsystems) ? status.subsystems : [];
    sync(byTestId('subsystems'), subsystems, (s) => s.name, createSubsystem, updateSubsystem);
  }

  // --- Subsystems: whatever each one reports (its summary and its checks), shown generically, so
  // a subsystem added to haven appears here without a change to this page.

  function createSubsystem(s) {
    return h('article', { class: 'card subsystem', 'data-testid': `subsystem-${s.name}` },
      h('header', { class: 'card-head' },
        h('h3', { class: 'card-title', text: s.name }),
        h('span', { class: 'badge', 'data-field': 'state' })),
      h('dl', { class: 'summary', 'data-field': 'summary' }),
      h('ul', { class: 'checks', 'data-field': 'checks' }));
  }

  function updateSubsystem(card, s) {
    const field = (f) => card.querySelector(`[data-field=${f}]`);
    const state = s.ok === false ? 'failing' : s.ready === false ? 'not-ready' : 'ok';
    setText(field('state'), state.replace('-', ' '));
    setClass(field('state'), `badge sub-${state}`);
    setAttr(card, 'data-state', state);
    const entries = Object.entries(s.summary && typeof s.summary === 'object' ? s.summary : {});
    sync(field('summary'), entries, ([k]) => k, ([k]) => h('div', null, h('dt', { text: k }), h('dd')),
      (row, [, v]) => setText(row.querySelector('dd'), isNum(v) ? fmt.count(v) : typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v)));
    const checks = Array.isArray(s.checks) ? s.checks : [];
    sync(field('checks'), checks, (c) => c.name, (c) => h('li', { 'data-testid': `check-${c.name}` },
      h('span', { class: 'badge', 'data-field': 'ok' }), h('span', { class: 'mono small', text: ` ${c.name} ` }),
      h('span', { class: 'muted small', 'data-field': 'detail' })),
    (li, c) => {
      setText(li.querySelector('[data-field=ok]'), c.ok ? 'ok' : 'failing');
      setClass(li.querySelector('[data-field=ok]'), `badge sub-${c.ok ? 'ok' : 'failing'}`);
      setText(li.querySelector('[data-field=detail]'), c.detail || '');
    });
  }

  // --- Listeners: four tiles and the SLO panel -------------------------------------------------

  const TILES = [['rps', 'requests/s'], ['errors', 'error rate'], ['p50', 'p50 latency'], ['p99', 'p99 latency']];

  function createListener(l) {
    const tiles = h('div', { class: 'tiles' });
    for (const [key, label] of TILES) {
      tiles.append(h('div', { class: 'tile', 'data-testid': `tile-${l.name}-${key}` },
        h('div', { class: 'tile-label', text: label }),
        h('div', { class: 'tile-value', text: DASH })));
    }
    return h('article', { class: 'card listener', 'data-testid': `listener-${l.name}` },
      h('header', { class: 'card-head' },
        h('h3', { class: 'card-title', text: l.name }),
        h('span', { class: 'muted mono', 'data-field': 'address' }),
        h('span', { class: 'badge mode-none', 'data-field': 'mode' })),
      tiles,
      h('div', { class: 'slo', 'data-testid': `slo-${l.name}` }));
  }

  function updateListener(node, l) {
    setText(node.querySelector('[data-field=address]'), l.address || '');
    const mode = node.querySelector('[data-field=mode]');
    setText(mode, l.mode || '');
    setAttr(mode, 'hidden', !l.mode);
    const target = l.slo && l.slo.target;
    const tile = (key, text, tone) => {
      const t = byTestId(`tile-${l.name}-${key}`, node);
      setText(t.querySelector('.tile-value'), text);
      setClass(t, `tile${tone ? ` tone-${tone}` : ''}`);
    };
    tile('rps', fmt.rps(l.rps));
    // The tile's error rate is a fraction; the SLO target is a percentage.
    const errTone = target && isNum(l.error_rate) && isNum(target.error_rate)
      ? (l.error_rate * 100 <= target.error_rate ? 'good' : 'bad') : '';
    tile('errors', fmt.fraction(l.error_rate), errTone);
    tile('p50', fmt.ms(l.p50_ms));
    const p99Tone = target && isNum(l.p99_ms) && isNum(target.latency_p99_ms)
      ? (l.p99_ms <= target.latency_p99_ms ? 'good' : 'bad') : '';
    tile('p99', fmt.ms(l.p99_ms), p99Tone);
    updateSlo(byTestId(`slo-${l.name}`, node), l.name, l.slo);
  }

  // SLO panel: a table (rows: availability, error rate, p99; columns: target, 5m, 1h, window,
  // verdict) and a line with allowed downtime, the error budget bar and the burn rates.
  const SLO_ROWS = [
    // [key, label, target field, window field, format, passes(measured, target), met field]
    ['availability', 'availability', 'availability', 'availability', fmt.percent, (m, t) => m >= t, 'availability'],
    ['error_rate', 'error rate', 'error_rate', 'error_rate', fmt.percent, (m, t) => m <= t, 'error_rate'],
    ['p99', 'p99 latency', 'latency_p99_ms', 'p99_ms', fmt.ms, (m, t) => m <= t, 'latency'],
  ];
  const SLO_WINDOWS = ['5m', '1h', 'slo'];

  function createSlo(name) {
    const head = h('tr', null, h('th', { scope: 'col', text: 'SLO' }), h('th', { scope: 'col', text: 'target' }));
    for (const w of SLO_WINDOWS) head.append(h('th', { scope: 'col', 'data-window': w, text: w }));
    head.append(h('th', { scope: 'col', text: 'verdict' }));
    const body = h('tbody');
    for (const [key, label] of SLO_ROWS) {
      const row = h('tr', { 'data-row': key }, h('th', { scope: 'row', text: label }),
        h('td', { class: 'num', 'data-testid': `slo-${name}-target-${key}` }));
      for (const w of SLO_WINDOWS) row.append(h('td', { class: 'num', 'data-testid': `slo-${name}-${w}-${key}` }));
      row.append(h('td', { 'data-testid': `slo-${name}-met-${key}` }));
      body.append(row);
    }
    const requests = h('tr', { 'data-row': 'requests', class: 'muted' }, h('th', { scope: 'row', text: 'requests' }),
      h('td'));
    for (const w of SLO_WINDOWS) requests.append(h('td', { class: 'num', 'data-testid': `slo-${name}-${w}-requests` }));
    requests.append(h('td'));
    body.append(requests);

    const bar = h('div', {
      class: 'budget-bar', role: 'meter', 'aria-label': 'error budget remaining',
      'aria-valuemin': 0, 'aria-valuemax': 100, 'data-testid': `slo-${name}-budget-bar`,
    }, h('div', { class: 'budget-fill' }));
    return h('div', { class: 'slo-inner' },
      h('table', { class: 'slo-table' }, h('thead', null, head), body),
      h('div', { class: 'slo-facts' },
        h('div', { class: 'fact' }, h('span', { class: 'fact-label', text: 'allowed downtime' }),
          h('span', { class: 'fact-value', 'data-testid': `slo-${name}-downtime` })),
        h('div', { class: 'fact budget' }, h('span', { class: 'fact-label', text: 'error budget left' }), bar,
          h('span', { class: 'fact-value', 'data-testid': `slo-${name}-budget` })),
        h('div', { class: 'fact' }, h('span', { class: 'fact-label', title: '1× = spending the budget exactly on pace', text: 'burn rate 5m / 1h' }),
          h('span', { class: 'fact-value' },
            h('span', { 'data-testid': `slo-${name}-burn-5m` }), ' / ',
            h('span', { 'data-testid': `slo-${name}-burn-1h` })))));
  }

  const burnTone = (v) => (!isNum(v) ? '' : v > 6 ? 'tone-bad' : v > 1 ? 'tone-warn' : 'tone-good');

  function updateSlo(panel, name, slo) {
    if (!slo || !slo.target) {
      if (panel.dataset.state !== 'none') {
        panel.replaceChildren(h('p', { class: 'muted small', text: 'No SLO for this listener.' }));
        panel.dataset.state = 'none';
      }
      return;
    }
    if (panel.dataset.state !== 'shown') {
      panel.replaceChildren(createSlo(name));
      panel.dataset.state = 'shown';
    }
    const target = slo.target, windows = slo.windows || {}, met = slo.met || {};
    setText(panel.querySelector('[data-window=slo]'), isNum(target.window_days) ? `${target.window_days}d` : 'window');
    for (const [key, , tField, wField, format, passes, metField] of SLO_ROWS) {
      const t = target[tField];
      setText(byTestId(`slo-${name}-target-${key}`, panel), format(t));
      for (const w of SLO_WINDOWS) {
        const cell = byTestId(`slo-${name}-${w}-${key}`, panel);
        const win = windows[w] || {};
        const m = win[wField];
        const measured = isNum(m) && !(key === 'p99' && win.requests === 0);
        setText(cell, measured ? format(m) : DASH);
        setClass(cell, `num${measured && isNum(t) ? (passes(m, t) ? ' tone-good' : ' tone-bad') : ''}`);
      }
      const verdict = byTestId(`slo-${name}-met-${key}`, panel);
      const v = met[metField];
      setText(verdict, v === true ? '✓ met' : v === false ? '✗ missed' : DASH);
      setClass(verdict, v === true ? 'verdict tone-good' : v === false ? 'verdict tone-bad' : 'verdict');
      setAttr(verdict, 'data-met', v === true ? 'true' : v === false ? 'false' : null);
    }
    for (const w of SLO_WINDOWS) {
      setText(byTestId(`slo-${name}-${w}-requests`, panel), fmt.count((windows[w] || {}).requests));
    }
    const days = isNum(target.window_days) ? ` per ${target.window_days}d` : '';
    setText(byTestId(`slo-${name}-downtime`, panel), isNum(slo.allowed_downtime_seconds)
      ? `${fmt.duration(slo.allowed_downtime_seconds)}${days}` : DASH);

    const left = slo.error_budget_remaining;
    const bar = byTestId(`slo-${name}-budget-bar`, panel);
    const pct = isNum(left) ? Math.max(0, Math.min(100, left * 100)) : 0;
    const tone = !isNum(left) ? '' : left > 0.5 ? 'good' : left > 0.2 ? 'warn' : 'bad';
    bar.firstChild.style.width = `${pct}%`; // CSSOM, allowed by the page's CSP
    setClass(bar, `budget-bar${tone ? ` tone-${tone}` : ''}`);
    const budgetText = !isNum(left) ? DASH : left < 0 ? `overspent (${fmt.percent(left * 100)})` : fmt.percent(left * 100);
    setAttr(bar, 'aria-valuenow', isNum(left) ? Math.round(pct) : null);
    setAttr(bar, 'aria-valuetext', budgetText);
    setText(byTestId(`slo-${name}-budget`, panel), budgetText);
    for (const [w, v] of [['5m', slo.burn_rate_5m], ['1h', slo.burn_rate_1h]]) {
      const cell = byTestId(`slo-${name}-burn-${w}`, panel);
      setText(cell, fmt.burn(v));
      setClass(cell, burnTone(v));
    }
  }

  // --- Pools: a card with the summary and the server table -------------------------------------

  const SERVER_COLUMNS = ['server', 'state', 'serving', 'weight / eff.', 'priority', 'active', 'requests / fail.', 'last check'];

  function createPool(p) {
    const head = h('tr');
    for (const c of SERVER_COLUMNS) head.append(h('th', { scope: 'col', text: c }));
    head.append(h('th', { scope: 'col', class: 'actions', text: 'actions' }));
    return h('article', { class: 'card pool', 'data-testid': `pool-${p.name}` },
      h('header', { class: 'card-head' },
        h('h3', { class: 'card-title', text: p.name }),
        h('dl', { class: 'pool-facts' },
          h('div', null, h('dt', { text: 'tier' }), h('dd', { 'data-field': 'tier' })),
          h('div', null, h('dt', { text: 'mode' }), h('dd', null, h('span', { class: 'badge', 'data-field': 'mode' }))),
          h('div', null, h('dt', { text: 'healthy' }), h('dd', { 'data-field': 'healthy' })),
          h('div', null, h('dt', { text: 'failovers' }), h('dd', { 'data-field': 'failovers' })),
          h('div', { 'data-field': 'queue-fact' }, h('dt', { text: 'queue' }), h('dd', { 'data-field': 'queue' })))),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'servers' }, h('thead', null, head), h('tbody', { 'data-field': 'servers' }))));
  }

  function updatePool(node, p) {
    const field = (f) => node.querySelector(`[data-field=${f}]`);
    setAttr(node, 'data-mode', p.mode || 'none');
    setText(field('tier'), isNum(p.tier) && p.tier >= 0 ? String(p.tier) : 'none');
    const mode = field('mode');
    setText(mode, p.mode || 'none');
    setClass(mode, `badge mode-${['normal', 'degraded', 'panic'].includes(p.mode) ? p.mode : 'none'}`);
    const healthy = field('healthy');
    setText(healthy, `${fmt.count(p.healthy)} / ${fmt.count(p.total)}${isNum(p.serving) ? ` (${p.serving} serving)` : ''}`);
    setClass(healthy, isNum(p.healthy) && isNum(p.total) && p.healthy < p.total
      ? (p.healthy === 0 ? 'tone-bad' : 'tone-warn') : '');
    setText(field('failovers'), fmt.count(p.failovers));
    // Servers with max_connections: requests waiting for a slot, of the queue's room.
    const q = p.queue && typeof p.queue === 'object' ? p.queue : null;
    field('queue-fact').hidden = !q;
    setText(field('queue'), q ? `${fmt.count(q.length)} / ${fmt.count(q.max)}` : '');
    setClass(field('queue'), q && q.length > 0 ? 'tone-warn' : '');
    const servers = Array.isArray(p.servers) ? p.servers : [];
    sync(field('servers'), servers, (s) => s.name, (s) => createServer(p.name, s), (row, s) => updateServer(row, p.name, s));
  }

  const STATES = ['up', 'down', 'refused', 'ejected', 'drain', 'maint'];

  function createServer(pool, s) {
    const td = (name, cls) => h('td', { class: cls, 'data-field': name });
    const buttons = h('div', { class: 'buttons' });
    for (const [action, label] of ACTIONS) {
      buttons.append(h('button', {
        type: 'button', class: `act act-${action}`, 'data-action': action,
        'data-testid': `${action}-${s.name}`, 'aria-label': `${label} ${s.name}`, text: label,
        onclick: () => runAction(pool, s.name, action),
      }));
    }
    return h('tr', { 'data-testid': `server-${s.name}`, 'data-pool': pool, 'data-server': s.name },
      h('th', { scope: 'row', class: 'server-name' },
        h('span', { class: 'name', text: s.name }), h('span', { class: 'muted mono small', 'data-field': 'address' })),
      h('td', null, h('span', { class: 'badge', 'data-field': 'state' }),
        h('span', { class: 'muted small detail', 'data-field': 'detail' })),
      td('serving'), td('weight', 'num'), td('priority'), td('active', 'num'), td('requests', 'num'),
      td('check'),
      h('td', { class: 'actions' }, buttons));
  }

  function updateServer(row, pool, s) {
    const field = (f) => row.querySelector(`[data-field=${f}]`);
    const state = STATES.includes(s.state) ? s.state : 'unknown';
    setAttr(row, 'data-state', state);
    setAttr(row, 'data-health', s.health);
    setAttr(row, 'data-admin', s.admin);
    setAttr(row, 'data-serving', s.serving === true ? 'true' : s.serving === false ? 'false' : null);
    setText(field('address'), s.address || '');
    const badge = field('state');
    setText(badge, s.state || 'unknown');
    setClass(badge, `badge state-${state}`);
    // What lies under the summary when it hides something: a drained server that is also down.
    const detail = [];
    if (s.health !== 'up') detail.push(`health ${s.health || '?'}`);
    if (s.admin !== 'ready') detail.push(`admin ${s.admin || '?'}`);
    if (s.ejected) detail.push('ejected');
    if (s.refused) detail.push('refused');
    setText(field('detail'), detail.filter((d) => !d.endsWith(` ${state}`) && d !== state).join(' · '));
    setAttr(badge, 'title', `health ${s.health || '?'} · admin ${s.admin || '?'}${s.ejected ? ' · ejected' : ''}${s.refused ? ' · refused connections' : ''}`);
    const serving = field('serving');
    setText(serving, s.serving === true ? 'yes' : s.serving === false ? 'no' : DASH);
    setClass(serving, s.serving === false ? 'muted' : '');
    setText(field('weight'), `${fmt.count(s.weight)} / ${fmt.count(s.effective_weight)}`);
    setText(field('priority'), `${isNum(s.priority) ? s.priority : DASH}${s.backup ? ' (backup)' : ''}`);
    setText(field('active'), s.max_connections > 0 ? `${fmt.count(s.active)} / ${fmt.count(s.max_connections)}` : fmt.count(s.active));
    setText(field('requests'), `${fmt.count(s.requests)} / ${fmt.count(s.failures)}`);
    const check = field('check');
    const checked = s.checked !== false && s.last_check != null && s.last_check !== '';
    const when = s.last_check_time ? ` at ${fmt.clock(s.last_check_time).slice(0, 8)}` : '';
    setText(check, !checked ? 'not checked' : `${s.last_check}${isNum(s.last_check_ms) ? ` · ${fmt.ms(s.last_check_ms)}` : ''}${when}`);
    setAttr(check, 'title', s.last_check_time || null);
    setClass(check, !checked ? 'muted' : s.last_check === 'ok' ? '' : 'tone-bad');

    const busy = pendingActions.has(`${pool}/${s.name}`);
    for (const [action, , after] of ACTIONS) {
      const button = row.querySelector(`button[data-action=${action}]`);
      button.disabled = busy || s.admin === after;
    }
  }

  // --- Events ----------------------------------------------------------------------------------

  const EVENT_TONES = {
    server_down: 'bad', reload_failed: 'bad', breaker_open: 'bad',
    server_up: 'good', returned: 'good', admin_ready: 'good', breaker_closed: 'good',
    ejected: 'warn', ejection_refused: 'warn', shed: 'warn', refused: 'bad', refusal_cleared: 'good',
    failover: 'alert', admin_drain: 'info', weight: 'info', admin_maint: 'neutral', reload: 'neutral',
    rate_limiting: 'warn', rate_limiting_end: 'good', shedding: 'warn', shedding_end: 'good',
    degraded: 'warn', degraded_end: 'good',
  };

  function createEvent() {
    return h('li', { class: 'event', 'data-testid': 'event' },
      h('time', { class: 'event-time mono small', 'data-field': 'time' }),
      h('span', { class: 'badge', 'data-field': 'kind' }),
      h('span', { class: 'event-where mono small', 'data-field': 'where' }),
      h('span', { class: 'event-detail', 'data-field': 'detail' }));
  }

  function updateEvent(node, e) {
    const field = (f) => node.querySelector(`[data-field=${f}]`);
    setAttr(node, 'data-kind', e.kind);
    setAttr(node, 'data-seq', e.seq);
    const time = field('time');
    setText(time, fmt.clock(e.time));
    setAttr(time, 'datetime', e.time);
    setAttr(time, 'title', e.time);
    const kind = field('kind');
    setText(kind, e.kind || '?');
    setClass(kind, `badge kind-${EVENT_TONES[e.kind] || 'neutral'}`);
    const where = [e.pool, e.server].filter((x) => x && x !== '-').join('/');
    setText(field('where'), where);
    setText(field('detail'), e.detail || '');
  }

  // --- Start (the script is deferred: the document is parsed) ----------------------------------

  setupToken();
  setupMessage();
  poll();
})();
