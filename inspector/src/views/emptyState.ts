/** What the main area shows before there is an actor to show, and the token prompt. */
import { h } from './dom.js';

/** No aggregate yet: how to send a first command. */
export function emptyState(prefix: string): HTMLElement {
  const cmds = [
    `nats req ${prefix}.cmd.module.create '{"name":"web","module":{}}'`,
    `nats req ${prefix}.cmd.module.update '{"name":"web","module":{"config":{"services.nginx.enable":true}}}'`,
    `nats req ${prefix}.cmd.flake.create '{"path":"hello","description":"Hello","template":"minimal"}'`,
  ];
  return h(
    'section',
    { class: 'empty', id: 'empty-state' },
    h('h2', undefined, 'No aggregates yet'),
    h(
      'p',
      undefined,
      'Every aggregate appears here, by name, the moment its first command arrives. Send one with the ',
      h('code', undefined, 'nats'),
      ' CLI (or any NATS client) to ',
      h('code', undefined, `${prefix}.cmd.<aggregate>.<action>`),
      ':',
    ),
    h('pre', { class: 'cmd', tabindex: 0 }, cmds.join('\n')),
    h(
      'p',
      { class: 'muted' },
      'Then watch it move through its statechart, follow the command and its events in the timeline, and step through its history with the slider. The inspector only watches: it sends no commands.',
    ),
    h(
      'p',
      { class: 'muted' },
      'Keys: ',
      h('kbd', undefined, '/'),
      ' search · ',
      h('kbd', undefined, '↑'),
      h('kbd', undefined, '↓'),
      ' move in the list · ',
      h('kbd', undefined, 'Tab'),
      ' to the panels · ',
      h('kbd', undefined, '←'),
      h('kbd', undefined, '→'),
      ' switch tabs',
    ),
  );
}

/** Aggregates exist, none is selected. */
export function pickOne(count: number): HTMLElement {
  return h(
    'section',
    { class: 'empty' },
    h('h2', undefined, `${count} actors`),
    h('p', undefined, 'Select an actor in the list (↑ ↓) or search by name, ID or correlation ID.'),
  );
}

/** The endpoint wants its token: ask for it (it stays in this tab only). */
export function tokenPrompt(refused: boolean, onToken: (token: string) => void): HTMLElement {
  const input = h('input', {
    type: 'password',
    id: 'token',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-label': 'inspector token',
    placeholder: 'INSPECTOR_TOKEN',
  });
  const form = h('form', { class: 'token-form', id: 'token-form' }, input, h('button', { type: 'submit', class: 'btn' }, 'Open'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (token) onToken(token);
  });
  queueMicrotask(() => input.focus());
  return h(
    'section',
    { class: 'empty', id: 'token-prompt' },
    h('h2', undefined, refused ? 'The token was refused' : 'This inspector needs its token'),
    h(
      'p',
      undefined,
      'The service serves this page on an address other than loopback, so it answers only with its token (',
      h('code', undefined, 'INSPECTOR_TOKEN'),
      '). Enter it, or open the page as ',
      h('code', undefined, `${location.origin}/#token=…`),
      '. It is kept for this tab only.',
    ),
    form,
  );
}

/** The page could not start. */
export function failure(message: string): HTMLElement {
  return h('section', { class: 'empty' }, h('h2', undefined, 'The inspector could not start'), h('p', undefined, message));
}
