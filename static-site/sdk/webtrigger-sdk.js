/*! WebTrigger site SDK: Web Push opt-in for your pages. https://github.com/webtrigger */
// Load it with:
//   <script src="https://YOUR-WEBTRIGGER/sdk/webtrigger-sdk.js" data-site="site_…" async></script>
// and host a two-line worker at /webtrigger-sw.js on your site (the dashboard shows both). The SDK
// registers that worker under the narrow scope /webtrigger-push/, so it never controls your pages and
// coexists with your own PWA worker. Options (data- attributes on the script tag):
//   data-site                   the site id (required)
//   data-api                    the WebTrigger API origin (default: where this script was loaded from)
//   data-worker                 your worker file (default /webtrigger-sw.js)
//   data-scope                  its scope (default /webtrigger-push/); "existing" uses your page's own
//                               worker instead (it must importScripts webtrigger-sw.js)
//   data-prompt-after-pageviews show the soft prompt from the Nth page view (default: never; call
//                               WebTrigger.showPrompt() or WebTrigger.subscribe() from a click yourself)
//   data-prompt-text            the soft prompt's question
//   data-snooze-days            days "Not now" keeps the soft prompt away (default 7)
// Browsers only allow the permission request from a user gesture: WebTrigger.subscribe() belongs in a
// click handler, and the soft prompt exists so that the real prompt comes from one.
(function () {
  'use strict';
  if (window.WebTrigger) return;

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var config = {
    site: data.site || '',
    api: (data.api || (script && script.src ? new URL(script.src).origin : '')).replace(/\/+$/, ''),
    worker: data.worker || '/webtrigger-sw.js',
    scope: data.scope || '/webtrigger-push/',
    promptAfter: parseInt(data.promptAfterPageviews || '0', 10) || 0,
    promptText: data.promptText || 'Get notified about news and offers?',
    snoozeDays: parseInt(data.snoozeDays || '7', 10) || 7,
  };
  var KEY = 'webtrigger:' + config.site + ':';
  var DAY_MS = 86400000;

  function store(name, value) {
    try {
      if (value === undefined) localStorage.removeItem(KEY + name);
      else localStorage.setItem(KEY + name, JSON.stringify(value));
    } catch (e) { /* storage disabled: the SDK still works, it only forgets */ }
  }
  function load(name) {
    try { var v = localStorage.getItem(KEY + name); return v === null ? undefined : JSON.parse(v); } catch (e) { return undefined; }
  }

  function supported() {
    return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window && window.isSecureContext;
  }

  function fail(message) {
    var e = new Error('WebTrigger: ' + message);
    e.name = 'WebTriggerError';
    return e;
  }

  /** Calls the public API; rejects with the server's error message. */
  function call(method, path, body) {
    return fetch(config.api + '/v1/public/sites/' + encodeURIComponent(config.site) + path, {
      method: method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (json) {
        if (!res.ok) throw fail((json.error && json.error.message) || 'HTTP ' + res.status);
        return json.data;
      });
    });
  }

  function base64UrlToBytes(s) {
    var raw = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function sameKey(buffer, bytes) {
    if (!buffer) return false;
    var a = new Uint8Array(buffer);
    if (a.length !== bytes.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== bytes[i]) return false;
    return true;
  }

  function activated(registration) {
    if (registration.active) return Promise.resolve(registration);
    var worker = registration.installing || registration.waiting;
    return new Promise(function (resolve, reject) {
      worker.addEventListener('statechange', function () {
        if (worker.state === 'activated') resolve(registration);
        if (worker.state === 'redundant') reject(fail('the push worker failed to install (see ' + config.worker + ')'));
      });
    });
  }

  /** The registration whose push manager holds the subscription. */
  function registration() {
    if (config.scope === 'existing') return navigator.serviceWorker.ready;
    // The site id rides on the worker URL so the worker can re-register a renewed subscription by itself.
    var url = config.worker + (config.worker.indexOf('?') < 0 ? '?' : '&') + 'site=' + encodeURIComponent(config.site);
    return navigator.serviceWorker.register(url, { scope: config.scope }).then(activated);
  }

  function clientInfo() {
    var ua = navigator.userAgent;
    var browser = /Edg\//.test(ua) ? 'Edge' : /OPR\//.test(ua) ? 'Opera' : /Firefox\//.test(ua) ? 'Firefox'
      : /SamsungBrowser\//.test(ua) ? 'Samsung Internet' : /Chrome\//.test(ua) ? (/HeadlessChrome|Chromium\//.test(ua) ? 'Chromium' : 'Chrome')
      : /Safari\//.test(ua) ? 'Safari' : 'Other';
    var os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad|iPod/.test(ua) ? 'iOS'
      : /Mac OS X/.test(ua) ? 'macOS' : /CrOS/.test(ua) ? 'ChromeOS' : /Linux/.test(ua) ? 'Linux' : 'Other';
    var timezone;
    try { timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { timezone = undefined; }
    return { browser: browser, os: os, language: navigator.language, timezone: timezone, page_url: location.href.slice(0, 2048) };
  }

  function post(subscription) {
    var body = clientInfo();
    body.subscription = subscription.toJSON();
    body.tags = load('tags') || [];
    var attributes = load('attributes');
    if (attributes) body.attributes = attributes;
    var externalId = load('external_id');
    if (externalId) body.external_id = externalId;
    return call('POST', '/subscriptions', body).then(function (result) {
      store('endpoint', subscription.endpoint);
      store('synced_at', Date.now());
      emit('subscribed', { subscriberId: result.subscriber_id, created: result.created });
      return result.subscriber_id;
    });
  }

  function emit(name, detail) {
    window.dispatchEvent(new CustomEvent('webtrigger:' + name, { detail: detail }));
  }

  function existingSubscription() {
    if (!supported() || Notification.permission !== 'granted') return Promise.resolve(null);
    return registration().then(function (reg) { return reg.pushManager.getSubscription(); });
  }

  /**
   * Asks for permission (call it from a click), subscribes with the site's VAPID key and registers the
   * browser. Resolves with the subscriber id; rejects with a WebTriggerError saying why not.
   */
  function subscribe() {
    if (!config.site) return Promise.reject(fail('data-site is missing on the script tag'));
    if (!supported()) return Promise.reject(fail('this browser cannot receive push notifications here (it needs HTTPS and service workers)'));
    hidePrompt();
    return Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') {
        emit('denied', { permission: permission });
        throw fail(permission === 'denied' ? 'notifications are blocked for this site' : 'permission was not granted');
      }
      return Promise.all([call('GET', ''), registration()]);
    }).then(function (results) {
      var key = base64UrlToBytes(results[0].vapid_public_key);
      var manager = results[1].pushManager;
      return manager.getSubscription().then(function (current) {
        // A subscription made with another key (the site's key changed) cannot receive our pushes.
        if (current && !sameKey(current.options && current.options.applicationServerKey, key)) {
          return current.unsubscribe().then(function () { return null; });
        }
        return current;
      }).then(function (current) {
        return current || manager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
      });
    }).then(post);
  }

  /** Removes this browser's subscription; counts it against the notification the visitor arrived from. */
  function unsubscribe() {
    return existingSubscription().then(function (subscription) {
      if (!subscription) return false;
      var body = { endpoint: subscription.endpoint };
      var from = load('arrived_from');
      if (from) body.notification_id = from;
      return call('DELETE', '/subscriptions', body).then(function () {
        return subscription.unsubscribe();
      }).then(function () {
        store('endpoint', undefined);
        store('synced_at', undefined);
        emit('unsubscribed', {});
        return true;
      });
    });
  }

  /** Replaces this browser's tags (remembered for later subscriptions too). */
  function setTags(tags) {
    if (!Array.isArray(tags)) return Promise.reject(fail('tags must be an array of strings'));
    store('tags', tags);
    return existingSubscription().then(function (subscription) {
      if (!subscription) return tags;
      return call('PUT', '/subscriptions/tags', { endpoint: subscription.endpoint, tags: tags }).then(function (r) { return r.tags; });
    });
  }

  /**
   * Merges custom attributes (string, number or bool; null removes one) into this browser's, for
   * segments. Remembered for later subscriptions too. Resolves with all attributes stored.
   */
  function setAttributes(attributes) {
    if (!attributes || typeof attributes !== 'object' || Array.isArray(attributes)) return Promise.reject(fail('attributes must be an object'));
    var merged = Object.assign({}, load('attributes') || {});
    Object.keys(attributes).forEach(function (k) {
      if (attributes[k] === null) delete merged[k]; else merged[k] = attributes[k];
    });
    return existingSubscription().then(function (subscription) {
      if (!subscription) {
        store('attributes', merged);
        return merged;
      }
      return call('PUT', '/subscriptions/attributes', { endpoint: subscription.endpoint, attributes: attributes }).then(function (r) {
        store('attributes', r.attributes);
        return r.attributes;
      });
    });
  }

  /** Links this browser to your user id, so the API can target the user on all their devices. */
  function setExternalId(id) {
    store('external_id', id ? String(id) : undefined);
    return existingSubscription().then(function (subscription) { return subscription ? post(subscription) : null; });
  }

  /** 'unsupported' | 'denied' | 'subscribed' | 'unsubscribed' */
  function state() {
    if (!supported()) return Promise.resolve('unsupported');
    if (Notification.permission === 'denied') return Promise.resolve('denied');
    return existingSubscription().then(function (s) { return s ? 'subscribed' : 'unsubscribed'; });
  }

  var prompt = null;
  function hidePrompt() {
    if (prompt) prompt.remove();
    prompt = null;
  }

  /** Shows the soft prompt: "Allow" asks the browser (from a click), "Not now" snoozes it. */
  function showPrompt() {
    if (prompt || !supported() || Notification.permission !== 'default') return;
    prompt = document.createElement('div');
    prompt.setAttribute('role', 'dialog');
    prompt.setAttribute('aria-label', 'Notifications');
    prompt.setAttribute('data-webtrigger-prompt', '');
    prompt.style.cssText = 'position:fixed;z-index:2147483647;left:50%;top:16px;transform:translateX(-50%);max-width:min(420px,calc(100vw - 32px));' +
      'background:#fff;color:#1f2937;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.18);padding:16px;font:15px/1.4 system-ui,sans-serif;';
    var text = document.createElement('p');
    text.style.margin = '0 0 12px';
    text.textContent = config.promptText;
    var later = document.createElement('button');
    later.type = 'button';
    later.textContent = 'Not now';
    later.style.cssText = 'margin-right:8px;padding:8px 14px;border:1px solid #d1d5db;border-radius:8px;background:#fff;cursor:pointer;font:inherit;';
    var allow = document.createElement('button');
    allow.type = 'button';
    allow.textContent = 'Allow';
    allow.style.cssText = 'padding:8px 14px;border:0;border-radius:8px;background:#4f46e5;color:#fff;cursor:pointer;font:inherit;';
    later.addEventListener('click', function () {
      store('snoozed_until', Date.now() + config.snoozeDays * DAY_MS);
      hidePrompt();
    });
    allow.addEventListener('click', function () {
      subscribe().catch(function (e) { emit('error', { message: e.message }); });
    });
    prompt.append(text, later, allow);
    document.body.appendChild(prompt);
  }

  function onLoad() {
    // Visitors who arrive from a notification carry its id in utm_campaign: remember it, so an unsubscribe
    // during this visit is attributed to the notification that caused it.
    var params = new URLSearchParams(location.search);
    if (params.get('utm_source') === 'webtrigger' && params.get('utm_content') === config.site && /^ntf_[0-9a-z]{26}$/.test(params.get('utm_campaign') || '')) {
      store('arrived_from', params.get('utm_campaign'));
    }
    var views = (load('pageviews') || 0) + 1;
    store('pageviews', views);
    if (!supported()) return;
    if (Notification.permission === 'granted') {
      // Keep the server's copy fresh (last seen, a rotated endpoint) at most once a day.
      existingSubscription().then(function (subscription) {
        if (subscription && (subscription.endpoint !== load('endpoint') || Date.now() - (load('synced_at') || 0) > DAY_MS)) return post(subscription);
      }).catch(function () { /* retried on the next page view */ });
      return;
    }
    var snoozed = (load('snoozed_until') || 0) > Date.now();
    if (config.promptAfter > 0 && views >= config.promptAfter && !snoozed) showPrompt();
  }

  window.WebTrigger = {
    config: config,
    supported: supported,
    state: state,
    subscribe: subscribe,
    unsubscribe: unsubscribe,
    setTags: setTags,
    setAttributes: setAttributes,
    setExternalId: setExternalId,
    showPrompt: showPrompt,
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', onLoad);
  else onLoad();
})();
