/*
 * loadgen.c: a load generator for Socket.IO v4 servers (Engine.IO protocol
 * 4, Socket.IO protocol 5) over raw WebSocket, for t/bench/run.sh.
 *
 *	loadgen -m echo|idle|broadcast [-c conns] [-p port] [options]
 *
 * It speaks the wire protocol itself, so the client side costs little and
 * the same client measures every server: the WebSocket opening handshake,
 * the Engine.IO open packet, answers to the server's pings, the namespace
 * CONNECT, then one of three workloads:
 *
 *  echo	every connection sends an `echo` event and waits for the
 *		server's `echo` back before sending the next one (a closed
 *		loop); throughput and the latency histogram are taken over
 *		a window that follows a warm-up.
 *  idle	the connections are opened and held; "READY n" is printed
 *		once all are connected, and the process waits for SIGTERM,
 *		SIGINT or SIGUSR1 (or the hold limit) so that the caller can
 *		read the server's memory in between.
 *  broadcast	connection 0 also emits `broadcast` events with an ack id,
 *		keeping at most a window of them in flight; every connection,
 *		the sender included, counts the deliveries.
 *
 * Every phase has a time limit and the whole run a hard deadline.  With -S
 * the CPU time the server processes spent during the measured window is
 * read from /proc/<pid>/stat and reported per operation; with -K, the busy
 * time of the core the server is pinned to, from /proc/stat.  The last
 * line printed is "RESULT key=value ...", for scripts.
 *
 * Frames sent (namespace N, default /echo/1.0/echo; P the payload):
 *	GET <path>?EIO=4&transport=websocket	the WebSocket upgrade
 *	40N,					after the server's 0{...}
 *	3<data>					for each ping 2<data>
 *	42N,["echo","P"]			echo, after 40N,{...}
 *	42N,<id>["broadcast","P"]		broadcast, ids 0, 1, 2, ...
 * and expected back: 42N,["echo","P"] (the same text), 42N,["broadcast",
 * "P"] on every connection, 43N,<id>[true] in order on the sender.  Other
 * packets (the `hello` event on connect, noops) are ignored.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "log.h"
#include "ws_frame.h"
#include "xmalloc.h"

/* Defaults of the options. */
#define LG_HOST_DEFAULT		"127.0.0.1"
#define LG_PATH_DEFAULT		"/socket.io/"
#define LG_NSP_DEFAULT		"/echo/1.0/echo"
#define LG_CONNS_DEFAULT	100
#define LG_DURATION_DEFAULT	10	/* s measured */
#define LG_WARMUP_DEFAULT	2	/* s before the measured window */
#define LG_PAYLOAD_DEFAULT	32	/* characters of the string sent */
#define LG_WINDOW_DEFAULT	8	/* broadcasts in flight */
#define LG_PENDING_DEFAULT	256	/* handshakes in progress at once */
#define LG_CONNECT_TIMEOUT	60	/* s for every connection to be ready */
#define LG_HOLD_DEFAULT		600	/* s the idle mode holds at most */

/* Limits. */
#define LG_DURATION_MAX		3600	/* s, for -d, -w, -t and -l */
#define LG_PAYLOAD_MAX		(512 * 1024)
#define LG_WINDOW_MAX		4096
#define LG_PIDS_MAX		16	/* -S */
#define LG_HEADERS_MAX		8	/* -A */
#define LG_FDS_SPARE		32	/* descriptors kept for everything else */
#define LG_HTTP_HEAD_MAX	8192	/* the server's handshake answer */
#define LG_MESSAGE_MAX		(16 * 1024 * 1024)	/* one server message */
#define LG_DRAIN_TIMEOUT	2	/* s to collect answers after the window */
#define LG_DEADLINE_SLACK	10	/* s past the planned end: give up */
#define LG_ERRORS_SHOWN		5	/* connection errors printed in full */
#define LG_READ_BUF		(256 * 1024)	/* one read(2) at most */

/* The WebSocket opening handshake. */
#define WS_NONCE_LEN		16
#define HTTP_SWITCHING		"HTTP/1.1 101"
#define HDR_ACCEPT		"sec-websocket-accept:"	/* lower case */

/* Event arguments the load is made of. */
#define ARGS_ECHO		"[\"echo\","
#define ARGS_BROADCAST		"[\"broadcast\","
#define ACK_TRUE		"[true]"
#define STRLEN(s)		(sizeof(s) - 1)

/* Engine.IO packet types (text frames start with the digit). */
#define EIO_OPEN_CH		'0'
#define EIO_CLOSE_CH		'1'
#define EIO_PING_CH		'2'
#define EIO_PONG_CH		'3'
#define EIO_MESSAGE_CH		'4'

/* Socket.IO packet types, after the Engine.IO message digit. */
#define SIO_CONNECT_CH		'0'
#define SIO_DISCONNECT_CH	'1'
#define SIO_EVENT_CH		'2'
#define SIO_ACK_CH		'3'
#define SIO_CONNECT_ERROR_CH	'4'

/*
 * Latency histogram in microseconds: exact below HIST_LINEAR, then
 * HIST_SUB buckets per power of two, i.e. within about 3 %, up to 2^63.
 */
#define HIST_SUB_BITS		5
#define HIST_SUB		(1 << HIST_SUB_BITS)
#define HIST_LINEAR		(2 * HIST_SUB)
#define HIST_LINEAR_BITS	(HIST_SUB_BITS + 1)
#define HIST_BUCKETS		(HIST_LINEAR + (64 - HIST_LINEAR_BITS) * HIST_SUB)

#define NSEC_PER_SEC		1000000000ULL
#define NSEC_PER_USEC		1000ULL
#define USEC_PER_SEC		1000000ULL

enum lg_mode {
	MODE_ECHO,
	MODE_IDLE,
	MODE_BROADCAST
};

enum lg_phase {
	PH_CONNECT,		/* opening the connections */
	PH_WARMUP,		/* load running, not measured yet */
	PH_MEASURE,
	PH_DRAIN,		/* no new requests, waiting for answers */
	PH_HOLD,		/* idle: connections held */
	PH_DONE			/* reported; the loop is ending */
};

enum conn_state {
	CS_CONNECTING,		/* TCP connect in progress */
	CS_UPGRADE,		/* request sent, waiting for 101 */
	CS_EIO_OPEN,		/* waiting for the Engine.IO open packet */
	CS_NSP,			/* namespace CONNECT sent, waiting for it */
	CS_READY,
	CS_DEAD
};

struct conn {
	struct lg		*c_lg;
	unsigned		 c_id;
	enum conn_state		 c_state;
	int			 c_fd;
	struct event		*c_rev;		/* readable, persistent */
	struct event		*c_wev;		/* writable: connect, c_out */
	struct evbuffer		*c_out;		/* what the socket did not take */
	unsigned char		*c_in;		/* an incomplete frame */
	size_t			 c_in_len;
	struct evbuffer		*c_frag;	/* a fragmented message */
	int			 c_frag_op;
	char			 c_key[WS_KEY_LEN + 1];
	uint64_t		 c_sent_ns;	/* echo: the request in flight */
	int			 c_waiting;	/* echo: an answer is due */
};

struct hist {
	uint64_t	h_count[HIST_BUCKETS];
	uint64_t	h_total;
	uint64_t	h_max;
};

