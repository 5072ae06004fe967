// Attachments in the inbox: the composer's paperclip (pick a file, it uploads at once with progress,
// a chip shows it with a remove button) and the timeline's thumbnails and document links. Files are
// fetched with the access token (blob URLs), never by a bare URL.

import { useEffect, useRef, useState } from 'preact/hooks';

import { ATTACHMENT_MAX_BYTES, apiDownload, apiFetch, uploadAttachment, type Attachment } from '../api';
import { Icon } from '../icons';
import { message } from './settings';

const ACCEPT = 'image/jpeg,image/png,image/webp,application/pdf,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.txt';

export interface Pending {
  file: File;
  preview: string | null;
  progress: number;
  uploaded: Attachment | null;
  error: string | null;
}

function size(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** The paperclip and the chip of the file being attached; `onChange` follows its upload. */
export function AttachControl({ wsBase, pending, onChange }: { wsBase: string; pending: Pending | null; onChange: (p: Pending | null) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const abort = useRef<AbortController | null>(null);
  const latest = useRef<Pending | null>(pending);
  latest.current = pending;
  const update = (p: Pending | null) => {
    latest.current = p;
    onChange(p);
  };
  useEffect(() => () => abort.current?.abort(), []);
  const pick = async (file: File | undefined) => {
    if (!file) return;
    abort.current?.abort();
    const preview = file.type.startsWith('image/') ? URL.createObjectURL(file) : null;
    const start: Pending = { file, preview, progress: 0, uploaded: null, error: null };
    if (file.size > ATTACHMENT_MAX_BYTES) {
      update({ ...start, error: `Attachments can be up to 4 MB; this file is ${size(file.size)}.` });
      return;
    }
    update(start);
    const controller = new AbortController();
    abort.current = controller;
    try {
      const uploaded = await uploadAttachment(wsBase, file, (progress) => { if (latest.current?.file === file) update({ ...latest.current, progress }); }, controller.signal);
      if (latest.current?.file === file) update({ ...latest.current, progress: 1, uploaded });
    } catch (e) {
      if (!controller.signal.aborted && latest.current?.file === file) update({ ...latest.current, error: message(e) });
    }
  };
  const remove = () => {
    abort.current?.abort();
    if (pending?.preview) URL.revokeObjectURL(pending.preview);
    update(null);
    if (input.current) input.current.value = '';
  };
  return (
    <div class="attach-control">
      <input ref={input} type="file" name="attachment" accept={ACCEPT} class="visually-hidden" tabIndex={-1} aria-hidden="true" onChange={(e) => void pick(e.currentTarget.files?.[0])} />
      <button type="button" class="button button-secondary button-small attach-button" aria-label="Attach a file" title="Attach an image or document (up to 4 MB)" onClick={() => input.current?.click()}>
        <Icon name="paperclip" size={18} />
      </button>
      {pending && (
        <span class={`chip attachment-chip${pending.error ? ' attachment-chip-error' : ''}`} data-testid="attachment-chip">
          {pending.preview ? <img src={pending.preview} alt="" class="attachment-chip-thumb" /> : <Icon name="file" size={16} />}
          <span class="attachment-chip-name">{pending.file.name}</span>
          <span class="muted">{pending.error ? 'not attached' : pending.uploaded ? size(pending.file.size) : `uploading ${Math.round(pending.progress * 100)}%`}</span>
          {!pending.uploaded && !pending.error && <progress max={1} value={pending.progress} aria-label="Upload progress" />}
          <button type="button" class="chip-remove" aria-label={`Remove ${pending.file.name}`} onClick={remove}>×</button>
        </span>
      )}
      {pending?.error && <p class="alert alert-error" role="alert">{pending.error}</p>}
    </div>
  );
}

/** An attachment on a timeline line: a thumbnail for images, a download link for documents. */
export function TimelineMedia({ wsBase, id, kind }: { wsBase: string; id: string; kind: string }) {
  const [url, setUrl] = useState<string | null>(null);
  const [meta, setMeta] = useState<Attachment | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    let made: string | null = null;
    if (kind === 'image') {
      apiDownload(`${wsBase}/attachments/${id}/content`).then((blob) => { made = URL.createObjectURL(blob); if (live) setUrl(made); }, () => live && setError('This file is no longer available.'));
    } else {
      apiFetch<Attachment>(`${wsBase}/attachments/${id}`).then((m) => live && setMeta(m), () => live && setError('This file is no longer available.'));
    }
    return () => { live = false; if (made) URL.revokeObjectURL(made); };
  }, [wsBase, id, kind]);
  const download = async () => {
    try {
      const blob = await apiDownload(`${wsBase}/attachments/${id}/content`);
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = meta?.filename ?? 'attachment';
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (e) {
      setError(message(e));
    }
  };
  if (error) return <p class="muted">{error}</p>;
  if (kind === 'image') return url ? <img src={url} alt="Attached image" class="timeline-thumb" data-testid="timeline-thumb" /> : <span class="timeline-thumb timeline-thumb-loading" aria-label="Loading image" />;
  return (
    <button type="button" class="link-button timeline-document" onClick={() => void download()}>
      <Icon name="file" size={16} /> {meta ? `${meta.filename} (${size(meta.size)})` : 'Document'}
    </button>
  );
}
