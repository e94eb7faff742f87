// Wires the page's controls to simulation commands, and fills the panels (replicas, writes,
// status, settings) from the views the loop hands over. User text only ever goes into the
// page through textContent or attributes, never as HTML.

const STATUS_KEYS_SHOWN = 5;

export class Controls {
  constructor(doc, getApp) {
    this.doc = doc;
    this.getApp = getApp;
    this.$ = (id) => doc.getElementById(id);
    this.nodeCount = 0;
    this.settingsEdited = false;
    this.menuFor = null;
    this.lastSeed = null;
  }

  get app() {
    return this.getApp();
  }

  get core() {
    return this.getApp().core;
  }

  /** Runs a command from a control: errors go to `where` (or a toast), never to the console only. */
  act(fn, where) {
    try {
      const result = fn(this.core);
      this.app.afterCommand();
      if (where) setResult(where, '');
      return result;
    } catch (err) {
      if (where) setResult(where, err.message, true);
      else this.toast(err.message);
      return undefined;
    }
  }

  toast(message) {
    const box = this.$('toast');
    box.textContent = message;
    box.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      box.hidden = true;
    }, 6000);
  }

  attach(view) {
    this.view = view;
    const $ = this.$;
    $('play').addEventListener('click', () => this.app.setPlaying(!this.app.playing));
    $('step').addEventListener('click', () => this.step());
    $('reset').addEventListener('click', () => {
      this.act((core) => core.reset(undefined));
      this.app.restarted();
    });
    $('speed').addEventListener('input', () => {
      this.app.setSpeed(this.app.clampSpeed(Number((10 ** Number($('speed').value)).toPrecision(2))));
    });

    // Client
    $('client-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.write();
    });
    $('read').addEventListener('click', () => this.read());

    // Nodes and links
    const node = () => Number($('node-pick').value);
    $('node-crash').addEventListener('click', () => this.act((c) => c.crash(node())));
    $('node-recover').addEventListener('click', () => this.act((c) => c.recover(node(), { wipe: false })));
    $('node-wipe').addEventListener('click', () => this.act((c) => c.recover(node(), { wipe: true })));
    $('node-isolate').addEventListener('click', () => this.act((c) => c.isolate(node())));
    $('node-reconnect').addEventListener('click', () => this.act((c) => c.reconnect(node())));
    const ab = () => [Number($('link-a').value), Number($('link-b').value)];
    $('link-cut').addEventListener('click', () => this.act((c) => c.cut(...ab())));
    $('link-cut-one').addEventListener('click', () => this.act((c) => c.cut(...ab(), { oneWay: true })));
    $('link-heal').addEventListener('click', () => this.act((c) => c.heal(...ab())));
    $('split').addEventListener('click', () => this.act((c) => c.partition(halves(this.nodeCount))));
    $('heal-all').addEventListener('click', () => this.act((c) => c.healAll()));

    // Settings
    const form = $('settings-form');
    form.addEventListener('input', () => {
      this.settingsEdited = true;
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.applySettings();
    });
    $('set-latency').addEventListener('change', () => this.showLatencyFields($('set-latency').value));
    $('set-seed-random').addEventListener('click', () => {
      $('set-seed').value = String(Math.floor(Math.random() * 1_000_000));
      this.settingsEdited = true;
    });

    // The drawing: hover and click on nodes and links.
    const canvas = this.$('cluster');
    canvas.addEventListener('mousemove', (e) => {
      const hit = this.hitAt(e);
      view.setHover(hit);
      canvas.classList.toggle('pointing', hit !== null);
    });
    canvas.addEventListener('mouseleave', () => view.setHover(null));
    canvas.addEventListener('click', (e) => {
      const hit = this.hitAt(e);
      if (hit) this.openMenu(hit, e);
      else this.closeMenu();
    });
    this.doc.addEventListener('keydown', (e) => this.key(e));
    this.doc.addEventListener('click', (e) => {
      if (!this.$('menu').hidden && !this.$('menu').contains(e.target) && e.target !== canvas) this.closeMenu();
    });
  }

  key(e) {
    const typing = e.target.closest && e.target.closest('input, select, textarea, [contenteditable]');
    if (e.key === 'Escape') {
      this.closeMenu();
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === ' ' && !(e.target instanceof HTMLButtonElement)) {
      e.preventDefault();
      this.app.setPlaying(!this.app.playing);
    } else if (e.key === 's' || e.key === 'S') {
      this.step();
    }
  }

  step() {
    this.app.setPlaying(false);
    this.act((core) => {
      if (core.step() === undefined) this.toast('Nothing is scheduled: no message is in flight and no timer is set.');
    });
  }

  hitAt(e) {
    const rect = this.$('cluster').getBoundingClientRect();
    return this.view.hit(e.clientX - rect.left, e.clientY - rect.top);
  }

  write() {
    const node = Number(this.$('client-node').value);
    const key = this.$('client-key').value;
    const value = this.$('client-value').value;
    const out = this.$('client-result');
    const result = this.act((core) => core.write(node, key, value), out);
    if (!result) return;
    const note = result.applied
      ? ` applied at node ${node}, sent to ${result.messages} peer${result.messages === 1 ? '' : 's'}`
      : ` not applied: node ${node} already holds a version with a later timestamp (its clock reads ${result.stampMs} ms). This write is lost.`;
    out.replaceChildren(tag(result.applied ? 'fresh' : 'lost', `w${result.write}`), text(`${shorten(key, 60)} = ${shorten(value, 80)}`), text(note));
  }

  read() {
    const node = Number(this.$('client-node').value);
    const key = this.$('client-key').value;
    const out = this.$('client-result');
    const r = this.act((core) => core.read(node, key), out);
    if (!r) return;
    const never = r.value === null && r.latest === null;
    const label = never ? 'not found' : r.stale ? 'stale' : 'fresh';
    const parts = [tag(never ? 'none' : label, label), text(`node ${node}: `)];
    const shortKey = shorten(key, 60);
    parts.push(text(r.value === null ? `${shortKey} is not there` : `${shortKey} = ${shorten(r.value, 80)} (w${r.write})`));
    if (never) parts.push(text(' (never written)'));
    if (r.stale && r.latest) {
      const lost = r.latest.lost ? ', since lost' : '';
      parts.push(text(`; the newest write is ${shortKey} = ${shorten(r.latest.value, 80)} (w${r.latest.id} at node ${r.latest.node}${lost})`));
    }
    out.replaceChildren(...parts);
  }

  applySettings() {
    const $ = this.$;
    const out = $('settings-result');
    // An empty number field would read as 0: say so instead of applying it.
    const blank = [...$('settings-form').querySelectorAll('input[type="number"]')]
      .find((input) => !input.closest('[hidden]') && input.value.trim() === '');
    if (blank) {
      const name = blank.getAttribute('aria-label') ?? blank.closest('label')?.textContent.trim() ?? 'a field';
      setResult(out, `${name.replace(/\s+/g, ' ')} is empty: give a number.`, true);
      blank.focus();
      return;
    }
    const kind = $('set-latency').value;
    const a = Number($('set-lat-a').value);
    const b = Number($('set-lat-b').value);
    const latency = kind === 'constant' ? { kind, ms: a } : kind === 'uniform' ? { kind, minMs: a, maxMs: b } : { kind, baseMs: a, meanMs: b };
    const skews = {};
    for (const input of $('skews').querySelectorAll('input')) skews[input.dataset.node] = Number(input.value);
    const conflict = this.doc.querySelector('input[name="conflict"]:checked');
    const partial = {
      nodes: Number($('set-nodes').value),
      seed: Number($('set-seed').value),
      latency,
      loss: Number($('set-loss').value),
      duplication: Number($('set-dup').value),
      conflict: conflict ? conflict.value : undefined,
      antiEntropy: $('set-ae').checked,
      antiEntropyIntervalMs: Number($('set-ae-ms').value),
    };
    // Skews name nodes of the current run; with a new node count they start at zero.
    if (partial.nodes === this.nodeCount) partial.clockSkewMs = skews;
    const restarted = this.act((core) => core.configure(partial), out);
    if (restarted === undefined) return;
    this.settingsEdited = false;
    if (restarted) this.app.restarted();
    setResult(out, restarted ? 'Applied: a new run started.' : 'Applied to the running cluster.');
  }

  showLatencyFields(kind) {
    const names = { constant: ['delay', null], uniform: ['min', 'max'], exponential: ['base', 'mean'] }[kind];
    this.$('lat-a-name').textContent = names[0];
    this.$('lat-b-name').textContent = names[1] ?? '';
    this.$('lat-b-label').hidden = names[1] === null;
  }

  // ----- Node and link menus on the drawing -----

  openMenu(hit, e) {
    const menu = this.$('menu');
    const items = [];
    const core = this.core;
    if (hit.type === 'node') {
      const node = core.nodes()[hit.id - 1];
      items.push(heading(`Node ${hit.id} · ${node.up ? 'up' : 'down'}${node.isolated ? ', isolated' : ''}`));
      if (node.up) {
        items.push(this.item('Crash', () => core.crash(hit.id)));
        items.push(node.isolated ? this.item('Reconnect', () => core.reconnect(hit.id)) : this.item('Isolate', () => core.isolate(hit.id)));
        items.push(this.item('Write or read here…', () => this.useNode(hit.id), false));
      } else {
        items.push(this.item('Recover', () => core.recover(hit.id, { wipe: false })));
        items.push(this.item('Recover with an empty store', () => core.recover(hit.id, { wipe: true })));
      }
      if (node.isolated && !node.up) items.push(this.item('Reconnect', () => core.reconnect(hit.id)));
    } else {
      const { a, b } = hit;
      const cutLinks = core.cutLinks();
      const isCut = (x, y) => cutLinks.some(([p, q]) => p === x && q === y);
      const state = isCut(a, b) && isCut(b, a) ? 'cut' : isCut(a, b) ? `cut ${a} → ${b}` : isCut(b, a) ? `cut ${b} → ${a}` : 'working';
      items.push(heading(`Link ${a} ⇄ ${b} · ${state}`));
      if (!(isCut(a, b) && isCut(b, a))) items.push(this.item('Cut both ways', () => core.cut(a, b)));
      if (!isCut(a, b)) items.push(this.item(`Cut ${a} → ${b} only`, () => core.cut(a, b, { oneWay: true })));
      if (!isCut(b, a)) items.push(this.item(`Cut ${b} → ${a} only`, () => core.cut(b, a, { oneWay: true })));
      if (isCut(a, b) || isCut(b, a)) items.push(this.item('Heal', () => core.heal(a, b)));
    }
    menu.replaceChildren(...items);
    menu.hidden = false;
    this.menuFor = hit;
    const wrap = this.$('canvas-wrap').getBoundingClientRect();
    const x = Math.min(e.clientX - wrap.left + 8, wrap.width - menu.offsetWidth - 8);
    const y = Math.min(e.clientY - wrap.top + 8, wrap.height - menu.offsetHeight - 8);
    menu.style.left = `${Math.max(4, x)}px`;
    menu.style.top = `${Math.max(4, y)}px`;
    const first = menu.querySelector('button');
    if (first) first.focus({ preventScroll: true });
  }

  item(label, fn, isCommand = true) {
    const button = this.doc.createElement('button');
    button.type = 'button';
    button.setAttribute('role', 'menuitem');
    button.textContent = label;
    button.addEventListener('click', (e) => {
      e.stopPropagation();
      this.closeMenu();
      if (isCommand) this.act(() => fn());
      else fn();
    });
    return button;
  }

  closeMenu() {
    this.$('menu').hidden = true;
    this.menuFor = null;
  }

  useNode(id) {
    this.$('client-node').value = String(id);
    this.$('client-key').focus();
  }

  // ----- Views -----

  showPlaying(playing) {
    const button = this.$('play');
    button.textContent = playing ? 'Pause' : 'Play';
    button.setAttribute('aria-pressed', String(playing));
  }

  showSpeed(speed) {
    this.$('speed').value = String(Math.log10(speed));
    this.$('speed-out').textContent = `${formatSpeed(speed)}×`;
  }

  showTime(now) {
    const text = `${(now / 1000).toFixed(3)} s`;
    const clock = this.$('clock');
    if (clock.textContent !== text) clock.textContent = text;
  }

  showCounters(s) {
    const el = this.$('counters');
    el.replaceChildren(
      text('sent '), bold(s.sent),
      text(' · delivered '), bold(s.delivered),
      text(' · dropped '), bold(s.dropped),
      text(s.dropped ? ` (lost ${s.droppedLost}, cut ${s.droppedCut}, down ${s.droppedDown})` : ''),
      text(' · duplicated '), bold(s.duplicated),
      text(' · in flight '), bold(s.inFlight),
    );
  }

  restarted() {
    this.settingsEdited = false;
    this.closeMenu();
  }

  update(state) {
    const { nodes, keys, stats, settings, writes, divergent } = state;
    this.showTime(stats.now);
    this.showCounters(stats);
    if (nodes.length !== this.nodeCount) this.fillNodeSelects(nodes.length);
    this.$('seed-show').textContent = String(settings.seed);
    this.showStatus(keys, divergent, stats, nodes);
    this.fillReplicas(nodes, keys);
    this.fillWrites(writes);
    if (!this.settingsEdited) this.fillSettings(settings);
  }

  showStatus(keys, divergent, stats, nodes) {
    const el = this.$('status');
    const down = nodes.filter((n) => !n.up).length;
    const lost = stats.lostWrites > 0 ? ` · ${stats.lostWrites} write${stats.lostWrites === 1 ? '' : 's'} lost` : '';
    const downNote = down > 0 ? ` (${down} node${down === 1 ? '' : 's'} down)` : '';
    let text;
    if (divergent.length === 0) {
      text = keys.length === 0
        ? 'Converged: nothing written yet. Write a key to start.'
        : `Converged: every live replica holds the same version of every key${downNote}${lost}`;
    } else {
      const shown = divergent.slice(0, STATUS_KEYS_SHOWN).map((k) => `“${shorten(k, 40)}”`).join(', ');
      const more = divergent.length > STATUS_KEYS_SHOWN ? ` and ${divergent.length - STATUS_KEYS_SHOWN} more` : '';
      // How many messages fly is counted below: the status changes only when convergence does,
      // so that a screen reader announces it without chatter.
      const wait = stats.inFlight > 0 ? ', messages in flight' : '';
      text = `Diverged: replicas differ on ${shown}${more}${wait}${downNote}${lost}`;
    }
    el.className = divergent.length === 0 ? 'status ok' : 'status diverged';
    if (el.textContent !== text) el.textContent = text;
  }

  fillNodeSelects(n) {
    this.nodeCount = n;
    const fill = (select, preferred) => {
      const old = Number(select.value) || preferred;
      select.replaceChildren(...Array.from({ length: n }, (_, i) => option(i + 1, `Node ${i + 1}`)));
      select.value = String(Math.min(old, n));
    };
    fill(this.$('client-node'), 1);
    fill(this.$('node-pick'), n);
    fill(this.$('link-a'), 1);
    fill(this.$('link-b'), Math.min(2, n));
  }

  /** The Replicas table: a row per key, a column per node. Cells are updated in place, so a
   *  refresh of a large cluster only touches what changed. */
  fillReplicas(nodes, keys) {
    const table = this.$('replicas');
    if (keys.length === 0) {
      table.replaceChildren(caption('No keys yet.'));
      return;
    }
    let thead = table.tHead;
    let tbody = table.tBodies[0];
    if (!thead || !tbody) {
      thead = this.doc.createElement('thead');
      tbody = this.doc.createElement('tbody');
      table.replaceChildren(thead, tbody);
    }
    const head = ensureRow(thead, 0, nodes.length + 1, 'th');
    setCell(head.cells[0], 'key', 'key', '');
    nodes.forEach((node, i) => {
      setCell(head.cells[i + 1], `${node.id}${node.up ? '' : ' ✕'}`, `Node ${node.id}${node.up ? '' : ' (down)'}`, node.up ? '' : 'down');
    });
    keys.forEach((k, r) => {
      const row = ensureRow(tbody, r, k.replicas.length + 1, 'td', true);
      setCell(row.cells[0], k.key, `${k.key}: ${k.converged ? 'every live replica agrees' : 'replicas differ'}`, k.converged ? 'converged' : 'diverged');
      k.replicas.forEach((cell, i) => {
        const down = cell.up ? '' : ' down';
        if (cell.write === null) {
          setCell(row.cells[i + 1], 'missing', `Node ${cell.node} does not hold ${k.key}`, `missing stale${down}`);
        } else {
          const title = `Node ${cell.node}: ${cell.value} (w${cell.write})${cell.stale ? ', not the newest write' : ''}`;
          setCell(row.cells[i + 1], cell.value, title, `${cell.stale ? 'stale' : ''}${down}`);
        }
      });
    });
    while (tbody.rows.length > keys.length) tbody.deleteRow(-1);
  }

  fillWrites(writes) {
    const list = this.$('writes');
    if (writes.length === 0) {
      const none = this.doc.createElement('li');
      none.className = 'none';
      none.textContent = 'No writes yet.';
      list.replaceChildren(none);
      return;
    }
    const items = writes.slice().reverse().map((w) => {
      const li = this.doc.createElement('li');
      li.value = w.id;
      const what = this.doc.createElement('span');
      what.className = 'what';
      what.textContent = `${shorten(w.key, 30)} = ${shorten(w.value, 30)}`;
      const when = this.doc.createElement('span');
      when.className = 'when';
      let status;
      if (w.lost) status = 'overwritten everywhere by a write that never saw it';
      else if (w.allAfterMs !== null) status = `everywhere after ${w.allAfterMs} ms`;
      else if (w.allLiveAfterMs !== null) status = `at every live node after ${w.allLiveAfterMs} ms`;
      else status = `not yet everywhere (${w.reached} of ${this.nodeCount})`;
      when.textContent = ` at node ${w.node}, t=${(w.issuedAt / 1000).toFixed(3)} s · ${status}`;
      li.append(what, when);
      if (w.lost) li.prepend(tag('lost', 'LOST'));
      return li;
    });
    list.replaceChildren(...items);
  }

  fillSettings(s) {
    const $ = this.$;
    $('set-nodes').value = String(s.nodes);
    $('set-seed').value = String(s.seed);
    $('set-latency').value = s.latency.kind;
    const [a, b] = s.latency.kind === 'constant' ? [s.latency.ms, ''] : s.latency.kind === 'uniform' ? [s.latency.minMs, s.latency.maxMs] : [s.latency.baseMs, s.latency.meanMs];
    $('set-lat-a').value = String(a);
    $('set-lat-b').value = String(b);
    this.showLatencyFields(s.latency.kind);
    $('set-loss').value = String(s.loss);
    $('set-dup').value = String(s.duplication);
    for (const radio of this.doc.querySelectorAll('input[name="conflict"]')) radio.checked = radio.value === s.conflict;
    $('set-ae').checked = s.antiEntropy;
    $('set-ae-ms').value = String(s.antiEntropyIntervalMs);
    const skews = $('skews');
    const entries = Object.entries(s.clockSkewMs);
    if (skews.children.length !== entries.length) {
      skews.replaceChildren(...entries.map(([node]) => {
        const label = this.doc.createElement('label');
        label.textContent = `${node}: `;
        const input = this.doc.createElement('input');
        input.type = 'number';
        input.step = '10';
        input.dataset.node = node;
        input.setAttribute('aria-label', `Clock skew of node ${node} in milliseconds`);
        label.append(input);
        return label;
      }));
    }
    for (const input of skews.querySelectorAll('input')) input.value = String(s.clockSkewMs[input.dataset.node]);
  }
}

