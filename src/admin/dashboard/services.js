// The dashboard's Services section: one card per supervised service (docs/supervisor.md), a row
// per replica with its pid, port, state, restarts, last exit and probe results, from the
// "services" key of api/status (the same objects as GET /api/services). Loaded after dom.js and
// before app.js, which calls window.havenServices.render(status) on every poll.
'use strict';

(() => {
  const { byTestId, h, setText, setAttr, setClass, sync, DASH, isNum, fmt } = window.havenDom;

  const COLUMNS = ['replica', 'pid', 'port', 'state', 'restarts', 'last exit', 'liveness', 'readiness', 'up for'];
  // Replica states (src/supervisor/replica.hpp) and the badge colour each gets.
  const STATE_CLASS = {
    ready: 'state-up', starting: 'state-drain', not_ready: 'state-ejected', draining: 'state-drain',
    stopping: 'state-maint', backoff: 'state-down', crashloop: 'state-down', stopped: 'state-maint',
  };

  function createService(s) {
    const head = h('tr');
    for (const c of COLUMNS) head.append(h('th', { scope: 'col', text: c }));
    return h('article', { class: 'card service', 'data-testid': `service-${s.name}` },
      h('header', { class: 'card-head' },
        h('h3', { class: 'card-title', text: s.name }),
        h('dl', { class: 'pool-facts' },
          h('div', null, h('dt', { text: 'ready' }), h('dd', { 'data-field': 'ready' })),
          h('div', null, h('dt', { text: 'restart' }), h('dd', { 'data-field': 'restart' })),
          h('div', null, h('dt', { text: 'rolling restart' }), h('dd', { 'data-field': 'rolling' })))),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'servers replicas' }, h('thead', null, head), h('tbody', { 'data-field': 'replicas' }))));
  }

  function updateService(node, s) {
    const field = (f) => node.querySelector(`[data-field=${f}]`);
    const ready = field('ready');
    setText(ready, `${fmt.count(s.ready)} / ${fmt.count(s.desired)}`);
    setClass(ready, isNum(s.ready) && isNum(s.desired) && s.ready < s.desired ? (s.ready === 0 ? 'tone-bad' : 'tone-warn') : '');
    setText(field('restart'), s.restart || DASH);
    const r = s.rolling_restart;
    setText(field('rolling'), r && isNum(r.at) && isNum(r.of) ? `replica ${r.at} of ${r.of}` : 'no');
    const replicas = Array.isArray(s.replicas) ? s.replicas : [];
    sync(field('replicas'), replicas, (x) => x.name, createReplica, updateReplica);
  }

  function createReplica(r) {
    const td = (name, cls) => h('td', { class: cls, 'data-field': name });
    return h('tr', { 'data-testid': `replica-${r.name}` },
      h('th', { scope: 'row', class: 'server-name' }, h('span', { class: 'name', text: r.name })),
      td('pid', 'num mono'), td('port', 'num mono'),
      h('td', null, h('span', { class: 'badge', 'data-field': 'state' })),
      td('restarts', 'num'), td('last_exit'), td('liveness', 'small'), td('readiness', 'small'), td('uptime', 'num'));
  }

  // "ok (200 in 1.2 ms)": a probe's state and its last result; a dash for a replica without it.
  function probeText(p) {
    if (!p || typeof p !== 'object') return DASH;
    return `${p.state || '?'}${p.last ? ` (${p.last})` : ''}`;
  }

  function updateReplica(row, r) {
    const field = (f) => row.querySelector(`[data-field=${f}]`);
    const state = typeof r.state === 'string' ? r.state : 'unknown';
    setAttr(row, 'data-state', state);
    setAttr(row, 'data-pid', isNum(r.pid) ? String(r.pid) : null);
    setText(field('pid'), isNum(r.pid) ? String(r.pid) : DASH);
    setText(field('port'), isNum(r.port) ? String(r.port) : DASH);
    const badge = field('state');
    setText(badge, state.replace('_', ' '));
    setClass(badge, `badge ${STATE_CLASS[state] || 'state-unknown'}`);
    setAttr(badge, 'title', isNum(r.next_start_in_s) && r.next_start_in_s > 0 ? `next start in ${r.next_start_in_s.toFixed(1)} s` : null);
    setText(field('restarts'), fmt.count(r.restarts));
    setText(field('last_exit'), r.last_exit || DASH);
    setText(field('liveness'), probeText(r.liveness));
    setText(field('readiness'), probeText(r.readiness));
    setText(field('uptime'), isNum(r.pid) ? fmt.duration(r.uptime_s) : DASH);
  }

  function render(status) {
    const services = Array.isArray(status.services) ? status.services : [];
    byTestId('services-section').hidden = services.length === 0;
    sync(byTestId('services'), services, (s) => s.name, createService, updateService);
  }

  window.havenServices = Object.freeze({ render });
})();
