// CtiBridge wallboard: reads /api/wallboard/stream (Server-Sent Events) with the API key in the
// Authorization header (EventSource cannot send headers, so the stream is read with fetch), and
// redraws on every snapshot. Times in state and current waits tick locally between snapshots.
(function () {
  'use strict';
  const status = document.getElementById('status');
  const login = document.getElementById('login');
  const board = document.getElementById('board');
  let snapshot = null;
  let skew = 0; // server time minus local time, ms
  let key = null;
  let supervises = false; // the key may act on agents (supervisor or admin): action buttons shown

  function keyFromPage() {
    const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
    if (match) {
      sessionStorage.setItem('ctibridge.key', decodeURIComponent(match[1]));
      history.replaceState(null, '', location.pathname); // the key leaves the address bar
    }
    return sessionStorage.getItem('ctibridge.key');
  }

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const mm = String(m).padStart(2, '0'), ss = String(s).padStart(2, '0');
    return h > 0 ? h + ':' + mm + ':' + ss : m + ':' + ss;
  }

  function percent(x) { return x === null || x === undefined ? '–' : (x * 100).toFixed(1) + ' %'; }

  function cell(row, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function elapsedSince(isoTime) {
    return (Date.now() + skew - Date.parse(isoTime)) / 1000;
  }

  // The cells a queue row and a server row share: waiting now, longest wait, SL, the day's `counts`
  // (each named as its field and its cell class), AHT, agents by state.
  function figureCells(tr, x, counts, targets, sinceSnapshot) {
    cell(tr, String(x.waiting), x.waiting > 0 && x.agentsReady === 0 ? 'waiting alert' : 'waiting');
    cell(tr, duration(x.waiting > 0 ? x.longestCurrentWaitSeconds + sinceSnapshot : x.longestCurrentWaitSeconds), 'longest');
    cell(tr, percent(x.serviceLevel), 'sl ' + (x.serviceLevel === null ? '' : x.serviceLevel >= targets.serviceLevel ? 'good' : 'bad'));
    for (const name of counts) cell(tr, String(x[name]), name);
    cell(tr, duration(x.averageHandleTimeSeconds), 'aht ' + (x.averageHandleTimeSeconds === null ? '' : x.averageHandleTimeSeconds <= targets.averageHandleTimeSeconds ? 'good' : 'bad'));
    cell(tr, String(x.agentsReady), 'ready');
    cell(tr, String(x.agentsOnCall), 'oncall');
    cell(tr, String(x.agentsWrapUp), 'wrapup');
    cell(tr, String(x.agentsPaused), 'paused');
  }

  function render() {
    if (!snapshot) return;
    const targets = snapshot.targets;
    document.getElementById('definitions').textContent = snapshot.definitionsVersion;
    const queues = document.querySelector('#queues tbody');
    queues.replaceChildren();
    const sinceSnapshot = elapsedSince(snapshot.serverTime);
    for (const q of snapshot.queues) {
      const tr = document.createElement('tr');
      tr.dataset.queue = q.queue;
      cell(tr, q.queue, 'text');
      figureCells(tr, q, ['answered', 'abandoned'], targets, sinceSnapshot);
      queues.appendChild(tr);
    }
    // Per Asterisk server (docs/sites.md): its callers and its agents' phones; the queue rows above are all servers together.
    const servers = document.querySelector('#servers tbody');
    servers.replaceChildren();
    const serverList = snapshot.servers || [];
    document.getElementById('servers-section').hidden = serverList.length === 0;
    for (const s of serverList) {
      const tr = document.createElement('tr');
      tr.dataset.server = s.server;
      cell(tr, s.server, 'text');
      figureCells(tr, s, ['offered', 'answered', 'abandoned'], targets, sinceSnapshot);
      servers.appendChild(tr);
    }
    const agents = document.querySelector('#agents tbody');
    agents.replaceChildren();
    for (const a of snapshot.agents) {
      const tr = document.createElement('tr');
      tr.dataset.agent = a.agentId;
      tr.dataset.state = a.state;
      cell(tr, a.agentId, 'text');
      cell(tr, a.name || '', 'text');
      cell(tr, a.state, 'text state');
      cell(tr, a.state === 'LoggedOut' ? '' : duration(elapsedSince(a.since)), 'time');
      cell(tr, a.reason || '', 'text reason');
      cell(tr, String(a.callsToday), 'calls');
      if (supervises) {
        const td = cell(tr, '', 'actions');
        if (a.state !== 'LoggedOut') {
          td.appendChild(button('Pause', 'pause', a.agentId));
          if (a.state === 'Paused') td.appendChild(button('Resume', 'resume', a.agentId));
          td.appendChild(button('Log out', 'logout', a.agentId));
        }
      }
      agents.appendChild(tr);
    }
    document.querySelectorAll('th.actions').forEach(th => { th.hidden = !supervises; });
    const campaigns = document.querySelector('#campaigns tbody');
    campaigns.replaceChildren();
    const list = snapshot.campaigns || [];
    document.getElementById('campaigns-section').hidden = list.length === 0;
    for (const c of list) {
      const tr = document.createElement('tr');
      tr.dataset.campaign = c.campaignId;
      cell(tr, c.campaignId, 'text');
      cell(tr, c.mode, 'text');
      cell(tr, c.dialLevel.toFixed(2), 'diallevel');
      // Colour against the common 3 % abandon limit (the campaign's own policy decides what it dials).
      cell(tr, percent(c.abandonRate), 'abandonrate ' + (c.abandonRate <= 0.03 ? 'good' : 'bad'));
      cell(tr, String(c.lines), 'lines');
      cell(tr, String(c.waitingForAgent), 'waiting');
      cell(tr, String(c.agentsIdle), 'idle');
      cell(tr, String(c.agentsBusy), 'busy');
      cell(tr, String(c.dials), 'dials');
      cell(tr, String(c.liveAnswers), 'answers');
      cell(tr, String(c.abandons), 'abandons');
      campaigns.appendChild(tr);
    }
    // Callback tiles (the callbacks engineer's part): promises still owed per queue; overdue ones in red.
    const callbacks = document.querySelector('#callbacks tbody');
    callbacks.replaceChildren();
    const owed = snapshot.callbacks || [];
    document.getElementById('callbacks-section').hidden = owed.length === 0;
    for (const c of owed) {
      const tr = document.createElement('tr');
      tr.dataset.callbackQueue = c.queue;
      cell(tr, c.queue, 'text');
      cell(tr, String(c.scheduled), 'scheduled');
      cell(tr, String(c.due), 'due');
      cell(tr, String(c.dialing), 'dialing');
      cell(tr, String(c.retry), 'retry');
      cell(tr, String(c.overdue), 'overdue ' + (c.overdue === 0 ? 'good' : 'bad'));
      cell(tr, c.oldestDueWaitSeconds + ' s', 'oldestdue');
      callbacks.appendChild(tr);
    }
  }

  // Only the times tick between snapshots: rows (and their buttons) are redrawn on snapshots only,
  // so a click is never lost to a redraw.
  function tick() {
    if (!snapshot) return;
    const sinceSnapshot = elapsedSince(snapshot.serverTime);
    for (const q of snapshot.queues) {
      const td = document.querySelector('#queues tr[data-queue="' + CSS.escape(q.queue) + '"] td.longest');
      if (td) td.textContent = duration(q.waiting > 0 ? q.longestCurrentWaitSeconds + sinceSnapshot : q.longestCurrentWaitSeconds);
    }
    for (const a of snapshot.agents) {
      const td = document.querySelector('#agents tr[data-agent="' + CSS.escape(a.agentId) + '"] td.time');
      if (td) td.textContent = a.state === 'LoggedOut' ? '' : duration(elapsedSince(a.since));
    }
  }

  function button(label, action, agentId) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.action = action;
    b.dataset.agent = agentId;
    return b;
  }

  // Supervisor actions: the same API a supervisor's tools use, with the page's key (audited under its name).
  async function act(action, agentId) {
    const result = document.getElementById('action-result');
    let path, body;
    if (action === 'pause') {
      const reason = prompt('Pause agent ' + agentId + ' with reason code:', 'supervisor');
      if (!reason) return;
      path = '/api/supervisor/agents/' + encodeURIComponent(agentId) + '/pause';
      body = JSON.stringify({ reason: reason });
    } else if (action === 'logout') {
      if (!confirm('Log agent ' + agentId + ' out (after the current call)?')) return;
      path = '/api/supervisor/agents/' + encodeURIComponent(agentId) + '/logout';
    } else {
      path = '/api/agents/' + encodeURIComponent(agentId) + '/resume';
    }
    const response = await fetch(path, {
      method: 'POST', cache: 'no-store', body: body,
      headers: body ? { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' } : { Authorization: 'Bearer ' + key },
    });
    if (response.ok) {
      result.textContent = action + ' ' + agentId + ': done';
    } else {
      let detail = 'HTTP ' + response.status;
      try { detail = (await response.json()).detail || detail; } catch (e) { /* not a problem document */ }
      result.textContent = action + ' ' + agentId + ' refused: ' + detail;
    }
  }

  document.querySelector('#agents tbody').addEventListener('click', event => {
    const b = event.target.closest('button[data-action]');
    if (b) act(b.dataset.action, b.dataset.agent);
  });

  async function learnRole() {
    try {
      const response = await fetch('/api/whoami', { headers: { Authorization: 'Bearer ' + key }, cache: 'no-store' });
      if (response.ok) {
        const me = await response.json();
        supervises = me.role === 'supervisor' || me.role === 'admin';
        render();
      }
    } catch (e) { /* the stream's own errors are shown */ }
  }

  async function follow(pageKey) {
    key = pageKey;
    learnRole();
    login.hidden = true;
    board.hidden = false;
    for (;;) {
      try {
        setStatus('connecting', 'connecting…');
        const response = await fetch('/api/wallboard/stream', { headers: { Authorization: 'Bearer ' + key }, cache: 'no-store' });
        if (response.status === 401 || response.status === 403) {
          sessionStorage.removeItem('ctibridge.key');
          setStatus('error', response.status === 401 ? 'the key is not valid' : 'this key may not see the wallboard');
          board.hidden = true;
          login.hidden = false;
          return;
        }
        if (!response.ok) throw new Error('HTTP ' + response.status);
        setStatus('live', 'live');
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = 'message', data = '';
            for (const line of frame.split('\n')) {
              if (line.startsWith('event: ')) name = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (name === 'snapshot') {
              snapshot = JSON.parse(data);
              skew = Date.parse(snapshot.serverTime) - Date.now();
              render();
            }
          }
        }
      } catch (error) {
        setStatus('error', 'reconnecting (' + error.message + ')');
      }
      await new Promise(resolve => setTimeout(resolve, 2000));
    }
  }

  login.addEventListener('submit', event => {
    event.preventDefault();
    const key = document.getElementById('key').value.trim();
    if (key) {
      sessionStorage.setItem('ctibridge.key', key);
      follow(key);
    }
  });

  setInterval(() => {
    document.getElementById('clock').textContent = new Date(Date.now() + skew).toLocaleTimeString();
    tick();
  }, 1000);

  const stored = keyFromPage();
  if (stored) follow(stored); else { login.hidden = false; setStatus('connecting', 'no key yet'); }
})();
