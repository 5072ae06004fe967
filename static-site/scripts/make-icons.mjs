#!/usr/bin/env node
// Generates the PWA icons in public/icons/ as real RGBA PNGs, with no dependencies (node:zlib only).
// The logo is a white lightning bolt ("a trigger fires") on an indigo-to-violet gradient.
//
//   node scripts/make-icons.mjs        (npm run icons)
//
// Output is deterministic, so re-running it leaves committed icons byte-identical unless this file changes.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'icons');

/** Each icon: file name, pixel size, and how the artwork sits in it. */
const ICONS = [
  // "any" purpose: rounded tile with transparent corners, logo fills most of the tile.
  { file: 'icon-192.png', size: 192, tile: 'rounded', bolt: 0.62 },
  { file: 'icon-512.png', size: 512, tile: 'rounded', bolt: 0.62 },
  // "maskable": full-bleed background, logo inside the 80% safe-zone circle (platforms crop to any shape).
  { file: 'icon-maskable-512.png', size: 512, tile: 'full', bolt: 0.46 },
  // iOS ignores transparency (it would render black): opaque full tile, iOS rounds the corners itself.
  { file: 'apple-touch-icon.png', size: 180, tile: 'full', bolt: 0.58 },
  { file: 'favicon-32.png', size: 32, tile: 'rounded', bolt: 0.7 },
];

const GRADIENT_FROM = [0x43, 0x38, 0xca]; // indigo-700
const GRADIENT_TO = [0x6d, 0x28, 0xd9]; // violet-700
const BOLT_COLOR = [0xff, 0xff, 0xff];

// Lightning bolt on a 24×24 grid (the classic "zap" outline), centred on (12, 12).
const BOLT = [
  [13, 2],
  [3, 14],
  [12, 14],
  [11, 22],
  [21, 10],
  [12, 10],
];

const SAMPLES = 4; // 4×4 supersampling per pixel for anti-aliased edges

function insidePolygon(x, y, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function insideRoundedRect(x, y, size, radius) {
  const cx = Math.min(Math.max(x, radius), size - radius);
  const cy = Math.min(Math.max(y, radius), size - radius);
  return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
}

function render({ size, tile, bolt }) {
  // Bolt polygon scaled so its 20-unit height spans `bolt` of the icon, centred.
  const scale = (size * bolt) / 20;
  const poly = BOLT.map(([x, y]) => [size / 2 + (x - 12) * scale, size / 2 + (y - 12) * scale]);
  const radius = tile === 'rounded' ? size * 0.22 : 0;

  const rgba = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let tileHits = 0;
      let boltHits = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const x = px + (sx + 0.5) / SAMPLES;
          const y = py + (sy + 0.5) / SAMPLES;
          if (tile === 'full' || insideRoundedRect(x, y, size, radius)) {
            tileHits++;
            if (insidePolygon(x, y, poly)) boltHits++;
          }
        }
      }
      const total = SAMPLES * SAMPLES;
      const t = (px + py) / (2 * size); // diagonal gradient
      const bg = GRADIENT_FROM.map((from, i) => from + (GRADIENT_TO[i] - from) * t);
      const mix = tileHits === 0 ? 0 : boltHits / tileHits;
      const color = bg.map((c, i) => c + (BOLT_COLOR[i] - c) * mix);
      const o = (py * size + px) * 4;
      rgba[o] = Math.round(color[0]);
      rgba[o + 1] = Math.round(color[1]);
      rgba[o + 2] = Math.round(color[2]);
      rgba[o + 3] = Math.round((255 * tileHits) / total);
    }
  }
  return rgba;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

function encodePng(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); // width
  ihdr.writeUInt32BE(size, 4); // height
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGBA
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter method
  ihdr[12] = 0; // no interlace
  // Each scanline is prefixed with its filter type (0 = none).
  const stride = size * 4;
  const raw = Buffer.alloc((stride + 1) * size);
  for (let y = 0; y < size; y++) rgba.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

mkdirSync(OUT_DIR, { recursive: true });
for (const icon of ICONS) {
  const png = encodePng(icon.size, render(icon));
  writeFileSync(join(OUT_DIR, icon.file), png);
  console.log(`wrote public/icons/${icon.file} (${icon.size}x${icon.size}, ${png.length} bytes)`);
}
