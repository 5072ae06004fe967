// Sign up, log in, forgotten and reset passwords, and accepting a workspace invite (tokens arrive in the
// link's fragment, so they never reach server logs).

import { useEffect, useState } from 'preact/hooks';

import { ApiError, apiFetch } from '../api';
import { reloadMe, signIn, signUp, useSession } from '../auth';
import { navigate, onLinkClick } from '../router';

/** Where to go after signing in: a `?next=` path on this site, else the overview. */
function nextPath(): string {
  const next = new URLSearchParams(window.location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'rate_limited') return `${error.message}. Try again in a little while.`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function CredentialsForm({ mode }: { mode: 'login' | 'signup' }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const signup = mode === 'signup';

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await (signup ? signUp(email, password) : signIn(email, password));
      const target = nextPath();
      // A full URL keeps the invite token's fragment when returning to /accept-invite.
      if (target.startsWith('/accept-invite')) window.location.assign(target + (sessionStorage.getItem('wt-invite-hash') ?? ''));
      else navigate(target, { replace: true });
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const other = signup ? '/login' : '/signup';
  const keepNext = window.location.search;
  return (
    <section class="page auth-page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title">{signup ? 'Create your account' : 'Log in'}</h1>
        <p class="page-lead">{signup ? 'Start sending notifications in minutes.' : 'Welcome back.'}</p>
      </header>
      <form class="card form" onSubmit={submit} noValidate>
        <label class="field">
          <span>Email</span>
          <input type="email" name="email" autocomplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Password</span>
          <input
            type="password"
            name="password"
            autocomplete={signup ? 'new-password' : 'current-password'}
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          {signup && <small class="muted">At least 10 characters; avoid common passwords and your email.</small>}
        </label>
        {error && (
          <p class="alert alert-error" role="alert" data-testid="form-error">
            {error}
          </p>
        )}
        <button type="submit" class="button button-primary" disabled={busy}>
          {busy ? 'Please wait…' : signup ? 'Create account' : 'Log in'}
        </button>
        {!signup && (
          <p class="muted">
            <a href="/forgot-password" onClick={(e) => onLinkClick(e, '/forgot-password')}>Forgot your password?</a>
          </p>
        )}
        <p class="muted">
          {signup ? 'Already have an account? ' : 'New to WebTrigger? '}
          <a href={other + keepNext} onClick={(e) => onLinkClick(e, other + keepNext)}>
            {signup ? 'Log in' : 'Create an account'}
          </a>
        </p>
      </form>
    </section>
  );
}

export const LoginPage = () => <CredentialsForm mode="login" />;
export const SignupPage = () => <CredentialsForm mode="signup" />;

export function AcceptInvitePage() {
  const session = useSession();
  const [token] = useState(() => new URLSearchParams(window.location.hash.slice(1)).get('token') ?? '');
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (token) sessionStorage.setItem('wt-invite-hash', window.location.hash);
  }, [token]);

  const accept = async () => {
    setBusy(true);
    try {
      const member = await apiFetch<{ role: string }>('/v1/invites/accept', { method: 'POST', body: { token } });
      sessionStorage.removeItem('wt-invite-hash');
      const me = await apiFetch<{ workspaces: { id: string }[] }>('/v1/me');
      await reloadMe(me.workspaces.at(-1)?.id);
      setResult({ ok: true, text: `You joined the workspace as ${member.role}.` });
    } catch (e) {
      setResult({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };

  const here = '/accept-invite';
  return (
    <section class="page auth-page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title">Join a workspace</h1>
        <p class="page-lead">You were invited to a WebTrigger workspace.</p>
      </header>
      <div class="card form">
        {!token && <p class="alert alert-error">This link has no invite token. Ask for a new invite link.</p>}
        {token && session.status === 'loading' && <p class="muted">Checking your session…</p>}
        {token && session.status === 'signed-out' && (
          <p>
            Sign in with the email address the invite was sent to, or create an account, then come back here.{' '}
            <a href={`/signup?next=${here}`} onClick={(e) => onLinkClick(e, `/signup?next=${here}`)}>Create an account</a> ·{' '}
            <a href={`/login?next=${here}`} onClick={(e) => onLinkClick(e, `/login?next=${here}`)}>Log in</a>
          </p>
        )}
        {token && session.status === 'signed-in' && !result?.ok && (
          <>
            <p>
              Signed in as <strong>{session.me.email}</strong>.
            </p>
            <button type="button" class="button button-primary" disabled={busy} onClick={() => void accept()}>
              {busy ? 'Joining…' : 'Accept invite'}
            </button>
          </>
        )}
        {result && (
          <p class={`alert ${result.ok ? 'alert-success' : 'alert-error'}`} role="status" data-testid="invite-result">
            {result.text}
          </p>
        )}
        {result?.ok && (
          <a class="button" href="/settings/members" onClick={(e) => onLinkClick(e, '/settings/members')}>
            Go to the workspace
          </a>
        )}
      </div>
    </section>
  );
}

function AuthCard({ title, lead, children }: { title: string; lead: string; children: preact.ComponentChildren }) {
  return (
    <section class="page auth-page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title">{title}</h1>
        <p class="page-lead">{lead}</p>
      </header>
      {children}
    </section>
  );
}

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<{ emailDelivery: boolean } | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await apiFetch<{ email_delivery: boolean }>('/v1/auth/password-reset', { method: 'POST', body: { email } });
      setSent({ emailDelivery: r.email_delivery });
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthCard title="Forgot your password?" lead="We email you a link to choose a new one.">
      <form class="card form" onSubmit={submit} noValidate>
        {sent ? (
          <p class={`alert ${sent.emailDelivery ? 'alert-success' : 'alert-error'}`} role="status" data-testid="reset-requested">
            {sent.emailDelivery
              ? 'If an account uses that address, a reset link is on its way. It works once, within the next hour.'
              : 'This server does not send email, so no link can be sent. Ask the administrator of your workspace to help you back in.'}
          </p>
        ) : (
          <>
            <label class="field">
              <span>Email</span>
              <input type="email" name="email" autocomplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
            </label>
            {error && <p class="alert alert-error" role="alert" data-testid="form-error">{error}</p>}
            <button type="submit" class="button button-primary" disabled={busy || !email.trim()}>
              {busy ? 'Please wait…' : 'Email me a reset link'}
            </button>
          </>
        )}
        <p class="muted">
          <a href="/login" onClick={(e) => onLinkClick(e, '/login')}>Back to log in</a>
        </p>
      </form>
    </AuthCard>
  );
}