struct cpu_mark {
	uint64_t	cm_ns;		/* CLOCK_MONOTONIC */
	uint64_t	cm_server_ticks;
	int		cm_server_ok;
	uint64_t	cm_core_ticks;	/* busy time of the server's core */
	int		cm_core_ok;
	uint64_t	cm_self_us;	/* our user + system time */
};

struct lg {
	/* Options. */
	enum lg_mode		 mode;
	const char		*host;
	const char		*port;
	const char		*path;
	const char		*nsp;
	unsigned		 nconns;
	unsigned		 duration;
	unsigned		 warmup;
	size_t			 payload;
	unsigned		 window;
	unsigned		 max_pending;
	unsigned		 connect_timeout;
	unsigned		 hold;
	pid_t			 pids[LG_PIDS_MAX];
	size_t			 npids;
	const char		*headers[LG_HEADERS_MAX];
	size_t			 nheaders;
	int			 core;		/* -K, or -1 */

	struct event_base	*base;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	struct conn		*conns;
	enum lg_phase		 phase;
	struct event		*ev_phase;	/* end of the current phase */
	struct event		*ev_deadline;
	struct event		*ev_sig[3];
	uint64_t		 rng;
	int			 status;	/* exit status */
	struct evbuffer		*scratch;	/* a frame being sent */
	unsigned char		*rbuf;		/* every read lands here */

	/* Frames we send and compare. */
	char			*nsp_prefix;	/* "/echo/1.0/echo," or "" */
	size_t			 nsp_prefix_len;
	char			*connect_msg;	/* "40/echo/1.0/echo," */
	char			*echo_msg;	/* 42...["echo","xxx"]: the answer */
	size_t			 echo_len;
	const char		*echo_event;	/* -e: the event sent */
	char			*echo_send;	/* 42...["<echo_event>","xxx"] */
	size_t			 echo_send_len;
	char			*event_prefix;	/* "42/echo/1.0/echo," */
	size_t			 event_prefix_len;
	char			*bc_args;	/* ["broadcast","xxx"] */
	size_t			 bc_args_len;
	char			*bc_buf;	/* a broadcast with its ack id */

	/* Connection phase. */
	unsigned		 opened;
	unsigned		 pending;	/* opened, not ready or dead */
	unsigned		 ready;
	unsigned		 dead;
	unsigned		 errors_shown;
	uint64_t		 start_ns;
	uint64_t		 ready_ns;

	/* Measurement. */
	struct cpu_mark		 m0, m1;
	uint64_t		 ops;		/* answers or deliveries in window */
	uint64_t		 mismatched;
	uint64_t		 errors;	/* connections lost after ready */
	struct hist		 hist;

	/* Broadcast. */
	uint64_t		 bc_sent;
	uint64_t		 bc_acked;
	uint64_t		 bc_next_ack;	/* ack id expected next */
	uint64_t		 bc_bad_acks;
	uint64_t		 deliveries;	/* all, window or not */
};

static void	usage(int) __attribute__((noreturn));
static void	lg_options(struct lg *, int, char **);
static void	lg_setup(struct lg *);
static void	lg_open_more(struct lg *);
static void	lg_phase_next(struct lg *);
static void	lg_finish(struct lg *, int);
static void	lg_report(struct lg *);
static void	conn_open(struct lg *, struct conn *);
static void	conn_fail(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	conn_send_text(struct conn *, const void *, size_t);
static void	bc_try_send(struct lg *);

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec);
}

/* xorshift64*: masks and handshake nonces need no cryptographic quality. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * 2685821657736338717ULL);
}

static unsigned
hist_index(uint64_t v)
{
	unsigned msb;

	if (v < HIST_LINEAR)
		return ((unsigned)v);
	msb = 63 - (unsigned)__builtin_clzll(v);
	return (HIST_LINEAR + (msb - HIST_LINEAR_BITS) * HIST_SUB +
	    (unsigned)((v >> (msb - HIST_SUB_BITS)) - HIST_SUB));
}

/* The largest value that falls into bucket i. */
static uint64_t
hist_value(unsigned i)
{
	unsigned msb, k, shift;

	if (i < HIST_LINEAR)
		return (i);
	k = i - HIST_LINEAR;
	msb = k / HIST_SUB + HIST_LINEAR_BITS;
	shift = msb - HIST_SUB_BITS;
	return ((((uint64_t)(k % HIST_SUB + HIST_SUB + 1)) << shift) - 1);
}

static void
hist_add(struct hist *h, uint64_t v)
{
	h->h_count[hist_index(v)]++;
	h->h_total++;
	if (v > h->h_max)
		h->h_max = v;
}

/* The value below which a fraction q of the samples lie (bucket bound). */
static uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t	want, seen = 0;
	unsigned	i;

	if (h->h_total == 0)
		return (0);
	want = (uint64_t)(q * (double)h->h_total + 0.5);
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->h_count[i];
		if (seen >= want)
			return (hist_value(i) < h->h_max ? hist_value(i) :
			    h->h_max);
	}
	return (h->h_max);
}

/*
 * utime + stime of a process (all its threads) in clock ticks, from
 * /proc/<pid>/stat; -1 when it cannot be read.  The command name may hold
 * blanks and parentheses, so fields are counted from the last ')'.
 */
static int
proc_cpu_ticks(pid_t pid, uint64_t *ticks)
{
	char			 path[64], buf[1024], *p;
	FILE			*f;
	size_t			 n;
	unsigned long long	 ut, st;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	/* After ")": state(3) ... utime(14) stime(15). */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return (-1);
	*ticks = ut + st;
	return (0);
}

/*
 * Busy time of one core in clock ticks, from /proc/stat: everything but
 * idle, iowait and steal.  Unlike the process times it includes the
 * softirq work done on that core, which is where the kernel accounts much
 * of loopback TCP (the receive side of what the server sends) when it
 * keeps interrupt time apart from task time.
 */
static int
proc_core_ticks(int core, uint64_t *ticks)
{
	char			 line[512], name[16];
	FILE			*f;
	unsigned long long	 v[8];
	int			 found = -1;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return (-1);
	snprintf(name, sizeof(name), "cpu%d ", core);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, name, strlen(name)) != 0)
			continue;
		/* user nice system idle iowait irq softirq steal */
		if (sscanf(line + strlen(name), "%llu %llu %llu %llu %llu %llu "
		    "%llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		    &v[7]) == 8) {
			*ticks = v[0] + v[1] + v[2] + v[5] + v[6];
			found = 0;
		}
		break;
	}
	fclose(f);
	return (found);
}

