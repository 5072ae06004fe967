#!/usr/bin/env node
// Minimal static server for dist/ that behaves like `webtrigger serve` for the dashboard:
//   - files from dist/; any other non-/v1 path answers dist/index.html (SPA fallback, 200)
//   - missing /assets/* files are 404 (never index.html), /v1/* without an API is a 404 JSON error envelope
//   - Cache-Control: hashed /assets/* immutable for a year, everything else (index.html, sw.js, manifest) no-cache
// With --mock-api it also answers GET /v1/health like the embedded backend, for testing the shell without Rust.
//
//   node scripts/serve.mjs [--port 4173] [--host 127.0.0.1] [--dir dist] [--mock-api]

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '4173' },
    host: { type: 'string', default: '127.0.0.1' },
    dir: { type: 'string', default: 'dist' },
    'mock-api': { type: 'boolean', default: false },
  },
});

const ROOT = resolve(args.dir);
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function fileAt(pathname) {
  const path = normalize(join(ROOT, decodeURIComponent(pathname)));
  if (path !== ROOT && !path.startsWith(ROOT + sep)) return null; // no escaping the root
  try {
    const info = await stat(path);
    if (info.isFile()) return path;
    if (info.isDirectory()) {
      const index = join(path, 'index.html');
      if ((await stat(index).catch(() => null))?.isFile()) return index;
    }
  } catch {
    // not found
  }
  return null;
}

const server = createServer(async (req, res) => {
  try {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname === '/v1' || pathname.startsWith('/v1/')) {
      if (args['mock-api'] && pathname === '/v1/health' && req.method === 'GET') {
        return json(res, 200, {
          success: true,
          data: { status: 'ok', backend: 'embedded', version: '0.1.0', time: new Date().toISOString(), heartbeat_age_seconds: 12 },
        });
      }
      return json(res, 404, { success: false, error: { code: 'not_found', message: `no route for ${pathname}` } });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      return res.end();
    }
    const immutable = pathname.startsWith('/assets/');
    let file = await fileAt(pathname);
    if (!file && immutable) {
      res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      return res.end('not found');
    }
    file ??= join(ROOT, 'index.html');
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(error));
  }
});

server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  console.log(`serving ${ROOT} on http://${args.host}:${port}${args['mock-api'] ? ' (mock /v1/health)' : ''}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
