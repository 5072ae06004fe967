// Files contacts send, on the inbox timeline: images and stickers as thumbnails (click for full size),
// audio with native controls, video on demand with native controls, documents and anything else as a
// download with the file's name and type. The bytes come from the API's `…/messages/{entry}/media`, which
// fetches them from the provider with the channel's credential; here they become blob URLs (the access
// token goes in a header, never in a URL).

import { useEffect, useRef, useState } from 'preact/hooks';

import { ApiError, apiDownload } from '../api';
import { Icon } from '../icons';
import { message } from './settings';

/** How a file of this kind shows: eagerly loaded media, media loaded on a tap, or a download. */
function shape(kind: string, mime: string | null): 'image' | 'audio' | 'video' | 'file' {
  if (kind === 'image' || kind === 'sticker') return 'image';
  if (kind === 'audio' || kind === 'voice') return 'audio';
  if (kind === 'video') return 'video';
  if (mime?.startsWith('image/') && !mime.includes('svg')) return 'image';
  return 'file';
}

function explain(e: unknown): string {
  if (e instanceof ApiError && e.status === 410) return 'This file is no longer available: WhatsApp keeps media for about 30 days.';
  if (e instanceof ApiError && e.status === 404) return 'This file is no longer available.';
  return `The file could not be loaded: ${message(e)}`;
}

/** One inbound file. `base` is the conversation's API path. */
export function InboundMedia({ base, entry, kind, mime, filename }: { base: string; entry: string; kind: string; mime: string | null; filename: string | null }) {
  const how = shape(kind, mime);
  const path = `${base}/messages/${encodeURIComponent(entry)}/media`;
  const [url, setUrl] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  const made = useRef<string | null>(null);
  const load = async (): Promise<string | null> => {
    if (made.current) return made.current;
    setLoading(true);
    setError(null);
    try {
      made.current = URL.createObjectURL(await apiDownload(path));
      setUrl(made.current);
      return made.current;
    } catch (e) {
      setError(explain(e));
      return null;
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    if (how === 'image' || how === 'audio') void load();
    return () => { if (made.current) URL.revokeObjectURL(made.current); made.current = null; };
  }, [path]);
  const label = filename ?? (mime ? `${kind} (${mime})` : kind);
  if (error) return <p class="muted inbound-media-gone" data-testid="inbound-media-error" role="status">{error}</p>;
  if (how === 'image') {
    const alt = kind === 'sticker' ? 'Sticker' : 'Image from the contact';
    if (!url) return <span class="timeline-thumb timeline-thumb-loading" role="img" aria-label={`Loading ${kind}`} data-testid="inbound-media-loading" />;
    return (
      <>
        <button type="button" class="inbound-thumb-button" aria-label="Open the image full size" onClick={() => dialog.current?.showModal()}>
          <img src={url} alt={alt} class={kind === 'sticker' ? 'timeline-thumb timeline-sticker' : 'timeline-thumb'} data-testid="inbound-thumb" />
        </button>
        <dialog ref={dialog} class="media-viewer" data-testid="media-viewer" onClick={(e) => { if (e.target === dialog.current) dialog.current?.close(); }}>
          <img src={url} alt={alt} class="media-viewer-image" />
          <button type="button" class="button button-secondary button-small" onClick={() => dialog.current?.close()}>Close</button>
        </dialog>
      </>
    );
  }
  if (how === 'audio') return url ? <audio controls src={url} class="inbound-audio" data-testid="inbound-audio" /> : <span class="muted" data-testid="inbound-media-loading">Loading audio…</span>;
  if (how === 'video') {
    if (url) return <video controls src={url} class="inbound-video" data-testid="inbound-video" />;
    return (
      <button type="button" class="button button-secondary button-small" disabled={loading} onClick={() => void load()}>
        <Icon name="file" size={16} /> {loading ? 'Loading video…' : `Play video${mime ? ` (${mime})` : ''}`}
      </button>
    );
  }
  const download = async () => {
    const href = await load();
    if (!href) return;
    const a = document.createElement('a');
    a.href = href;
    a.download = filename ?? 'attachment';
    a.click();
  };
  return (
    <button type="button" class="link-button timeline-document" data-testid="inbound-document" disabled={loading} onClick={() => void download()}>
      <Icon name="file" size={16} /> {loading ? 'Downloading…' : label}
    </button>
  );
}