static void
cpu_mark(struct lg *lg, struct cpu_mark *m)
{
	struct rusage	ru;
	uint64_t	t;
	size_t		i;

	m->cm_ns = now_ns();
	m->cm_server_ticks = 0;
	m->cm_server_ok = lg->npids > 0;
	for (i = 0; i < lg->npids; i++) {
		if (proc_cpu_ticks(lg->pids[i], &t) == -1) {
			log_warnx("cannot read /proc/%ld/stat",
			    (long)lg->pids[i]);
			m->cm_server_ok = 0;
			break;
		}
		m->cm_server_ticks += t;
	}
	m->cm_core_ok = lg->core >= 0 &&
	    proc_core_ticks(lg->core, &m->cm_core_ticks) == 0;
	getrusage(RUSAGE_SELF, &ru);
	m->cm_self_us = (uint64_t)ru.ru_utime.tv_sec * USEC_PER_SEC +
	    (uint64_t)ru.ru_utime.tv_usec +
	    (uint64_t)ru.ru_stime.tv_sec * USEC_PER_SEC +
	    (uint64_t)ru.ru_stime.tv_usec;
}

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
"usage: loadgen -m echo|idle|broadcast [-c conns] [-H host] [-p port]\n"
"               [-P path] [-n namespace] [-d seconds] [-w seconds]\n"
"               [-s bytes] [-k window] [-C pending] [-t seconds] [-e event]\n"
"               [-l seconds] [-S pid ...] [-K cpu] [-A header ...]\n"
"  -m mode       echo: closed-loop echo events, latency and rate\n"
"                idle: open and hold, print READY, wait for a signal\n"
"                broadcast: connection 0 emits broadcast events, all count\n"
"  -c conns      connections (default %d)\n"
"  -H host       server address (default %s)\n"
"  -p port       server port (required)\n"
"  -P path       Engine.IO path (default %s)\n"
"  -n namespace  Socket.IO namespace (default %s)\n"
"  -d seconds    measured window (default %d)\n"
"  -w seconds    warm-up before it (default %d)\n"
"  -s bytes      length of the string payload (default %d)\n"
"  -e event      echo: the event sent; the answer is still \"echo\"\n"
"  -k window     broadcasts in flight (default %d)\n"
"  -C pending    handshakes in progress at once (default %d)\n"
"  -t seconds    time allowed for all connections to be ready (default %d)\n"
"  -l seconds    idle: longest hold before exiting (default %d)\n"
"  -S pid        a server process whose CPU time to report (repeatable)\n"
"  -K cpu        the core the server is pinned to: report its busy time\n"
"  -A header     one more request header, \"Name: value\" (repeatable)\n"
"  -h            this help\n",
	    LG_CONNS_DEFAULT, LG_HOST_DEFAULT, LG_PATH_DEFAULT, LG_NSP_DEFAULT,
	    LG_DURATION_DEFAULT, LG_WARMUP_DEFAULT, LG_PAYLOAD_DEFAULT,
	    LG_WINDOW_DEFAULT, LG_PENDING_DEFAULT, LG_CONNECT_TIMEOUT,
	    LG_HOLD_DEFAULT);
	exit(status);
}

static unsigned long
num_arg(const char *s, unsigned long min, unsigned long max, int opt)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' ||
	    v < min || v > max)
		fatalx("-%c: %s is not a number from %lu to %lu", opt, s,
		    min, max);
	return (v);
}

static void
lg_options(struct lg *lg, int argc, char **argv)
{
	int ch;

	lg->mode = MODE_ECHO;
	lg->host = LG_HOST_DEFAULT;
	lg->port = NULL;
	lg->path = LG_PATH_DEFAULT;
	lg->nsp = LG_NSP_DEFAULT;
	lg->echo_event = "echo";
	lg->nconns = LG_CONNS_DEFAULT;
	lg->duration = LG_DURATION_DEFAULT;
	lg->warmup = LG_WARMUP_DEFAULT;
	lg->payload = LG_PAYLOAD_DEFAULT;
	lg->window = LG_WINDOW_DEFAULT;
	lg->max_pending = LG_PENDING_DEFAULT;
	lg->connect_timeout = LG_CONNECT_TIMEOUT;
	lg->hold = LG_HOLD_DEFAULT;
	lg->npids = 0;
	lg->core = -1;

	while ((ch = getopt(argc, argv, "A:c:C:d:e:hH:k:K:l:m:n:p:P:s:S:t:w:")) !=
	    -1) {
		switch (ch) {
		case 'A':
			if (lg->nheaders == LG_HEADERS_MAX)
				fatalx("-A: at most %d headers", LG_HEADERS_MAX);
			if (strchr(optarg, ':') == NULL ||
			    strpbrk(optarg, "\r\n") != NULL)
				fatalx("-A: want \"Name: value\" on one line");
			lg->headers[lg->nheaders++] = optarg;
			break;
		case 'c':
			lg->nconns = num_arg(optarg, 1, INT_MAX, ch);
			break;
		case 'C':
			lg->max_pending = num_arg(optarg, 1, INT_MAX, ch);
			break;
		case 'd':
			lg->duration = num_arg(optarg, 1, LG_DURATION_MAX, ch);
			break;
		case 'e':
			if (strpbrk(optarg, "\"\\") != NULL || optarg[0] == '\0')
				fatalx("-e: an event name without quotes or "
				    "backslashes");
			lg->echo_event = optarg;
			break;
		case 'h':
			usage(0);
		case 'H':
			lg->host = optarg;
			break;
		case 'k':
			lg->window = num_arg(optarg, 1, LG_WINDOW_MAX, ch);
			break;
		case 'K':
			lg->core = (int)num_arg(optarg, 0, CPU_SETSIZE - 1, ch);
			break;
		case 'l':
			lg->hold = num_arg(optarg, 1, LG_DURATION_MAX, ch);
			break;
		case 'm':
			if (strcmp(optarg, "echo") == 0)
				lg->mode = MODE_ECHO;
			else if (strcmp(optarg, "idle") == 0)
				lg->mode = MODE_IDLE;
			else if (strcmp(optarg, "broadcast") == 0)
				lg->mode = MODE_BROADCAST;
			else
				fatalx("-m: unknown mode %s", optarg);
			break;
		case 'n':
			if (optarg[0] != '/' || strchr(optarg, ',') != NULL)
				fatalx("-n: a namespace starts with / and "
				    "holds no comma");
			lg->nsp = optarg;
			break;
		case 'p':
			num_arg(optarg, 1, 65535, ch);
			lg->port = optarg;
			break;
		case 'P':
			if (optarg[0] != '/')
				fatalx("-P: a path starts with /");
			lg->path = optarg;
			break;
		case 's':
			lg->payload = num_arg(optarg, 0, LG_PAYLOAD_MAX, ch);
			break;
		case 'S':
			if (lg->npids == LG_PIDS_MAX)
				fatalx("-S: at most %d processes", LG_PIDS_MAX);
			lg->pids[lg->npids++] = (pid_t)num_arg(optarg, 1,
			    INT_MAX, ch);
			break;
		case 't':
			lg->connect_timeout = num_arg(optarg, 1,
			    LG_DURATION_MAX, ch);
			break;
		case 'w':
			lg->warmup = num_arg(optarg, 0, LG_DURATION_MAX, ch);
			break;
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);
	if (lg->port == NULL) {
		fprintf(stderr, "loadgen: -p port is required\n");
		usage(1);
	}
}

/*
 * One descriptor per connection: raise the soft limit to the hard one and
 * refuse a count that cannot fit rather than fail half-way.  The caller
 * spreads larger counts over several processes.
 */
static void
lg_check_fds(struct lg *lg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit");
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)lg->nconns + LG_FDS_SPARE > rl.rlim_cur)
		fatalx("%u connections need more than the %llu descriptors "
		    "a process may open; run several loadgen processes",
		    lg->nconns, (unsigned long long)rl.rlim_cur);
}