/** The cluster cut in two halves: [[1 .. ceil(n/2)], [the rest]]. */
export function halves(n) {
  const first = Math.ceil(n / 2);
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  return [ids.slice(0, first), ids.slice(first)];
}

function formatSpeed(speed) {
  return speed >= 10 ? speed.toFixed(0) : speed >= 1 ? speed.toFixed(1).replace(/\.0$/, '') : speed.toFixed(2).replace(/0$/, '');
}

function shorten(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function setResult(el, message, isError = false) {
  el.textContent = message;
  el.classList.toggle('error', isError);
}

function text(s) {
  return document.createTextNode(String(s));
}

function bold(s) {
  const b = document.createElement('b');
  b.textContent = String(s);
  return b;
}

function tag(kind, label) {
  const span = document.createElement('span');
  span.className = `tag ${kind}`;
  span.textContent = label;
  return span;
}

/** Row `index` of `section` with exactly `cells` cells (the first a row header if `rowHeader`). */
function ensureRow(section, index, cells, tag, rowHeader = false) {
  const row = section.rows[index] ?? section.appendChild(document.createElement('tr'));
  while (row.cells.length > cells) row.deleteCell(-1);
  while (row.cells.length < cells) {
    const first = row.cells.length === 0;
    const cell = document.createElement(first && rowHeader ? 'th' : tag);
    if (cell.tagName === 'TH') cell.scope = first && rowHeader ? 'row' : 'col';
    row.appendChild(cell);
  }
  return row;
}

/** Sets a cell's text, tooltip and classes, touching the DOM only where they changed. */
function setCell(cell, text, title, className) {
  if (cell.textContent !== text) cell.textContent = text;
  if (cell.title !== title) cell.title = title;
  if (cell.className !== className) cell.className = className;
}

function caption(message) {
  const c = document.createElement('caption');
  c.className = 'empty';
  c.textContent = message;
  return c;
}

function option(value, label) {
  const o = document.createElement('option');
  o.value = String(value);
  o.textContent = label;
  return o;
}

function heading(label) {
  const h = document.createElement('h3');
  h.textContent = label;
  return h;
}
