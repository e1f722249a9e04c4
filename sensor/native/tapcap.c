/*
 * tapcap: a minimal libpcap binding for tapwatch's live capture (Node-API, C).
 *
 * Follows the libpcap API as documented in pcap(3PCAP), pcap_create(3PCAP),
 * pcap_activate(3PCAP), pcap_dispatch(3PCAP), pcap_stats(3PCAP) and
 * pcap_set_tstamp_precision(3PCAP).
 *
 * Why not the `cap` package: cap 0.2.1 calls into JavaScript once per packet
 * (an EventEmitter emit with three fresh values), gives no timestamp and no
 * original length, fixes snaplen and promiscuous mode, and has no pcap_stats,
 * so kernel drops are invisible. Why not the `pcap` package: it too emits per
 * packet, and a later step will move capture onto a native thread that writes
 * into a SharedArrayBuffer ring, which needs a binding we own anyway.
 *
 * Shape: one Tapcap object per handle.
 *   open(device, {snaplen, bufferSize, promisc, immediate, timeoutMs, filter})
 *       -> datalink (LINKTYPE value as returned by pcap_datalink)
 *   dispatch(buffer, maxPackets) -> number of packets copied into buffer as
 *       records [u32 tsSec][u32 tsFrac][u32 caplen][u32 wirelen][bytes, padded
 *       to 4], all u32 little-endian. tsFrac is ns when tstampPrecision() is
 *       1e9, else us. JavaScript runs once per batch, not once per packet.
 *   fd() -> selectable fd; watch(callback) / unwatch(): a libuv poll on that fd
 *       that calls back when packets are readable (no busy polling).
 *   stats() -> {received, dropped, ifDropped} from pcap_stats
 *   tstampPrecision() -> 1e9 or 1e6
 *   startRing(ctl: Int32Array, data: Uint8Array, {statsIntervalMs}) -> start a
 *       capture thread (pthread) that writes every packet into the shared
 *       ring described in sensor/src/parallel/ring-layout.ts, without running
 *       any JavaScript per packet; dispatch()/watch() are refused meanwhile
 *       and stats() returns the thread's latest pcap_stats.
 *   stopRing() -> stop and join that thread; CTL_CLOSED is set to 1.
 *   close()
 * Errors become JS exceptions (with .code) in open(); dispatch() returns -1
 * and lastError() explains, so the capture loop never throws.
 */
#include <node_api.h>
#include <uv.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <poll.h>
#include <time.h>
#include <errno.h>

/* Slot indices and record format: sensor/src/parallel/ring-layout.ts (the contract). */
#define CTL_WRITE 0
#define CTL_PACKETS 16
#define CTL_RING_DROPS 17
#define CTL_CLOSED 18
#define CTL_CONSUMERS 19
#define CTL_KERNEL_RECEIVED 20
#define CTL_KERNEL_DROPS 21
#define CTL_IF_DROPS 22
#define CTL_BYTES_LO 23
#define CTL_READ_BASE 64
#define CONTROL_INT32S (16 * (4 + 64))
#define MAX_CONSUMERS 64
#define RING_RECORD_HEADER 24u
#define RING_WRAP_MARKER 0xffffffffu
#define RING_ALIGN8(n) (((n) + 7u) & ~7u)

typedef struct {
  pcap_t *pcap;
  int tstamp_nano;
  int snaplen;
  /* pcap_set_timeout: how long the kernel may hold a partly filled TPACKET_V3 block. */
  int timeout_ms;
  /* A packet that did not fit in the caller's buffer; delivered first by the next dispatch(). */
  uint8_t *pending;
  size_t pending_cap;
  size_t pending_len; /* bytes of pending record (header + padded data), 0 when none */
  /* State of the dispatch in progress. */
  uint8_t *out;
  size_t out_len;
  size_t out_used;
  int out_count;
  int out_max;
  /* Readable-fd watcher. */
  uv_poll_t *poll;
  napi_env env;
  napi_ref callback;
  napi_ref self;
  napi_async_context async_ctx;
  /* Set while on_readable is inside napi_make_callback: the async context must outlive that call. */
  int in_callback;
  napi_async_context async_ctx_to_destroy;
  char last_error[PCAP_ERRBUF_SIZE + 64];
  /* Native ring producer (startRing/stopRing). */
  pthread_t ring_thread;
  int ring_running;           /* touched by the JS thread only */
  volatile int ring_stop;     /* JS thread -> capture thread, via __atomic */
  int32_t *ring_ctl;          /* CONTROL_INT32S slots in a SharedArrayBuffer */
  uint8_t *ring_data;         /* capacity bytes in a SharedArrayBuffer */
  uint32_t ring_capacity;     /* a power of two */
  uint32_t ring_write;        /* producer's private copy of CTL_WRITE */
  uint32_t ring_free;         /* bytes known free at ring_write (recomputed when short) */
  uint32_t ring_packets, ring_drops, ring_bytes;
  int ring_linktype;
  int ring_stats_ms;
  napi_ref ring_ctl_ref, ring_data_ref; /* keep the views (and their buffers) alive */
  /* Latest pcap_stats from the capture thread: pcap_stats() on Linux reads and
     resets the socket's counters, so only one thread may call it. */
  pthread_mutex_t stat_lock;
  double stat_recv, stat_drop, stat_ifdrop;
  int stat_valid;
} tapcap_t;