static char *
repeat_x(size_t n)
{
	char *s;

	s = xmalloc(n + 1);
	memset(s, 'x', n);
	s[n] = '\0';
	return (s);
}

/* The frames sent and the prefixes looked for, built once. */
static void
lg_build_messages(struct lg *lg)
{
	char *x;

	/* The default namespace "/" is implied: no prefix and no comma. */
	if (strcmp(lg->nsp, "/") == 0)
		lg->nsp_prefix = xstrdup("");
	else
		xasprintf(&lg->nsp_prefix, "%s,", lg->nsp);
	lg->nsp_prefix_len = strlen(lg->nsp_prefix);
	xasprintf(&lg->connect_msg, "%c%c%s", EIO_MESSAGE_CH, SIO_CONNECT_CH,
	    lg->nsp_prefix);
	xasprintf(&lg->event_prefix, "%c%c%s", EIO_MESSAGE_CH, SIO_EVENT_CH,
	    lg->nsp_prefix);
	lg->event_prefix_len = strlen(lg->event_prefix);

	x = repeat_x(lg->payload);
	xasprintf(&lg->echo_msg, "%s" ARGS_ECHO "\"%s\"]", lg->event_prefix, x);
	lg->echo_len = strlen(lg->echo_msg);
	xasprintf(&lg->echo_send, "%s[\"%s\",\"%s\"]", lg->event_prefix,
	    lg->echo_event, x);
	lg->echo_send_len = strlen(lg->echo_send);
	xasprintf(&lg->bc_args, ARGS_BROADCAST "\"%s\"]", x);
	lg->bc_args_len = strlen(lg->bc_args);
	/* Prefix, an ack id of up to 20 digits, the arguments. */
	lg->bc_buf = xmalloc(lg->event_prefix_len + 20 + lg->bc_args_len + 1);
	free(x);
}

static void
lg_resolve(struct lg *lg)
{
	struct addrinfo	 hints, *res;
	int		 error;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(lg->host, lg->port, &hints, &res)) != 0)
		fatalx("%s port %s: %s", lg->host, lg->port,
		    gai_strerror(error));
	memcpy(&lg->addr, res->ai_addr, res->ai_addrlen);
	lg->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* ------------------------------------------------------------------ */
/* Phases and timers. */

static void
timer_arm(struct event *ev, unsigned sec)
{
	struct timeval tv = { (time_t)sec, 0 };

	evtimer_add(ev, &tv);
}

static void
lg_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;

	(void)fd;
	(void)what;
	log_warnx("hard deadline reached in phase %d: giving up", lg->phase);
	lg_finish(lg, 2);
}

static void
lg_phase_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;

	(void)fd;
	(void)what;
	if (lg->phase == PH_CONNECT) {
		log_warnx("only %u of %u connections ready after %u s "
		    "(%u failed)", lg->ready, lg->nconns, lg->connect_timeout,
		    lg->dead);
		lg_finish(lg, 1);
		return;
	}
	if (lg->phase == PH_HOLD) {
		/* The hold limit: the caller forgot us. */
		log_warnx("idle hold of %u s over", lg->hold);
		lg_finish(lg, 0);
		return;
	}
	lg_phase_next(lg);
}

static void
lg_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct lg *lg = arg;

	(void)what;
	if (lg->phase == PH_HOLD) {
		lg_finish(lg, 0);
		return;
	}
	log_warnx("signal %d: stopping early", (int)sig);
	lg_finish(lg, 1);
}

/* Is every answer in? Then the drain phase may end at once. */
static int
lg_drained(struct lg *lg)
{
	unsigned i;

	if (lg->mode == MODE_BROADCAST)
		return (lg->bc_acked == lg->bc_sent &&
		    lg->deliveries == lg->bc_sent * lg->ready);
	for (i = 0; i < lg->opened; i++)
		if (lg->conns[i].c_waiting)
			return (0);
	return (1);
}

/* In the drain phase, end the run as soon as the last answer is in. */
static void
lg_drain_check(struct lg *lg)
{
	if (lg->phase == PH_DRAIN && lg_drained(lg))
		lg_finish(lg, 0);
}

static void
lg_start_load(struct lg *lg)
{
	unsigned i;

	if (lg->mode == MODE_ECHO) {
		for (i = 0; i < lg->nconns; i++) {
			struct conn *c = &lg->conns[i];

			if (c->c_state != CS_READY)
				continue;
			c->c_sent_ns = now_ns();
			c->c_waiting = 1;
			conn_send_text(c, lg->echo_send, lg->echo_send_len);
		}
	} else
		bc_try_send(lg);
}

/* Move on: connect -> warm-up -> measure -> drain -> report. */
static void
lg_phase_next(struct lg *lg)
{
	switch (lg->phase) {
	case PH_CONNECT:
		lg->ready_ns = now_ns();
		printf("connected: %u connections in %.2f s\n", lg->ready,
		    (double)(lg->ready_ns - lg->start_ns) / NSEC_PER_SEC);
		if (lg->mode == MODE_IDLE) {
			lg->phase = PH_HOLD;
			printf("READY %u\n", lg->ready);
			fflush(stdout);
			timer_arm(lg->ev_phase, lg->hold);
			event_del(lg->ev_deadline);
			timer_arm(lg->ev_deadline, lg->hold + LG_DEADLINE_SLACK);
			return;
		}
		lg->phase = PH_WARMUP;
		fflush(stdout);
		event_del(lg->ev_deadline);
		timer_arm(lg->ev_deadline, lg->warmup + lg->duration +
		    LG_DRAIN_TIMEOUT + LG_DEADLINE_SLACK);
		lg_start_load(lg);
		if (lg->warmup > 0) {
			timer_arm(lg->ev_phase, lg->warmup);
			return;
		}
		/* FALLTHROUGH */
	case PH_WARMUP:
		lg->phase = PH_MEASURE;
		lg->ops = 0;
		cpu_mark(lg, &lg->m0);
		timer_arm(lg->ev_phase, lg->duration);
		return;
	case PH_MEASURE:
		cpu_mark(lg, &lg->m1);
		lg->phase = PH_DRAIN;
		if (lg_drained(lg)) {
			lg_finish(lg, 0);
			return;
		}
		timer_arm(lg->ev_phase, LG_DRAIN_TIMEOUT);
		return;
	case PH_DRAIN:
		/* A server that loses messages fails the run. */
		log_warnx("answers still missing %d s after the window",
		    LG_DRAIN_TIMEOUT);
		lg_finish(lg, 1);
		return;
	case PH_HOLD:
	case PH_DONE:
		return;
	}
}

static void
lg_finish(struct lg *lg, int status)
{
	if (lg->phase == PH_DONE)
		return;
	if (lg->phase == PH_MEASURE)
		cpu_mark(lg, &lg->m1);
	lg->phase = PH_DONE;
	if (status > lg->status)
		lg->status = status;
	lg_report(lg);
	event_base_loopbreak(lg->base);
}

/* ------------------------------------------------------------------ */
/* Connections. */

/*
 * Send what src holds: straight to the socket (one writev) when nothing
 * is queued, the rest into the connection's queue for the write event.
 * Writing directly, rather than through a bufferevent, spares two
 * epoll_ctl calls and an ioctl per message, which would otherwise make
 * the load generator, not the server, the bottleneck.  Empties src.
 */
