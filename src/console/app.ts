/**
 * The console's entry: sign in with an API key (kept in this tab's sessionStorage only), ask the
 * service who the key is, then route #/<page>/<name> to a page. A tenant key sees only what the API
 * lets it see: its collection or corpus, its tenant, its KV namespace.
 */
import { ApiError, api, session, type WhoAmI } from './api.js';
import { collectionsPage } from './collections.js';
import { corporaPage } from './corpora.js';
import { errorBox, field, h, show, submitted } from './dom.js';
import { kvPage } from './kv.js';
import { metricsPage } from './metrics.js';
import { resultsPage } from './results.js';
import { searchPage } from './search.js';

const PAGES: Array<{ id: string; title: string; admin?: boolean }> = [
  { id: 'collections', title: 'Collections' },
  { id: 'search', title: 'Search' },
  { id: 'corpora', title: 'Corpora' },
  { id: 'kv', title: 'KV cache' },
  { id: 'metrics', title: 'Metrics', admin: true },
  { id: 'results', title: 'Benchmarks' },
];

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const who = document.getElementById('who') as HTMLElement;
let me: WhoAmI | null = null;

function signInForm(problem?: unknown): void {
  nav.hidden = true;
  show(who);
  const key = h('input', { name: 'key', type: 'password', autocomplete: 'off', placeholder: 'sk_… (printed by npm start, or issued by POST /v1/keys)', size: 56, required: true });
  show(
    main,
    h(
      'form',
      {
        id: 'sign-in',
        class: 'panel narrow',
        onsubmit: submitted(async () => {
          session.signIn(key.value.trim());
          await start();
        }),
      },
      h('h1', {}, 'Sign in'),
      h('p', { class: 'muted' }, 'The key stays in this browser tab (session storage) and is sent only to this service.'),
      field('API key', key),
      h('button', { type: 'submit' }, 'Sign in'),
      problem ? errorBox(problem) : null,
    ),
  );
  key.focus();
}

async function start(): Promise<void> {
  if (!session.key()) return signInForm();
  try {
    me = await api<WhoAmI>('/v1/whoami');
  } catch (err) {
    session.signOut();
    return signInForm(err instanceof ApiError && err.status === 401 ? err : err);
  }
  nav.hidden = false;
  show(nav, ...PAGES.filter((p) => !p.admin || me?.role === 'admin').map((p) => h('a', { href: `#/${p.id}`, 'data-page': p.id }, p.title)));
  show(
    who,
    h('span', { id: 'principal' }, me.role === 'admin' ? 'admin' : `tenant ${me.tenant} of ${me.collection ? `collection ${me.collection}` : `corpus ${me.corpus}`}`),
    h(
      'button',
      {
        class: 'link',
        id: 'sign-out',
        onclick: () => {
          session.signOut();
          me = null;
          location.hash = '';
          signInForm();
        },
      },
      'Sign out',
    ),
  );
  await route();
}

async function route(): Promise<void> {
  if (!me) return;
  const [page = 'collections', arg] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === page);
  main.dataset.page = page;
  // Each visit renders into an element of its own: a page still loading (or reloading after an
  // action) when the user moves on renders into a detached element, never over the next page.
  const view = h('div', { class: 'view' });
  show(main, view);
  switch (page) {
    case 'search':
      return searchPage(view, me, arg);
    case 'corpora':
      return corporaPage(view, me, arg);
    case 'kv':
      return kvPage(view, me);
    case 'metrics':
      return me.role === 'admin' ? metricsPage(view) : show(view, errorBox(new Error('metrics need the admin key')));
    case 'results':
      return resultsPage(view, arg);
    default:
      return collectionsPage(view, me, arg);
  }
}

window.addEventListener('hashchange', () => void route());
void start();
