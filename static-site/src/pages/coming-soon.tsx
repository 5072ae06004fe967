import { Icon } from '../icons';
import type { NavGroup, Page } from '../nav';

/** Honest placeholder for an area a later release builds. */
export function ComingSoonPage({ page, group }: { page: Page; group: NavGroup | undefined }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        {group && group.label !== page.title && <p class="page-eyebrow">{group.label}</p>}
        <h1 id="page-title">{page.title}</h1>
      </header>
      <div class="empty-state" data-testid="coming-soon">
        <div class="empty-icon">{group && <Icon name={group.icon} size={28} />}</div>
        <h2>Coming in a later release</h2>
        <p>{page.description}</p>
      </div>
    </section>
  );
}