static void
conn_write_buffer(struct conn *c, struct evbuffer *src)
{
	int n;

	if (c->c_state == CS_DEAD) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return;
	}
	if (c->c_out != NULL && evbuffer_get_length(c->c_out) > 0) {
		evbuffer_add_buffer(c->c_out, src);
		return;
	}
	n = evbuffer_write(src, c->c_fd);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		evbuffer_drain(src, evbuffer_get_length(src));
		conn_fail(c, "write: %s", strerror(errno));
		return;
	}
	if (evbuffer_get_length(src) == 0)
		return;
	if (c->c_out == NULL && (c->c_out = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	evbuffer_add_buffer(c->c_out, src);
	event_add(c->c_wev, NULL);
}

/* A masked frame (clients must mask), built in the shared scratch buffer. */
static void
conn_send_frame(struct conn *c, int opcode, const void *data, size_t len)
{
	struct lg	*lg = c->c_lg;
	uint64_t	 r = rng_next(&lg->rng);
	unsigned char	 mask[WS_MASK_LEN];

	memcpy(mask, &r, sizeof(mask));
	if (ws_frame_append_masked(lg->scratch, opcode, 1, mask, data,
	    len) == -1)
		fatalx("cannot build a frame");
	conn_write_buffer(c, lg->scratch);
}

static void
conn_send_text(struct conn *c, const void *data, size_t len)
{
	conn_send_frame(c, WS_OP_TEXT, data, len);
}

static void
conn_close(struct conn *c)
{
	if (c->c_fd != -1) {
		event_free(c->c_rev);
		event_free(c->c_wev);
		close(c->c_fd);
		c->c_fd = -1;
	}
	if (c->c_out != NULL) {
		evbuffer_free(c->c_out);
		c->c_out = NULL;
	}
	if (c->c_frag != NULL) {
		evbuffer_free(c->c_frag);
		c->c_frag = NULL;
	}
	/* c_in may be being parsed: the read callback frees it. */
	c->c_state = CS_DEAD;
	c->c_waiting = 0;
}

/*
 * A connection failed.  Before it was ready it counts against the connect
 * phase; after, it is an error of the run (the others go on).
 */
static void
conn_fail(struct conn *c, const char *fmt, ...)
{
	struct lg	*lg = c->c_lg;
	va_list		 ap;
	char		 msg[256];
	enum conn_state	 was = c->c_state;

	if (was == CS_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lg->errors_shown < LG_ERRORS_SHOWN) {
		log_warnx("connection %u: %s", c->c_id, msg);
		if (++lg->errors_shown == LG_ERRORS_SHOWN)
			log_warnx("(further connection errors not shown)");
	}
	conn_close(c);
	lg->dead++;
	if (was != CS_READY) {
		lg->pending--;
		if (lg->phase == PH_CONNECT) {
			/* Every connection is needed for the figures. */
			log_warnx("connection %u failed while connecting",
			    c->c_id);
			lg_finish(lg, 1);
		}
		return;
	}
	lg->ready--;
	lg->errors++;
	if (lg->mode == MODE_BROADCAST && c->c_id == 0) {
		log_warnx("the broadcast sender is gone");
		lg_finish(lg, 1);
		return;
	}
	if (lg->ready == 0) {
		log_warnx("every connection is gone");
		lg_finish(lg, 1);
		return;
	}
	lg_drain_check(lg);
}

static void
conn_ready(struct conn *c)
{
	struct lg *lg = c->c_lg;

	c->c_state = CS_READY;
	lg->pending--;
	lg->ready++;
	if (lg->ready == lg->nconns)
		lg_phase_next(lg);
	else
		lg_open_more(lg);
}

/* Socket.IO packet: s[0] is the type digit. */
static void
conn_sio(struct conn *c, const char *s, size_t len)
{
	struct lg	*lg = c->c_lg;
	const char	*p = s + 1, *end = s + len;
	uint64_t	 id, rtt;

	/* Our namespace only; "/" packets carry no prefix at all. */
	if (lg->nsp_prefix_len > 0) {
		if ((size_t)(end - p) < lg->nsp_prefix_len ||
		    memcmp(p, lg->nsp_prefix, lg->nsp_prefix_len) != 0)
			return;
		p += lg->nsp_prefix_len;
	} else if (p < end && *p == '/')
		return;

	switch (s[0]) {
	case SIO_CONNECT_CH:
		if (c->c_state != CS_NSP)
			return;
		if (p == end || *p != '{') {
			conn_fail(c, "namespace CONNECT without a sid: %.*s",
			    (int)len, s);
			return;
		}
		conn_ready(c);
		return;
	case SIO_CONNECT_ERROR_CH:
		conn_fail(c, "namespace refused: %.*s", (int)(len > 200 ?
		    200 : len), s);
		return;
	case SIO_DISCONNECT_CH:
		conn_fail(c, "namespace disconnected by the server");
		return;
	case SIO_EVENT_CH:
		if (c->c_state != CS_READY)
			return;
		if (lg->mode == MODE_ECHO) {
			if (!c->c_waiting)
				return;
			/* Not the echo (e.g. the "hello" on connect)? */
			if ((size_t)(end - p) < STRLEN(ARGS_ECHO) ||
			    memcmp(p, ARGS_ECHO, STRLEN(ARGS_ECHO)) != 0)
				return;
			/* s - 1 is the Engine.IO digit of the whole text. */
			if (len + 1 != lg->echo_len ||
			    memcmp(s - 1, lg->echo_msg, len + 1) != 0)
				lg->mismatched++;
			c->c_waiting = 0;
			if (lg->phase == PH_MEASURE) {
				if (c->c_sent_ns >= lg->m0.cm_ns) {
					rtt = (now_ns() - c->c_sent_ns) /
					    NSEC_PER_USEC;
					hist_add(&lg->hist, rtt);
				}
				lg->ops++;
			}
			if (lg->phase == PH_WARMUP || lg->phase == PH_MEASURE) {
				c->c_sent_ns = now_ns();
				c->c_waiting = 1;
				conn_send_text(c, lg->echo_send, lg->echo_send_len);
			} else
				lg_drain_check(lg);
			return;
		}
		if (lg->mode == MODE_BROADCAST) {
			if ((size_t)(end - p) < STRLEN(ARGS_BROADCAST) ||
			    memcmp(p, ARGS_BROADCAST,
			    STRLEN(ARGS_BROADCAST)) != 0)
				return;
			if ((size_t)(end - p) != lg->bc_args_len ||
			    memcmp(p, lg->bc_args, lg->bc_args_len) != 0)
				lg->mismatched++;
			lg->deliveries++;
			if (lg->phase == PH_MEASURE)
				lg->ops++;
			bc_try_send(lg);
			lg_drain_check(lg);
		}
		return;
	case SIO_ACK_CH:
		if (lg->mode != MODE_BROADCAST || c->c_id != 0)
			return;
		id = 0;
		while (p < end && *p >= '0' && *p <= '9')
			id = id * 10 + (uint64_t)(*p++ - '0');
		if (id != lg->bc_next_ack ||
		    (size_t)(end - p) != STRLEN(ACK_TRUE) ||
		    memcmp(p, ACK_TRUE, STRLEN(ACK_TRUE)) != 0)
			lg->bc_bad_acks++;
		lg->bc_next_ack = id + 1;
		lg->bc_acked++;
		bc_try_send(lg);
		lg_drain_check(lg);
		return;
	default:
		return;
	}
}

/* One complete text message from the server. */
static void
conn_message(struct conn *c, const char *s, size_t len)
{
	struct lg	*lg = c->c_lg;
	char		*pong;

	if (len == 0) {
		conn_fail(c, "empty Engine.IO packet");
		return;
	}
	switch (s[0]) {
	case EIO_OPEN_CH:
		if (c->c_state != CS_EIO_OPEN) {
			conn_fail(c, "unexpected Engine.IO open");
			return;
		}
		if (len < 2 || s[1] != '{') {
			conn_fail(c, "bad Engine.IO open: %.*s", (int)len, s);
			return;
		}
		c->c_state = CS_NSP;
		conn_send_text(c, lg->connect_msg, strlen(lg->connect_msg));
		return;
	case EIO_CLOSE_CH:
		conn_fail(c, "Engine.IO close from the server");
		return;
	case EIO_PING_CH:
		/* Heartbeat: answer with a pong carrying the same data. */
		pong = xmemdup(s, len);
		pong[0] = EIO_PONG_CH;
		conn_send_text(c, pong, len);
		free(pong);
		return;
	case EIO_MESSAGE_CH:
		if (c->c_state == CS_EIO_OPEN) {
			conn_fail(c, "message before the Engine.IO open");
			return;
		}
		if (len >= 2)
			conn_sio(c, s + 1, len - 1);
		return;
	default:
		/* pong, upgrade, noop: nothing to do */
		return;
	}
}

/*
 * Look at the frame at the head of buf (server frames are never masked).
 * 1 with its header and payload length once all of it has arrived, 0 when
 * more bytes are needed, -1 for a frame no server may send.
 */
static int
frame_peek(const unsigned char *h, size_t have, int *fin, int *opcode,
    size_t *hlen, uint64_t *plen)
{
	uint64_t	len;
	size_t		n;
	int		i;

	if (have < 2)
		return (0);
	if ((h[0] & 0x70) != 0 || (h[1] & 0x80) != 0)
		return (-1);
	*fin = (h[0] & 0x80) != 0;
	*opcode = h[0] & 0x0f;
	len = h[1] & 0x7f;
	n = 2;
	if (len == 126) {
		n = 4;
		if (have < n)
			return (0);
		len = ((uint64_t)h[2] << 8) | h[3];
	} else if (len == 127) {
		n = 10;
		if (have < n)
			return (0);
		len = 0;
		for (i = 2; i < 10; i++)
			len = (len << 8) | h[i];
	}
	if (len > LG_MESSAGE_MAX)
		return (-1);
	if (have < n + len)
		return (0);
	*hlen = n;
	*plen = len;
	return (1);
}

/* A data frame: a whole message, or a fragment of one (rare). */
static void
conn_data_frame(struct conn *c, int fin, int op, const unsigned char *buf,
    size_t len)
{
	size_t mlen;

	if (op != WS_OP_CONT && c->c_frag != NULL &&
	    evbuffer_get_length(c->c_frag) > 0) {
		conn_fail(c, "new message inside a fragmented one");
		return;
	}
	if (fin && (c->c_frag == NULL || evbuffer_get_length(c->c_frag) == 0)) {
		if (op == WS_OP_CONT)
			conn_fail(c, "continuation of nothing");
		else if (op == WS_OP_TEXT)
			conn_message(c, (const char *)buf, len);
		return;
	}
	if (op != WS_OP_CONT)
		c->c_frag_op = op;
	if (c->c_frag == NULL && (c->c_frag = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	evbuffer_add(c->c_frag, buf, len);
	if ((mlen = evbuffer_get_length(c->c_frag)) > LG_MESSAGE_MAX) {
		conn_fail(c, "message too big");
		return;
	}
	if (!fin)
		return;
	if (c->c_frag_op == WS_OP_TEXT)
		conn_message(c, (const char *)evbuffer_pullup(c->c_frag, -1),
		    mlen);
	if (c->c_frag != NULL)
		evbuffer_drain(c->c_frag, mlen);
}

/*
 * The server's answer to the opening handshake, at the start of buf.
 * Returns the length of the head once it is complete (the connection is
 * then in CS_EIO_OPEN, or dead), 0 while more is needed.
 */
static size_t
conn_upgrade(struct conn *c, const unsigned char *buf, size_t len)
{
	char		 head[LG_HTTP_HEAD_MAX + 1], low[LG_HTTP_HEAD_MAX + 1];
	char		 want[WS_ACCEPT_LEN + 1];
	const char	*h, *v, *eol;
	const void	*end;
	size_t		 n, i;

	end = memmem(buf, len < LG_HTTP_HEAD_MAX ? len : LG_HTTP_HEAD_MAX,
	    "\r\n\r\n", 4);
	if (end == NULL) {
		if (len >= LG_HTTP_HEAD_MAX)
			conn_fail(c, "handshake answer too long");
		return (0);
	}
	n = (size_t)((const unsigned char *)end - buf) + 4;
	memcpy(head, buf, n);
	head[n] = '\0';
	if (strncmp(head, HTTP_SWITCHING, strlen(HTTP_SWITCHING)) != 0) {
		eol = strstr(head, "\r\n");
		conn_fail(c, "upgrade refused: %.*s", (int)(eol - head), head);
		return (n);
	}
	/* Header names are case-insensitive, base64 values are not. */
	for (i = 0; i <= n; i++)
		low[i] = (head[i] >= 'A' && head[i] <= 'Z') ?
		    head[i] + ('a' - 'A') : head[i];
	if ((h = strstr(low, "\r\n" HDR_ACCEPT)) == NULL) {
		conn_fail(c, "no Sec-WebSocket-Accept");
		return (n);
	}
	v = head + (h - low) + 2 + strlen(HDR_ACCEPT);
	while (*v == ' ' || *v == '\t')
		v++;
	if (ws_accept_key(c->c_key, WS_KEY_LEN, want) == -1)
		fatalx("bad nonce %s", c->c_key);
	if (strncmp(v, want, WS_ACCEPT_LEN) != 0 ||
	    (v[WS_ACCEPT_LEN] != '\r' && v[WS_ACCEPT_LEN] != ' ' &&
	    v[WS_ACCEPT_LEN] != '\t')) {
		conn_fail(c, "wrong Sec-WebSocket-Accept");
		return (n);
	}
	c->c_state = CS_EIO_OPEN;
	return (n);
}

/*
 * Act on what arrived: the handshake answer, then whole frames.  Returns
 * the bytes used; an incomplete frame at the end waits for more.  Stops
 * at once when the connection dies (buf may then be gone).
 */
static size_t
conn_input(struct conn *c, const unsigned char *buf, size_t len)
{
	size_t		used = 0, hlen;
	uint64_t	plen;
	int		fin, op, r;

	if (c->c_state == CS_UPGRADE) {
		used = conn_upgrade(c, buf, len);
		if (used == 0 || c->c_state == CS_DEAD)
			return (used);
	}
	while (c->c_state != CS_DEAD) {
		r = frame_peek(buf + used, len - used, &fin, &op, &hlen, &plen);
		if (r == 0)
			break;
		if (r == -1) {
			conn_fail(c, "bad frame from the server");
			break;
		}
		switch (op) {
		case WS_OP_PING:
			conn_send_frame(c, WS_OP_PONG, buf + used + hlen, plen);
			break;
		case WS_OP_PONG:
			break;
		case WS_OP_CLOSE:
			conn_fail(c, "close frame from the server (code %d)",
			    plen >= 2 ? (buf[used + hlen] << 8) |
			    buf[used + hlen + 1] : 0);
			break;
		case WS_OP_TEXT:
		case WS_OP_BINARY:
		case WS_OP_CONT:
			conn_data_frame(c, fin, op, buf + used + hlen, plen);
			break;
		default:
			conn_fail(c, "unknown opcode %d", op);
			break;
		}
		used += hlen + plen;
	}
	return (used);
}

/*
 * One read per wakeup (the event is level-triggered).  Bytes are parsed
 * where they landed, in the shared read buffer; only an incomplete frame
 * at the end is copied to the connection, so an idle connection keeps no
 * buffer at all.
 */
static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct lg	*lg = c->c_lg;
	unsigned char	*in, *keep;
	size_t		 len, used;
	ssize_t		 n;

	(void)what;
	n = read(fd, lg->rbuf, LG_READ_BUF);
	if (n == 0) {
		conn_fail(c, "closed by the server");
		return;
	}
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(c, "read: %s", strerror(errno));
		return;
	}
	/* Take the leftover away from c: conn_fail may run meanwhile. */
	keep = c->c_in;
	c->c_in = NULL;
	if (keep == NULL) {
		in = lg->rbuf;
		len = (size_t)n;
	} else {
		keep = xreallocarray(keep, 1, c->c_in_len + (size_t)n);
		memcpy(keep + c->c_in_len, lg->rbuf, (size_t)n);
		in = keep;
		len = c->c_in_len + (size_t)n;
	}
	used = conn_input(c, in, len);
	if (c->c_state != CS_DEAD && used < len) {
		if (len - used > LG_MESSAGE_MAX + WS_SERVER_HEADER_MAX) {
			conn_fail(c, "frame too big");
		} else {
			c->c_in = xmalloc(len - used);
			memcpy(c->c_in, in + used, len - used);
			c->c_in_len = len - used;
		}
	}
	free(keep);
}

static void
conn_send_request(struct conn *c)
{
	struct lg	*lg = c->c_lg;
	unsigned char	 nonce[WS_NONCE_LEN];
	uint64_t	 r;
	size_t		 i;

	for (i = 0; i < sizeof(nonce); i += sizeof(r)) {
		r = rng_next(&lg->rng);
		memcpy(nonce + i, &r, sizeof(r));
	}
	EVP_EncodeBlock((unsigned char *)c->c_key, nonce, sizeof(nonce));
	c->c_state = CS_UPGRADE;
	evbuffer_add_printf(lg->scratch,
	    "GET %s?EIO=4&transport=websocket HTTP/1.1\r\n"
	    "Host: %s:%s\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: %d\r\n",
	    lg->path, lg->host, lg->port, c->c_key, WS_VERSION);
	for (i = 0; i < lg->nheaders; i++)
		evbuffer_add_printf(lg->scratch, "%s\r\n", lg->headers[i]);
	evbuffer_add(lg->scratch, "\r\n", 2);
	conn_write_buffer(c, lg->scratch);
}

/* Writable: the connect finished, or queued output can go. */
static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	int		 err;
	socklen_t	 len = sizeof(err);

	(void)what;
	if (c->c_state == CS_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			conn_fail(c, "connect: %s", strerror(err));
			return;
		}
		event_add(c->c_rev, NULL);
		conn_send_request(c);
		return;
	}
	if (c->c_out == NULL)
		return;
	if (evbuffer_write(c->c_out, fd) == -1 && errno != EAGAIN &&
	    errno != EINTR) {
		conn_fail(c, "write: %s", strerror(errno));
		return;
	}
	if (evbuffer_get_length(c->c_out) > 0)
		event_add(c->c_wev, NULL);
}

