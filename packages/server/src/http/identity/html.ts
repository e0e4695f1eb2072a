import type { FastifyReply } from 'fastify';

/** Escapes text for HTML element content and quoted attribute values. */
export const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A small server-rendered page of the sign-in screens (no script at all: the CSP forbids it). */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Atelier — ${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
.code{letter-spacing:.2em;text-transform:uppercase}button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem;font-size:1rem}
.msg{padding:.6rem;border-radius:4px;background:#eef}.err{background:#fee}</style></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;
}

/** Sends a sign-in page: never cached, never framed, no script, forms post only to this server. */
export function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    .header('referrer-policy', 'no-referrer')
    .send(body);
}
