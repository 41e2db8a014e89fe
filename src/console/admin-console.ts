import type { Express, RequestHandler } from 'express';
import helmet from 'helmet';
import { loadConsoleAssets, type ConsoleAssets } from './console-assets.js';

/**
 * The self-hosted admin console (`CONSOLE_ENABLED`): GraphiQL at `GET /console`, for networks
 * without internet, where Apollo Sandbox (loaded from Apollo's CDN) shows nothing. Everything
 * it loads comes from this server: the page, then `/console/assets/<name>.<hash>.<js|css>`
 * (immutable, cached for a year). It talks to `/graphql` like any client: same auth header,
 * same introspection rules, same CSRF prevention (its POSTs are `application/json`).
 *
 * The console's routes get their own CSP (the app-wide helmet headers stay): only this origin
 * for scripts, styles, fonts, images and connections, plus what GraphiQL needs: `data:` fonts
 * and images (inlined in its stylesheet) and inline styles (its dialogs inject a `<style>`
 * element to lock scrolling, refused under `style-src 'self'`: the browser test opens one).
 * No inline script: the page's own code is one more served file.
 */

const CSP: Record<string, string[]> = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/** Console routes only: its CSP replaces the app-wide one (no upgrade-insecure-requests: a LAN install may be plain http). */
const consoleCsp: RequestHandler = helmet.contentSecurityPolicy({ useDefaults: false, directives: CSP });

const escapeAttribute = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(assets: ConsoleAssets): string {
  const styles = assets.styles.map((a) => `<link rel="stylesheet" href="/console/assets/${a.file}" integrity="${escapeAttribute(a.integrity)}">`);
  const scripts = assets.scripts.map((a) => `<script src="/console/assets/${a.file}" integrity="${escapeAttribute(a.integrity)}"></script>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Coffer admin console</title>
<link rel="icon" href="data:,">
${styles.join('\n')}
</head>
<body>
<div id="console-bar">
<label for="console-token">Access token or API key</label>
<input id="console-token" type="password" autocomplete="off" spellcheck="false" placeholder="paste a token; sent as Authorization: Bearer …">
<button id="console-token-use" type="button">Use token</button>
<button id="console-token-clear" type="button">Clear</button>
<span id="console-token-state" role="status">No token: requests are anonymous.</span>
</div>
<div id="graphiql"><noscript>The admin console needs JavaScript.</noscript></div>
${scripts.join('\n')}
</body>
</html>
`;
}

/** Adds `GET /console` and `GET /console/assets/:file` to the app (call only when CONSOLE_ENABLED). */
export function mountAdminConsole(app: Express): void {
  const assets = loadConsoleAssets();
  const html = page(assets);

  app.get('/console', consoleCsp, (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Robots-Tag', 'noindex');
    res.type('html').send(html);
  });

  app.get('/console/assets/:file', consoleCsp, (req, res, next) => {
    const asset = assets.byFile.get(String(req.params.file));
    if (!asset) return next(); // the app's 404
    res.setHeader('Content-Type', asset.contentType);
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.setHeader('Vary', 'Accept-Encoding');
    if (req.acceptsEncodings('gzip', 'identity') !== 'gzip') return void res.send(asset.body);
    assets.gzipped(asset).then(
      (body) => {
        res.setHeader('Content-Encoding', 'gzip');
        res.send(body);
      },
      () => res.send(asset.body),
    );
  });
}
