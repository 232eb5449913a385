// The chat page. Every piece of text that comes from a user is put in the page with
// `textContent`, never as HTML, so `<img src=x onerror=alert(1)>` shows as those characters.
//
// `?transport=polling` (or `?transport=websocket`) restricts the transports the client uses.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  // Per tab (survives a reload, not shared with other tabs): who this tab is, to rejoin.
  const session = {
    get(key) { try { return sessionStorage.getItem(key); } catch { return null; } },
    set(key, value) { try { sessionStorage.setItem(key, value); } catch { /* private mode */ } },
  };

  const status = $('status');
  const statusText = $('status-text');
  const setStatus = (state, text) => {
    status.dataset.state = state;
    statusText.textContent = text;
  };

  if (typeof io !== 'function') {
    const fatal = $('fatal');
    fatal.textContent = 'The Socket.IO client did not load from /socket.io/socket.io.js. ' +
      'Run `npm install --prefix examples/chat` and restart the server.';
    fatal.hidden = false;
    $('login').hidden = true;
    setStatus('offline', 'no client library');
    return;
  }

  const wanted = new URLSearchParams(location.search).get('transport');
  const transports = wanted === 'polling' || wanted === 'websocket'
    ? [wanted]
    : ['polling', 'websocket'];
  const socket = io({ transports, closeOnBeforeunload: true });

  const state = { name: null, room: null, joined: false };

  // ----- connection status -----

  const showTransport = () => {
    const engine = socket.io.engine;
    setStatus('online', `online · ${engine && engine.transport ? engine.transport.name : '?'}`);
  };
  socket.on('connect', () => {
    showTransport();
    socket.io.engine.once('upgrade', showTransport);
    if (state.joined) {
      // A new connection is a new socket: tell the server who we are again.
      join(state.name, state.room).catch(() => {});
    }
  });
  socket.on('disconnect', () => setStatus('offline', 'offline · reconnecting…'));
  socket.on('connect_error', () => setStatus('offline', 'offline · retrying…'));

  // ----- joining -----

  const request = (event, data) => new Promise((resolve, reject) => {
    socket.timeout(5000).emit(event, data, (err, res) => {
      if (err) reject(new Error('the server did not answer'));
      else if (!res || !res.ok) reject(new Error((res && res.error) || 'refused'));
      else resolve(res);
    });
  });

  async function join(name, room) {
    const previous = { name: state.name, room: state.room };
    if (room !== previous.room) clearConversation();
    // Presence and notices of the new room come before the answer.
    state.name = name;
    state.room = room;
    try {
      const res = await request('join', { name, room });
      state.name = res.name;
      state.room = res.room;
      state.joined = true;
      session.set('chat.name', res.name);
      session.set('chat.room', res.room);
      $('me').textContent = res.name;
      $('room-title').textContent = res.room;
      renderUsers(res.users);
      $('login').hidden = true;
      $('chat').hidden = false;
      return res;
    } catch (e) {
      state.name = previous.name;
      state.room = previous.room;
      throw e;
    }
  }

  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const error = $('login-error');
    error.textContent = '';
    $('join').disabled = true;
    join($('name').value.trim(), $('room').value.trim() || 'lobby')
      .then(() => $('text').focus())
      .catch((e) => { error.textContent = e.message; })
      .finally(() => { $('join').disabled = false; });
  });

  $('switch-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('switch-room');
    const room = input.value.trim();
    if (!room || room === state.room) return;
    join(state.name, room)
      .then(() => { input.value = ''; $('text').focus(); })
      .catch((e) => addNotice(`Could not switch: ${e.message}`));
  });

  // ----- messages -----

  const messages = $('messages');

  function clearConversation() {
    messages.replaceChildren();
    typers.forEach((timer) => clearTimeout(timer));
    typers.clear();
    renderTyping();
  }

  function hue(name) {
    let h = 0;
    for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
    return h;
  }

  function formatTime(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function append(node) {
    const nearBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
    messages.append(node);
    if (nearBottom) messages.scrollTop = messages.scrollHeight;
  }

  function addMessage({ name, text, time, mine }) {
    const li = el('li', mine ? 'msg mine' : 'msg');
    const avatar = el('div', 'avatar', (Array.from(name)[0] || '?').toUpperCase());
    avatar.style.background = `hsl(${hue(name)} 55% 48%)`;
    const bubble = el('div', 'bubble');
    const meta = el('div', 'meta');
    meta.append(el('span', 'author', name), el('time', 'time', formatTime(time)));
    let mark = null;
    if (mine) {
      mark = el('span', 'state pending', '…');
      mark.title = 'sending';
      meta.append(mark);
    }
    bubble.append(meta, el('div', 'text', text));
    li.append(avatar, bubble);
    append(li);
    return mark;
  }

  function addNotice(text) {
    append(el('li', 'notice', text));
  }

  socket.on('message', (msg) => {
    if (!msg || typeof msg.text !== 'string' || typeof msg.name !== 'string') return;
    stopShowingTyping(msg.name);
    addMessage({ name: msg.name, text: msg.text, time: msg.time, mine: false });
  });

  socket.on('notice', (n) => {
    if (!n || n.room !== state.room || typeof n.name !== 'string') return;
    if (n.kind === 'join') {
      addNotice(n.name === state.name ? `You joined #${n.room}` : `${n.name} joined #${n.room}`);
    }
    if (n.kind === 'leave') {
      stopShowingTyping(n.name);
      addNotice(`${n.name} left #${n.room}`);
    }
  });

  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('text');
    const text = input.value.trim();
    if (!text || !state.joined) return;
    input.value = '';
    stopTyping();
    const mark = addMessage({ name: state.name, text, time: Date.now(), mine: true });
    request('message', { text })
      .then(() => {
        mark.className = 'state delivered';
        mark.textContent = '✓';
        mark.title = 'delivered';
      })
      .catch((e) => {
        mark.className = 'state failed';
        mark.textContent = '!';
        mark.title = `not delivered: ${e.message}`;
      });
  });

  // ----- presence -----

  function renderUsers(users) {
    if (!Array.isArray(users)) return;
    const list = $('users');
    list.replaceChildren(...users.map((name) => {
      const li = el('li', name === state.name ? 'you' : '', name);
      if (name === state.name) li.append(el('span', 'muted', ' (you)'));
      return li;
    }));
    $('online-count').textContent = String(users.length);
  }

  socket.on('presence', (p) => {
    if (p && p.room === state.room) renderUsers(p.users);
  });

  // ----- typing -----

  const typers = new Map(); // name → timer that forgets them
  let typingSent = false;
  let typingTimer = null;

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent) {
      socket.emit('typing', false);
      typingSent = false;
    }
  }

  $('text').addEventListener('input', (ev) => {
    if (!state.joined) return;
    if (!ev.target.value.trim()) {
      stopTyping();
      return;
    }
    if (!typingSent) {
      socket.emit('typing', true);
      typingSent = true;
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  });

  function renderTyping() {
    const names = [...typers.keys()];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    $('typing').textContent = text;
  }

  function stopShowingTyping(name) {
    if (!typers.has(name)) return;
    clearTimeout(typers.get(name));
    typers.delete(name);
    renderTyping();
  }

  socket.on('typing', (t) => {
    if (!t || typeof t.name !== 'string') return;
    stopShowingTyping(t.name);
    if (t.typing) {
      // Forget them if their "stopped typing" never comes.
      typers.set(t.name, setTimeout(() => stopShowingTyping(t.name), 6000));
      renderTyping();
    }
  });

  // ----- back after a reload -----

  const savedName = session.get('chat.name');
  if (savedName) {
    $('name').value = savedName;
    $('room').value = session.get('chat.room') || 'lobby';
    join(savedName, session.get('chat.room') || 'lobby').catch((e) => {
      $('login-error').textContent = e.message;
    });
  }
})();
