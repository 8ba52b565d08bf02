// The hold-to-talk button: held with the mouse, a finger or the Space
// key. Losing the pointer or the window's focus lets go, so a turn never
// sticks.
import { $ } from './dom.js';

export function setUpTalkButton({ press, release }) {
  const button = $('talk');
  let holding = false;
  const down = () => {
    if (holding) return;
    holding = true;
    button.setAttribute('aria-pressed', 'true');
    press();
  };
  const up = () => {
    if (!holding) return;
    holding = false;
    button.setAttribute('aria-pressed', 'false');
    release();
  };
  button.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0) return;
    ev.preventDefault();
    button.setPointerCapture?.(ev.pointerId);
    down();
  });
  for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) button.addEventListener(type, up);
  button.addEventListener('contextmenu', (ev) => ev.preventDefault()); // a long touch is not a menu
  button.addEventListener('click', (ev) => ev.preventDefault());
  // Space talks when the page or the button has the focus; elsewhere
  // (a form field, another button) Space keeps its own meaning.
  const spaceIsOurs = (ev) => ev.key === ' ' && (ev.target === button || ev.target === document.body) && !$('room-view').hidden;
  document.addEventListener('keydown', (ev) => {
    if (!spaceIsOurs(ev)) return;
    ev.preventDefault();
    if (!ev.repeat) down();
  });
  document.addEventListener('keyup', (ev) => {
    if (ev.key !== ' ' || !holding) return;
    ev.preventDefault();
    up();
  });
  window.addEventListener('blur', up);
  return { up };
}
