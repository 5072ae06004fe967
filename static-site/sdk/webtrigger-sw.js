/*! WebTrigger push handler for service workers. */
// Import it into a service worker on your site, after saying where WebTrigger runs:
//   self.WEBTRIGGER_API = 'https://YOUR-WEBTRIGGER';
//   importScripts('https://YOUR-WEBTRIGGER/sdk/webtrigger-sw.js');
// It handles only WebTrigger's pushes and clicks (and stops other listeners from handling them twice);
// everything else, including your own pushes, passes through to your worker's listeners. It adds no
// fetch handler and claims no clients.
(function () {
  'use strict';
  var api = String(self.WEBTRIGGER_API || '').replace(/\/+$/, '');

  /** A WebTrigger payload: what the push worker encrypts (see notifications::payload on the server). */
  function isOurs(payload) {
    var d = payload && typeof payload === 'object' ? payload.data : null;
    return !!d && typeof d.notification_id === 'string' && typeof d.site_id === 'string' && typeof payload.title === 'string';
  }

  function report(meta, event) {
    if (!api) return Promise.resolve();
    var url = api + '/v1/public/sites/' + encodeURIComponent(meta.site_id) + '/notifications/' + encodeURIComponent(meta.notification_id) + '/events';
    // A click names this browser's subscription, so the subscriber's click count (a segment rule) moves.
    var endpoint = event === 'click' && self.registration.pushManager
      ? self.registration.pushManager.getSubscription().then(function (s) { return s ? s.endpoint : null; }, function () { return null; })
      : Promise.resolve(null);
    return endpoint.then(function (e) {
      var body = { event: event };
      if (typeof meta.variant === 'number') body.variant = meta.variant;
      if (e) body.endpoint = e;
      return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    }).catch(function () { /* tracking is best effort: never block showing or opening */ });
  }

  // waitUntil throws for events the browser did not dispatch (tests, other code re-dispatching);
  // the work still runs.
  function keepAlive(event, promise) {
    try { event.waitUntil(promise); } catch (e) { /* untrusted event */ }
  }

  self.addEventListener('push', function (event) {
    var payload = null;
    try { payload = event.data ? event.data.json() : null; } catch (e) { return; }
    if (!isOurs(payload)) return;
    event.stopImmediatePropagation();
    var meta = { site_id: payload.data.site_id, notification_id: payload.data.notification_id, variant: payload.data.variant };
    var actions = Array.isArray(payload.actions) ? payload.actions : [];
    var actionUrls = {};
    actions.forEach(function (a) { if (a.url) actionUrls[a.action] = a.url; });
    var options = {
      body: payload.body || '',
      tag: payload.tag || meta.notification_id,
      data: { webtrigger: { site_id: meta.site_id, notification_id: meta.notification_id, variant: meta.variant, url: payload.url || null, actions: actionUrls } },
      actions: actions.map(function (a) { return { action: a.action, title: a.title }; }),
    };
    if (payload.icon) options.icon = payload.icon;
    if (payload.image) options.image = payload.image;
    if (payload.badge) options.badge = payload.badge;
    if (payload.require_interaction === true) options.requireInteraction = true;
    // An impression counts once the notification is on screen, not when the push arrived.
    keepAlive(event, self.registration.showNotification(payload.title, options).then(function () { return report(meta, 'impression'); }));
  });

  function open(url) {
    return self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (windows[i].url === url && 'focus' in windows[i]) return windows[i].focus();
      }
      return self.clients.openWindow(url);
    }).catch(function () { /* no user activation (untrusted event) or a blocked URL */ });
  }

  self.addEventListener('notificationclick', function (event) {
    var meta = event.notification && event.notification.data && event.notification.data.webtrigger;
    if (!meta) return;
    event.stopImmediatePropagation();
    event.notification.close();
    var url = (event.action && meta.actions && meta.actions[event.action]) || meta.url;
    keepAlive(event, Promise.all([report(meta, 'click'), url ? open(url) : Promise.resolve()]));
  });

  // The push service replaced the subscription: register the new one so sends keep reaching this browser.
  self.addEventListener('pushsubscriptionchange', function (event) {
    var site = self.WEBTRIGGER_SITE || new URL(self.location.href).searchParams.get('site');
    var old = event.oldSubscription;
    if (!api || !site || !old || !old.options || !old.options.applicationServerKey) return;
    var renewed = event.newSubscription
      ? Promise.resolve(event.newSubscription)
      : self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: old.options.applicationServerKey });
    keepAlive(event, renewed.then(function (subscription) {
      return fetch(api + '/v1/public/sites/' + encodeURIComponent(site) + '/subscriptions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subscription: subscription.toJSON() }),
      });
    }).catch(function () { /* the SDK re-registers on the next page view */ }));
  });
})();