static void
conn_open(struct lg *lg, struct conn *c)
{
	int one = 1;

	c->c_lg = lg;
	c->c_state = CS_CONNECTING;
	lg->pending++;
	c->c_fd = socket(lg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->c_fd == -1) {
		conn_fail(c, "socket: %s", strerror(errno));
		return;
	}
	/* Small request frames must leave at once. */
	if (setsockopt(c->c_fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1)
		log_warn("TCP_NODELAY");
	c->c_rev = event_new(lg->base, c->c_fd, EV_READ | EV_PERSIST,
	    conn_read_cb, c);
	c->c_wev = event_new(lg->base, c->c_fd, EV_WRITE, conn_write_cb, c);
	if (c->c_rev == NULL || c->c_wev == NULL)
		fatalx("event_new");
	if (connect(c->c_fd, (struct sockaddr *)&lg->addr, lg->addrlen) == 0) {
		event_add(c->c_rev, NULL);
		conn_send_request(c);
		return;
	}
	if (errno != EINPROGRESS) {
		conn_fail(c, "connect: %s", strerror(errno));
		return;
	}
	event_add(c->c_wev, NULL);
}

/* Keep up to max_pending handshakes going until every one is opened. */
static void
lg_open_more(struct lg *lg)
{
	while (lg->phase == PH_CONNECT && lg->opened < lg->nconns &&
	    lg->pending < lg->max_pending) {
		struct conn *c = &lg->conns[lg->opened];

		c->c_id = lg->opened++;
		c->c_fd = -1;
		conn_open(lg, c);
	}
}

/* ------------------------------------------------------------------ */
/* Broadcast. */

/*
 * Send broadcasts while fewer than window are unacknowledged and fewer
 * than window broadcasts' worth of deliveries are outstanding.  The second
 * bound keeps the server from queueing unboundedly (or dropping a reader
 * that falls behind) when the receivers are slower than the sender.
 */
static void
bc_try_send(struct lg *lg)
{
	struct conn	*s = &lg->conns[0];
	uint64_t	 owed;
	size_t		 n;

	if (lg->phase != PH_WARMUP && lg->phase != PH_MEASURE)
		return;
	if (s->c_state != CS_READY)
		return;
	for (;;) {
		if (lg->bc_sent - lg->bc_acked >= lg->window)
			return;
		owed = lg->bc_sent * lg->ready - lg->deliveries;
		if (lg->bc_sent * lg->ready < lg->deliveries)
			owed = 0;	/* a receiver left meanwhile */
		if (owed >= (uint64_t)lg->window * lg->ready)
			return;
		memcpy(lg->bc_buf, lg->event_prefix, lg->event_prefix_len);
		n = lg->event_prefix_len;
		n += (size_t)sprintf(lg->bc_buf + n, "%" PRIu64, lg->bc_sent);
		memcpy(lg->bc_buf + n, lg->bc_args, lg->bc_args_len);
		n += lg->bc_args_len;
		lg->bc_sent++;
		conn_send_text(s, lg->bc_buf, n);
		if (s->c_state != CS_READY)
			return;
	}
}

/* ------------------------------------------------------------------ */
/* Results. */

/* Ticks between two marks as seconds, or -1 when either is missing. */
static double
ticks_secs(int ok0, uint64_t t0, int ok1, uint64_t t1)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (!ok0 || !ok1 || hz <= 0 || t1 < t0)
		return (-1);
	return ((double)(t1 - t0) / (double)hz);
}