#define RECORD_HEADER 16u
#define PAD4(n) (((n) + 3u) & ~3u)

static void put_u32le(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

static tapcap_t *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return (tapcap_t *)data;
}

static void stop_watch(tapcap_t *t);
static void stop_ring(tapcap_t *t);

static void close_handle(tapcap_t *t) {
  stop_ring(t);
  stop_watch(t);
  if (t->pcap != NULL) {
    pcap_close(t->pcap);
    t->pcap = NULL;
  }
  free(t->pending);
  t->pending = NULL;
  t->pending_cap = 0;
  t->pending_len = 0;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  tapcap_t *t = (tapcap_t *)data;
  close_handle(t);
  pthread_mutex_destroy(&t->stat_lock);
  /* The poll handle (if any) frees itself in its close callback. */
  free(t);
}

static napi_value js_new(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  tapcap_t *t = (tapcap_t *)calloc(1, sizeof(tapcap_t));
  if (t == NULL) return throw_code(env, "ENOMEM", "tapcap: out of memory");
  t->env = env;
  pthread_mutex_init(&t->stat_lock, NULL);
  if (napi_wrap(env, self, t, finalize, NULL, NULL) != napi_ok) {
    free(t);
    return throw_code(env, "EINVAL", "tapcap: wrap failed");
  }
  return self;
}

/* Read an optional numeric/boolean/string property of opts. */
static int get_int(napi_env env, napi_value obj, const char *key, int dflt) {
  bool has = false;
  napi_value v;
  napi_valuetype type;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return dflt;
  napi_get_named_property(env, obj, key, &v);
  napi_typeof(env, v, &type);
  if (type == napi_number) {
    int32_t n;
    napi_get_value_int32(env, v, &n);
    return n;
  }
  if (type == napi_boolean) {
    bool b;
    napi_get_value_bool(env, v, &b);
    return b ? 1 : 0;
  }
  return dflt;
}

static char *get_string(napi_env env, napi_value v) {
  size_t len = 0;
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type != napi_string) return NULL;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = (char *)malloc(len + 1);
  if (s == NULL) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static const char *pcap_error_code(int status) {
  switch (status) {
    case PCAP_ERROR_PERM_DENIED: return "EPERM";
    case PCAP_ERROR_NO_SUCH_DEVICE: return "ENODEV";
    case PCAP_ERROR_IFACE_NOT_UP: return "ENETDOWN";
    case PCAP_ERROR_PROMISC_PERM_DENIED: return "EPERM";
    case PCAP_ERROR_ACTIVATED: return "EBUSY";
    default: return "ELIVE";
  }
}

