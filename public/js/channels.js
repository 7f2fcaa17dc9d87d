// Subscriptions and publishing: the channels this page subscribed to (as chips, with their
// state), a publish form, and the live list of messages received.

import {$, el, on, log, show, clock, parseInput, errorText} from './ui.js';

// Messages kept in the list; older ones are dropped.
const MESSAGES = 100;

export function startChannels(socket) {
  // Channel name -> {channel, state: 'pending' | 'subscribed' | 'blocked', error}.
  const subscriptions = new Map();

  function render() {
    const chips = $('subscriptions');
    chips.replaceChildren();
    for (const [name, sub] of subscriptions) {
      const remove = el('button', 'chip-x', '×');
      remove.type = 'button';
      remove.title = `unsubscribe from ${name}`;
      remove.onclick = () => unsubscribe(name);
      const chip = el('li', `chip ${sub.state}`, [el('span', '', name), remove]);
      chip.dataset.channel = name;
      chip.dataset.state = sub.state;
      if (sub.error) chip.title = errorText(sub.error);
      chips.append(chip);
    }
    if (!subscriptions.size) chips.append(el('li', 'empty', 'not subscribed to any channel'));
    $('channel-names').replaceChildren(...[...subscriptions.keys()].map((name) => {
      const option = el('option');
      option.value = name;
      return option;
    }));
  }

  function subscribe(name) {
    const old = subscriptions.get(name);
    if (old && old.state !== 'blocked') return;
    // A refused channel is dropped by the client; subscribing again is a new try.
    if (old) old.channel.close();
    const channel = socket.subscribe(name);
    const sub = {channel, state: 'pending', error: null};
    subscriptions.set(name, sub);
    on(channel, 'subscribe', () => {
      sub.state = 'subscribed';
      sub.error = null;
      log('ok', `subscribed to ${name}`);
      render();
    });
    on(channel, 'subscribeFail', ({error}) => {
      // The client drops a refused channel; the chip stays to show why.
      sub.state = 'blocked';
      sub.error = error;
      log('err', `subscribe to ${name} refused: ${errorText(error)}`);
      render();
    });
    (async () => {
      for await (const data of channel) received(name, data);
    })();
    render();
  }

  function unsubscribe(name) {
    const sub = subscriptions.get(name);
    if (!sub) return;
    subscriptions.delete(name);
    sub.channel.unsubscribe();
    // Ends the loops reading the channel and its events.
    sub.channel.close();
    log('info', `unsubscribed from ${name}`);
    render();
  }

  function received(name, data) {
    const list = $('messages');
    list.querySelector('.empty')?.remove();
    const item = el('li', '', [el('time', '', clock()), el('span', 'chip-name', name), el('code', '', show(data))]);
    item.dataset.channel = name;
    list.prepend(item);
    while (list.children.length > MESSAGES) list.lastChild.remove();
  }

  $('subscribe-form').onsubmit = (e) => {
    e.preventDefault();
    const name = $('channel').value.trim();
    if (name) subscribe(name);
  };
  $('publish-form').onsubmit = async (e) => {
    e.preventDefault();
    const name = $('publish-channel').value.trim();
    if (!name) return;
    const data = parseInput($('message').value);
    try {
      await socket.invokePublish(name, data);
      log('ok', `published to ${name}: ${show(data)}`);
    } catch (error) {
      log('err', `publish to ${name} refused: ${errorText(error)}`);
    }
  };
  subscribe('news');
}
