import { randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import type { RequestInfo } from '../../identity/caller.js';
import type { Logger } from '../../logger.js';
import { AppError } from '../../errors.js';
import type { Throttle } from '../auth/throttle.js';
import { channelText, type ConsentLinkService, type PublicLinkView } from './consent-links.service.js';
import { clientBucket } from '../auth/client-bucket.js';

/**
 * The public pages (DESIGN.md §8): `GET/POST /unsubscribe/<token>` and `GET/POST /confirm/<token>`.
 * Small server-rendered HTML: no external assets, no JavaScript, no cookies, a strict CSP (only
 * the page's own nonce'd style), `lang`, labelled controls usable by keyboard. A GET never
 * changes anything; the POST does (the page's button, or an RFC 8058 one-click POST with body
 * `List-Unsubscribe=One-Click`, always answered 200, never a redirect). An invalid, expired or
 * dangling token gets the same 400 page, which says nothing about the subject. Per-IP rate limited.
 */

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STYLE = `body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a;background:#fff}
h1{font-size:1.5rem}button{font:inherit;padding:.6rem 1.2rem;border:2px solid #1a4fa0;background:#1a4fa0;color:#fff;border-radius:4px;cursor:pointer}
button:focus-visible{outline:3px solid #f5b700;outline-offset:2px}.note{color:#444;font-size:.9rem}`;

function page(res: Response, status: number, title: string, body: string): void {
  const nonce = randomBytes(16).toString('base64');
  res.status(status);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Robots-Tag', 'noindex');
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.send(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escape(title)}</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`);
}

const invalid = (res: Response) =>
  page(res, 400, 'Link not valid', '<h1>This link is not valid</h1>\n<p>The link is invalid or has expired. If you still receive messages you did not ask for, use the link in the most recent one.</p>');

function requestOf(req: Request, res: Response): RequestInfo {
  return { ip: req.ip ?? null, userAgent: req.get('user-agent') ?? null, requestId: String(res.locals.requestId ?? '') };
}

function ask(res: Response, view: PublicLinkView, kind: 'unsubscribe' | 'confirm'): void {
  const tenant = escape(view.tenantName);
  const channel = escape(channelText(view.channel));
  const purpose = escape(view.purposeName);
  if (kind === 'unsubscribe') {
    page(res, 200, `Unsubscribe from ${view.tenantName}`, `<h1>Unsubscribe from ${tenant}</h1>
<p>Stop receiving <strong>${purpose}</strong> from <strong>${tenant}</strong> by <strong>${channel}</strong>.</p>
<form method="post">
<input type="hidden" name="confirm" value="unsubscribe">
<button type="submit" id="confirm">Confirm unsubscribe</button>
</form>
<p class="note">Nothing changes until you confirm.</p>`);
  } else {
    page(res, 200, `Confirm your consent to ${view.tenantName}`, `<h1>Confirm your consent</h1>
<p>Allow <strong>${tenant}</strong> to contact you by <strong>${channel}</strong> for <strong>${purpose}</strong>.</p>
<form method="post">
<input type="hidden" name="confirm" value="consent">
<button type="submit" id="confirm">Yes, I agree</button>
</form>
<p class="note">Nothing is recorded until you confirm. You can withdraw at any time.</p>`);
  }
}

export function consentPages(consent: ConsentLinkService, options: { throttle: Throttle; logger: Logger }): Router {
  const router = express.Router();
  const { throttle } = options;
  const limited = async (req: Request, res: Response): Promise<boolean> => {
    try {
      await throttle.consume(`pages|${clientBucket(req.ip)}`);
      return false;
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'RATE_LIMITED')) throw error;
      res.setHeader('Retry-After', String(error.extensions.retryAfter));
      res.locals.refusedByRequestLimit = true; // counted as limiter="request" (observability/http-metrics.ts)
      page(res, 429, 'Too many requests', '<h1>Too many requests</h1>\n<p>Please wait a minute and try again.</p>');
      return true;
    }
  };
  const form = express.urlencoded({ extended: false, limit: '2kb', type: () => true });

  router.get('/unsubscribe/:token', async (req, res) => {
    if (await limited(req, res)) return;
    const view = await consent.describeLink('unsubscribe', String(req.params.token));
    return view ? ask(res, view, 'unsubscribe') : invalid(res);
  });

  router.post('/unsubscribe/:token', form, async (req, res) => {
    if (await limited(req, res)) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const oneClick = body['List-Unsubscribe'] === 'One-Click';
    const view = await consent.unsubscribe(String(req.params.token), requestOf(req, res), oneClick ? 'ONE_CLICK' : 'PAGE');
    if (!view) return invalid(res);
    page(res, 200, 'Unsubscribed', `<h1 id="done">You are unsubscribed</h1>
<p><strong>${escape(view.tenantName)}</strong> will no longer contact you by <strong>${escape(channelText(view.channel))}</strong> for <strong>${escape(view.purposeName)}</strong>.</p>`);
  });

  router.get('/confirm/:token', async (req, res) => {
    if (await limited(req, res)) return;
    const view = await consent.describeLink('confirmation', String(req.params.token));
    return view ? ask(res, view, 'confirm') : invalid(res);
  });

  router.post('/confirm/:token', form, async (req, res) => {
    if (await limited(req, res)) return;
    const view = await consent.confirm(String(req.params.token), requestOf(req, res));
    if (!view) return invalid(res);
    page(res, 200, 'Consent confirmed', `<h1 id="done">Thank you: your consent is confirmed</h1>
<p><strong>${escape(view.tenantName)}</strong> may now contact you by <strong>${escape(channelText(view.channel))}</strong> for <strong>${escape(view.purposeName)}</strong>.</p>`);
  });

  return router;
}