/* open(device, opts) -> datalink */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char errbuf[PCAP_ERRBUF_SIZE];
  char msg[PCAP_ERRBUF_SIZE + 256];
  tapcap_t *t = unwrap_this(env, info, &argc, argv);
  if (t == NULL) return throw_code(env, "EINVAL", "tapcap: bad this");
  if (t->pcap != NULL) return throw_code(env, "EBUSY", "tapcap: already open");
  if (argc < 1) return throw_code(env, "EINVAL", "tapcap.open(device, opts): device required");
  char *device = get_string(env, argv[0]);
  if (device == NULL) return throw_code(env, "EINVAL", "tapcap.open: device must be a string");

  napi_value opts = NULL;
  napi_valuetype otype = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &otype);
  if (otype == napi_object) opts = argv[1];
  int snaplen = opts ? get_int(env, opts, "snaplen", 65535) : 65535;
  int buffer_size = opts ? get_int(env, opts, "bufferSize", 64 * 1024 * 1024) : 64 * 1024 * 1024;
  int promisc = opts ? get_int(env, opts, "promisc", 1) : 1;
  int immediate = opts ? get_int(env, opts, "immediate", 1) : 1;
  int timeout_ms = opts ? get_int(env, opts, "timeoutMs", 100) : 100;
  char *filter = NULL;
  if (opts) {
    bool has = false;
    napi_has_named_property(env, opts, "filter", &has);
    if (has) {
      napi_value fv;
      napi_get_named_property(env, opts, "filter", &fv);
      filter = get_string(env, fv);
    }
  }
  if (snaplen <= 0) snaplen = 65535;

  errbuf[0] = 0;
  pcap_t *p = pcap_create(device, errbuf);
  if (p == NULL) {
    snprintf(msg, sizeof msg, "pcap_create(%s): %s", device, errbuf);
    free(device);
    free(filter);
    return throw_code(env, "ELIVE", msg);
  }
  pcap_set_snaplen(p, snaplen);
  pcap_set_promisc(p, promisc);
  pcap_set_timeout(p, timeout_ms);
  t->timeout_ms = timeout_ms;
  if (buffer_size > 0) pcap_set_buffer_size(p, buffer_size);
  pcap_set_immediate_mode(p, immediate);
#ifdef PCAP_TSTAMP_PRECISION_NANO
  /* Ask for nanoseconds; older kernels/drivers answer NOTSUP and we stay in microseconds. */
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
#endif
  int status = pcap_activate(p);
  if (status < 0) {
    const char *why = (status == PCAP_ERROR || status == PCAP_ERROR_NO_SUCH_DEVICE ||
                       status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED)
                          ? pcap_geterr(p)
                          : pcap_statustostr(status);
    snprintf(msg, sizeof msg, "pcap_activate(%s): %s%s%s", device, pcap_statustostr(status),
             (why && *why && why != pcap_statustostr(status)) ? ": " : "",
             (why && why != pcap_statustostr(status)) ? why : "");
    pcap_close(p);
    free(device);
    free(filter);
    return throw_code(env, pcap_error_code(status), msg);
  }
  if (filter != NULL && filter[0] != 0) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      /* The reason first: filters can be long and the message is what users read. */
      size_t n = strlen(filter) + PCAP_ERRBUF_SIZE + 64;
      char *long_msg = (char *)malloc(n);
      if (long_msg != NULL) snprintf(long_msg, n, "bad BPF filter: %s (filter: \"%s\")", pcap_geterr(p), filter);
      pcap_close(p);
      free(device);
      free(filter);
      throw_code(env, "EFILTER", long_msg != NULL ? long_msg : "bad BPF filter");
      free(long_msg);
      return NULL;
    }
    int rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
      snprintf(msg, sizeof msg, "pcap_setfilter(%s): %s", device, pcap_geterr(p));
      pcap_close(p);
      free(device);
      free(filter);
      return throw_code(env, "EFILTER", msg);
    }
  }
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    snprintf(msg, sizeof msg, "pcap_setnonblock(%s): %s", device, errbuf);
    pcap_close(p);
    free(device);
    free(filter);
    return throw_code(env, "ELIVE", msg);
  }
  free(device);
  free(filter);
  t->pcap = p;
  t->snaplen = pcap_snapshot(p);
#ifdef PCAP_TSTAMP_PRECISION_NANO
  t->tstamp_nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
#else
  t->tstamp_nano = 0;
#endif
  napi_value ret;
  napi_create_int32(env, pcap_datalink(p), &ret);
  return ret;
}

/* Copy one packet into the output buffer, or into `pending` when it does not fit. */
static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  tapcap_t *t = (tapcap_t *)user;
  uint32_t caplen = h->caplen;
  size_t need = RECORD_HEADER + PAD4(caplen);
  uint8_t *dst;
  if (t->out_used + need <= t->out_len) {
    dst = t->out + t->out_used;
    t->out_used += need;
    t->out_count++;
  } else if (t->out_used == 0) {
    /* A lone packet bigger than the whole buffer: deliver what fits, keep wirelen honest. */
    if (t->out_len < RECORD_HEADER + 4) return;
    caplen = (uint32_t)((t->out_len - RECORD_HEADER) & ~(size_t)3);
    need = RECORD_HEADER + caplen;
    dst = t->out;
    t->out_used = need;
    t->out_count++;
  } else {
    if (t->pending_cap < need) {
      uint8_t *grown = (uint8_t *)realloc(t->pending, need);
      if (grown == NULL) return; /* Counted by nobody: out of memory is not survivable anyway. */
      t->pending = grown;
      t->pending_cap = need;
    }
    dst = t->pending;
    t->pending_len = need;
    pcap_breakloop(t->pcap);
  }
  put_u32le(dst, (uint32_t)h->ts.tv_sec);
  put_u32le(dst + 4, (uint32_t)h->ts.tv_usec);
  put_u32le(dst + 8, caplen);
  put_u32le(dst + 12, h->len);
  memcpy(dst + RECORD_HEADER, bytes, caplen);
  if (PAD4(caplen) != caplen) memset(dst + RECORD_HEADER + caplen, 0, PAD4(caplen) - caplen);
  if (t->out_count >= t->out_max) pcap_breakloop(t->pcap);
}

