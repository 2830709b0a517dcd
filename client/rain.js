/*
 * rain.js: RAIN's client messaging helper for pages served by raind.
 *
 * Load it after the Socket.IO client bundle:
 *
 *	<script src="/socket.io/socket.io.min.js"></script>
 *	<script src="/rain.js"></script>
 *	<script>
 *	var messaging = Rain.context().messaging;	// from /<id>/<version>/
 *	var socket = messaging.getSocket("chat");	// /<id>/<version>/chat
 *	socket.on("hello", function (msg) { ... });
 *	socket.emit("new-message", { text: "hi" }, function (err, value) { ... });
 *	</script>
 *
 * Rain.context(id, version) gives { messaging: { getSocket(channel) } };
 * without arguments id and version come from the page's address,
 * /<id>/<version>/...  A relative channel is put under /<id>/<version>/;
 * one that starts with "/" is a namespace as it is.  getSocket returns one
 * object per namespace, the same one every time, and every namespace of
 * the page shares one connection (one Socket.IO Manager).
 *
 * As RAIN's getSocket did, an emit made before the connection is up is
 * queued and sent on connect, an acknowledgement arrives as (err, value),
 * and after the server disconnected the socket (RAIN's idle rule) the
 * next emit connects it again by itself.
 *
 * Rain.configure(url, options), before the first getSocket, names another
 * server than the page's and passes options to the Socket.IO Manager
 * (transports, reconnection, ...).
 */
(function (root) {
	"use strict";

	var PREFIX_RE = /^\/([^\/]+)\/([^\/]+)\//;
	var settings = { url: undefined, options: {} };
	var manager = null;
	var sockets = {};

	function getManager() {
		var url, opts, k;

		if (manager !== null)
			return (manager);
		if (typeof root.io !== "function" || typeof root.io.Manager !== "function")
			throw new Error("rain.js: load /socket.io/socket.io.min.js first");
		url = settings.url !== undefined ? settings.url :
		    root.location.protocol + "//" + root.location.host;
		opts = {};
		for (k in settings.options)
			if (Object.prototype.hasOwnProperty.call(settings.options, k))
				opts[k] = settings.options[k];
		manager = new root.io.Manager(url, opts);
		return (manager);
	}

	/*
	 * One namespace: the Socket.IO socket, plus RAIN's rule that an emit
	 * after a server-side disconnect reconnects.
	 */
	function RainSocket(nsp) {
		this.nsp = nsp;
		this.socket = getManager().socket(nsp);
		this.io = this.socket.io;
	}

	RainSocket.prototype.emit = function () {
		var s = this.socket;

		/*
		 * Socket.IO queues emits while disconnected, but after a
		 * disconnect by the server ("io server disconnect") it does
		 * not come back by itself: RAIN's getSocket did.
		 */
		if (!s.connected && !s.active)
			s.connect();
		s.emit.apply(s, arguments);
		return (this);
	};
	RainSocket.prototype.on = function (event, fn) {
		this.socket.on(event, fn);
		return (this);
	};
	RainSocket.prototype.once = function (event, fn) {
		this.socket.once(event, fn);
		return (this);
	};
	RainSocket.prototype.off = function (event, fn) {
		this.socket.off(event, fn);
		return (this);
	};
	RainSocket.prototype.connect = function () {
		this.socket.connect();
		return (this);
	};
	RainSocket.prototype.disconnect = function () {
		this.socket.disconnect();
		return (this);
	};
	Object.defineProperty(RainSocket.prototype, "connected", {
		get: function () { return (this.socket.connected); }
	});
	Object.defineProperty(RainSocket.prototype, "id", {
		get: function () { return (this.socket.id); }
	});

	function getSocket(prefix, channel) {
		var nsp;

		if (typeof channel !== "string" || channel === "")
			throw new Error("rain.js: getSocket needs a channel");
		if (channel.charAt(0) === "/")
			nsp = channel;
		else {
			if (prefix === null)
				throw new Error("rain.js: no /<id>/<version>/ for \"" +
				    channel + "\": give Rain.context(id, version)");
			nsp = prefix + channel;
		}
		if (!Object.prototype.hasOwnProperty.call(sockets, nsp))
			sockets[nsp] = new RainSocket(nsp);
		return (sockets[nsp]);
	}

	function context(id, version) {
		var prefix = null, m;

		if (id !== undefined && version !== undefined)
			prefix = "/" + id + "/" + version + "/";
		else if ((m = PREFIX_RE.exec(root.location.pathname)) !== null)
			prefix = "/" + m[1] + "/" + m[2] + "/";
		return ({
			id: prefix !== null ? prefix.split("/")[1] : undefined,
			version: prefix !== null ? prefix.split("/")[2] : undefined,
			messaging: {
				getSocket: function (channel) {
					return (getSocket(prefix, channel));
				}
			}
		});
	}

	function configure(url, options) {
		if (manager !== null)
			throw new Error("rain.js: configure before the first getSocket");
		settings.url = url;
		settings.options = options || {};
	}

	root.Rain = { context: context, configure: configure };
})(typeof window !== "undefined" ? window : this);
