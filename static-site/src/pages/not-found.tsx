import { onLinkClick } from '../router';

export function NotFoundPage({ path }: { path: string }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title">Page not found</h1>
      </header>
      <div class="empty-state">
        <h2>Nothing lives at {path}</h2>
        <p>The link may be out of date, or the page was moved.</p>
        <a class="button" href="/" onClick={(e) => onLinkClick(e, '/')}>
          Back to overview
        </a>
      </div>
    </section>
  );
}
