// The keyboard and presenter mode: the "?" list of shortcuts, the keys themselves, and the
// presenter's larger drawing. It gets only the actions it triggers, from the controls.
import { setModal } from './dialog.js';

/** How much larger presenter mode draws the cluster (its text, nodes and messages). */
const PRESENTER_ZOOM = 1.35;

export class Shortcuts {
  /**
   * `actions`: `playPause()` (Space, unless a lesson takes it), `step()`, `stepBack()`,
   * `toStart()`, `toEnd()`, `toggleDiagram()`, `closeMenu()`, and `zoom(factor)`, which sizes
   * every drawing for presenter mode.
   */
  constructor(doc, actions) {
    this.doc = doc;
    this.actions = actions;
    this.$ = (id) => doc.getElementById(id);
  }

  attach() {
    const $ = this.$;
    $('help').addEventListener('click', () => this.showShortcuts(true));
    $('shortcuts-close').addEventListener('click', () => this.showShortcuts(false));
    $('shortcuts').addEventListener('click', (e) => {
      if (e.target === $('shortcuts')) this.showShortcuts(false);
    });
    $('presenter').addEventListener('click', () => this.presenter(!this.presenting()));
    this.doc.addEventListener('keydown', (e) => this.key(e));
  }

  presenting() {
    return this.doc.body.classList.contains('presenter');
  }

  showShortcuts(on) {
    setModal(this.$('shortcuts'), on);
    if (on) this.$('shortcuts-close').focus();
    else this.$('help').focus();
  }

  /** Presenter mode: large type, the cluster and its timeline alone, stronger lines. */
  presenter(on) {
    this.doc.body.classList.toggle('presenter', on);
    this.$('presenter').setAttribute('aria-pressed', String(on));
    // Larger type in the drawings too, not only in the page around them.
    this.actions.zoom(on ? PRESENTER_ZOOM : 1);
  }

  key(e) {
    const a = this.actions;
    const typing = e.target.closest && e.target.closest('input, select, textarea, [contenteditable]');
    if (e.key === 'Escape') {
      a.closeMenu();
      if (this.$('lesson-picker').open) setModal(this.$('lesson-picker'), false);
      else if (this.$('shortcuts').open) this.showShortcuts(false);
      else if (this.presenting()) this.presenter(false);
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === ' ' && !(e.target instanceof HTMLButtonElement)) {
      e.preventDefault();
      a.playPause();
    } else if (e.key === 's' || e.key === 'S' || e.key === 'ArrowRight') {
      e.preventDefault();
      a.step();
    } else if (e.key === 'ArrowLeft') {
      e.preventDefault();
      a.stepBack();
    } else if (e.key === 'Home') {
      e.preventDefault();
      a.toStart();
    } else if (e.key === 'End') {
      e.preventDefault();
      a.toEnd();
    } else if (e.key === '?') {
      this.showShortcuts(!this.$('shortcuts').open);
    } else if (e.key === 'p' || e.key === 'P') {
      this.presenter(!this.presenting());
    } else if (e.key === 'd' || e.key === 'D') {
      a.toggleDiagram();
    }
  }
}
