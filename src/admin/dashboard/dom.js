// DOM and formatting helpers for the dashboard (app.js): the only globals the page defines,
// under window.havenDom. Loaded before app.js (both deferred, in order).
'use strict';

(() => {
  // --- DOM helpers -----------------------------------------------------------------------------

  const byTestId = (id, root = document) => root.querySelector(`[data-testid="${CSS.escape(id)}"]`);

  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }

  function setText(node, text) {
    const s = text == null ? '' : String(text);
    if (node.textContent !== s) node.textContent = s;
  }

  function setAttr(node, name, value) {
    const s = value == null || value === false ? null : value === true ? '' : String(value);
    if (s === null) node.removeAttribute(name);
    else if (node.getAttribute(name) !== s) node.setAttribute(name, s);
  }

  function setClass(node, className) {
    if (node.className !== className) node.className = className;
  }

  // Makes container's children match items, in order: existing nodes (matched by key) are
  // updated, missing ones created, leftovers removed. The container holds keyed nodes only.
  function sync(container, items, keyOf, create, update) {
    const existing = new Map();
    for (const child of Array.from(container.children)) existing.set(child.dataset.key, child);
    let index = 0;
    for (const item of items) {
      const key = String(keyOf(item));
      let node = existing.get(key);
      if (node) {
        existing.delete(key);
      } else {
        node = create(item);
        node.dataset.key = key;
      }
      update(node, item);
      const at = container.children[index];
      if (at !== node) container.insertBefore(node, at || null);
      index++;
    }
    for (const node of existing.values()) node.remove();
  }

  // --- Formatting (absent or non-numeric values show as a dash) --------------------------------

  const DASH = '—';
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const trim = (s) => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);

  const fmt = {
    count: (v) => (isNum(v) ? Math.round(v).toLocaleString('en-US') : DASH),
    rps: (v) => (!isNum(v) ? DASH : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)),
    ms(v) {
      if (!isNum(v)) return DASH;
      if (v >= 10000) return `${trim((v / 1000).toFixed(1))} s`;
      if (v >= 100) return `${v.toFixed(0)} ms`;
      if (v >= 1) return `${trim(v.toFixed(1))} ms`;
      return `${trim(v.toFixed(2))} ms`;
    },
    // v is already a percentage (99.95 means 99.95 %).
    percent(v) {
      if (!isNum(v)) return DASH;
      if (v === 0) return '0%';
      if (Math.abs(v) < 0.001) return '<0.001%';
      return `${trim(v.toFixed(Math.abs(v) >= 10 && Math.abs(v) < 99 ? 2 : 3))}%`;
    },
    // v is a fraction (0.001 means 0.1 %).
    fraction: (v) => (isNum(v) ? fmt.percent(v * 100) : DASH),
    duration(seconds) {
      if (!isNum(seconds)) return DASH;
      const s = Math.max(0, seconds);
      if (s < 60) return `${trim(s.toFixed(s < 10 ? 1 : 0))}s`;
      const [d, hr, m, sec] = [s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60].map(Math.floor);
      if (d > 0) return `${d}d ${hr}h ${m}m`;
      if (hr > 0) return `${hr}h ${m}m ${sec}s`;
      return `${m}m ${sec}s`;
    },
    burn: (v) => (isNum(v) ? `${v < 10 ? v.toFixed(2) : v.toFixed(1)}×` : DASH),
    // "2026-11-27T02:38:01.545Z" -> "02:38:01.545" in local time (the full time in a tooltip).
    clock(iso) {
      const t = new Date(iso);
      if (!iso || Number.isNaN(t.getTime())) return iso ? String(iso) : DASH;
      const p = (n, w = 2) => String(n).padStart(w, '0');
      return `${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}.${p(t.getMilliseconds(), 3)}`;
    },
  };

  window.havenDom = Object.freeze({ byTestId, h, setText, setAttr, setClass, sync, DASH, isNum, fmt });
})();