static double
per_op_us(double secs, uint64_t ops)
{
	if (secs < 0 || ops == 0)
		return (-1);
	return (secs * USEC_PER_SEC / (double)ops);
}

static void
lg_report(struct lg *lg)
{
	const struct cpu_mark	*m0 = &lg->m0, *m1 = &lg->m1;
	double			 secs, rate, cpu_s, core_s, self_pct;
	const char		*mode, *what;

	mode = lg->mode == MODE_ECHO ? "echo" : lg->mode == MODE_IDLE ?
	    "idle" : "broadcast";
	if (lg->mode == MODE_IDLE) {
		printf("idle: %u of %u connections held, %" PRIu64
		    " lost\n", lg->ready, lg->nconns, lg->errors);
		printf("RESULT mode=idle conns=%u ready=%u lost=%" PRIu64
		    " status=%d\n", lg->nconns, lg->ready, lg->errors,
		    lg->status);
		fflush(stdout);
		return;
	}
	if (m0->cm_ns == 0 || m1->cm_ns <= m0->cm_ns) {
		/* Failed before the window: there is nothing to show. */
		if (lg->status == 0)
			lg->status = 1;
		printf("%s: nothing measured\n", mode);
		printf("RESULT mode=%s conns=%u status=%d\n", mode, lg->nconns,
		    lg->status);
		fflush(stdout);
		return;
	}
	secs = (double)(m1->cm_ns - m0->cm_ns) / NSEC_PER_SEC;
	rate = (double)lg->ops / secs;
	self_pct = 100.0 * (double)(m1->cm_self_us - m0->cm_self_us) /
	    USEC_PER_SEC / secs;
	cpu_s = ticks_secs(m0->cm_server_ok, m0->cm_server_ticks,
	    m1->cm_server_ok, m1->cm_server_ticks);
	core_s = ticks_secs(m0->cm_core_ok, m0->cm_core_ticks,
	    m1->cm_core_ok, m1->cm_core_ticks);
	if (lg->errors > 0 || lg->mismatched > 0 || lg->bc_bad_acks > 0)
		lg->status = lg->status ? lg->status : 1;

	if (lg->mode == MODE_ECHO) {
		what = "echo";
		printf("echo: %u connections, %zu-byte payload, %.2f s "
		    "measured after %u s of warm-up\n", lg->nconns,
		    lg->payload, secs, lg->warmup);
		printf("  answers: %" PRIu64 " (%.0f/s), %" PRIu64
		    " mismatched, %" PRIu64 " connections lost\n",
		    lg->ops, rate, lg->mismatched, lg->errors);
		printf("  latency (us): p50 %" PRIu64 ", p90 %" PRIu64
		    ", p99 %" PRIu64 ", p99.9 %" PRIu64 ", max %" PRIu64
		    " (%" PRIu64 " samples)\n",
		    hist_quantile(&lg->hist, 0.50),
		    hist_quantile(&lg->hist, 0.90),
		    hist_quantile(&lg->hist, 0.99),
		    hist_quantile(&lg->hist, 0.999), lg->hist.h_max,
		    lg->hist.h_total);
	} else {
		what = "delivery";
		printf("broadcast: %u sockets, %zu-byte payload, window %u, "
		    "%.2f s measured after %u s of warm-up\n", lg->nconns,
		    lg->payload, lg->window, secs, lg->warmup);
		printf("  deliveries: %" PRIu64 " (%.0f/s); broadcasts sent "
		    "%" PRIu64 ", acked %" PRIu64 ", bad acks %" PRIu64
		    "; delivered %" PRIu64 " of %" PRIu64 ", %" PRIu64
		    " mismatched, %" PRIu64 " connections lost\n",
		    lg->ops, rate, lg->bc_sent, lg->bc_acked,
		    lg->bc_bad_acks, lg->deliveries,
		    lg->bc_sent * lg->nconns, lg->mismatched, lg->errors);
	}
	if (cpu_s >= 0)
		printf("  server processes CPU: %.2f s (%.0f %% of a core), "
		    "%.2f us per %s\n", cpu_s, 100.0 * cpu_s / secs,
		    per_op_us(cpu_s, lg->ops), what);
	if (core_s >= 0)
		printf("  server core %d busy: %.2f s (%.0f %%), %.2f us per "
		    "%s\n", lg->core, core_s, 100.0 * core_s / secs,
		    per_op_us(core_s, lg->ops), what);
	printf("  loadgen CPU: %.0f %% of a core\n", self_pct);

	printf("RESULT mode=%s conns=%u seconds=%.3f ops=%" PRIu64
	    " rate=%.1f", mode, lg->nconns, secs, lg->ops, rate);
	if (lg->mode == MODE_ECHO)
		printf(" p50_us=%" PRIu64 " p90_us=%" PRIu64 " p99_us=%"
		    PRIu64 " max_us=%" PRIu64,
		    hist_quantile(&lg->hist, 0.50),
		    hist_quantile(&lg->hist, 0.90),
		    hist_quantile(&lg->hist, 0.99), lg->hist.h_max);
	printf(" server_cpu_s=%.3f server_cpu_us_per_op=%.3f"
	    " core_busy_s=%.3f core_us_per_op=%.3f lg_cpu_pct=%.0f"
	    " mismatched=%" PRIu64 " lost=%" PRIu64 " status=%d\n",
	    cpu_s, per_op_us(cpu_s, lg->ops), core_s,
	    per_op_us(core_s, lg->ops), self_pct,
	    lg->mismatched + lg->bc_bad_acks, lg->errors, lg->status);
	fflush(stdout);
}

