// Channel setup: the one-time webhook values of a new (or re-keyed) channel with copy buttons and the
// steps each provider's console needs, and the channel's health row (its last received webhook).

export type Provider = 'twilio' | 'meta' | 'whapi';

export interface LastWebhook {
  at: string;
  status: 'accepted' | 'rejected';
  detail: string;
}

/** The values shown once: after creating a channel or rotating its secret. */
export interface SetupValues {
  channel: string;
  provider: Provider;
  webhook_path: string;
  webhook_secret: string;
}

/** A read-only value with a copy button (the input lets a user select it by hand where clipboard access is refused). */
export function CopyField({ label, value, name }: { label: string; value: string; name: string }) {
  return (
    <div class="field copy-field">
      <span>{label}</span>
      <div class="copy-row">
        <input readOnly name={name} value={value} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="button button-small" onClick={() => void navigator.clipboard?.writeText(value)}>Copy</button>
      </div>
    </div>
  );
}

const STEPS: Record<Provider, (url: string) => string[]> = {
  meta: () => [
    'In the Meta App Dashboard open WhatsApp → Configuration → Webhook and click Edit.',
    'Paste the callback URL and the verify token below, then Verify and save (Meta calls the URL at once; the health row below turns green).',
    'Subscribe the webhook field “messages”.',
  ],
  twilio: () => [
    'In the Twilio Console open Messaging → Senders → WhatsApp senders and pick this number (or the Sandbox settings).',
    'Paste the webhook URL below into “Webhook URL for incoming messages” (HTTP POST), and into the status callback URL.',
    'Twilio signs its calls with the credential’s auth token: no secret to paste here.',
  ],
  whapi: () => [
    'In the Whapi.Cloud dashboard open the channel’s Settings → Webhooks.',
    'Paste the webhook URL below, enable the “messages” and “statuses” events (mode: body).',
    'Add a header named X-Webhook-Secret whose value is the secret below.',
  ],
};

/** The setup panel for one channel: provider steps, the URL and, shown this once, the secret. */
export function ChannelSetup({ values, onClose }: { values: SetupValues; onClose: () => void }) {
  const url = `${window.location.origin}${values.webhook_path}`;
  const secretLabel = values.provider === 'meta' ? 'Verify token' : values.provider === 'whapi' ? 'X-Webhook-Secret header value' : 'Webhook secret (not used by Twilio)';
  return (
    <div class="card setup-panel" data-testid="channel-setup" role="region" aria-label={`Connect ${values.channel}`}>
      <h2 class="card-title">Connect {values.channel} to receive messages</h2>
      {values.provider !== 'twilio' &&
        (values.webhook_secret ? (
          <p class="alert"><strong>Copy the secret now.</strong> It is shown only this once; “New secret” on the channel issues another.</p>
        ) : (
          <p class="muted">The secret was shown once when it was issued; “New secret” issues another if it is lost.</p>
        ))}
      <ol class="setup-steps">
        {STEPS[values.provider](url).map((s) => <li key={s}>{s}</li>)}
      </ol>
      {window.location.protocol !== 'https:' && values.provider !== 'whapi' && (
        <p class="muted">Providers call only public https URLs: use this platform’s public address instead of {window.location.origin} in production.</p>
      )}
      <CopyField label={values.provider === 'meta' ? 'Callback URL' : 'Webhook URL'} name="webhook-url" value={url} />
      {values.provider !== 'twilio' && values.webhook_secret && <CopyField label={secretLabel} name="webhook-secret" value={values.webhook_secret} />}
      <button type="button" class="button" onClick={onClose}>Done</button>
    </div>
  );
}

/** The health row: when the provider last called, and whether that call was accepted. */
export function WebhookHealth({ last }: { last: LastWebhook | null }) {
  if (!last) return <span class="muted" data-testid="webhook-health">No webhook received yet</span>;
  return (
    <span data-testid="webhook-health">
      <span class={`badge badge-${last.status === 'accepted' ? 'active' : 'disconnected'}`}>{last.status}</span>{' '}
      <time dateTime={last.at}>{new Date(last.at).toLocaleString()}</time>
      <div class="muted">{last.detail}</div>
    </span>
  );
}
