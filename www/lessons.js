// Guided lessons: narrated scenarios read from www/lessons/*.json (the format is in the README
// and src/lesson.rs). Opening one replaces the run with the lesson's settings and its whole script
// as the remembered future (the core plays it once and goes back to the start), so running a step
// is playing forward, a step back is a seek, and a link or a saved file made during a lesson
// reopens at the same step. Each step shows its text and, before it runs, its question; running
// it plays up to the step's end and then reveals the answer and what happened.

import { setModal } from './dialog.js';

const INDEX = 'lessons/index.json';

/** Paragraphs of lesson text (blank lines between them; **bold** for stress) as DOM nodes. */
export function paragraphs(doc, text) {
  return text.split(/\n\s*\n/).map((para) => {
    const p = doc.createElement('p');
    para.split(/(\*\*[^*]+\*\*)/).forEach((part) => {
      if (part.startsWith('**') && part.endsWith('**') && part.length > 4) {
        const strong = doc.createElement('strong');
        strong.textContent = part.slice(2, -2);
        p.append(strong);
      } else if (part) {
        p.append(doc.createTextNode(part));
      }
    });
    return p;
  });
}

async function fetchText(url) {
  const response = await fetch(url, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`${url} could not be read (${response.status})`);
  return response.text();
}

/** A lesson id as the index lists it: letters, digits and dashes (it becomes a file name). */
function checkId(id) {
  if (typeof id !== 'string' || !/^[a-z0-9-]{1,64}$/.test(id)) {
    throw new Error(`there is no lesson "${String(id).slice(0, 64)}": lesson ids are lower-case letters, digits and dashes`);
  }
}

export class LessonPlayer {
  constructor(doc, getApp, Simulation) {
    this.doc = doc;
    this.$ = (id) => doc.getElementById(id);
    this.getApp = getApp;
    this.Simulation = Simulation;
    this.view = null; // the lesson open, as the core shows it
    this.step = 0;
    this.phase = 'before'; // 'before' it ran, 'running', 'after'
    this.choice = null;
    this.ids = null;
    this.scriptActions = 0;
  }

  get app() {
    return this.getApp();
  }

