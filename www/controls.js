// Wires the page's controls to simulation commands (buttons, menus, the settings form, links
// and files), and hands the views the loop gives it to the panels that show them. User text only
// ever goes into the page through textContent or attributes, never as HTML.

import { ClientPanel } from './client.js';
import { Panels } from './panels.js';
import { picture, vectorPicture } from './pictures.js';
import { RingView } from './ring.js';
import { fillSettings, readSettings } from './settings-form.js';
import { linkTo, packSession, readFile, saveFile } from './session.js';
import { Shortcuts } from './shortcuts.js';

export class Controls {
  constructor(doc, getApp) {
    this.doc = doc;
    this.getApp = getApp;
    this.$ = (id) => doc.getElementById(id);
    this.nodeCount = 0;
    this.settingsEdited = false;
    this.menuFor = null;
    this.client = new ClientPanel(this);
    this.panels = new Panels(doc);
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

  restarted() {
    this.settingsEdited = false;
    this.closeMenu();
    this.ring.select(null);
    this.selectedKey = null;
  }

  update(state) {
    const { nodes, keys, stats, settings, writes, requests, divergent } = state;
    this.showTime(stats.now);
    this.panels.showCounters(stats);
    if (nodes.length !== this.nodeCount) this.fillNodeSelects(nodes.length);
    this.$('seed-show').textContent = String(settings.seed);
    this.panels.showStatus(keys, divergent, stats, nodes);
    this.panels.fillReplicas(nodes, keys, this.selectedKey);
    this.panels.fillRequests(requests, settings);
    this.panels.fillWrites(writes, stats);
    this.client.update();
    this.ring.setState({ ring: state.ring, keys, ranges: state.ranges, now: stats.now });
    if (!this.settingsEdited) {
      fillSettings(this.doc, settings);
      this.showLatencyFields(settings.latency.kind);
    }
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



/** Makes `list` show one item per entry, in order, touching the DOM only where something
 *  changed: an item whose entry is the same as last time stays (and keeps its open details). */





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
