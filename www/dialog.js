// The page's modal dialogs ("?", Lessons, Compare) are the platform's <dialog>, shown with
// showModal(): the browser keeps focus inside, makes the page behind inert, and closes on Esc.

/** Opens or closes a modal `dialog`; nothing happens if it is already so. */
export function setModal(dialog, on) {
  if (on && !dialog.open) dialog.showModal();
  else if (!on && dialog.open) dialog.close();
}
