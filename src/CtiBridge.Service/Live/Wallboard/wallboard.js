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
      cell(tr, String(q.waiting), q.waiting > 0 && q.agentsReady === 0 ? 'waiting alert' : 'waiting');
      cell(tr, duration(q.waiting > 0 ? q.longestCurrentWaitSeconds + sinceSnapshot : q.longestCurrentWaitSeconds), 'longest');
      cell(tr, percent(q.serviceLevel), 'sl ' + (q.serviceLevel === null ? '' : q.serviceLevel >= targets.serviceLevel ? 'good' : 'bad'));
      cell(tr, String(q.answered), 'answered');
      cell(tr, String(q.abandoned), 'abandoned');
      cell(tr, duration(q.averageHandleTimeSeconds), 'aht ' + (q.averageHandleTimeSeconds === null ? '' : q.averageHandleTimeSeconds <= targets.averageHandleTimeSeconds ? 'good' : 'bad'));
      cell(tr, String(q.agentsReady), 'ready');
      cell(tr, String(q.agentsOnCall), 'oncall');
      cell(tr, String(q.agentsWrapUp), 'wrapup');
      cell(tr, String(q.agentsPaused), 'paused');
      queues.appendChild(tr);
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
      agents.appendChild(tr);
    }
  }

  async function follow(key) {
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
    render();
  }, 1000);

  const key = keyFromPage();
  if (key) follow(key); else { login.hidden = false; setStatus('connecting', 'no key yet'); }
})();