export function ResetPasswordPage() {
  const [token] = useState(() => new URLSearchParams(window.location.hash.slice(1)).get('token') ?? '');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await apiFetch('/v1/auth/password-reset/confirm', { method: 'POST', body: { token, new_password: password } });
      // The link is spent; keep it out of the history entry.
      history.replaceState(null, '', '/reset-password');
      setDone(true);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthCard title="Choose a new password" lead="Every device signed in to your account is signed out.">
      <form class="card form" onSubmit={submit} noValidate>
        {!token && !done && <p class="alert alert-error">This link has no reset token. Ask for a new reset link.</p>}
        {done ? (
          <p class="alert alert-success" role="status" data-testid="reset-done">Your password was changed. Log in with the new one.</p>
        ) : (
          token && (
            <>
              <label class="field">
                <span>New password</span>
                <input type="password" name="new-password" autocomplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
                <small class="muted">At least 10 characters; avoid common passwords and your email.</small>
              </label>
              {error && <p class="alert alert-error" role="alert" data-testid="form-error">{error}</p>}
              <button type="submit" class="button button-primary" disabled={busy}>{busy ? 'Please wait…' : 'Set new password'}</button>
            </>
          )
        )}
        <p class="muted">
          <a href="/login" onClick={(e) => onLinkClick(e, '/login')}>{done ? 'Log in' : 'Back to log in'}</a> ·{' '}
          <a href="/forgot-password" onClick={(e) => onLinkClick(e, '/forgot-password')}>Ask for a new link</a>
        </p>
      </form>
    </AuthCard>
  );
}