/* dispatch(buffer, maxPackets) -> count (or -1 on error; see lastError()). */
static napi_value js_dispatch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_value ret;
  tapcap_t *t = unwrap_this(env, info, &argc, argv);
  if (t == NULL || t->pcap == NULL || argc < 1) {
    napi_create_int32(env, -1, &ret);
    if (t != NULL) snprintf(t->last_error, sizeof t->last_error, "dispatch on a closed handle");
    return ret;
  }
  if (t->ring_running) {
    napi_create_int32(env, -1, &ret);
    snprintf(t->last_error, sizeof t->last_error, "dispatch while the ring capture thread runs");
    return ret;
  }
  void *data = NULL;
  size_t len = 0;
  bool is_buffer = false;
  napi_is_buffer(env, argv[0], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
    return throw_code(env, "EINVAL", "tapcap.dispatch: buffer must be a Buffer");
  }
  int32_t max = 1 << 30;
  if (argc >= 2) napi_get_value_int32(env, argv[1], &max);
  if (max <= 0) max = 1 << 30;

  t->out = (uint8_t *)data;
  t->out_len = len;
  t->out_used = 0;
  t->out_count = 0;
  t->out_max = max;
  if (t->pending_len > 0) {
    if (t->pending_len > len) {
      /* Caller shrank its buffer: drop the pending packet rather than overflow. */
      t->pending_len = 0;
    } else {
      memcpy(t->out, t->pending, t->pending_len);
      t->out_used = t->pending_len;
      t->out_count = 1;
      t->pending_len = 0;
    }
  }
  int rc = 0;
  while (t->out_count < t->out_max && t->pending_len == 0) {
    rc = pcap_dispatch(t->pcap, t->out_max - t->out_count, on_packet, (u_char *)t);
    if (rc <= 0) break; /* 0: nothing more now; -1 error; -2 breakloop (buffer full or max reached) */
  }
  if (rc == PCAP_ERROR) {
    snprintf(t->last_error, sizeof t->last_error, "pcap_dispatch: %s", pcap_geterr(t->pcap));
    if (t->out_count == 0) {
      napi_create_int32(env, -1, &ret);
      t->out = NULL;
      return ret;
    }
  }
  t->out = NULL;
  napi_create_int32(env, t->out_count, &ret);
  return ret;
}

static napi_value js_fd(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value ret;
  tapcap_t *t = unwrap_this(env, info, &argc, NULL);
  napi_create_int32(env, (t && t->pcap) ? pcap_get_selectable_fd(t->pcap) : -1, &ret);
  return ret;
}

static napi_value js_tstamp_precision(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value ret;
  tapcap_t *t = unwrap_this(env, info, &argc, NULL);
  napi_create_double(env, (t && t->tstamp_nano) ? 1e9 : 1e6, &ret);
  return ret;
}

static napi_value js_last_error(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value ret;
  tapcap_t *t = unwrap_this(env, info, &argc, NULL);
  napi_create_string_utf8(env, t ? t->last_error : "", NAPI_AUTO_LENGTH, &ret);
  return ret;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value ret = NULL;
  tapcap_t *t = unwrap_this(env, info, &argc, NULL);
  struct pcap_stat ps;
  memset(&ps, 0, sizeof ps);
  double recv, drop, ifdrop;
  if (t != NULL && t->ring_running) {
    /* The capture thread owns pcap_stats now; read what it published last. */
    pthread_mutex_lock(&t->stat_lock);
    int valid = t->stat_valid;
    recv = t->stat_recv;
    drop = t->stat_drop;
    ifdrop = t->stat_ifdrop;
    pthread_mutex_unlock(&t->stat_lock);
    if (!valid) {
      napi_get_null(env, &ret);
      return ret;
    }
  } else if (t == NULL || t->pcap == NULL || pcap_stats(t->pcap, &ps) != 0) {
    napi_get_null(env, &ret);
    return ret;
  } else {
    recv = (double)ps.ps_recv;
    drop = (double)ps.ps_drop;
    ifdrop = (double)ps.ps_ifdrop;
  }
  napi_value v;
  napi_create_object(env, &ret);
  napi_create_double(env, recv, &v);
  napi_set_named_property(env, ret, "received", v);
  napi_create_double(env, drop, &v);
  napi_set_named_property(env, ret, "dropped", v);
  napi_create_double(env, ifdrop, &v);
  napi_set_named_property(env, ret, "ifDropped", v);
  return ret;
}

