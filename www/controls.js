// Wires the page's controls to simulation commands, and fills the panels (replicas, writes,
// status, settings) from the views the loop hands over. User text only ever goes into the
// page through textContent or attributes, never as HTML.

import { ClientPanel, clockText, shorten, tag, text, versionsText } from './client.js';
import { RingView } from './ring.js';
import { FONT } from './palette.js';
import { fillSettings, readSettings } from './settings-form.js';
import { linkTo, packSession, readFile, saveFile } from './session.js';
import { Shortcuts } from './shortcuts.js';

const STATUS_KEYS_SHOWN = 5;
// Above this many nodes the Replicas table keeps fixed column widths (see style.css).
const FIXED_TABLE_NODES = 8;

export class Controls {
  constructor(doc, getApp) {
    this.doc = doc;
    this.getApp = getApp;
    this.$ = (id) => doc.getElementById(id);
    this.nodeCount = 0;
    this.settingsEdited = false;
    this.menuFor = null;
    this.client = new ClientPanel(this);
    this.ring = new RingView(doc.getElementById('ring'));
    this.selectedKey = null;
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

    this.client.attach();
    this.attachSession();
    this.shortcuts = new Shortcuts(this.doc, {
      playPause: () => {
        if (!this.app.lesson.onSpace()) this.app.setPlaying(!this.app.playing);
      },
      step: () => this.step(),
      stepBack: () => this.act(() => {
        if (!this.app.stepBack()) this.toast('This is the start of the run.');
      }),
      toStart: () => this.act(() => this.app.seek(0)),
      toEnd: () => this.act((core) => this.app.seek(core.end())),
      toggleDiagram: () => this.$('diagram-toggle').click(),
      closeMenu: () => this.closeMenu(),
      zoom: (factor) => {
        this.view.setZoom(factor);
        this.app.comparison.setZoom(factor);
        this.app.diagram.setZoom(factor);
      },
    });
    this.shortcuts.attach();

    // The ring: pick a key on it, in Replicas, or by name.
    new ResizeObserver(() => this.ring.resize()).observe(this.$('ring'));
    this.$('ring').addEventListener('click', (e) => {
      const rect = this.$('ring').getBoundingClientRect();
      const key = this.ring.keyAt(e.clientX - rect.left, e.clientY - rect.top);
      if (key) this.selectKey(key.key);
    });
    $('ring-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.selectKey($('ring-key').value);
    });
    $('replicas').addEventListener('click', (e) => {
      const header = e.target.closest('tbody th');
      if (header) this.selectKey(header.dataset.key);
    });

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
    this.doc.addEventListener('click', (e) => {
      if (!this.$('menu').hidden && !this.$('menu').contains(e.target) && e.target !== canvas) this.closeMenu();
    });
  }

  /** Copy link, Save and Open: the whole session (settings, seed, actions, moment shown). */
  attachSession() {
    const $ = this.$;
    $('share').addEventListener('click', async () => {
      try {
        const link = linkTo(await packSession(this.app.sessionText()), window.location);
        $('share-link').value = link;
        $('share-box').hidden = false;
        $('share-link').select();
        try {
          await navigator.clipboard.writeText(link);
          this.toast('Link copied: it reopens this exact moment, paused.');
        } catch {
          // No clipboard here (an insecure page, a refusal): the box shows the link to copy.
        }
      } catch (err) {
        this.toast(err.message);
      }
    });
    $('share-close').addEventListener('click', () => {
      $('share-box').hidden = true;
    });
    $('save-session').addEventListener('click', () => {
      try {
        const now = (this.core.now() / 1000).toFixed(1);
        saveFile(this.app.sessionText(), `converge-seed${this.core.settings().seed}-at-${now}s.json`);
      } catch (err) {
        this.toast(err.message);
      }
    });
    $('picture').addEventListener('click', () => {
      picture(this.doc, this.core).then(
        ({ blob, name }) => saveFile(blob, name),
        (err) => this.toast(`The picture could not be made: ${err.message}`),
      );
    });
    $('picture-svg').addEventListener('click', () => {
      vectorPicture(this.doc, this.app).then(
        ({ text, name }) => saveFile(new Blob([text], { type: 'image/svg+xml' }), name),
        (err) => this.toast(`The SVG picture could not be made: ${err.message}`),
      );
    });
    $('open-session').addEventListener('change', async (e) => {
      const file = e.target.files[0];
      e.target.value = '';
      if (!file) return;
      try {
        if (await this.app.loadSessionSliced(await readFile(file)) === undefined) {
          this.toast(`Opening "${file.name}" was cancelled, so nothing changed.`);
          return;
        }
        this.toast(`Opened "${file.name}" at ${(this.core.now() / 1000).toFixed(3)} s.`);
      } catch (err) {
        this.toast(`"${file.name}" could not be opened, so nothing changed: ${err.message}`);
      }
    });
  }

  step() {
    this.act(() => {
      if (!this.app.stepForward()) this.toast('Nothing is scheduled: no message is in flight and no timer is set.');
    });
  }

  hitAt(e) {
    const rect = this.$('cluster').getBoundingClientRect();
    return this.view.hit(e.clientX - rect.left, e.clientY - rect.top);
  }

  applySettings() {
    const out = this.$('settings-result');
    const { partial, error, field } = readSettings(this.doc, this.nodeCount);
    if (error) {
      setResult(out, error, true);
      field.focus();
      return;
    }
    const restarted = this.act((core) => core.configure(partial), out);
    if (restarted === undefined) return;
    this.settingsEdited = false;
    if (restarted) this.app.restarted();
    setResult(out, restarted ? 'Applied: a new run started.' : 'Applied to the running cluster.');
  }

  /** Shows `key` on the ring with its preference list (any key, written or not). */
  selectKey(key) {
    if (!key) return;
    const place = this.act((core) => core.preferenceList(key));
    if (!place) return;
    this.selectedKey = key;
    this.$('ring-key').value = key;
    this.ring.select({ key, position: place.position, nodes: place.nodes });
    for (const th of this.$('replicas').querySelectorAll('tbody th')) th.classList.toggle('selected', th.dataset.key === key);
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
    this.ring.select(null);
    this.selectedKey = null;
  }

  update(state) {
    const { nodes, keys, stats, settings, writes, requests, divergent } = state;
    this.showTime(stats.now);
    this.showCounters(stats);
    if (nodes.length !== this.nodeCount) this.fillNodeSelects(nodes.length);
    this.$('seed-show').textContent = String(settings.seed);
    this.showStatus(keys, divergent, stats, nodes);
    this.fillReplicas(nodes, keys);
    this.fillRequests(requests, settings);
    this.fillWrites(writes, stats);
    this.client.update();
    this.ring.setState({ ring: state.ring, keys, ranges: state.ranges, now: stats.now });
    if (!this.settingsEdited) {
      fillSettings(this.doc, settings);
      this.showLatencyFields(settings.latency.kind);
    }
  }

  showStatus(keys, divergent, stats, nodes) {
    const el = this.$('status');
    const down = nodes.filter((n) => !n.up).length;
    const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
    const lost = (stats.lostWrites > 0 ? ` · ${plural(stats.lostWrites, 'write', 'writes')} lost` : '')
      + (stats.resurrections > 0 ? ` · ${plural(stats.resurrections, 'deleted value', 'deleted values')} came back` : '')
      + (stats.sessionViolations > 0 ? ` · ${plural(stats.sessionViolations, 'read', 'reads')} broke a session guarantee` : '');
    const downNote = down > 0 ? ` (${down} node${down === 1 ? '' : 's'} down)` : '';
    let text;
    if (divergent.length === 0) {
      text = keys.length === 0
        ? 'Converged: nothing written yet. Write a key to start.'
        : `Converged: every live replica holds the same version of every key${stats.inFlight > 0 ? ', for now (messages in flight)' : ''}${downNote}${lost}`;
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
      table.replaceChildren(this.doc.createElement('colgroup'), thead, tbody);
    }
    const cols = table.querySelector('colgroup');
    if (cols.children.length !== nodes.length + 1) {
      cols.replaceChildren(...Array.from({ length: nodes.length + 1 }, (_, i) => {
        const col = this.doc.createElement('col');
        col.className = i === 0 ? 'key' : 'node';
        return col;
      }));
      table.classList.toggle('fixed', nodes.length > FIXED_TABLE_NODES);
      table.style.setProperty('--nodes', String(nodes.length));
    }
    const head = ensureRow(thead, 0, nodes.length + 1, 'th');
    setCell(head.cells[0], 'key', 'key', '');
    nodes.forEach((node, i) => {
      const hints = node.hints.length > 0 ? ` ◆${node.hints.length}` : '';
      const title = `Node ${node.id}${node.up ? '' : ' (down)'}${hints ? `, keeping ${node.hints.length} hint(s) for other nodes` : ''}`;
      setCell(head.cells[i + 1], `${node.id}${node.up ? '' : ' ✕'}${hints}`, title, node.up ? '' : 'down');
    });
    keys.forEach((k, r) => {
      const row = ensureRow(tbody, r, k.replicas.length + 1, 'td', true);
      const state = k.converged ? 'every live replica agrees' : 'replicas differ';
      const place = `on ${k.preferenceList.map((n) => `n${n}`).join(', ')}`;
      const status = `${k.converged ? 'converged' : 'diverged'}${k.key === this.selectedKey ? ' selected' : ''}`;
      setCell(row.cells[0], k.key, `${k.key}: ${state}; ${place}${k.siblings ? '; siblings' : ''}`, status);
      row.cells[0].dataset.key = k.key;
      k.replicas.forEach((cell, i) => {
        const down = cell.up ? '' : ' down';
        if (!cell.replica) {
          setCell(row.cells[i + 1], '·', `Node ${cell.node} is not a replica of ${k.key}`, `not-replica${down}`);
        } else if (cell.versions.length === 0 && !cell.stale) {
          // Deleted, and its tombstone collected here: nothing left, as it should be.
          setCell(row.cells[i + 1], '⊘ collected', `Node ${cell.node} collected the delete of ${k.key}`, `missing${down}`);
        } else if (cell.versions.length === 0) {
          setCell(row.cells[i + 1], 'missing', `Node ${cell.node} does not hold ${k.key}`, `missing stale${down}`);
        } else {
          const shown = versionsText(cell.versions, cell.merged);
          const detail = cell.versions.map((v) => `${v.value === null ? 'deleted' : v.value} (w${v.write} ${clockText(v.clock)})`).join(' | ');
          const title = `Node ${cell.node}: ${detail}${cell.stale ? ', not the newest write' : ''}`;
          const classes = `${cell.stale ? 'stale' : ''}${cell.versions.length > 1 && cell.merged == null ? ' siblings' : ''}${down}`;
          setCell(row.cells[i + 1], shown, title, classes.trim());
        }
      });
    });
    while (tbody.rows.length > keys.length) tbody.deleteRow(-1);
  }

  /** The latest requests: what each asked, how it ended, how long it took. */
  fillRequests(requests, settings) {
    const list = this.$('requests');
    if (requests.length === 0) {
      list.replaceChildren(emptyItem('No requests yet.'));
      return;
    }
    // Without coordination a request is answered by its node at once: no acks to count.
    const coordinated = settings.coordination === 'quorum';
    fitNumbers(list, requests.at(-1).id);
    syncList(list, requests.slice().reverse(), (r) => `${r.id}`, (r) => `${coordinated}${JSON.stringify(r)}`, (r) => {
      const li = this.doc.createElement('li');
      li.value = r.id;
      const what = this.doc.createElement('span');
      what.className = 'what';
      what.textContent = `${r.kind} ${shorten(r.key, 30)}`;
      const labels = { pending: ['pending', 'waiting'], ok: ['fresh', 'ok'], unavailable: ['lost', 'unavailable'], timedOut: ['lost', 'timed out'], refused: ['lost', 'refused: too many siblings'] };
      const [kind, label] = labels[r.status];
      const unit = r.kind === 'read' ? 'replies' : 'acks';
      const latency = r.latencyMs === null ? '' : ` in ${r.latencyMs} ms`;
      const when = this.doc.createElement('span');
      when.className = 'when';
      when.textContent = r.status === 'refused' ? ` at node ${r.node}, which would have held ${r.got} siblings` : coordinated ? ` via node ${r.node} · ${r.got}/${r.needed} ${unit}${latency}` : ` at node ${r.node}, answered at once`;
      li.append(tag(kind, label), what, when);
      if (r.kind === 'read' && r.status === 'ok') {
        const got = r.versions.length === 0 ? 'nothing' : versionsText(r.versions, r.merged);
        li.append(text(` → ${shorten(got, 40)}`));
        if (r.stale) li.append(text(' '), tag('stale', `stale, behind ${r.behind}`));
        for (const broken of r.violations) li.append(text(' '), tag('warn', broken));
      }
      return li;
    });
  }

  /** The latest writes: acknowledged when, reached which replica when, everywhere when. */
  fillWrites(writes, stats) {
    // A long run forgets the records of its oldest writes (memory stays flat): say so.
    const note = this.$('writes-forgotten');
    const said = stats.writesForgotten === 0 ? '' : `The first ${stats.writesForgotten} writes were forgotten to keep memory flat: the figures still count them (the lost ones among them were judged as they were forgotten), but they are no longer listed or followed.`;
    if (note.textContent !== said) {
      note.textContent = said;
      note.hidden = said === '';
    }
    const list = this.$('writes');
    if (writes.length === 0) {
      list.replaceChildren(emptyItem('No writes yet.'));
      return;
    }
    const open = new Set([...list.querySelectorAll('details[open]')].map((d) => d.dataset.write));
    fitNumbers(list, writes.at(-1).id);
    syncList(list, writes.slice().reverse(), (w) => `${w.id}`, (w) => JSON.stringify(w), (w) => {
      const li = this.doc.createElement('li');
      li.value = w.id;
      const details = this.doc.createElement('details');
      details.dataset.write = String(w.id);
      details.open = open.has(String(w.id));
      const summary = this.doc.createElement('summary');
      const what = this.doc.createElement('span');
      what.className = 'what';
      what.textContent = w.value === null ? `delete ${shorten(w.key, 30)}` : `${shorten(w.key, 30)} = ${shorten(w.value, 30)}`;
      const when = this.doc.createElement('span');
      when.className = 'when';
      let status;
      if (w.lost) status = 'acknowledged, then overwritten everywhere by a write that never saw it';
      else if (w.status === 'unavailable' || w.status === 'refused') status = 'nothing was written';
      else if (w.allAfterMs !== null) status = `at all ${w.reached} replicas after ${w.allAfterMs} ms`;
      else if (w.allLiveAfterMs !== null) status = `at every live replica after ${w.allLiveAfterMs} ms`;
      else status = `at ${w.reached} replica${w.reached === 1 ? '' : 's'} so far`;
      const ack = { pending: 'waiting for acks', acknowledged: w.ackedAfterMs > 0 ? `acked after ${w.ackedAfterMs} ms` : 'acked at once', sent: 'sent on, not stored by its node', unavailable: 'unavailable', timedOut: 'timed out', refused: 'refused: too many siblings' }[w.status];
      when.textContent = ` via node ${w.node}, t=${(w.issuedAt / 1000).toFixed(3)} s · ${ack} · ${status}`;
      summary.append(what, when);
      if (w.lost) summary.prepend(tag('lost', 'LOST'));
      const arrivals = this.doc.createElement('div');
      arrivals.className = 'arrivals';
      arrivals.textContent = w.arrivals.length === 0
        ? `Clock ${clockText(w.clock)}; no replica has it yet.`
        : `Clock ${clockText(w.clock)}; reached ${w.arrivals.map((a) => `n${a.node} +${a.afterMs} ms`).join(', ')}`;
      details.append(summary, arrivals);
      li.append(details);
      return li;
    });
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

function setResult(el, message, isError = false) {
  el.textContent = message;
  el.classList.toggle('error', isError);
}

function bold(s) {
  const b = document.createElement('b');
  b.textContent = String(s);
  return b;
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

/** Makes `list` show one item per entry, in order, touching the DOM only where something
 *  changed: an item whose entry is the same as last time stays (and keeps its open details). */
/** Makes room in a numbered list for its largest number (a long run reaches 21,600 and more). */
function fitNumbers(list, largest) {
  const digits = String(Math.max(100, largest)).length;
  if (list.style.getPropertyValue('--digits') !== String(digits)) list.style.setProperty('--digits', String(digits));
}

function syncList(list, entries, keyOf, signatureOf, build) {
  const old = new Map();
  for (const li of list.children) if (li.dataset.key !== undefined) old.set(li.dataset.key, li);
  const items = entries.map((entry) => {
    const key = keyOf(entry);
    const signature = signatureOf(entry);
    const kept = old.get(key);
    if (kept && kept.dataset.signature === signature) return kept;
    const li = build(entry);
    li.dataset.key = key;
    li.dataset.signature = signature;
    return li;
  });
  const wanted = new Set(items);
  for (const li of [...list.children]) if (!wanted.has(li)) li.remove();
  items.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
}

/** Sets a cell's text, tooltip and classes, touching the DOM only where they changed. */
function setCell(cell, text, title, className) {
  if (cell.textContent !== text) cell.textContent = text;
  if (cell.title !== title) cell.title = title;
  if (cell.className !== className) cell.className = className;
}

function emptyItem(message) {
  const li = document.createElement('li');
  li.className = 'none';
  li.textContent = message;
  return li;
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

/**
 * A PNG of what the stage shows: the cluster drawing and, if shown, the space-time diagram under
 * it, on white, with a caption naming the seed and the moment (for a slide).
 */
/**
 * The stage as an SVG document (text), for slides that scale: the cluster (and its twin, side
 * by side), the space-time diagram if shown, and a caption, all as shapes and text. The drawing
 * code is the page's own, given a canvas-like context that writes SVG (svgcanvas, loaded only
 * when asked for).
 */
export async function vectorPicture(doc, app) {
  let Context;
  try {
    ({ Context } = await import('./vendor/svgcanvas.js'));
  } catch {
    throw new Error('the SVG library (www/vendor/svgcanvas.js) is missing: build the page with scripts/build.sh');
  }
  const core = app.core;
  const views = [{ view: app.view, label: app.comparison.view ? 'A · this run' : null }];
  if (app.comparison.view) {
    views.push({ view: app.comparison.view, core: app.comparison.twin, label: doc.getElementById('label-b').textContent });
  }
  const gap = 12;
  const caption = 28;
  const sizes = views.map(({ view }) => ({ w: view.width * view.zoom, h: view.height * view.zoom }));
  const clusterW = sizes.reduce((sum, s) => sum + s.w, 0) + gap * (views.length - 1);
  const clusterH = Math.max(...sizes.map((s) => s.h));
  const diagram = app.diagram;
  const withDiagram = !doc.getElementById('diagram-wrap').hidden && diagram.width > 0;
  const width = Math.ceil(Math.max(clusterW, withDiagram ? diagram.width * diagram.zoom : 0));
  const height = Math.ceil(clusterH + (withDiagram ? gap + diagram.height * diagram.zoom : 0) + caption);
  const measure = doc.createElement('canvas').getContext('2d');
  const ctx = new Context({ width, height, ctx: measure });
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  let x = 0;
  views.forEach(({ view, core: other, label }, i) => {
    ctx.save();
    ctx.translate(x, 0);
    ctx.scale(view.zoom, view.zoom);
    view.renderVector(ctx, (other ?? core).flights(app.vt), performance.now());
    ctx.restore();
    if (label) {
      ctx.fillStyle = '#14181f';
      ctx.font = `700 15px ${FONT}`;
      ctx.textBaseline = 'bottom';
      ctx.fillText(label, x + 10, clusterH - 8);
    }
    x += sizes[i].w + gap;
  });
  if (withDiagram) {
    ctx.save();
    ctx.translate(0, clusterH + gap);
    ctx.scale(diagram.zoom, diagram.zoom);
    diagram.renderVector(ctx, app.vt, app.nodes);
    ctx.restore();
  }
  const label = pictureCaption(core);
  ctx.fillStyle = '#5a6270';
  ctx.font = `14px ${FONT}`;
  ctx.textBaseline = 'middle';
  ctx.fillText(label.text, 10, height - caption / 2);
  return { text: xmlSafe(ctx.getSerializedSvg()), name: `${label.name}.svg` };
}

/**
 * XML 1.0 cannot hold control characters (but tab and newlines), U+FFFE, U+FFFF or unpaired
 * surrogates, even escaped, and a key may contain them: each becomes U+FFFD, so that the file
 * stays an SVG any viewer opens.
 */
function xmlSafe(text) {
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** A picture's caption (the seed and the moment) and its file name without the extension. */
function pictureCaption(core) {
  const seed = core.settings().seed;
  const now = (core.now() / 1000).toFixed(3);
  return { text: `converge · seed ${seed} · t = ${now} s`, name: `converge-seed${seed}-at-${now}s` };
}

export async function picture(doc, core) {
  const cluster = doc.getElementById('cluster');
  const diagram = doc.getElementById('diagram');
  const withDiagram = !doc.getElementById('diagram-wrap').hidden && diagram.width > 0;
  const ratio = cluster.width / Math.max(1, cluster.clientWidth);
  const caption = Math.round(28 * ratio);
  const gap = withDiagram ? Math.round(8 * ratio) : 0;
  const out = doc.createElement('canvas');
  out.width = Math.max(cluster.width, withDiagram ? diagram.width : 0);
  out.height = cluster.height + gap + (withDiagram ? diagram.height : 0) + caption;
  const g = out.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, out.width, out.height);
  g.drawImage(cluster, 0, 0);
  if (withDiagram) g.drawImage(diagram, 0, cluster.height + gap);
  const label = pictureCaption(core);
  g.fillStyle = '#5a6270';
  g.font = `${Math.round(14 * ratio)}px system-ui, sans-serif`;
  g.textBaseline = 'middle';
  g.fillText(label.text, Math.round(10 * ratio), out.height - caption / 2);
  const blob = await new Promise((resolve, reject) => {
    out.toBlob((b) => (b ? resolve(b) : reject(new Error('the browser made no image'))), 'image/png');
  });
  return { blob, name: `${label.name}.png` };
}
