// Settings → Workspace → Branding: the accent colour and logo the dashboard shows for this workspace.

import { useEffect, useState } from 'preact/hooks';

import { apiFetch } from '../api';
import { canManage, reloadMe, type WorkspaceSummary } from '../auth';
import { accentFor, contrast } from '../theme';

const DEFAULT_COLOR = '#4f46e5';
const MAX_LOGO_BYTES = 64 * 1024;
const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

function readDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error('the file could not be read'));
    reader.readAsDataURL(file);
  });
}

export function BrandingCard({ ws }: { ws: WorkspaceSummary }) {
  const saved = ws.branding ?? {};
  const [color, setColor] = useState(saved.primary_color ?? DEFAULT_COLOR);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const manage = canManage(ws.role);
  useEffect(() => setColor(saved.primary_color ?? DEFAULT_COLOR), [ws.id, saved.primary_color]);

  const save = async (branding: { primary_color?: string; logo?: string }, done: string) => {
    try {
      await apiFetch(`/v1/workspaces/${ws.id}`, { method: 'PATCH', body: { branding } });
      await reloadMe(ws.id);
      setNote({ ok: true, text: done });
    } catch (err) {
      setNote({ ok: false, text: err instanceof Error ? err.message.replace(/^branding\.(primary_color|logo): /, '') : String(err) });
    }
  };
  const upload = async (file: File | undefined) => {
    if (!file) return;
    if (!LOGO_TYPES.includes(file.type)) return setNote({ ok: false, text: 'Choose a PNG, JPEG or WebP image (SVG is not accepted).' });
    if (file.size > MAX_LOGO_BYTES) return setNote({ ok: false, text: `That image is ${Math.ceil(file.size / 1024)} KB; the logo may be at most 64 KB.` });
    await save({ logo: await readDataUrl(file) }, 'Logo saved.');
  };
  const light = accentFor(color, false);
  const dark = accentFor(color, true);

  return (
    <form class="card form" data-testid="branding-form" onSubmit={(e) => (e.preventDefault(), void save({ primary_color: color }, 'Colour saved.'))}>
      <h2 class="card-title">Branding</h2>
      <p class="muted">Your colour and logo, shown to everyone in this workspace. The colour is adjusted where needed so text stays readable in light and dark mode.</p>
      <div class="brand-form">
        <label class="field">
          <span>Primary colour</span>
          <input type="color" name="primary_color" value={color} disabled={!manage} onInput={(e) => setColor(e.currentTarget.value)} />
        </label>
        <span class="muted" data-testid="branding-contrast">
          Light {light.accent} ({contrast(light.accent, '#ffffff').toFixed(1)}:1) · dark {dark.accent} ({contrast(dark.accent, '#111827').toFixed(1)}:1)
        </span>
        <button class="button" disabled={!manage}>Save colour</button>
        <button type="button" class="button button-small button-secondary" disabled={!manage || !saved.primary_color} onClick={() => void save({ primary_color: '' }, 'Colour reset to the default.')}>
          Reset colour
        </button>
      </div>
      <div class="brand-form">
        {saved.logo ? <img class="brand-preview" src={saved.logo} alt="Current logo" /> : <span class="muted">No logo yet: the WebTrigger mark is shown.</span>}
        <label class="field">
          <span>Logo (PNG, JPEG or WebP, up to 64 KB)</span>
          <input type="file" name="logo" accept={LOGO_TYPES.join(',')} disabled={!manage} onChange={(e) => void upload(e.currentTarget.files?.[0])} />
        </label>
        <button type="button" class="button button-small button-secondary" disabled={!manage || !saved.logo} onClick={() => void save({ logo: '' }, 'Logo removed.')}>
          Remove logo
        </button>
      </div>
      {!manage && <p class="muted">Only owners and admins change the branding.</p>}
      {note && <p class={`alert ${note.ok ? 'alert-success' : 'alert-error'}`} role="status">{note.text}</p>}
    </form>
  );
}