/* ---- readable-fd watcher: libuv poll on pcap_get_selectable_fd ---- */

static void on_poll_closed(uv_handle_t *h) { free(h); }

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  tapcap_t *t = (tapcap_t *)h->data;
  if (t == NULL || t->callback == NULL) return;
  napi_env env = t->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, self, global, arg;
  napi_get_reference_value(env, t->callback, &cb);
  napi_get_reference_value(env, t->self, &self);
  napi_get_global(env, &global);
  napi_create_int32(env, status, &arg);
  napi_value result;
  /* napi_make_callback runs microtasks afterwards, like any libuv-driven callback. */
  t->in_callback = 1;
  napi_status st = napi_make_callback(env, t->async_ctx, self ? self : global, cb, 1, &arg, &result);
  t->in_callback = 0;
  if (t->async_ctx_to_destroy != NULL) {
    /* unwatch()/close() ran inside the callback; destroy its context only now. */
    napi_async_destroy(env, t->async_ctx_to_destroy);
    t->async_ctx_to_destroy = NULL;
  }
  if (st == napi_pending_exception) {
    /* Nothing on the JS stack can catch it: hand it to process 'uncaughtException', as Node does for its own callbacks. */
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void stop_watch(tapcap_t *t) {
  if (t->poll != NULL) {
    uv_poll_stop(t->poll);
    t->poll->data = NULL;
    uv_close((uv_handle_t *)t->poll, on_poll_closed);
    t->poll = NULL;
  }
  if (t->callback != NULL) {
    napi_delete_reference(t->env, t->callback);
    t->callback = NULL;
  }
  if (t->self != NULL) {
    napi_delete_reference(t->env, t->self);
    t->self = NULL;
  }
  if (t->async_ctx != NULL) {
    if (t->in_callback) t->async_ctx_to_destroy = t->async_ctx;
    else napi_async_destroy(t->env, t->async_ctx);
    t->async_ctx = NULL;
  }
}

/* watch(callback): call callback() whenever the capture fd is readable. */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value self;
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  napi_unwrap(env, self, &data);
  tapcap_t *t = (tapcap_t *)data;
  if (t == NULL || t->pcap == NULL) return throw_code(env, "EINVAL", "tapcap.watch: not open");
  napi_valuetype type;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function)
    return throw_code(env, "EINVAL", "tapcap.watch: callback required");
  stop_watch(t);
  int fd = pcap_get_selectable_fd(t->pcap);
  if (fd < 0) return throw_code(env, "ELIVE", "tapcap.watch: no selectable fd");
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL)
    return throw_code(env, "ELIVE", "tapcap.watch: no event loop");
  uv_poll_t *poll = (uv_poll_t *)calloc(1, sizeof(uv_poll_t));
  if (poll == NULL) return throw_code(env, "ENOMEM", "tapcap: out of memory");
  if (uv_poll_init(loop, poll, fd) != 0) {
    free(poll);
    return throw_code(env, "ELIVE", "tapcap.watch: uv_poll_init failed");
  }
  poll->data = t;
  napi_create_reference(env, argv[0], 1, &t->callback);
  napi_create_reference(env, self, 1, &t->self);
  napi_value resource_name;
  napi_create_string_utf8(env, "tapcap.watch", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, self, resource_name, &t->async_ctx);
  t->poll = poll;
  uv_poll_start(poll, UV_READABLE, on_readable);
  return NULL;
}

static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tapcap_t *t = unwrap_this(env, info, &argc, NULL);
  if (t != NULL) stop_watch(t);
  return NULL;
}

/* ---- native ring producer: a capture thread writing into shared memory ---- */

