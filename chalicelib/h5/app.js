// Entry point: the hash router, the 长辈模式 toggle (remembered in localStorage), and the sandbox panel in the
// local stage only. Hash routes keep every URL relative: the server serves one page at …/h5.
import * as api from './api.js';
import { claim, claims, newClaim } from './claims.js';
import * as screens from './screens.js';

const ELDER_KEY = 'hmb.elder';

function applyElder(on) {
  document.documentElement.dataset.elder = on ? '1' : '0';
  const button = document.getElementById('elder-toggle');
  button.setAttribute('aria-pressed', String(on));
  button.textContent = on ? '标准模式' : '长辈模式';
  button.setAttribute('aria-label', on ? '切换回标准模式' : '长辈模式:放大字体,一屏一事');
}

const routes = [
  [/^#?\/?$/, () => screens.home(), ''],
  [/^#\/estimate$/, () => screens.estimate(), 'estimate'],
  [/^#\/login$/, () => screens.login(), 'me'],
  [/^#\/me$/, () => screens.me(), 'me'],
  [/^#\/plans$/, () => screens.plans(), 'plans'],
  [/^#\/plans\/([\w-]+)$/, (m) => screens.plan(decodeURIComponent(m[1])), 'plans'],
  [/^#\/policies$/, () => screens.policies(), 'policies'],
  [/^#\/claims$/, () => claims(), 'claims'],
  [/^#\/claims\/new$/, () => newClaim(), 'claims'],
  [/^#\/claims\/([\w-]+)$/, (m) => claim(decodeURIComponent(m[1])), 'claims'],
];

async function route() {
  const hash = location.hash || '#/';
  for (const [re, show, nav] of routes) {
    const m = re.exec(hash);
    if (!m) continue;
    document.querySelectorAll('[data-nav]').forEach((a) => {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    await show(m);
    document.body.dataset.screen = nav || 'home';
    return;
  }
  location.hash = '#/';
}

function start() {
  applyElder(localStorage.getItem(ELDER_KEY) === '1');
  document.getElementById('elder-toggle').addEventListener('click', () => {
    const on = document.documentElement.dataset.elder !== '1';
    localStorage.setItem(ELDER_KEY, on ? '1' : '0');
    applyElder(on);
  });
  window.addEventListener('hashchange', () => { route(); window.scrollTo(0, 0); });
  route();
  if (api.SANDBOX) import('./sandbox.js').then((m) => m.mountPanel(document.getElementById('sandbox-slot')));
}

start();
