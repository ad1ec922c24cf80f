/* Local Slack page: channels and messages as one Slack user sees them, and acting as that user.
 *
 * Talks only to the local Slack's /_ui/ endpoints (see algobot/localslack/ui.py). New state arrives
 * through a long poll on /_ui/changes. Every piece of text from the state is put into the page with
 * textContent / text nodes, never as HTML; links only get http(s) and mailto URLs.
 */
(() => {
  "use strict";

  const LONG_POLL_SECONDS = 25;
  const state = {
    version: -1,
    workspace: null,
    workspaceSig: "",
    user: null,
    channel: null,
    rendered: new Map(), // message ts -> {sig, node}
    renderedFor: "", // user|channel the message list was rendered for
    modal: null, // {id, hash, node}
    history: [],
  };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ small DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === "") continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function api(path, body) {
    const options = body === undefined
      ? { cache: "no-store" }
      : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    const response = await fetch(path, options);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok || (data && data.ok === false)) {
      const error = new Error((data && (data.message || data.error)) || `HTTP ${response.status}`);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  function toast(text, kind) {
    const node = el("div", { class: `toast ${kind || ""}`, role: "status", "data-testid": "toast" }, text);
    $("toasts").append(node);
    setTimeout(() => node.remove(), kind === "error" ? 8000 : 4000);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ------------------------------------------------------------------ lookups

  const users = () => (state.workspace ? state.workspace.users : []);
  const channels = () => (state.workspace ? state.workspace.channels : []);
  const findUser = (id) => users().find((u) => u.id === id);
  const findChannel = (id) => channels().find((c) => c.id === id);
  const isMember = (channel, userId) => !channel.members || channel.members.includes(userId);

  function channelLabel(channel) {
    if (!channel) return "";
    if (channel.is_im) return "algobot"; // the bot's DM with the acting user
    return channel.name;
  }

  // ------------------------------------------------------------------ mrkdwn → DOM

  const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'" };
  const decode = (text) => String(text).replace(/&(?:amp|lt|gt|quot|#39);/g, (m) => ENTITIES[m]);

  const EMOJI = {
    "+1": "👍", boom: "💥", bulb: "💡", clock1: "🕐", eyes: "👀", gear: "⚙️", grey_question: "❔",
    hammer_and_wrench: "🛠️", heavy_check_mark: "✔️", hourglass: "⌛", hourglass_flowing_sand: "⏳",
    information_source: "ℹ️", key: "🔑", lock: "🔒", mag: "🔍", memory: "🧠", no_entry: "⛔",
    no_entry_sign: "🚫", package: "📦", pencil2: "✏️", robot_face: "🤖", rocket: "🚀",
    see_no_evil: "🙈", sparkles: "✨", tada: "🎉", thumbsup: "👍", warning: "⚠️", wave: "👋",
    white_check_mark: "✅", x: "❌",
  };
  const emojify = (text) => String(text).replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);

  // Earliest match wins; at one position the order of the alternatives decides.
  const INLINE = new RegExp(
    [
      "`([^`]+)`", // 1 inline code
      "<([^<>\\s][^<>]*)>", // 2 link, mention, special
      "(?<![\\p{L}\\p{N}*])\\*(?!\\s)([^*\\n]+?)(?<!\\s)\\*(?![\\p{L}\\p{N}*])", // 3 bold
      "(?<![\\p{L}\\p{N}_])_(?!\\s)([^_\\n]+?)(?<!\\s)_(?![\\p{L}\\p{N}_])", // 4 italics
      "(?<![\\p{L}\\p{N}~])~(?!\\s)([^~\\n]+?)(?<!\\s)~(?![\\p{L}\\p{N}~])", // 5 strike
      ":([a-z0-9_+-]+):", // 6 emoji
    ].join("|"),
    "gu",
  );

  function inline(text, parent) {
    let last = 0;
    INLINE.lastIndex = 0;
    const source = String(text);
    const matches = [...source.matchAll(INLINE)];
    for (const m of matches) {
      if (m.index > last) parent.append(document.createTextNode(decode(source.slice(last, m.index))));
      if (m[1] !== undefined) parent.append(el("code", { text: decode(m[1]) }));
      else if (m[2] !== undefined) parent.append(control(m[2]));
      else if (m[3] !== undefined) parent.append(inline(m[3], el("b")));
      else if (m[4] !== undefined) parent.append(inline(m[4], el("i")));
      else if (m[5] !== undefined) parent.append(inline(m[5], el("s")));
      else if (m[6] !== undefined) parent.append(document.createTextNode(EMOJI[m[6]] || m[0]));
      last = m.index + m[0].length;
    }
    if (last < source.length) parent.append(document.createTextNode(decode(source.slice(last))));
    return parent;
  }

  function control(inner) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? decode(inner.slice(bar + 1)) : "";
    if (target.startsWith("@")) {
      const id = target.slice(1);
      const user = findUser(id);
      return el("span", { class: "mention", "data-user-id": id }, "@" + (user ? user.name : label || id));
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const channel = findChannel(id);
      return el("span", { class: "mention", "data-channel-id": id }, "#" + (channel ? channelLabel(channel) : label || id));
    }
    if (target.startsWith("!date^")) return slackDate(target, label);
    if (target.startsWith("!")) {
      const word = target.slice(1);
      if (["here", "channel", "everyone"].includes(word)) return el("span", { class: "mention broadcast" }, "@" + word);
      if (word.startsWith("subteam^")) return el("span", { class: "mention" }, label || "@group");
      return document.createTextNode(label || decode(inner));
    }
    const url = decode(target);
    if (/^(https?:\/\/|mailto:)/i.test(url)) {
      return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label || url);
    }
    return document.createTextNode(label || url);
  }

  // ------------------------------------------------------------------ <!date^UNIX^FORMAT[^LINK]|fallback>

  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const pad = (n, width) => String(n).padStart(width || 2, "0");
  const ordinal = (n) => {
    const tens = n % 100;
    const suffix = tens >= 11 && tens <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
    return `${n}${suffix}`;
  };

  /** "today", "yesterday" or "tomorrow" in the reader's time zone, else "". */
  function relativeDay(when) {
    const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const diff = Math.round((day(when) - day(new Date())) / 86400000);
    return { "-1": "yesterday", 0: "today", 1: "tomorrow" }[diff] || "";
  }

  /** Slack's date tokens, in the reader's own time zone and locale (the browser's), like Slack's client. */
  const DATE_TOKENS = {
    date_num: (d) => `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    date_slash: (d) => `${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${pad(d.getFullYear(), 4)}`,
    date: (d) => `${MONTHS[d.getMonth()]} ${ordinal(d.getDate())}, ${d.getFullYear()}`,
    date_short: (d) => `${MONTHS[d.getMonth()].slice(0, 3)} ${d.getDate()}, ${d.getFullYear()}`,
    date_long: (d) => `${WEEKDAYS[d.getDay()]}, ${MONTHS[d.getMonth()]} ${ordinal(d.getDate())}, ${d.getFullYear()}`,
    date_long_full: (d) => `${MONTHS[d.getMonth()]} ${d.getDate()}, ${d.getFullYear()}`,
    date_pretty: (d) => relativeDay(d) || DATE_TOKENS.date(d),
    date_short_pretty: (d) => relativeDay(d) || DATE_TOKENS.date_short(d),
    date_long_pretty: (d) => relativeDay(d) || DATE_TOKENS.date_long(d),
    day_divider_pretty: (d) =>
      relativeDay(d) ||
      (d.getFullYear() === new Date().getFullYear()
        ? `${WEEKDAYS[d.getDay()]}, ${MONTHS[d.getMonth()]} ${ordinal(d.getDate())}`
        : DATE_TOKENS.date_long(d)),
    time: (d) => d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }),
    time_secs: (d) => d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit", second: "2-digit" }),
    ago: (d) => {
      const seconds = (d.getTime() - Date.now()) / 1000;
      const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
      const [unit, size] = units.find(([, length]) => Math.abs(seconds) >= length) || units[units.length - 1];
      return new Intl.RelativeTimeFormat([], { numeric: "auto" }).format(Math.round(seconds / size), unit);
    },
  };

  /** ``<!date^1392734382^Posted {date_short_pretty} at {time}^https://…|fallback>`` as text (and a link). */
  function slackDate(target, fallback) {
    const [, stamp, format, ...link] = target.split("^");
    const seconds = /^-?\d+$/.test(stamp || "") ? Number(stamp) : NaN;
    if (!Number.isFinite(seconds) || format === undefined) return document.createTextNode(fallback || decode(target));
    const when = new Date(seconds * 1000);
    const text = decode(format).replace(/\{([a-z_]+)\}/g, (token, name, offset) => {
      if (!DATE_TOKENS[name]) return token;
      const value = DATE_TOKENS[name](when);
      return offset === 0 ? value.charAt(0).toUpperCase() + value.slice(1) : value; // "Today at 9:41 AM"
    });
    const node = el("time", { class: "slack-date", "data-testid": "slack-date", datetime: when.toISOString(), title: fallback || null }, text);
    const url = decode(link.join("^"));
    if (/^https?:\/\//i.test(url)) return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, node);
    return node;
  }

  /** Lines starting with ">" (or its escaped form) become quotes; the rest keeps its newlines. */
  function lines(text, parent) {
    const groups = [];
    for (const line of String(text).split("\n")) {
      const quote = /^(?:>|&gt;)/.exec(line);
      const kind = quote ? "quote" : "text";
      const body = quote ? line.slice(quote[0].length).replace(/^ /, "") : line;
      const group = groups[groups.length - 1];
      if (group && group.kind === kind) group.lines.push(body);
      else groups.push({ kind, lines: [body] });
    }
    for (const group of groups) {
      const joined = group.lines.join("\n");
      if (group.kind === "quote") parent.append(inline(joined, el("blockquote", { class: "quote" })));
      else if (joined) parent.append(inline(joined, el("span")));
    }
  }

  function mrkdwn(text, tag) {
    const root = el(tag || "div", { class: "mrkdwn" });
    const parts = String(text ?? "").split("```");
    const isCode = (i) => i % 2 === 1 && i < parts.length - 1; // odd parts between two fences
    parts.forEach((part, i) => {
      if (isCode(i)) {
        root.append(el("pre", { class: "code-block", text: decode(part.replace(/^\n/, "").replace(/\n$/, "")) }));
        return;
      }
      let segment = i % 2 === 1 ? "```" + part : part; // an unclosed fence stays literal
      if (isCode(i - 1)) segment = segment.replace(/^\n/, ""); // a code block is a block: no blank line
      if (isCode(i + 1)) segment = segment.replace(/\n$/, "");
      lines(segment, root);
    });
    return root;
  }

  function textObject(obj, tag) {
    if (!obj) return null;
    if (typeof obj === "string") return mrkdwn(obj, tag);
    if (obj.type === "mrkdwn") return mrkdwn(obj.text, tag);
    return el(tag || "span", { class: "plain" }, obj.emoji === false ? obj.text : emojify(obj.text || ""));
  }

  const plain = (obj) => (obj ? (typeof obj === "string" ? obj : emojify(obj.text || "")) : "");

  // ------------------------------------------------------------------ Block Kit

  function renderBlocks(blocks, ctx) {
    const root = el("div", { class: "blocks" });
    for (const block of blocks || []) root.append(renderBlock(block, ctx));
    return root;
  }

  function renderBlock(block, ctx) {
    const data = { "data-block-id": block.block_id, "data-block-type": block.type };
    switch (block.type) {
      case "header":
        return el("div", { class: "block-header", ...data }, plain(block.text));
      case "section": {
        const main = el("div", { class: "section-main" }, textObject(block.text));
        if (block.fields && block.fields.length) {
          main.append(el("div", { class: "section-fields" }, block.fields.map((f) => textObject(f))));
        }
        const node = el("div", { class: "block-section", ...data }, main);
        if (block.accessory) node.append(renderElement(block.accessory, block, ctx));
        return node;
      }
      case "context":
        return el(
          "div",
          { class: "block-context", ...data },
          (block.elements || []).map((e) =>
            e.type === "image" ? el("span", {}, `[${e.alt_text || "image"}]`) : textObject(e, "span"),
          ),
        );
      case "divider":
        return el("hr", { class: "block-divider", ...data });
      case "actions":
        return el("div", { class: "block-actions", ...data }, (block.elements || []).map((e) => renderElement(e, block, ctx)));
      case "input":
        return renderInput(block, ctx);
      case "image":
        return el("div", { class: "block-image", ...data }, `🖼 ${block.alt_text || "image"}`, block.title ? ` — ${plain(block.title)}` : "");
      default:
        return el("div", { class: "block-unknown", ...data }, `[${block.type} block]`);
    }
  }

  function renderElement(element, block, ctx) {
    const ids = { "data-action-id": element.action_id, "data-block-id": block.block_id };
    if (element.type === "button") {
      const style = element.style === "primary" || element.style === "danger" ? element.style : "";
      const button = el(
        "button",
        { type: "button", class: `btn ${style}`, "data-testid": "button", "data-value": element.value, ...ids },
        plain(element.text),
      );
      if (ctx.kind !== "message") {
        button.disabled = true;
        button.title = "Buttons inside modals are not supported by the local Slack page";
        return button;
      }
      button.addEventListener("click", () => act(ctx, block, element, element.value ?? null, button));
      return button;
    }
    if (["static_select", "overflow"].includes(element.type)) {
      const select = el("select", { class: "select", "data-testid": "select", ...ids });
      select.append(el("option", { value: "" }, plain(element.placeholder) || (element.type === "overflow" ? "⋯" : "Select…")));
      for (const option of options(element)) select.append(el("option", { value: option.value }, plain(option.text)));
      if (ctx.kind === "message") {
        select.addEventListener("change", () => {
          if (select.value) act(ctx, block, element, select.value, select);
        });
      }
      return select;
    }
    return el("span", { class: "block-unknown" }, `[${element.type}]`);
  }

  const options = (element) => [
    ...(element.options || []),
    ...(element.option_groups || []).flatMap((group) => group.options || []),
  ];

  async function act(ctx, block, element, value, control) {
    if (element.confirm && !(await confirmDialog(element.confirm))) return;
    control.disabled = true;
    control.classList.add("busy");
    try {
      await api("/_ui/click", {
        user: state.user,
        channel: state.channel,
        message_ts: ctx.message.ts,
        action_id: element.action_id,
        block_id: block.block_id,
        value,
      });
    } catch (error) {
      toast(error.message, "error");
    } finally {
      control.disabled = false;
      control.classList.remove("busy");
    }
  }

  /** Slack's confirmation dialog object, as a small in-page dialog; resolves true on confirm. */
  function confirmDialog(confirm) {
    return new Promise((resolve) => {
      const root = $("dialog-root");
      const done = (answer) => {
        root.replaceChildren();
        document.removeEventListener("keydown", onKey);
        resolve(answer);
      };
      const onKey = (event) => {
        if (event.key === "Escape") done(false);
      };
      const style = confirm.style === "danger" ? "danger" : "primary";
      const ok = el("button", { type: "button", class: `btn ${style}`, "data-testid": "confirm-ok", onclick: () => done(true) },
        plain(confirm.confirm) || "Yes");
      const dialog = el(
        "div",
        { class: "overlay dialog-overlay", "data-testid": "confirm-overlay" },
        el(
          "div",
          { class: "confirm-dialog", role: "alertdialog", "aria-modal": "true", "data-testid": "confirm-dialog" },
          el("div", { class: "modal-head" }, el("h2", { class: "modal-title" }, plain(confirm.title) || "Are you sure?")),
          el("div", { class: "confirm-text" }, textObject(confirm.text)),
          el(
            "div",
            { class: "modal-foot" },
            el("button", { type: "button", class: "btn", "data-testid": "confirm-cancel", onclick: () => done(false) },
              plain(confirm.deny) || "Cancel"),
            ok,
          ),
        ),
      );
      root.replaceChildren(dialog);
      document.addEventListener("keydown", onKey);
      ok.focus();
    });
  }

  // ------------------------------------------------------------------ messages

  function avatar(message) {
    if (message.user === "USLACKBOT") return el("div", { class: "avatar slackbot", "aria-hidden": "true" }, "S");
    if (message.is_bot) return el("div", { class: "avatar bot", "aria-hidden": "true" }, "🤖");
    let hash = 0;
    for (const ch of message.user) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return el("div", { class: `avatar c${hash % 8}`, "aria-hidden": "true" }, (message.user_name || "?").slice(0, 1).toUpperCase());
  }

  const date = (ts) => new Date(parseFloat(ts) * 1000);

  function formatTime(ts) {
    return date(ts).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }

  function renderMessage(message, isReply) {
    const ctx = { kind: "message", message };
    const body = el("div", { class: "message-body" });
    const meta = el(
      "div",
      { class: "message-meta" },
      el("span", { class: "author", "data-testid": "author" }, message.user_name),
      message.is_bot ? el("span", { class: "app-badge" }, message.user === "USLACKBOT" ? "SLACKBOT" : "APP") : null,
      el("time", { class: "time", datetime: date(message.ts).toISOString(), title: `${date(message.ts).toLocaleString()} (ts ${message.ts})` },
        formatTime(message.ts)),
      message.edited ? el("span", { class: "edited", "data-testid": "edited" }, "(edited)") : null,
    );
    body.append(meta);
    if (message.ephemeral) {
      body.append(el("div", { class: "ephemeral-note", "data-testid": "ephemeral-note" }, "Only visible to you"));
    }
    if (message.broadcast_of) body.append(el("div", { class: "broadcast-note" }, "replied to a thread"));
    const content = el("div", { class: "message-content", "data-testid": "message-content" });
    if (message.blocks && message.blocks.length) content.append(renderBlocks(message.blocks, ctx));
    else if (message.text) content.append(mrkdwn(message.text));
    for (const attachment of message.attachments || []) content.append(renderAttachment(attachment, ctx));
    body.append(content);
    for (const file of message.files || []) body.append(renderFile(file));
    if (!isReply && message.replies && message.replies.length) {
      const count = message.replies.length;
      body.append(
        el(
          "div",
          { class: "thread", "data-testid": "thread" },
          el("div", { class: "thread-label" }, `${count} ${count === 1 ? "reply" : "replies"}`),
          message.replies.map((reply) => renderMessage(reply, true)),
        ),
      );
    }
    return el(
      "div",
      {
        class: `message${message.ephemeral ? " ephemeral" : ""}${isReply ? " reply" : ""}`,
        "data-testid": isReply ? "reply" : "message",
        "data-ts": message.ts,
        "data-user": message.user,
        "data-ephemeral": message.ephemeral ? "true" : "false",
        "data-versions": message.versions,
      },
      avatar(message),
      body,
    );
  }

  function renderAttachment(attachment, ctx) {
    const node = el("div", { class: "attachment", "data-testid": "attachment" });
    if (/^#[0-9a-f]{3,8}$/i.test(attachment.color || "")) node.style.borderLeftColor = attachment.color;
    if (attachment.pretext) node.append(mrkdwn(attachment.pretext));
    if (attachment.title) node.append(el("div", { class: "att-title" }, decode(attachment.title)));
    if (attachment.text) node.append(mrkdwn(attachment.text));
    if (attachment.fields && attachment.fields.length) {
      node.append(el("div", { class: "section-fields" }, attachment.fields.map((f) =>
        el("div", {}, el("b", {}, decode(f.title || "")), mrkdwn(f.value || "")))));
    }
    if (attachment.blocks) node.append(renderBlocks(attachment.blocks, ctx));
    if (attachment.footer) node.append(el("div", { class: "block-context" }, decode(attachment.footer)));
    if (!node.childNodes.length && attachment.fallback) node.append(decode(attachment.fallback));
    return node;
  }

  function renderFile(file) {
    const kind = (file.name.includes(".") ? file.name.split(".").pop() : "file").slice(0, 4);
    const preview = el("pre", { class: "code-block", "data-testid": "file-preview-text" }, "Loading…");
    const details = el("details", { class: "file-preview" }, el("summary", {}, "Preview"), preview);
    details.addEventListener("toggle", async () => {
      if (!details.open || details.dataset.loaded) return;
      try {
        const response = await fetch(file.url, { cache: "no-store" });
        preview.textContent = await response.text();
        details.dataset.loaded = "1";
        preview.scrollIntoView({ block: "nearest" });
      } catch (error) {
        preview.textContent = `Could not load the file: ${error.message}`;
      }
    });
    return el(
      "div",
      { "data-testid": "file", "data-file-id": file.id },
      el(
        "div",
        { class: "file" },
        el("div", { class: "file-icon", "aria-hidden": "true" }, kind),
        el(
          "div",
          { class: "file-info" },
          el("div", { class: "file-title", "data-testid": "file-title", title: file.title }, file.title),
          el(
            "div",
            { class: "file-meta" },
            `${file.name} · ${formatSize(file.size)} · `,
            el("a", { href: file.url, target: "_blank", rel: "noopener", download: file.name, "data-testid": "file-link" }, "Download"),
          ),
        ),
      ),
      details,
    );
  }

  function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function renderMessages(messages) {
    const container = $("messages");
    const key = `${state.user}|${state.channel}`;
    const first = state.renderedFor !== key;
    if (first) {
      state.rendered = new Map();
      state.renderedFor = key;
      container.replaceChildren();
    }
    const nearBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 120;
    const names = users().map((u) => u.id + u.name).join() + channels().map((c) => c.id + c.name).join();
    const next = new Map();
    const nodes = messages.map((message) => {
      const sig = JSON.stringify(message) + names;
      const known = state.rendered.get(message.ts);
      const node = known && known.sig === sig ? known.node : renderMessage(message, false);
      next.set(message.ts, { sig, node });
      return node;
    });
    state.rendered = next;
    if (!nodes.length) {
      const channel = findChannel(state.channel);
      nodes.push(
        el(
          "div",
          { class: "empty", "data-testid": "empty" },
          el("strong", {}, `This is the very beginning of ${channel && !channel.is_im ? "#" : ""}${channelLabel(channel)}`),
          "Type ", el("code", {}, "/algo help"), " below and press Enter.",
        ),
      );
    }
    // Move only what changed, so unchanged messages keep their DOM (and any open select or preview).
    nodes.forEach((node, i) => {
      if (container.children[i] !== node) container.insertBefore(node, container.children[i] || null);
    });
    while (container.children.length > nodes.length) container.lastElementChild.remove();
    if (first || nearBottom) container.scrollTop = container.scrollHeight;
  }

  // ------------------------------------------------------------------ modals

  function renderInput(block, ctx) {
    const element = block.element || {};
    const id = `input-${block.block_id}`;
    const common = { id, "data-block-id": block.block_id, "data-action-id": element.action_id, "data-testid": "modal-input" };
    let control;
    if (element.type === "static_select") {
      control = el("select", common, el("option", { value: "" }, plain(element.placeholder) || "Select an item"));
      for (const option of options(element)) control.append(el("option", { value: option.value }, plain(option.text)));
      if (element.initial_option) control.value = element.initial_option.value;
    } else if (element.type === "radio_buttons") {
      control = el("div", { ...common, role: "radiogroup", class: "radio-group" });
      for (const option of options(element)) {
        const radio = el("input", { type: "radio", name: id, value: option.value, "data-testid": "modal-radio" });
        radio.checked = Boolean(element.initial_option && element.initial_option.value === option.value);
        control.append(el("label", { class: "radio" }, radio, " ", plain(option.text)));
      }
      // Read like the other controls at submit: the chosen option's value.
      Object.defineProperty(control, "value", { get: () => (control.querySelector("input:checked") || { value: "" }).value });
    } else if (element.type === "plain_text_input" || !element.type) {
      control = element.multiline
        ? el("textarea", { ...common, rows: 4 })
        : el("input", { ...common, type: "text" });
      if (element.placeholder) control.placeholder = plain(element.placeholder);
      if (element.initial_value) control.value = element.initial_value;
      if (element.max_length) control.maxLength = element.max_length;
    } else {
      control = el("div", { class: "block-unknown" }, `[${element.type} input is not supported here]`);
    }
    return el(
      "div",
      { class: "block-input", "data-block-id": block.block_id, "data-block-type": "input", "data-optional": block.optional ? "true" : "false" },
      el("label", { for: id }, plain(block.label), block.optional ? el("span", { class: "optional" }, " (optional)") : null),
      control,
      block.hint ? el("div", { class: "hint" }, plain(block.hint)) : null,
      el("div", { class: "input-error", "data-testid": "input-error", "data-block-id": block.block_id, hidden: true }),
    );
  }

  function renderModal(views) {
    const root = $("modal-root");
    const view = views.length ? views[views.length - 1] : null;
    if (!view) {
      if (state.modal) {
        root.replaceChildren();
        state.modal = null;
      }
      return;
    }
    if (!state.modal || state.modal.id !== view.id || state.modal.hash !== view.hash) {
      state.modal = { id: view.id, hash: view.hash, node: buildModal(view) };
      root.replaceChildren(state.modal.node);
      const first = state.modal.node.querySelector("input:not([type=radio]), textarea, select");
      if (first) first.focus();
    }
    showErrors(view.errors || {});
  }

  function showErrors(errors) {
    if (!state.modal) return;
    for (const node of state.modal.node.querySelectorAll(".block-input")) {
      const message = errors[node.dataset.blockId];
      const slot = node.querySelector(".input-error");
      slot.textContent = message || "";
      slot.hidden = !message;
      node.classList.toggle("has-error", Boolean(message));
    }
  }

  function buildModal(view) {
    const form = el("form", { class: "modal-body", novalidate: true }, [...renderBlocks(view.blocks, { kind: "modal", view }).childNodes]);
    const submit = view.submit
      ? el("button", { type: "submit", class: "btn primary", "data-testid": "modal-submit" }, plain(view.submit))
      : null;
    const close = () => closeModal(view);
    const modal = el(
      "div",
      { class: "modal", role: "dialog", "aria-modal": "true", "data-testid": "modal", "data-view-id": view.id, "data-callback-id": view.callback_id },
      el(
        "div",
        { class: "modal-head" },
        el("h2", { class: "modal-title", "data-testid": "modal-title" }, plain(view.title)),
        el("button", { type: "button", class: "modal-x", "aria-label": "Close", "data-testid": "modal-x", onclick: close }, "×"),
      ),
      form,
      el(
        "div",
        { class: "modal-foot" },
        el("span", { class: "modal-error", "data-testid": "modal-error" }),
        el("button", { type: "button", class: "btn", "data-testid": "modal-close", onclick: close }, plain(view.close) || (submit ? "Cancel" : "Close")),
        submit,
      ),
    );
    const submitForm = (event) => {
      event.preventDefault();
      submitModal(view, modal, submit);
    };
    form.addEventListener("submit", submitForm);
    if (submit) submit.addEventListener("click", submitForm);
    modal.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
    });
    return el("div", { class: "overlay", "data-testid": "modal-overlay" }, modal);
  }

  async function submitModal(view, modal, submit) {
    if (!submit || submit.disabled) return;
    const values = {};
    const missing = {};
    for (const node of modal.querySelectorAll(".block-input")) {
      const control = node.querySelector("[data-action-id]");
      if (!control || !("value" in control)) continue;
      const value = control.value;
      const blockId = node.dataset.blockId;
      values[blockId] = { [control.dataset.actionId]: value === "" ? null : value };
      if (node.dataset.optional !== "true" && !value.trim()) missing[blockId] = "Please complete this required field.";
    }
    if (Object.keys(missing).length) {
      showErrors(missing);
      return;
    }
    submit.disabled = true;
    const label = submit.textContent;
    submit.textContent = "Saving…";
    try {
      const answer = await api("/_ui/submit_view", { user: state.user, view_id: view.id, values });
      if (answer.closed && state.modal && state.modal.id === view.id) {
        $("modal-root").replaceChildren();
        state.modal = null;
      } else if (answer.errors) {
        showErrors(answer.errors);
      }
      if (answer.status !== 200) modal.querySelector("[data-testid=modal-error]").textContent = `The app answered HTTP ${answer.status}.`;
    } catch (error) {
      modal.querySelector("[data-testid=modal-error]").textContent = error.message;
    } finally {
      submit.disabled = false;
      submit.textContent = label;
      scheduleRefresh();
    }
  }

  async function closeModal(view) {
    $("modal-root").replaceChildren();
    state.modal = null;
    try {
      await api("/_ui/close_view", { user: state.user, view_id: view.id });
    } catch (error) {
      toast(error.message, "error");
    }
  }

  // ------------------------------------------------------------------ sidebar, header, composer

  function applyWorkspace(workspace) {
    state.workspace = workspace;
    const people = workspace.users.filter((u) => !u.is_bot && !u.deleted);
    if (!state.user || !people.some((u) => u.id === state.user)) {
      const wanted = new URLSearchParams(location.search).get("user");
      state.user = (people.find((u) => u.id === wanted) || people[0] || {}).id || null;
    }
    const visible = workspace.channels.filter((c) => !c.is_im || c.im_user === state.user);
    if (!state.channel || !visible.some((c) => c.id === state.channel)) {
      const wanted = new URLSearchParams(location.search).get("channel");
      const fallback = visible.find((c) => c.bot_member && !c.is_im) || visible[0] || {};
      state.channel = (visible.find((c) => c.id === wanted || c.name === wanted) || fallback).id || null;
    }
    const sig = JSON.stringify([workspace.users, workspace.channels, workspace.bot_url, state.user, state.channel]);
    if (sig === state.workspaceSig) return;
    state.workspaceSig = sig;

    $("workspace-name").textContent = workspace.team.name;
    const switcher = $("user-switcher");
    switcher.replaceChildren(
      ...people.map((u) => {
        const role = u.is_owner ? "owner" : u.is_admin ? "admin" : "member";
        return el("option", { value: u.id, title: u.real_name }, `${u.name} (${role})`);
      }),
    );
    switcher.value = state.user || "";

    const link = (channel) => {
      const member = isMember(channel, state.user);
      const prefix = channel.is_im ? "●" : channel.is_private ? "🔒" : "#";
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: `channel-link${channel.id === state.channel ? " active" : ""}${member ? "" : " not-member"}`,
            "data-testid": "channel",
            "data-channel-id": channel.id,
            "data-channel-name": channel.is_im ? "" : channel.name,
            title: member ? "" : "You are not a member of this channel",
            onclick: () => selectChannel(channel.id),
          },
          el("span", { class: "prefix", "aria-hidden": "true" }, prefix),
          el("span", {}, channelLabel(channel)),
          channel.is_archived ? el("span", { class: "tag" }, "archived") : null,
        ),
      );
    };
    $("channel-list").replaceChildren(...visible.filter((c) => !c.is_im).map(link));
    const dms = visible.filter((c) => c.is_im);
    $("dm-list").replaceChildren(...dms.map(link));
    $("dm-label").hidden = !dms.length;

    const botUrl = $("bot-url");
    botUrl.textContent = workspace.bot_url ? `Bot: ${workspace.bot_url}` : "No bot connected";
    const banner = $("banner");
    banner.hidden = Boolean(workspace.bot_url);
    if (!workspace.bot_url) {
      banner.replaceChildren(
        el("b", {}, "No bot connected. "),
        "The local Slack does not know the bot's URL, so commands and clicks cannot be delivered. Set ",
        el("code", {}, "LocalSlack.bot_url"),
        ".",
      );
    }
    renderHeader();
  }

  function renderHeader() {
    const channel = findChannel(state.channel);
    const user = findUser(state.user);
    $("channel-title").textContent = channel ? `${channel.is_im ? "" : channel.is_private ? "🔒 " : "# "}${channelLabel(channel)}` : "No channel";
    document.title = channel ? `${channel.is_im ? "" : "#"}${channelLabel(channel)} — Local Slack` : "Local Slack";
    const notes = [];
    if (channel && !channel.is_im && !channel.bot_member) notes.push(el("span", { class: "note-pill warn" }, "algobot is not in this channel"));
    if (channel && channel.is_archived) notes.push(el("span", { class: "note-pill warn" }, "archived"));
    if (channel && channel.members) notes.push(el("span", { class: "note-pill" }, `${channel.members.length} members`));
    $("channel-notes").replaceChildren(...notes);
    const composer = $("composer");
    const member = channel && user && isMember(channel, user.id);
    composer.disabled = !member || (channel && channel.is_archived);
    $("send").disabled = composer.disabled;
    composer.placeholder = !channel
      ? "No channel"
      : !member
        ? `${user ? user.name : "This user"} is not a member of ${channelLabel(channel)}`
        : `Message ${channel.is_im ? "" : "#"}${channelLabel(channel)} as ${user.name} — try /algo help`;
  }

  function rememberSelection() {
    const params = new URLSearchParams(location.search);
    if (state.user) params.set("user", state.user);
    if (state.channel) params.set("channel", state.channel);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  function selectChannel(id) {
    toggleSidebar(false);
    if (id === state.channel) return;
    state.channel = id;
    state.workspaceSig = "";
    rememberSelection();
    applyWorkspace(state.workspace);
    scheduleRefresh();
    $("composer").focus();
  }

  function selectUser(id) {
    if (id === state.user) return;
    state.user = id;
    state.workspaceSig = "";
    $("modal-root").replaceChildren();
    state.modal = null;
    applyWorkspace(state.workspace);
    rememberSelection();
    scheduleRefresh();
  }

  async function send() {
    const composer = $("composer");
    const text = composer.value;
    if (!text.trim() || composer.disabled) return;
    const slash = /^\s*(\/[^\s]+)(?:\s+([\s\S]*))?$/.exec(text);
    composer.value = "";
    autosize();
    const status = $("composer-status");
    status.textContent = slash ? `Sending ${slash[1]}…` : "Sending…";
    try {
      if (slash) {
        state.history.push(text.trim());
        await api("/_ui/command", { user: state.user, channel: state.channel, command: slash[1], text: (slash[2] || "").trim() });
      } else {
        await api("/_ui/message", { user: state.user, channel: state.channel, text });
      }
      status.textContent = "";
    } catch (error) {
      status.textContent = "";
      toast(error.message, "error");
      if (!composer.value) {
        composer.value = text;
        autosize();
      }
    }
  }

  // ------------------------------------------------------------------ @mention / #channel autocomplete

  // What Slack's composer does: typing @ or # offers people or channels; picking one writes @name or
  // #name, which the local Slack turns into <@U…|name> / <#C…|name> when it sends the message or the
  // slash command ("Escape channels, users, and links"; see ui.py).
  const mention = { items: [], index: 0, start: 0, end: 0 };

  function mentionCandidates() {
    const composer = $("composer");
    const caret = composer.selectionStart;
    const before = composer.value.slice(0, caret);
    const typed = /(?:^|[\s(])([@#])([\w.-]*)$/u.exec(before);
    if (!typed) return null;
    const query = typed[2].toLowerCase();
    const starts = (text) => String(text || "").toLowerCase().split(/[\s()]+/).some((word) => word.startsWith(query));
    const items = typed[1] === "@"
      ? users()
        .filter((u) => !u.is_bot && !u.deleted && (u.name.toLowerCase().startsWith(query) || starts(u.real_name)))
        .map((u) => ({ kind: "user", id: u.id, insert: `@${u.name}`, label: `@${u.name}`, detail: u.real_name }))
      : channels()
        .filter((c) => !c.is_im && c.name.toLowerCase().startsWith(query))
        .map((c) => ({ kind: "channel", id: c.id, insert: `#${c.name}`, label: `#${c.name}`, detail: c.is_private ? "private" : "" }));
    return { items: items.slice(0, 8), start: caret - typed[2].length - 1, end: caret };
  }

  function updateMentionMenu() {
    const found = mentionCandidates();
    const list = $("mention-menu");
    if (!found || !found.items.length) {
      closeMentionMenu();
      return;
    }
    const same = mention.items.map((i) => i.id).join() === found.items.map((i) => i.id).join();
    Object.assign(mention, found, { index: same ? Math.min(mention.index, found.items.length - 1) : 0 });
    list.replaceChildren(
      ...found.items.map((item, i) =>
        el(
          "li",
          {
            role: "option",
            class: "mention-option",
            "data-testid": "mention-option",
            "data-user-id": item.kind === "user" ? item.id : null,
            "data-channel-id": item.kind === "channel" ? item.id : null,
            "aria-selected": i === mention.index ? "true" : "false",
            onmousedown: (event) => {
              event.preventDefault(); // keep the composer's focus and caret
              pickMention(i);
            },
          },
          el("b", {}, item.label),
          item.detail ? el("span", { class: "mention-detail" }, item.detail) : null,
        ),
      ),
    );
    list.hidden = false;
    $("composer").setAttribute("aria-expanded", "true");
  }

  function closeMentionMenu() {
    mention.items = [];
    $("mention-menu").hidden = true;
    $("mention-menu").replaceChildren();
    $("composer").setAttribute("aria-expanded", "false");
  }

  function pickMention(i) {
    const item = mention.items[i];
    if (!item) return;
    const composer = $("composer");
    const value = composer.value;
    const after = value.slice(mention.end);
    const insert = item.insert + (after.startsWith(" ") ? "" : " ");
    composer.value = value.slice(0, mention.start) + insert + after;
    const caret = mention.start + insert.length;
    composer.setSelectionRange(caret, caret);
    closeMentionMenu();
    autosize();
    composer.focus();
  }

  /** Keys for the open menu: arrows move, Enter or Tab picks, Escape closes. True when handled. */
  function mentionKey(event) {
    if ($("mention-menu").hidden || !mention.items.length) return false;
    const count = mention.items.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      mention.index = (mention.index + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      updateMentionMenu();
    } else if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
      pickMention(mention.index);
    } else if (event.key === "Escape") {
      closeMentionMenu();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  // ------------------------------------------------------------------ narrow screens: the sidebar as a drawer

  function toggleSidebar(open) {
    const app = $("app");
    const show = open === undefined ? !app.classList.contains("sidebar-open") : open;
    app.classList.toggle("sidebar-open", show);
    $("sidebar-toggle").setAttribute("aria-expanded", show ? "true" : "false");
  }

  function autosize() {
    const composer = $("composer");
    composer.style.height = "auto";
    composer.style.height = `${Math.min(composer.scrollHeight, 200)}px`;
  }

  // ------------------------------------------------------------------ refresh and long poll

  let refreshing = null;
  let again = false;

  function scheduleRefresh() {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        again = false;
        try {
          await refresh();
        } catch (error) {
          setConnection("offline", error.message);
          await sleep(1000);
        }
      } while (again);
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  async function refresh() {
    applyWorkspace(await api("/_ui/workspace"));
    const user = state.user;
    const channel = state.channel;
    if (!user || !channel) return;
    const [messages, views] = await Promise.all([
      api(`/_ui/channels/${encodeURIComponent(channel)}/messages?user=${encodeURIComponent(user)}`),
      api(`/_ui/views?user=${encodeURIComponent(user)}`),
    ]);
    if (user !== state.user || channel !== state.channel) {
      again = true; // switched meanwhile: render the new selection instead
      return;
    }
    renderMessages(messages.messages);
    renderModal(views.views);
  }

  function setConnection(kind, detail) {
    const node = $("connection");
    node.dataset.state = kind;
    node.querySelector(".connection-text").textContent =
      kind === "live" ? "Live" : kind === "offline" ? "Reconnecting…" : "Connecting…";
    node.title = detail || "";
  }

  async function poll() {
    for (;;) {
      try {
        const answer = await api(`/_ui/changes?since=${state.version}&timeout=${LONG_POLL_SECONDS}`);
        setConnection("live");
        if (answer.version !== state.version) {
          state.version = answer.version;
          await scheduleRefresh();
        }
      } catch (error) {
        setConnection("offline", error.message);
        await sleep(1000);
      }
    }
  }

  async function start() {
    $("user-switcher").addEventListener("change", (event) => selectUser(event.target.value));
    $("composer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    const composer = $("composer");
    composer.addEventListener("input", () => {
      autosize();
      updateMentionMenu();
    });
    composer.addEventListener("click", updateMentionMenu);
    composer.addEventListener("blur", closeMentionMenu);
    $("sidebar-toggle").addEventListener("click", () => toggleSidebar());
    $("sidebar-scrim").addEventListener("click", () => toggleSidebar(false));
    composer.addEventListener("keydown", (event) => {
      if (mentionKey(event)) return;
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        send();
      } else if (event.key === "ArrowUp" && !composer.value && state.history.length) {
        event.preventDefault();
        composer.value = state.history[state.history.length - 1];
        autosize();
      }
    });
    for (;;) {
      try {
        const workspace = await api("/_ui/workspace");
        state.version = workspace.version;
        applyWorkspace(workspace);
        rememberSelection();
        break;
      } catch (error) {
        setConnection("offline", error.message);
        await sleep(1000);
      }
    }
    await scheduleRefresh();
    setConnection("live");
    document.body.dataset.ready = "true";
    poll();
  }

  start();
})();