/*
 * The layout (ring-layout.ts) in one paragraph: positions are byte counts
 * modulo 2^32; a record is [u32 recordBytes][u32 capLen][u32 origLen]
 * [u32 tsSec][u32 tsNsec][u32 linkType] + frame + padding to 8; a record never
 * straddles the end, a WRAP_MARKER in the first u32 sends readers to offset 0.
 * The producer never blocks: a packet that does not fit is dropped and
 * counted in CTL_RING_DROPS (a blocking capture thread would only move the
 * loss into the kernel, where it is counted less precisely).
 */

/* Free bytes at the producer's cursor: capacity minus the fill of the slowest consumer. */
static uint32_t ring_free_bytes(tapcap_t *t) {
  int32_t n = __atomic_load_n(&t->ring_ctl[CTL_CONSUMERS], __ATOMIC_ACQUIRE);
  if (n < 0) n = 0;
  if (n > MAX_CONSUMERS) n = MAX_CONSUMERS;
  uint32_t max_fill = 0;
  for (int32_t i = 0; i < n; i++) {
    uint32_t rd = (uint32_t)__atomic_load_n(&t->ring_ctl[CTL_READ_BASE + 16 * i], __ATOMIC_ACQUIRE);
    uint32_t fill = t->ring_write - rd;
    if (fill > max_fill) max_fill = fill;
  }
  /* A cursor ahead of ours (consumer bug) would wrap to a huge fill: treat the ring as full then. */
  if (max_fill > t->ring_capacity) return 0;
  return t->ring_capacity - max_fill;
}

static void on_ring_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  tapcap_t *t = (tapcap_t *)user;
  uint32_t caplen = h->caplen;
  uint32_t need = RING_ALIGN8(RING_RECORD_HEADER + caplen);
  uint32_t mask = t->ring_capacity - 1;
  uint32_t off = t->ring_write & mask;
  uint32_t to_end = t->ring_capacity - off;
  if (need > t->ring_capacity) {
    t->ring_drops++;
    return;
  }
  if (need > to_end) {
    /* The tail is too short: a wrap marker fills it, published even if the
       record then does not fit, so the cursor can never stick at a short tail. */
    if (t->ring_free < to_end) t->ring_free = ring_free_bytes(t);
    if (t->ring_free < to_end) {
      t->ring_drops++;
      return;
    }
    put_u32le(t->ring_data + off, RING_WRAP_MARKER);
    t->ring_write += to_end;
    t->ring_free -= to_end;
    off = 0;
  }
  if (t->ring_free < need) {
    /* Cached free space can only be too small (consumers only advance): recompute once. */
    t->ring_free = ring_free_bytes(t);
    if (t->ring_free < need) {
      t->ring_drops++;
      return;
    }
  }
  uint8_t *dst = t->ring_data + off;
  put_u32le(dst, need);
  put_u32le(dst + 4, caplen);
  put_u32le(dst + 8, h->len);
  put_u32le(dst + 12, (uint32_t)h->ts.tv_sec);
  put_u32le(dst + 16, (uint32_t)h->ts.tv_usec * (t->tstamp_nano ? 1u : 1000u));
  put_u32le(dst + 20, (uint32_t)t->ring_linktype);
  memcpy(dst + RING_RECORD_HEADER, bytes, caplen);
  /* Padding is never read; leaving it unwritten saves a store per packet. */
  t->ring_write += need;
  t->ring_free -= need;
  t->ring_packets++;
  t->ring_bytes += caplen;
}

static double monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void ring_publish_stats(tapcap_t *t) {
  struct pcap_stat ps;
  memset(&ps, 0, sizeof ps);
  if (pcap_stats(t->pcap, &ps) != 0) return;
  __atomic_store_n(&t->ring_ctl[CTL_KERNEL_RECEIVED], (int32_t)ps.ps_recv, __ATOMIC_RELAXED);
  __atomic_store_n(&t->ring_ctl[CTL_KERNEL_DROPS], (int32_t)ps.ps_drop, __ATOMIC_RELAXED);
  __atomic_store_n(&t->ring_ctl[CTL_IF_DROPS], (int32_t)ps.ps_ifdrop, __ATOMIC_RELAXED);
  pthread_mutex_lock(&t->stat_lock);
  t->stat_recv = (double)ps.ps_recv;
  t->stat_drop = (double)ps.ps_drop;
  t->stat_ifdrop = (double)ps.ps_ifdrop;
  t->stat_valid = 1;
  pthread_mutex_unlock(&t->stat_lock);
}

