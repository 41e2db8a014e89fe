/**
 * What runs in the admin's browser on /console, served as its own file (`console.<hash>.js`) because
 * the page's CSP allows no inline script. Plain JavaScript kept as text (not compiled from this
 * module), so what is served is exactly what is read here, under `npm start`, tests and `dist/`.
 *
 * It renders GraphiQL (the UMD build, global `GraphiQL`, over React 18's UMD globals) against
 * `/graphql` on the page's own origin, and adds a token field:
 * - the token lives in this script's memory only: never in the URL, cookies or Web Storage;
 * - every request gets `Authorization: Bearer <token>` unless the headers editor sets its own;
 * - GraphiQL's storage (tabs, queries, variables, results, history, headers) is an in-memory map,
 *   so nothing the admin types or sees (a revealed secret, a token in the headers editor) is
 *   written to localStorage; a reload starts afresh.
 */
export const CONSOLE_CLIENT_SCRIPT = String.raw`'use strict';
(() => {
  const DEFAULT_QUERY = [
    '# Coffer admin console: GraphiQL served by this server,',
    '# with no request to anywhere else.',
    '#',
    '# Paste an access token (from signUp, login or',
    '# refreshToken) or an API key into the field above: it is',
    '# sent as "Authorization: Bearer <token>" and kept in this',
    '# tab\'s memory only. An Authorization header set in the',
    '# Headers editor below takes precedence.',
    '# Nothing here is saved in the browser: a reload starts afresh.',
    '',
    '{ me { user { email } tenant { name } role } }',
    '',
  ].join('\n');

  /** GraphiQL's storage, in memory: the Storage methods GraphiQL's StorageAPI calls. */
  const memory = new Map();
  const storage = {
    getItem: (key) => (memory.has(key) ? memory.get(key) : null),
    setItem: (key, value) => void memory.set(String(key), String(value)),
    removeItem: (key) => void memory.delete(key),
    clear: () => memory.clear(),
    key: (index) => [...memory.keys()][index] ?? null,
    get length() {
      return memory.size;
    },
  };

  const field = document.getElementById('console-token');
  const useButton = document.getElementById('console-token-use');
  const clearButton = document.getElementById('console-token-clear');
  const state = document.getElementById('console-token-state');
  let token = '';

  /** The token as typed or pasted: trimmed, without a leading "Bearer "; null when it cannot be a header value. */
  function tokenFrom(text) {
    const value = text.trim().replace(/^bearer\s+/i, '');
    return /^[\x21-\x7e]*$/.test(value) ? value : null;
  }

  /** A fetcher bound to the current token: a new one makes GraphiQL fetch the schema again. */
  function fetcherFor(current) {
    return GraphiQL.createFetcher({
      url: new URL('/graphql', window.location.href).href,
      enableIncrementalDelivery: false,
      fetch: (input, init) => {
        const headers = new Headers(init && init.headers);
        if (current && !headers.has('authorization')) headers.set('authorization', 'Bearer ' + current);
        return window.fetch(input, { ...init, headers, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' });
      },
    });
  }

  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  function render() {
    root.render(
      React.createElement(GraphiQL, {
        fetcher: fetcherFor(token),
        storage,
        defaultQuery: DEFAULT_QUERY,
        shouldPersistHeaders: false,
        showPersistHeadersSettings: false,
      }),
    );
  }

  function apply() {
    const value = tokenFrom(field.value);
    if (value === null) {
      state.textContent = 'Not used: a token is one line of printable characters without spaces.';
      return;
    }
    token = value;
    state.textContent = token ? 'Token in use for this tab (kept in memory only).' : 'No token: requests are anonymous.';
    render();
  }

  useButton.addEventListener('click', apply);
  field.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      apply();
    }
  });
  clearButton.addEventListener('click', () => {
    field.value = '';
    apply();
  });
  render();
})();
`;

/** The console's own layout around GraphiQL, served as `console.<hash>.css`. */
export const CONSOLE_STYLE = `html,body{height:100%;margin:0}
body{display:flex;flex-direction:column;font-family:system-ui,sans-serif}
#console-bar{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem;padding:.4rem .75rem;border-bottom:1px solid #d0d4da;background:#f6f7f9;color:#1a1a1a;font-size:.9rem}
#console-bar label{font-weight:600}
#console-token{flex:1 1 20rem;min-width:12rem;font:inherit;font-family:ui-monospace,monospace;padding:.25rem .4rem}
#console-bar button{font:inherit;padding:.25rem .8rem;cursor:pointer}
#console-token-state{color:#3d4451}
#graphiql{flex:1;min-height:0}
`;
