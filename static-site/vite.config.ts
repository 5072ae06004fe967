import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, transformWithEsbuild, type Plugin } from 'vite';

const ROOT = fileURLToPath(new URL('.', import.meta.url));
const SW_SOURCE = join(ROOT, 'src', 'sw', 'sw.ts');
const PUBLIC_DIR = join(ROOT, 'public');
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

/** Public files the service worker precaches besides `/`, `/index.html` and the built assets. */
const PUBLIC_PRECACHE = (file: string): boolean => file === 'manifest.webmanifest' || file.startsWith('icons/');

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [relative(PUBLIC_DIR, path).split(sep).join('/')];
  });
}

/**
 * Emits `sw.js` (unhashed, at the root of dist/) from src/sw/sw.ts with the precache list baked in:
 * the app shell, the public manifest and icons, and every file this build wrote under assets/.
 * The cache version is a hash over the contents of all of them plus the worker source, so any change
 * yields a new sw.js, a new cache, and the old cache is deleted on activation.
 */
function serviceWorker(): Plugin {
  return {
    name: 'webtrigger-sw',
    apply: 'build',
    enforce: 'post',
    generateBundle: {
      order: 'post',
      async handler(_options, bundle) {
        const hash = createHash('sha256');
        const assetUrls: string[] = [];
        for (const fileName of Object.keys(bundle).sort()) {
          const output = bundle[fileName]!;
          hash.update(fileName).update(output.type === 'chunk' ? output.code : output.source);
          if (fileName.startsWith('assets/') && !fileName.endsWith('.map')) assetUrls.push(`/${fileName}`);
        }
        if (!('index.html' in bundle)) this.error('index.html is missing from the bundle; cannot build the app shell');

        const publicUrls = listFiles(PUBLIC_DIR).filter(PUBLIC_PRECACHE).sort();
        for (const file of publicUrls) hash.update(file).update(readFileSync(join(PUBLIC_DIR, file)));

        const source = readFileSync(SW_SOURCE, 'utf8');
        hash.update(source);
        const precache = ['/', '/index.html', ...publicUrls.map((f) => `/${f}`), ...assetUrls];
        const version = hash.digest('hex').slice(0, 12);

        const { code } = await transformWithEsbuild(source, SW_SOURCE, {
          loader: 'ts',
          format: 'iife',
          target: 'es2022',
          define: {
            __PRECACHE_URLS__: JSON.stringify(precache),
            __CACHE_VERSION__: JSON.stringify(version),
          },
        });
        this.emitFile({
          type: 'asset',
          fileName: 'sw.js',
          source: `// WebTrigger service worker ${version} (generated from src/sw/sw.ts; do not edit)\n${code}`,
        });
        this.emitFile({
          type: 'asset',
          fileName: 'precache-manifest.json',
          source: `${JSON.stringify({ version, urls: precache }, null, 2)}\n`,
        });
      },
    },
  };
}

/** Copies the site SDK (static-site/sdk/*.js, plain scripts customers load as they are) to dist/sdk/. */
function siteSdk(): Plugin {
  const dir = join(ROOT, 'sdk');
  return {
    name: 'webtrigger-site-sdk',
    apply: 'build',
    generateBundle() {
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.js')).sort()) {
        this.emitFile({ type: 'asset', fileName: `sdk/${file}`, source: readFileSync(join(dir, file), 'utf8') });
      }
    },
  };
}

export default defineConfig({
  // Preact's automatic JSX runtime through esbuild; no framework plugin (and no Babel) needed.
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  define: { __APP_VERSION__: JSON.stringify(PACKAGE.version) },
  plugins: [siteSdk(), serviceWorker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev` proxies the API to a local `webtrigger serve` (default port 8080).
    proxy: { '/v1': process.env.WEBTRIGGER_API ?? 'http://127.0.0.1:8080' },
  },
});