static void ring_publish_cursor(tapcap_t *t) {
  __atomic_store_n(&t->ring_ctl[CTL_PACKETS], (int32_t)t->ring_packets, __ATOMIC_RELAXED);
  __atomic_store_n(&t->ring_ctl[CTL_RING_DROPS], (int32_t)t->ring_drops, __ATOMIC_RELAXED);
  __atomic_store_n(&t->ring_ctl[CTL_BYTES_LO], (int32_t)t->ring_bytes, __ATOMIC_RELAXED);
  /* Release: every record byte written above is visible to a consumer that acquires CTL_WRITE. */
  __atomic_store_n(&t->ring_ctl[CTL_WRITE], (int32_t)t->ring_write, __ATOMIC_RELEASE);
}

/* How long poll() may sleep: bounds how late stopRing() is noticed. */
#define RING_POLL_MS 20

static void *ring_thread_main(void *arg) {
  tapcap_t *t = (tapcap_t *)arg;
  int fd = pcap_get_selectable_fd(t->pcap);
  double next_stats = monotonic_ms();
  while (!__atomic_load_n(&t->ring_stop, __ATOMIC_ACQUIRE)) {
    /* Non-blocking pcap_dispatch with cnt -1 processes every packet already in the kernel buffer. */
    int rc = pcap_dispatch(t->pcap, -1, on_ring_packet, (u_char *)t);
    if (rc > 0) ring_publish_cursor(t);
    double now = monotonic_ms();
    if (now >= next_stats) {
      ring_publish_stats(t);
      ring_publish_cursor(t);
      next_stats = now + t->ring_stats_ms;
    }
    if (rc == PCAP_ERROR) {
      snprintf(t->last_error, sizeof t->last_error, "pcap_dispatch: %s", pcap_geterr(t->pcap));
      break;
    }
    if (rc == 0 && fd >= 0) {
      struct pollfd pfd = {fd, POLLIN, 0};
      int wait = RING_POLL_MS;
      double until_stats = next_stats - now;
      if (until_stats < wait) wait = until_stats < 1 ? 1 : (int)until_stats;
      poll(&pfd, 1, wait);
    }
  }
  /*
   * Drain what the kernel holds, so that a clean stop (SIGTERM) loses nothing
   * that reached the interface before it: with TPACKET_V3 (immediate mode off)
   * the last packets sit in a partly filled block that the kernel hands over
   * only when the block's timeout (pcap_set_timeout) expires, so keep reading
   * for one timeout plus a margin, not just once.
   */
  double drain_until = monotonic_ms() + (t->timeout_ms > 0 ? t->timeout_ms : 0) + 20;
  for (;;) {
    int rc = pcap_dispatch(t->pcap, -1, on_ring_packet, (u_char *)t);
    if (rc > 0) ring_publish_cursor(t);
    if (rc < 0 || monotonic_ms() >= drain_until) break;
    if (rc == 0 && fd >= 0) {
      struct pollfd pfd = {fd, POLLIN, 0};
      poll(&pfd, 1, 5);
    }
  }
  ring_publish_stats(t);
  ring_publish_cursor(t);
  __atomic_store_n(&t->ring_ctl[CTL_CLOSED], 1, __ATOMIC_RELEASE);
  return NULL;
}

static void stop_ring(tapcap_t *t) {
  if (!t->ring_running) return;
  __atomic_store_n(&t->ring_stop, 1, __ATOMIC_RELEASE);
  pthread_join(t->ring_thread, NULL);
  t->ring_running = 0;
  if (t->ring_ctl_ref != NULL) napi_delete_reference(t->env, t->ring_ctl_ref);
  if (t->ring_data_ref != NULL) napi_delete_reference(t->env, t->ring_data_ref);
  t->ring_ctl_ref = NULL;
  t->ring_data_ref = NULL;
  t->ring_ctl = NULL;
  t->ring_data = NULL;
}

/* The data pointer and element count of a typed array over a SharedArrayBuffer (or any ArrayBuffer). */
static int typed_array_view(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok) return 0;
  return type == want && *data != NULL;
}

