// The saaskit demo dashboard: plain JavaScript, no build step, no framework.
// Every piece of server-provided text goes into the page through textContent (never innerHTML).
'use strict';

(() => {
  const TOKEN_KEY = 'saaskit.token';
  const JOB_KEY = 'saaskit.reportJob';
  const BEFORE_CHECKOUT_KEY = 'saaskit.beforeCheckout';
  const JOB_POLL_MS = 400;
  const CHECKOUT_POLL_MS = 1000;
  const CHECKOUT_POLL_TRIES = 30;
  const TERMINAL = new Set(['completed', 'dead', 'cancelled']);
  const STATE_LABELS = {
    pending: 'Queued', running: 'Running', completed: 'Done', dead: 'Failed', cancelled: 'Cancelled',
  };
  const STATUS_LABELS = {
    none: 'No subscription (free plan)', active: 'Active', trialing: 'Free trial', past_due: 'Payment past due',
    unpaid: 'Unpaid', canceled: 'Canceled', incomplete: 'Awaiting payment', incomplete_expired: 'Payment expired',
    paused: 'Paused',
  };

  const $ = (id) => document.getElementById(id);
  let me = null;
  let plans = [];
  let selectedPrice = null;
  let subscription = null;
  let jobTimer = null;

  // ----- small helpers

  /** Builds an element; children are nodes or text (always inserted as text). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(id, visible) { $(id).hidden = !visible; }

  function setError(id, error) {
    const node = $(id);
    node.textContent = error ? (error.message || String(error)) : '';
    node.hidden = !error;
  }

  function notice(text, kind) {
    const node = $('notice');
    node.textContent = text || '';
    node.dataset.kind = kind || 'info';
    node.hidden = !text;
  }

  function capitalize(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

  /** "projectNames" -> "Project names" */
  function humanize(key) {
    return capitalize(String(key).replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase());
  }

  const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

  function formatTime(value) {
    if (value === null || value === undefined || value === '') return '—';
    const date = new Date(/^\d+$/.test(String(value)) ? Number(value) * 1000 : value);
    return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
  }

  function formatMoney(amount, currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency: String(currency).toUpperCase() })
        .format(Number(amount) / 100);
    } catch (e) {
      return (Number(amount) / 100).toFixed(2) + ' ' + String(currency).toUpperCase();
    }
  }

  function can(permission) { return !!me && Array.isArray(me.permissions) && me.permissions.includes(permission); }

  // ----- the API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token && path.startsWith('/api/')) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, 'network', 'The server cannot be reached: is the app running?');
    }
    if (response.status === 204) return null;
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const err = (data && data.error) || {};
      const error = new ApiError(response.status, err.code || 'http_' + response.status,
        err.message || ('The server answered ' + response.status + '.'));
      if (response.status === 401 && path.startsWith('/api/')) {
        signOut('Your session is no longer valid (' + error.message + '): sign in again.');
      }
      throw error;
    }
    return data;
  }

  // ----- sign-in

  async function signIn(event) {
    event.preventDefault();
    setError('login-error', null);
    const button = $('login-submit');
    button.disabled = true;
    try {
      const answer = await api('POST', '/dev/login', {
        tenant: $('login-tenant').value.trim(),
        email: $('login-email').value.trim(),
        role: $('login-role').value,
      });
      sessionStorage.setItem(TOKEN_KEY, answer.token);
      sessionStorage.removeItem(JOB_KEY);
      await openDashboard();
    } catch (e) {
      setError('login-error', e);
    } finally {
      button.disabled = false;
    }
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(JOB_KEY);
    sessionStorage.removeItem(BEFORE_CHECKOUT_KEY);
    stopJobPolling();
    me = null;
    show('dashboard', false);
    show('who', false);
    show('login-view', true);
    setError('login-error', message ? new Error(message) : null);
  }

  async function openDashboard() {
    me = await api('GET', '/api/me');
    $('who-email').textContent = me.email || me.userId;
    $('who-role').textContent = me.role;
    $('who-tenant').textContent = me.tenant;
    show('who', true);
    show('login-view', false);
    show('dashboard', true);
    $('project-form').hidden = !can('project:create');
    $('report-start').hidden = !can('report:run');
    await Promise.all([loadProjects(), loadSubscription(), loadPricing(), loadAnalytics()]);
    const job = sessionStorage.getItem(JOB_KEY);
    if (job) pollJob(job);
  }

  // ----- projects

  async function loadProjects() {
    try {
      const answer = await api('GET', '/api/projects');
      renderProjects(answer.projects || []);
    } catch (e) {
      setError('project-error', e);
    }
  }

  function renderProjects(projects) {
    const list = $('project-list');
    list.replaceChildren(...projects.map((p) => el('li', { class: 'list-item', 'data-id': p.id },
      el('div', { class: 'list-main' },
        el('span', { class: 'project-name' }, p.name),
        el('span', { class: 'muted small' }, 'created ' + formatTime(p.createdAt))),
      can('project:delete')
        ? el('button', {
          type: 'button', class: 'btn btn-ghost btn-small btn-danger project-delete',
          'aria-label': 'Delete ' + p.name, onclick: () => deleteProject(p),
        }, 'Delete')
        : null)));
    show('project-empty', projects.length === 0);
    $('project-count').textContent = projects.length === 1 ? '1 project' : projects.length + ' projects';
  }

  async function addProject(event) {
    event.preventDefault();
    setError('project-error', null);
    const input = $('project-name');
    const name = input.value.trim();
    if (!name) return;
    $('project-add').disabled = true;
    try {
      await api('POST', '/api/projects', { name });
      input.value = '';
      await loadProjects();
    } catch (e) {
      if (e.code === 'plan_limit') {
        const sentence = capitalize(e.message) + (/[.!]$/.test(e.message) ? '' : '.');
        setError('project-error', new Error(sentence + (can('billing:manage')
          ? ' The Upgrade button is in the Subscription panel.'
          : ' Ask an admin or the owner of this tenant to upgrade.')));
      } else {
        setError('project-error', e);
      }
    } finally {
      $('project-add').disabled = false;
    }
  }

  async function deleteProject(project) {
    setError('project-error', null);
    if (!window.confirm('Delete the project "' + project.name + '"?')) return;
    try {
      await api('DELETE', '/api/projects/' + encodeURIComponent(project.id));
      await loadProjects();
    } catch (e) {
      setError('project-error', e);
    }
  }

  // ----- subscription and checkout

  async function loadSubscription() {
    try {
      subscription = await api('GET', '/api/billing/subscription');
      renderSubscription();
      setError('billing-error', null);
    } catch (e) {
      setError('billing-error', e);
    }
    return subscription;
  }

  function renderSubscription() {
    const s = subscription;
    if (!s) return;
    const badge = $('plan-badge');
    badge.textContent = capitalize(s.plan || 'free');
    badge.dataset.plan = s.plan || 'free';
    badge.dataset.status = s.status || 'none';
    badge.dataset.access = s.hasAccess ? 'yes' : 'no';
    $('sub-status').textContent = STATUS_LABELS[s.status] || humanize(s.status || 'none');
    $('sub-seats').textContent = s.seats === null || s.seats === undefined ? '—' : String(s.seats);
    $('sub-period-end').textContent = s.status === 'none' ? '—' : formatTime(s.currentPeriodEnd);
    const features = s.entitlements || [];
    $('entitlements').replaceChildren(...(features.length
      ? features.map((f) => el('li', { class: 'chip' }, f))
      : [el('li', { class: 'muted small' }, 'nothing yet')]));
    renderUpgrade();
  }

  async function loadPricing() {
    try {
      const answer = await api('GET', '/pricing');
      plans = answer.plans || [];
    } catch (e) {
      plans = [];
    }
    renderUpgrade();
  }

  function renderUpgrade() {
    const onFree = !subscription || subscription.plan === 'free' || !subscription.hasAccess;
    const note = $('billing-note');
    if (!onFree) {
      show('upgrade-box', false);
      note.textContent = 'You are on the ' + capitalize(subscription.plan) + ' plan. Thank you!';
      note.hidden = false;
      return;
    }
    if (!can('billing:manage')) {
      show('upgrade-box', false);
      note.textContent = 'Ask an admin or the owner of this tenant to upgrade the plan.';
      note.hidden = false;
      return;
    }
    note.hidden = true;
    if (plans.length === 0) {
      show('upgrade-box', false);
      return;
    }
    if (!plans.some((p) => p.price === selectedPrice)) selectedPrice = plans[0].price;
    $('plans').replaceChildren(...plans.map((p) => {
      const id = 'plan-' + String(p.price).replace(/[^A-Za-z0-9_-]/g, '_');
      return el('label', { class: 'plan-option', for: id },
        el('input', {
          type: 'radio', name: 'plan', id, value: p.price, checked: p.price === selectedPrice,
          onchange: () => { selectedPrice = p.price; },
        }),
        el('span', { class: 'plan-text' },
          el('span', { class: 'plan-name' }, p.name),
          el('span', { class: 'plan-price' }, formatMoney(p.amount, p.currency) + ' / ' + p.interval),
          el('span', { class: 'muted small' }, (p.features || []).join(' · '))));
    }));
    show('upgrade-box', true);
  }

  async function upgrade() {
    setError('billing-error', null);
    const button = $('upgrade');
    button.disabled = true;
    button.textContent = 'Opening checkout…';
    try {
      sessionStorage.setItem(BEFORE_CHECKOUT_KEY, JSON.stringify({
        plan: subscription ? subscription.plan : 'free', status: subscription ? subscription.status : 'none',
      }));
      const answer = await api('POST', '/api/billing/checkout', { price: selectedPrice });
      const url = new URL(answer.url, window.location.href);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('Unexpected checkout address.');
      window.location.assign(url.href);
    } catch (e) {
      setError('billing-error', e);
      button.disabled = false;
      button.textContent = 'Upgrade';
    }
  }

  /** Back from checkout: the webhook may still be on its way, so poll until the subscription changes. */
  async function returnFromCheckout(outcome) {
    window.history.replaceState(null, '', '/');
    let before = null;
    try { before = JSON.parse(sessionStorage.getItem(BEFORE_CHECKOUT_KEY) || 'null'); } catch (e) { before = null; }
    sessionStorage.removeItem(BEFORE_CHECKOUT_KEY);
    if (outcome !== 'success') {
      notice('Checkout cancelled: nothing was charged.', 'info');
      return;
    }
    notice('Payment received: activating your plan…', 'info');
    const changed = (s) => s && (before
      ? s.plan !== before.plan || s.status !== before.status
      : s.plan !== 'free' && s.hasAccess);
    for (let i = 0; i < CHECKOUT_POLL_TRIES; i++) {
      const s = await loadSubscription();
      if (changed(s)) {
        notice('Welcome to ' + capitalize(s.plan) + '! Your new features are ready.', 'success');
        loadAnalytics();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, CHECKOUT_POLL_MS));
    }
    notice('The payment went through; your plan will change as soon as Stripe confirms it.', 'info');
  }

  // ----- reports (a background job with progress)

  async function startReport() {
    setError('report-error', null);
    $('report-result').hidden = true;
    $('report-start').disabled = true;
    try {
      const answer = await api('POST', '/api/reports');
      sessionStorage.setItem(JOB_KEY, answer.jobId);
      renderJob({ state: 'pending', progress: 0, message: 'queued' });
      pollJob(answer.jobId);
    } catch (e) {
      setError('report-error', e);
      $('report-start').disabled = false;
    }
  }

  function stopJobPolling() {
    if (jobTimer) clearTimeout(jobTimer);
    jobTimer = null;
  }

  async function pollJob(jobId) {
    stopJobPolling();
    $('report-start').disabled = true;
    let job;
    try {
      job = await api('GET', '/api/jobs/' + encodeURIComponent(jobId));
    } catch (e) {
      if (e.status === 404) sessionStorage.removeItem(JOB_KEY);
      setError('report-error', e);
      $('report-start').disabled = false;
      return;
    }
    renderJob(job);
    if (TERMINAL.has(job.state)) {
      $('report-start').disabled = false;
      if (job.state === 'completed') {
        renderResult(job.result);
        loadAnalytics();
      } else {
        setError('report-error', new Error('The report ' + (job.state === 'dead' ? 'failed' : 'was cancelled')
          + (job.message ? ': ' + job.message : '.')));
      }
      return;
    }
    jobTimer = setTimeout(() => pollJob(jobId), JOB_POLL_MS);
  }

  function renderJob(job) {
    const progress = Math.max(0, Math.min(100, Math.round(Number(job.progress) || 0)));
    const bar = $('report-progress');
    bar.setAttribute('aria-valuenow', String(progress));
    bar.dataset.state = job.state;
    $('report-progress-bar').style.width = progress + '%';
    $('report-progress-label').textContent = progress + '%';
    $('report-state').textContent = STATE_LABELS[job.state] || humanize(job.state);
    $('report-message').textContent = job.message ? capitalize(String(job.message)) : '';
  }

  /** Renders any JSON value as readable markup: objects as labelled facts, arrays as chips, times as dates. */
  function renderValue(value) {
    if (value === null || value === undefined) return el('span', { class: 'muted' }, '—');
    if (Array.isArray(value)) {
      if (value.length === 0) return el('span', { class: 'muted' }, 'none');
      if (value.every((v) => v === null || typeof v !== 'object')) {
        return el('ul', { class: 'chips' }, value.map((v) => el('li', { class: 'chip' }, renderScalar(v))));
      }
      return el('ol', { class: 'nested' }, value.map((v) => el('li', null, renderValue(v))));
    }
    if (typeof value === 'object') {
      return el('dl', { class: 'facts' }, Object.entries(value).flatMap(([k, v]) => [
        el('dt', null, humanize(k)), el('dd', { 'data-key': k }, renderValue(v))]));
    }
    return document.createTextNode(renderScalar(value));
  }

  function renderScalar(v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'number') return v.toLocaleString();
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    return ISO_TIME.test(String(v)) ? formatTime(v) : String(v);
  }

  function renderResult(result) {
    const box = $('report-result');
    box.replaceChildren(el('h3', null, 'Report ready'), renderValue(result));
    box.hidden = false;
  }

  // ----- analytics

  async function loadAnalytics() {
    try {
      const a = await api('GET', '/api/analytics/summary');
      $('analytics-projects').textContent = Number(a.projects).toLocaleString();
      $('analytics-reports').textContent = Number(a.reports).toLocaleString();
      $('analytics-refreshed').textContent = a.refreshedAt ? 'last refreshed ' + formatTime(a.refreshedAt)
        : 'not refreshed yet';
    } catch (e) {
      $('analytics-refreshed').textContent = 'unavailable (' + e.message + ')';
    }
  }

  // ----- start

  async function start() {
    $('login-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut(null));
    $('project-form').addEventListener('submit', addProject);
    $('upgrade').addEventListener('click', upgrade);
    $('report-start').addEventListener('click', startReport);
    $('analytics-refresh').addEventListener('click', loadAnalytics);
    $('login-role').addEventListener('change', () => {
      const email = $('login-email');
      const tenant = $('login-tenant').value.trim() || 'acme';
      if (/^(owner|admin|member)@/.test(email.value)) email.value = $('login-role').value + '@' + tenant + '.test';
    });

    const outcome = new URLSearchParams(window.location.search).get('checkout');
    if (!sessionStorage.getItem(TOKEN_KEY)) {
      if (outcome) window.history.replaceState(null, '', '/');
      signOut(null);
      return;
    }
    try {
      await openDashboard();
    } catch (e) {
      if (e.status !== 401) signOut('Could not load the dashboard: ' + e.message);
      return;
    }
    if (outcome) await returnFromCheckout(outcome);
  }

  start();
})();