static void
lg_setup(struct lg *lg)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	lg->rng = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32) ^
	    0x9e3779b97f4a7c15ULL;
	if ((lg->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	lg->conns = xcalloc(lg->nconns, sizeof(*lg->conns));
	lg->rbuf = xmalloc(LG_READ_BUF);
	if ((lg->scratch = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	lg->ev_phase = evtimer_new(lg->base, lg_phase_cb, lg);
	lg->ev_deadline = evtimer_new(lg->base, lg_deadline_cb, lg);
	if (lg->ev_phase == NULL || lg->ev_deadline == NULL)
		fatalx("evtimer_new");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		lg->ev_sig[i] = evsignal_new(lg->base, sigs[i], lg_signal_cb,
		    lg);
		if (lg->ev_sig[i] == NULL || evsignal_add(lg->ev_sig[i],
		    NULL) == -1)
			fatalx("evsignal_new");
	}
}

int
main(int argc, char *argv[])
{
	struct lg lg;

	memset(&lg, 0, sizeof(lg));
	log_init(1, 0);
	log_settag("loadgen");
	lg_options(&lg, argc, argv);
	lg_check_fds(&lg);
	lg_resolve(&lg);
	lg_build_messages(&lg);
	lg_setup(&lg);

	lg.phase = PH_CONNECT;
	lg.start_ns = now_ns();
	timer_arm(lg.ev_phase, lg.connect_timeout);
	timer_arm(lg.ev_deadline, lg.connect_timeout + LG_DEADLINE_SLACK);
	lg_open_more(&lg);
	event_base_dispatch(lg.base);
	/* The kernel closes the connections: nothing else is left to do. */
	return (lg.status);
}