/* startRing(ctl: Int32Array, data: Uint8Array, opts?: {statsIntervalMs}) */
static napi_value js_start_ring(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  tapcap_t *t = unwrap_this(env, info, &argc, argv);
  if (t == NULL || t->pcap == NULL) return throw_code(env, "EINVAL", "tapcap.startRing: not open");
  if (t->ring_running) return throw_code(env, "EBUSY", "tapcap.startRing: already running");
  if (t->poll != NULL) return throw_code(env, "EBUSY", "tapcap.startRing: watch() is active; unwatch() first");
  if (argc < 2) return throw_code(env, "EINVAL", "tapcap.startRing(ctl, data, opts): ctl and data required");
  void *ctl = NULL, *data = NULL;
  size_t ctl_len = 0, data_len = 0;
  if (!typed_array_view(env, argv[0], napi_int32_array, &ctl, &ctl_len) || ctl_len < CONTROL_INT32S)
    return throw_code(env, "EINVAL", "tapcap.startRing: ctl must be an Int32Array of CONTROL_INT32S slots");
  if (!typed_array_view(env, argv[1], napi_uint8_array, &data, &data_len))
    return throw_code(env, "EINVAL", "tapcap.startRing: data must be a Uint8Array");
  if (data_len < 64 || data_len > (1u << 30) || (data_len & (data_len - 1)) != 0)
    return throw_code(env, "EINVAL", "tapcap.startRing: data length must be a power of two in [64, 2^30]");
  if (((uintptr_t)ctl & 3) != 0) return throw_code(env, "EINVAL", "tapcap.startRing: ctl is misaligned");
  int stats_ms = 100;
  if (argc >= 3) {
    napi_valuetype ot;
    napi_typeof(env, argv[2], &ot);
    if (ot == napi_object) stats_ms = get_int(env, argv[2], "statsIntervalMs", 100);
  }
  if (stats_ms < 1) stats_ms = 1;
  t->ring_ctl = (int32_t *)ctl;
  t->ring_data = (uint8_t *)data;
  t->ring_capacity = (uint32_t)data_len;
  /* Continue from whatever cursor the control block holds (0 for a fresh one). */
  t->ring_write = (uint32_t)__atomic_load_n(&t->ring_ctl[CTL_WRITE], __ATOMIC_ACQUIRE);
  t->ring_packets = (uint32_t)__atomic_load_n(&t->ring_ctl[CTL_PACKETS], __ATOMIC_RELAXED);
  t->ring_drops = (uint32_t)__atomic_load_n(&t->ring_ctl[CTL_RING_DROPS], __ATOMIC_RELAXED);
  t->ring_bytes = (uint32_t)__atomic_load_n(&t->ring_ctl[CTL_BYTES_LO], __ATOMIC_RELAXED);
  t->ring_free = 0; /* computed on the first packet */
  t->ring_linktype = pcap_datalink(t->pcap);
  t->ring_stats_ms = stats_ms;
  t->ring_stop = 0;
  __atomic_store_n(&t->ring_ctl[CTL_CLOSED], 0, __ATOMIC_RELEASE);
  napi_create_reference(env, argv[0], 1, &t->ring_ctl_ref);
  napi_create_reference(env, argv[1], 1, &t->ring_data_ref);
  int err = pthread_create(&t->ring_thread, NULL, ring_thread_main, t);
  if (err != 0) {
    napi_delete_reference(env, t->ring_ctl_ref);
    napi_delete_reference(env, t->ring_data_ref);
    t->ring_ctl_ref = t->ring_data_ref = NULL;
    t->ring_ctl = NULL;
    t->ring_data = NULL;
    return throw_code(env, "ELIVE", "tapcap.startRing: pthread_create failed");
  }
  t->ring_running = 1;
  return NULL;
}

static napi_value js_stop_ring(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tapcap_t *t = unwrap_this(env, info, &argc, NULL);
  if (t != NULL) stop_ring(t);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tapcap_t *t = unwrap_this(env, info, &argc, NULL);
  if (t != NULL) close_handle(t);
  return NULL;
}

static napi_value js_lib_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value ret;
  napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &ret);
  return ret;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"dispatch", NULL, js_dispatch, NULL, NULL, NULL, napi_default, NULL},
      {"fd", NULL, js_fd, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_default, NULL},
      {"unwatch", NULL, js_unwatch, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"tstampPrecision", NULL, js_tstamp_precision, NULL, NULL, NULL, napi_default, NULL},
      {"lastError", NULL, js_last_error, NULL, NULL, NULL, napi_default, NULL},
      {"startRing", NULL, js_start_ring, NULL, NULL, NULL, napi_default, NULL},
      {"stopRing", NULL, js_stop_ring, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls;
  napi_define_class(env, "Tapcap", NAPI_AUTO_LENGTH, js_new, NULL, sizeof methods / sizeof methods[0], methods, &cls);
  napi_set_named_property(env, exports, "Tapcap", cls);
  napi_value ver;
  napi_create_function(env, "libVersion", NAPI_AUTO_LENGTH, js_lib_version, NULL, &ver);
  napi_set_named_property(env, exports, "libVersion", ver);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
