// Workspace branding: turns a workspace's primary colour into the accent CSS variables for light and dark
// mode, nudged until text contrast is at least 4.5:1 (WCAG AA) against the surfaces it is used on, and
// with a foreground (black or white) readable on accent-coloured buttons.

export interface Branding {
  primary_color?: string;
  logo?: string;
}

type Rgb = [number, number, number];

const LIGHT_SURFACES = ['#ffffff', '#f8fafc'];
const DARK_SURFACES = ['#111827', '#0b1120'];
/** The sidebar stays dark in both schemes (styles.css `--sidebar-bg`). */
const SIDEBAR = { light: '#0f172a', dark: '#020617' };
/** How far the current page's item must stand out from the sidebar behind it. */
const SIDEBAR_STEP = 1.5;
export const MIN_CONTRAST = 4.5;

function rgb(hex: string): Rgb {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function hex(c: Rgb): string {
  return `#${c.map((v) => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, '0')).join('')}`;
}

function luminance(c: string): number {
  const [r, g, b] = rgb(c).map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two `#rrggbb` colours (1–21). */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** `a` moved `t` (0–1) of the way towards `b`. */
function mix(a: string, b: string, t: number): string {
  const [x, y] = [rgb(a), rgb(b)];
  return hex([0, 1, 2].map((i) => x[i]! + (y[i]! - x[i]!) * t) as Rgb);
}

/** The colour moved towards `target` (black or white) in small steps until it reads on every surface. */
function readable(color: string, surfaces: string[], target: string): string {
  let c = color;
  for (let t = 0.05; surfaces.some((s) => contrast(c, s) < MIN_CONTRAST) && t <= 1; t += 0.05) c = mix(color, target, t);
  return c;
}

/** Black or white, whichever reads better on `bg` (one of them always reaches 4.5:1). */
function foreground(bg: string): string {
  return contrast(bg, '#ffffff') >= contrast(bg, '#0b1120') ? '#ffffff' : '#0b1120';
}

export interface Accent {
  accent: string;
  strong: string;
  soft: string;
  fg: string;
  /** The sidebar's current-page item: the brand colour, white text at 4.5:1, visible on the sidebar. */
  navCurrent: string;
  navCurrentFg: string;
}

/** The brand colour as a highlight on the dark sidebar: darkened until white text reads on it; a
 * colour so dark it would vanish into the sidebar is lightened instead and takes dark text. */
function navCurrent(color: string, sidebar: string): { bg: string; fg: string } {
  const deep = readable(color, ['#ffffff'], '#000000');
  if (contrast(deep, sidebar) >= SIDEBAR_STEP) return { bg: deep, fg: '#ffffff' };
  let light = color;
  for (let t = 0.05; contrast(light, sidebar) < MIN_CONTRAST && t <= 1; t += 0.05) light = mix(color, '#ffffff', t);
  return { bg: light, fg: foreground(light) };
}

/** The accent variables for one scheme. */
export function accentFor(color: string, dark: boolean): Accent {
  const surfaces = dark ? DARK_SURFACES : LIGHT_SURFACES;
  const toward = dark ? '#ffffff' : '#000000';
  const soft = mix(surfaces[0]!, color, dark ? 0.25 : 0.12);
  const accent = readable(color, [...surfaces, soft], toward);
  const strong = readable(mix(accent, toward, 0.15), [...surfaces, soft], toward);
  const nav = navCurrent(color, dark ? SIDEBAR.dark : SIDEBAR.light);
  return { accent, strong, soft, fg: foreground(accent), navCurrent: nav.bg, navCurrentFg: nav.fg };
}

function vars(a: Accent): string {
  return `--accent:${a.accent};--accent-strong:${a.strong};--accent-soft:${a.soft};--accent-fg:${a.fg};--sidebar-current:${a.navCurrent};--sidebar-current-fg:${a.navCurrentFg};`;
}

/** Puts the workspace's colour into the page (or takes it out, back to the product default). */
export function applyBranding(branding: Branding | undefined | null): void {
  const id = 'workspace-branding';
  const color = branding?.primary_color;
  let el = document.getElementById(id);
  if (!color || !/^#[0-9a-f]{6}$/i.test(color)) {
    el?.remove();
    return;
  }
  if (!el) {
    el = document.createElement('style');
    el.id = id;
    document.head.append(el);
  }
  el.textContent = `:root{${vars(accentFor(color, false))}}@media (prefers-color-scheme: dark){:root{${vars(accentFor(color, true))}}}`;
}
