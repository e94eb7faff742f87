// The timeline under the cluster: drag back to any earlier moment, step event by event, and
// see where commands were given. The core replays from its nearest snapshot (see
// src/timeline.rs); this bar only asks it to, and shows where the run stands.

const MARK_COLOUR = '#d55e00';
const FUTURE_COLOUR = '#aab1bd';

export class TimelineBar {
  /** `page` is all the bar may do to the rest of the page: seek(t), stepBack(), stepForward(),
   *  seekEnd(), and ask inLesson() (a lesson's script runs ahead). */
  constructor(doc, page) {
    this.$ = (id) => doc.getElementById(id);
    this.page = page;
    this.dragging = false;
    this.shown = { now: -1, end: -1, applied: -1, count: -1 };
    this.marksKey = '';
  }

  attach() {
    const range = this.$('tl-range');
    range.addEventListener('pointerdown', () => {
      this.dragging = true;
    });
    const release = () => {
      this.dragging = false;
    };
    range.addEventListener('pointerup', release);
    range.addEventListener('pointercancel', release);
    range.addEventListener('input', () => this.page.seek(Number(range.value)));
    this.$('tl-back').addEventListener('click', () => this.page.stepBack());
    this.$('tl-forward').addEventListener('click', () => this.page.stepForward());
    this.$('tl-end').addEventListener('click', () => this.page.seekEnd());
    // The track's size comes from the observer: reading it each frame would force a layout.
    this.marksSize = { w: 0, h: 0 };
    new ResizeObserver(([entry]) => {
      this.marksSize = { w: entry.contentRect.width, h: entry.contentRect.height };
      this.marksKey = '';
    }).observe(this.$('tl-marks'));
  }

  /** Called every frame: cheap unless something changed. */
  show(core) {
    const now = core.now();
    const end = core.end();
    const applied = core.commandsApplied();
    const count = core.commandCount();
    const s = this.shown;
    if (now === s.now && end === s.end && applied === s.applied && count === s.count) return;
    this.shown = { now, end, applied, count };
    // A long run forgets its earliest history (memory stays flat): the bar starts where it does.
    const start = core.historyStart();
    const forgotten = core.commandsForgotten();
    const limit = core.commandLimit();
    const day = core.timeLimit();
    const range = this.$('tl-range');
    range.min = String(start);
    range.max = String(Math.max(end, start + 1));
    if (!this.dragging || Number(range.value) !== now) range.value = String(now);
    range.setAttribute('aria-valuetext', `${seconds(now)} of ${seconds(end)}`);
    this.$('tl-end').disabled = now >= end;
    const past = now < end;
    const inLesson = this.page.inLesson();
    const note = past && inLesson ? `The lesson's script runs ahead to ${seconds(end)}. Any action of yours here starts a new future.`
      : past ? `Looking back at ${seconds(now)} of ${seconds(end)}. Play replays what happened next; any action here starts a new future.`
        : forgotten > 0 ? `The first ${forgotten} actions of this run were forgotten to keep memory flat: going back reaches ${seconds(start)} at the earliest, and Save and Link cannot hold it any more.`
          : end > day ? `This run is past one day of virtual time: Save and Link cannot hold it any more.`
            : end > 0.9 * day ? `This run nears one day of virtual time: past it, Save and Link cannot hold it.`
              : count > 0.9 * limit ? `${count} actions: past ${limit}, the earliest are forgotten and Save and Link cannot hold this run any more.`
            : '';
    if (this.$('tl-note').textContent !== note) this.$('tl-note').textContent = note;
    this.$('timeline').classList.toggle('in-past', past);
    this.drawMarks(core, start, end, applied);
  }

  /** Ticks where commands were given: solid up to the moment shown, grey after it. */
  drawMarks(core, start, end, applied) {
    const canvas = this.$('tl-marks');
    const { w, h } = this.marksSize;
    const key = `${start}:${end}:${applied}:${w}:${core.commandCount()}`;
    if (key === this.marksKey) return;
    this.marksKey = key;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    const times = core.commandTimes();
    // The range's thumb travels inside its width less the thumb itself (about 16 px).
    const inset = 8;
    const x = (t) => inset + (w - 2 * inset) * (end > start ? (t - start) / (end - start) : 0);
    times.forEach((t, i) => {
      g.fillStyle = i < applied ? MARK_COLOUR : FUTURE_COLOUR;
      g.fillRect(Math.round(x(t)) - 1, 0, 2, h);
    });
  }
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(3)} s`;
}