  attach(toast) {
    this.toast = toast;
    const $ = this.$;
    $('lessons').addEventListener('click', () => this.showPicker(true));
    $('lesson-picker-close').addEventListener('click', () => this.showPicker(false));
    $('lesson-picker').addEventListener('click', (e) => {
      if (e.target === $('lesson-picker')) this.showPicker(false);
      const pick = e.target.closest('button[data-lesson]');
      if (pick) {
        this.showPicker(false);
        this.open(pick.dataset.lesson).catch((err) => toast(err.message));
      }
    });
    $('lesson-close').addEventListener('click', () => this.close());
    $('lesson-run').addEventListener('click', () => this.run());
    $('lesson-next').addEventListener('click', () => this.next().catch((err) => toast(err.message)));
    $('lesson-back').addEventListener('click', () => this.go(this.step - 1));
    $('lesson-rescript').addEventListener('click', () => this.rescript().catch((err) => toast(err.message)));
    $('lesson-choices').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-choice]');
      if (!button || this.phase !== 'before') return;
      this.choice = Number(button.dataset.choice);
      this.render();
    });
  }

  /** The lesson ids the page offers, in order. */
  async list() {
    if (!this.ids) {
      const index = JSON.parse(await fetchText(INDEX));
      if (index.format !== 'converge-lessons' || !Array.isArray(index.lessons)) {
        throw new Error(`${INDEX} is not a list of lessons`);
      }
      this.ids = index.lessons;
    }
    return this.ids;
  }

  async showPicker(on) {
    const box = this.$('lesson-picker');
    setModal(box, on);
    if (!on) return;
    const list = this.$('lesson-list');
    if (list.dataset.filled) {
      list.querySelector('button')?.focus();
      return;
    }
    try {
      const ids = await this.list();
      const items = await Promise.all(ids.map(async (id) => {
        const view = this.Simulation.readLesson(id, await fetchText(`lessons/${id}.json`));
        const li = this.doc.createElement('li');
        const button = this.doc.createElement('button');
        button.type = 'button';
        button.dataset.lesson = id;
        const title = this.doc.createElement('strong');
        title.textContent = view.title;
        const summary = this.doc.createElement('span');
        summary.textContent = view.summary;
        button.append(title, summary);
        li.append(button);
        return li;
      }));
      list.replaceChildren(...items);
      list.dataset.filled = 'true';
      list.querySelector('button')?.focus();
    } catch (err) {
      box.hidden = true;
      this.toast(`The lessons could not be listed: ${err.message}`);
    }
  }

  /** Opens lesson `id` at step `step` (from 0): a new run with the lesson's script ahead. */
  async open(id, step = 0) {
    checkId(id);
    const text = await fetchText(`lessons/${id}.json`);
    this.view = this.app.openLesson(id, text);
    this.scriptActions = this.app.core.commandCount();
    this.go(Math.min(Math.max(0, step), this.view.steps.length - 1));
  }

  /**
   * A session saved during a lesson was loaded: shows its step without replaying anything (the
   * session holds the run). `place` is `{id, step}`.
   */
  async resume(place) {
    checkId(place.id);
    const view = this.Simulation.readLesson(place.id, await fetchText(`lessons/${place.id}.json`));
    this.view = view;
    this.scriptActions = -1; // unknown: the session may have left the script
    this.step = Math.min(place.step, view.steps.length - 1);
    const s = view.steps[this.step];
    const now = this.app.core.now();
    this.phase = now >= s.end ? 'after' : 'before';
    this.choice = null;
    this.render();
  }

  close() {
    this.view = null;
    this.app.cancelStop();
    this.render();
  }

  /** Where a session made now is in the lesson, for Link and Save. */
  place() {
    return this.view ? { id: this.view.id, step: this.step } : null;
  }

  /** Shows step `k` from its start, not yet run. */
  go(k) {
    if (!this.view || k < 0 || k >= this.view.steps.length) return;
    this.step = k;
    this.phase = 'before';
    this.choice = null;
    this.app.seek(this.view.steps[k].start);
    this.render();
    this.$('lesson-text').focus({ preventScroll: true });
  }

  /** Plays the step to its end (from its start, unless the moment shown is already inside it). */
  run() {
    if (!this.view) return;
    const s = this.view.steps[this.step];
    const now = this.app.core.now();
    if (now < s.start || now >= s.end) this.app.seek(s.start);
    this.phase = 'running';
    this.render();
    this.app.playUntil(s.end, () => {
      this.phase = 'after';
      this.render();
      const reveal = this.$('lesson-reveal');
      reveal.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
      reveal.focus({ preventScroll: true });
    });
  }

  /** The next step (time stays: it begins where this one ended), or the next lesson. */
  async next() {
    if (!this.view) return;
    if (this.step + 1 < this.view.steps.length) {
      this.step += 1;
      this.phase = 'before';
      this.choice = null;
      const s = this.view.steps[this.step];
      if (this.app.core.now() !== s.start) this.app.seek(s.start);
      this.render();
      return;
    }
    const ids = await this.list();
    const following = ids[ids.indexOf(this.view.id) + 1];
    if (following) await this.open(following);
  }

  /** Reloads the lesson's script (after acting on one's own) and shows this step's start. */
  async rescript() {
    if (this.view) await this.open(this.view.id, this.step);
  }

  /** Space in a lesson runs a step not yet run; otherwise it plays or pauses as usual. */
  onSpace() {
    if (this.view && this.phase === 'before') {
      this.run();
      return true;
    }
    return false;
  }

  /** After a jump in time: the step shown follows the moment, if it left the step. */
  follow() {
    if (!this.view) return;
    const now = this.app.core.now();
    const steps = this.view.steps;
    const s = steps[this.step];
    if (now < s.start || now > s.end) {
      const k = steps.findIndex((st) => now >= st.start && now < st.end);
      this.step = k === -1 ? steps.length - 1 : k;
      this.choice = null;
    }
    if (this.phase !== 'running') this.phase = now >= steps[this.step].end ? 'after' : 'before';
    this.render();
  }

  /** Whether the run has left the lesson's script (someone acted, so the future is theirs). */
  offScript() {
    if (!this.view) return false;
    const core = this.app.core;
    const lessonEnd = this.view.steps[this.view.steps.length - 1].end;
    if (core.end() < lessonEnd) return true;
    return this.scriptActions >= 0 && core.commandCount() !== this.scriptActions;
  }

  /** Refreshes the note about leaving the script (called with the panels' refresh). */
  update() {
    if (!this.view) return;
    const off = this.offScript();
    if (this.$('lesson-offscript').hidden === off) this.$('lesson-offscript').hidden = !off;
  }

  render() {
    const $ = this.$;
    const box = $('lesson');
    this.doc.body.classList.toggle('lesson-open', Boolean(this.view));
    if (!this.view) {
      box.hidden = true;
      return;
    }
    if (box.hidden) {
      box.hidden = false;
      // The card is the panel's first: scroll the panel (not the page) back to it.
      box.parentElement.scrollTop = 0;
    }
    const v = this.view;
    const s = v.steps[this.step];
    $('lesson-title').textContent = v.title;
    $('lesson-step').textContent = `Step ${this.step + 1} of ${v.steps.length}: ${s.title}`;
    $('lesson-text').replaceChildren(...paragraphs(this.doc, s.text));
    const predict = s.predict;
    $('lesson-question').hidden = !predict;
    if (predict) {
      $('lesson-question-text').textContent = predict.question;
      const done = this.phase === 'after';
      $('lesson-choices').replaceChildren(...predict.choices.map((choice, i) => {
        const li = this.doc.createElement('li');
        const button = this.doc.createElement('button');
        button.type = 'button';
        button.dataset.choice = String(i);
        button.setAttribute('aria-pressed', String(this.choice === i));
        button.disabled = this.phase !== 'before';
        const mark = this.doc.createElement('span');
        mark.className = 'mark';
        mark.setAttribute('aria-hidden', 'true');
        // Right and wrong say so in words and signs, not only in colour.
        if (done && i === predict.answer) {
          mark.textContent = '✓';
          li.className = 'right';
        } else if (done && i === this.choice) {
          mark.textContent = '✗';
          li.className = 'wrong';
        } else {
          mark.textContent = String.fromCharCode(65 + i);
        }
        button.append(mark, this.doc.createTextNode(choice));
        if (done && i === predict.answer) button.append(this.doc.createTextNode(' (what happened)'));
        li.append(button);
        return li;
      }));
    }
    const reveal = $('lesson-reveal');
    reveal.hidden = this.phase !== 'after';
    if (this.phase === 'after') {
      const parts = [];
      if (predict) {
        const verdict = this.doc.createElement('p');
        verdict.className = 'verdict';
        if (this.choice === null) verdict.textContent = `The answer: ${String.fromCharCode(65 + predict.answer)}.`;
        else if (this.choice === predict.answer) verdict.textContent = '✓ You predicted it.';
        else verdict.textContent = `✗ Not quite: the answer is ${String.fromCharCode(65 + predict.answer)}.`;
        parts.push(verdict, ...paragraphs(this.doc, predict.explain));
      }
      if (s.after) parts.push(...paragraphs(this.doc, s.after));
      reveal.replaceChildren(...parts);
    }
    const last = this.step === v.steps.length - 1;
    $('lesson-back').disabled = this.step === 0;
    const run = $('lesson-run');
    run.textContent = this.phase === 'after' ? 'Run again' : this.phase === 'running' ? 'Running…' : 'Run this step ▶';
    run.disabled = this.phase === 'running';
    run.classList.toggle('primary', this.phase !== 'after');
    const next = $('lesson-next');
    next.textContent = last ? 'Next lesson ▶' : 'Next step ▶';
    next.classList.toggle('primary', this.phase === 'after');
    next.disabled = last && this.ids !== null && this.ids.indexOf(v.id) === this.ids.length - 1;
    $('lesson-offscript').hidden = !this.offScript();
  }
}
