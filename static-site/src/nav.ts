// The dashboard's areas: one entry per page, grouped as the sidebar shows them. Later issues replace the
// "coming soon" pages one by one; the paths here are the stable URLs they will live at.

import type { IconName } from './icons';

export interface Page {
  path: string;
  title: string;
  /** One line on what the page is for (shown on its empty state and on the overview). */
  description: string;
  /** True once the page is built; false renders the "Coming in a later release" empty state. */
  ready: boolean;
}

export interface NavGroup {
  /** Group label; single-page groups link straight to their page. */
  label: string;
  icon: IconName;
  pages: Page[];
}

export const NAV: NavGroup[] = [
  {
    label: 'Overview',
    icon: 'home',
    pages: [{ path: '/', title: 'Overview', description: 'Platform status and a map of the dashboard.', ready: true }],
  },
  {
    label: 'Triggers',
    icon: 'zap',
    pages: [
      {
        path: '/triggers',
        title: 'Triggers',
        description:
          'Webhook endpoints that turn incoming events into Web Push notifications and WhatsApp messages, with templates and delivery logs.',
        ready: true,
      },
    ],
  },
  {
    label: 'Web Push',
    icon: 'bell',
    pages: [
      {
        path: '/web-push/sites',
        title: 'Sites',
        description: 'Register the websites that collect push subscribers, with their VAPID keys and install snippet.',
        ready: true,
      },
      {
        path: '/web-push/subscribers',
        title: 'Subscribers',
        description: 'Browse, segment and clean up the browsers subscribed to each site.',
        ready: true,
      },
      {
        path: '/web-push/segments',
        title: 'Segments',
        description: 'Saved subscriber groups by tags, browser, language, country, activity, clicks and custom attributes, with live counts.',
        ready: true,
      },
      {
        path: '/web-push/import',
        title: 'Import',
        description: 'Import subscribers from CSV or JSON lines, and export a site\'s subscribers.',
        ready: true,
      },
      {
        path: '/web-push/notifications',
        title: 'Notifications',
        description: 'Compose and send notifications, and follow delivery, click and failure counts.',
        ready: true,
      },
      {
        path: '/web-push/drips',
        title: 'Drips',
        description: 'Welcome sequences: steps sent to each new subscriber a set time after they subscribed, with stats per step.',
        ready: true,
      },
      {
        path: '/web-push/recurring',
        title: 'Recurring',
        description: 'Notifications sent daily, weekly or monthly, at a time in your time zone or each subscriber\'s.',
        ready: true,
      },
      {
        path: '/web-push/analytics',
        title: 'Analytics',
        description: 'Delivery and click-through over time, subscriber growth, top notifications, and each notification’s funnel.',
        ready: true,
      },
      {
        path: '/web-push/feeds',
        title: 'Feeds',
        description: 'RSS and Atom feeds whose new items become notifications, with poll status and recent items.',
        ready: true,
      },
    ],
  },
  {
    label: 'WhatsApp',
    icon: 'message',
    pages: [
      {
        path: '/whatsapp/credentials',
        title: 'Credentials',
        description: 'Connect Twilio, Meta WhatsApp Cloud API or Whapi.Cloud accounts; secrets are stored encrypted.',
        ready: true,
      },
      {
        path: '/whatsapp/channels',
        title: 'Channels',
        description: 'The WhatsApp numbers you send from, each bound to a provider credential.',
        ready: true,
      },
      {
        path: '/whatsapp/templates',
        title: 'Templates',
        description: 'Message templates per channel: synced from Meta or Twilio, previewed, and submitted for review.',
        ready: true,
      },
      {
        path: '/whatsapp/contacts',
        title: 'Contacts',
        description: 'Everyone your channels know: search, edit tags and fields, opt-outs, CSV import and GDPR erase.',
        ready: true,
      },
      {
        path: '/whatsapp/broadcasts',
        title: 'Broadcasts',
        description: 'Send an approved template to an audience of contacts, now or scheduled, with live progress and per-recipient results.',
        ready: true,
      },
      {
        path: '/whatsapp/messages',
        title: 'Messages',
        description: 'Every outgoing and incoming WhatsApp message with its delivery status.',
        ready: true,
      },
    ],
  },
  {
    label: 'Inbox',
    icon: 'inbox',
    pages: [
      {
        path: '/inbox',
        title: 'Inbox',
        description: 'A shared inbox where your team reads and answers WhatsApp conversations.',
        ready: true,
      },
    ],
  },
  {
    label: 'Bot flows',
    icon: 'zap',
    pages: [
      {
        path: '/flows',
        title: 'Bot flows',
        description: 'Build WhatsApp bots: triggers, questions, branches, webhooks and hand-off to the inbox, with preview, simulator and versions.',
        ready: true,
      },
    ],
  },
  {
    label: 'Campaigns',
    icon: 'send',
    pages: [
      {
        path: '/campaigns',
        title: 'Campaigns',
        description: 'Push notifications and WhatsApp broadcasts in one list, with their status, schedule and results.',
        ready: true,
      },
    ],
  },
  {
    label: 'Settings',
    icon: 'settings',
    pages: [
      {
        path: '/settings/workspace',
        title: 'Workspace',
        description: 'Workspace name, time zone and defaults.',
        ready: true,
      },
      {
        path: '/settings/members',
        title: 'Members',
        description: 'Invite teammates and manage their roles.',
        ready: true,
      },
      {
        path: '/settings/api-keys',
        title: 'API keys',
        description: 'Create and revoke keys for calling the WebTrigger API from your own systems.',
        ready: true,
      },
      {
        path: '/settings/event-webhooks',
        title: 'Event webhooks',
        description: 'Endpoints of yours that receive signed platform events: message statuses, inbound messages, clicks, trigger failures.',
        ready: true,
      },
      {
        path: '/settings/devices',
        title: 'My devices',
        description: 'Push notifications from WebTrigger on your own browsers and phones.',
        ready: true,
      },
      {
        path: '/settings/audit-log',
        title: 'Audit log',
        description: 'Who changed what in this workspace, and when.',
        ready: true,
      },
    ],
  },
];

export const PAGES: Page[] = NAV.flatMap((group) => group.pages);

/** Group paths (e.g. `/web-push`) redirect to their first page. */
export const GROUP_REDIRECTS: Record<string, string> = Object.fromEntries(
  NAV.filter((g) => g.pages.length > 1).map((g) => {
    const first = g.pages[0]!.path;
    return [first.slice(0, first.lastIndexOf('/')), first];
  }),
);

export function findPage(path: string): Page | undefined {
  return PAGES.find((page) => page.path === path);
}

export function findGroup(path: string): NavGroup | undefined {
  return NAV.find((group) => group.pages.some((page) => page.path === path));
}
