// cowcheck's LMDB agent: the real LMDB library (liblmdb, 0.9) as an engine of the snapshot layer's lmdb flavour,
// over the JSON-lines protocol (docs/protocol.md). One environment per sequence, in a private folder below the one
// named on the command line (the run's folder, core/cleanup.ts runRoot); `reset` starts a fresh one. Tree N is the
// named database "tN"; keys are 4-byte big-endian (LMDB's order is then numeric order); a value is its data array as
// bytes. Compiled on first use by engines/lmdb/build.ts; not committed as a binary.
//
// Crashes: the agent defines pwrite, pwrite64, pwritev, write, writev, fdatasync, fsync and msync itself and forwards
// them to libc (dlsym RTLD_NEXT); liblmdb's calls bind to these (the binary exports them, -rdynamic). While a commit
// runs under watch they log its steps: each write to the data file, split at page boundaries (a disk may tear a
// multi-page write between pages), and each flush (fdatasync, fsync, msync; a write to an O_DSYNC descriptor, LMDB's
// meta write, counts as a write and a flush). A crash image is the file as it was before the commit plus the writes
// of the first `after` steps, where those issued since the last flush among them are applied only if their bit is
// set in `keep`.
//
// Requests beyond the protocol, for engines/lmdb/crash.ts and scripts/lmdb-facts.ts only (the harness never sends them):
//   {"id":N,"crashcheck":{"drop":0|1,"sample":S,"seed":X}}  commit the open transaction under watch, then build every
//       crash image of that commit (every prefix of its steps, every subset of the writes since the last flush, or S
//       sampled subsets when there are more), open each with LMDB in a child process, and say what it recovered;
//       drop=1 turns the commit's first fdatasync into a no-op (the negative control).
//   {"id":N,"bench":{"commits":C,"nosync":0|1}}  C one-put commits in a fresh environment of their own, timed.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TREES 64
#define MAX_READERS 16
#define MAP_SIZE ((size_t)1 << 30)
#define MAX_VALUE (1 << 20)
#define MAIN_DBI 1
#define FREE_DBI 0

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "cowcheck lmdb agent: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

// ---- the interposer: LMDB's writes and flushes, logged while a commit runs under watch

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef int (*sync_fn)(int);
typedef int (*msync_fn)(void *, size_t, int);

static void *real(const char *name) {
  void *f = dlsym(RTLD_NEXT, name);
  if (!f) die("dlsym(%s) found nothing", name);
  return f;
}

struct step {
  int flush;
  off_t off;
  size_t len;
  unsigned char *data;
};
static struct {
  int on;
  dev_t dev;
  ino_t ino;
  int drop_sync;    // the negative control: the first fdatasync is not done
  int dropped;      // ... and has been dropped
  int failed;       // out of memory while logging
  unsigned psize;
} watch;
static struct step *steps;
static size_t nsteps, capsteps;

static void push(struct step s) {
  if (nsteps == capsteps) {
    size_t cap = capsteps ? 2 * capsteps : 64;
    struct step *n = realloc(steps, cap * sizeof *n);
    if (!n) {
      watch.failed = 1;
      free(s.data);
      return;
    }
    steps = n;
    capsteps = cap;
  }
  steps[nsteps++] = s;
}

static void clear_steps(void) {
  for (size_t i = 0; i < nsteps; i++) free(steps[i].data);
  nsteps = 0;
}

static int watched(int fd) {
  struct stat st;
  return watch.on && fstat(fd, &st) == 0 && st.st_dev == watch.dev && st.st_ino == watch.ino;
}

/** A write that reached the file: one step per page it touches. */
static void log_write(off_t off, const unsigned char *buf, size_t len) {
  while (len > 0) {
    size_t room = watch.psize - (size_t)(off % watch.psize);
    size_t n = len < room ? len : room;
    unsigned char *copy = malloc(n);
    if (!copy) {
      watch.failed = 1;
      return;
    }
    memcpy(copy, buf, n);
    push((struct step){.flush = 0, .off = off, .len = n, .data = copy});
    off += (off_t)n;
    buf += n;
    len -= n;
  }
}

static void log_flush(void) { push((struct step){.flush = 1}); }

/** After a write of `done` bytes at `off` on fd: log it (and a flush, for an O_DSYNC descriptor). */
static void after_write(int fd, off_t off, const struct iovec *iov, int iovcnt, ssize_t done) {
  if (done <= 0 || !watched(fd)) return;
  size_t left = (size_t)done;
  for (int i = 0; i < iovcnt && left > 0; i++) {
    size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
    log_write(off, iov[i].iov_base, n);
    off += (off_t)n;
    left -= n;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0 && (fl & O_DSYNC)) log_flush();
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  static pwrite_fn f;
  if (!f) f = (pwrite_fn)real("pwrite");
  ssize_t r = f(fd, buf, n, off);
  struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
  after_write(fd, off, &v, 1, r);
  return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
  static pwrite_fn f;
  if (!f) f = (pwrite_fn)real("pwrite64");
  ssize_t r = f(fd, buf, n, off);
  struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
  after_write(fd, off, &v, 1, r);
  return r;
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off) {
  static pwritev_fn f;
  if (!f) f = (pwritev_fn)real("pwritev");
  ssize_t r = f(fd, iov, iovcnt, off);
  after_write(fd, off, iov, iovcnt, r);
  return r;
}

ssize_t write(int fd, const void *buf, size_t n) {
  static write_fn f;
  if (!f) f = (write_fn)real("write");
  off_t off = watch.on ? lseek(fd, 0, SEEK_CUR) : -1;
  ssize_t r = f(fd, buf, n);
  struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
  if (off >= 0) after_write(fd, off, &v, 1, r);
  return r;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  static writev_fn f;
  if (!f) f = (writev_fn)real("writev");
  off_t off = watch.on ? lseek(fd, 0, SEEK_CUR) : -1;
  ssize_t r = f(fd, iov, iovcnt);
  if (off >= 0) after_write(fd, off, iov, iovcnt, r);
  return r;
}

static int flushed(int fd, sync_fn f) {
  if (!watched(fd)) return f(fd);
  if (watch.drop_sync && !watch.dropped) {
    watch.dropped = 1; // the negative control: this flush never happens
    return 0;
  }
  int r = f(fd);
  if (r == 0) log_flush();
  return r;
}

int fdatasync(int fd) {
  static sync_fn f;
  if (!f) f = (sync_fn)real("fdatasync");
  return flushed(fd, f);
}

int fsync(int fd) {
  static sync_fn f;
  if (!f) f = (sync_fn)real("fsync");
  return flushed(fd, f);
}

int msync(void *addr, size_t len, int flags) {
  static msync_fn f;
  if (!f) f = (msync_fn)real("msync");
  int r = f(addr, len, flags);
  if (r == 0 && watch.on && (flags & MS_SYNC)) log_flush(); // only with MDB_WRITEMAP, which the agent does not use
  return r;
}

// ---- requests: a tiny reader for the flat JSON objects cowcheck sends

static const char *find_key(const char *obj, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(obj, pat);
  return p ? p + strlen(pat) : NULL;
}
/** A number field, or `dflt` if absent or null; anything outside ±2^40 reads as -1 (outside every range). */
static long long num(const char *obj, const char *key, long long dflt) {
  const char *p = find_key(obj, key);
  if (!p || !strncmp(p, "null", 4)) return dflt;
  long long v = strtoll(p, NULL, 10);
  return v > (1LL << 40) || v < -(1LL << 40) ? -1 : v;
}
static int str_is(const char *obj, const char *key, const char *value) {
  const char *p = find_key(obj, key);
  size_t n = strlen(value);
  return p && p[0] == '"' && !strncmp(p + 1, value, n) && p[n + 1] == '"';
}
/** The array field `key` of numbers 0..255 into buf (at most cap); its length, or -1 if absent or malformed. */
static long bytes_of(const char *obj, const char *key, unsigned char *buf, long cap) {
  const char *p = find_key(obj, key);
  if (!p || *p != '[') return -1;
  p++;
  long n = 0;
  while (*p == ' ') p++;
  if (*p == ']') return 0;
  for (;;) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 0 || v > 255 || n >= cap) return -1;
    buf[n++] = (unsigned char)v;
    p = end;
    while (*p == ' ') p++;
    if (*p == ']') return n;
    if (*p != ',') return -1;
    p++;
  }
}

// ---- answers

static long id;
static FILE *out; // an answer being built (open_memstream)
static char *outbuf;
static size_t outlen;

static void begin_answer(void) {
  out = open_memstream(&outbuf, &outlen);
  if (!out) die("open_memstream: %s", strerror(errno));
}
static void end_answer(const char *field) {
  fclose(out);
  printf("{\"id\":%ld,\"ok\":true,\"%s\":%s}\n", id, field, outbuf);
  fflush(stdout);
  free(outbuf);
  outbuf = NULL;
}
static void reply(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("{\"id\":%ld,\"ok\":true,\"obs\":", id);
  vprintf(fmt, ap);
  printf("}\n");
  fflush(stdout);
  va_end(ap);
}
static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    if ((unsigned char)*s >= 0x20) fputc(*s, f);
  }
  fputc('"', f);
}
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("{\"id\":%ld,\"ok\":false,\"error\":{\"message\":", id);
  json_string(stdout, msg);
  printf("}}\n");
  fflush(stdout);
}
static void reply_error(const char *name) { reply("{\"error\":\"%s\"}", name); }
static void reply_ok(void) { reply("{\"ok\":true}"); }

/** An LMDB error no observation names: what a page that did not reach the disk reads as is EIO; the rest fail. */
static void reply_mdb(const char *what, int rc) {
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == EIO) reply_error("EIO");
  else fail("%s: %s", what, mdb_strerror(rc));
}

// ---- the environment

static long ntrees = 4, nreaders = 2;
static char dir[PATH_MAX], datapath[PATH_MAX + 16], lockpath[PATH_MAX + 32], imagepath[PATH_MAX + 32];
static MDB_env *env;
static unsigned psize;
static MDB_txn *wtxn;
static int slot[MAX_TREES];         // the handle of tree N, -1 if none (handles are shared by the whole env)
static int slot_new[MAX_TREES];     // opened (created) by the open write transaction: not usable by readers
static int pending_drop[MAX_TREES]; // dropped in the open write transaction (emptied now, deleted at commit)
static struct {
  MDB_txn *txn;
  int dbi[MAX_TREES];
} readers[MAX_READERS];

static void tree_name(int t, char *name) { snprintf(name, 16, "t%d", t); }

static int env_open(MDB_env **e, const char *path, unsigned flags) {
  int rc = mdb_env_create(e);
  if (rc) return rc;
  if ((rc = mdb_env_set_maxdbs(*e, MAX_TREES + 2)) || (rc = mdb_env_set_maxreaders(*e, MAX_READERS + 16)) ||
      (rc = mdb_env_set_mapsize(*e, MAP_SIZE)) || (rc = mdb_env_open(*e, path, flags | MDB_NOSUBDIR | MDB_NOTLS, 0600))) {
    mdb_env_close(*e);
    *e = NULL;
  }
  return rc;
}

/** Forget every handle: the environment is closing or was just opened. */
static void forget_handles(void) {
  for (int t = 0; t < MAX_TREES; t++) slot[t] = -1, slot_new[t] = 0, pending_drop[t] = 0;
}

/** Open a handle for every tree of the last committed state (after an open), in a read txn that keeps them. */
static int open_handles(void) {
  forget_handles();
  MDB_txn *txn;
  MDB_cursor *c;
  int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
  if (rc) return rc;
  if ((rc = mdb_cursor_open(txn, MAIN_DBI, &c))) {
    mdb_txn_abort(txn);
    return rc;
  }
  MDB_val k, v;
  char names[MAX_TREES][16];
  int found[MAX_TREES], n = 0;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    int t;
    char name[16];
    if (k.mv_size >= sizeof name) continue;
    memcpy(name, k.mv_data, k.mv_size);
    name[k.mv_size] = 0;
    if (sscanf(name, "t%d", &t) != 1 || t < 0 || t >= MAX_TREES || n >= MAX_TREES) continue;
    memcpy(names[n], name, sizeof name);
    found[n++] = t;
  }
  mdb_cursor_close(c);
  if (rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return rc;
  }
  for (int i = 0; i < n; i++) {
    MDB_dbi d;
    if ((rc = mdb_dbi_open(txn, names[i], 0, &d))) {
      mdb_txn_abort(txn);
      return rc;
    }
    slot[found[i]] = (int)d;
  }
  return mdb_txn_commit(txn); // a read txn's commit keeps the handles it opened
}

static void end_readers(void) {
  for (int r = 0; r < MAX_READERS; r++)
    if (readers[r].txn) {
      mdb_txn_abort(readers[r].txn);
      readers[r].txn = NULL;
    }
}

static void close_env(void) {
  end_readers();
  if (wtxn) mdb_txn_abort(wtxn);
  wtxn = NULL;
  if (env) mdb_env_close(env);
  env = NULL;
  forget_handles();
}

/** A fresh environment: tree 0 created and committed (the last committed txn is 1, the next write txn 2). */
static const char *fresh_env(void) {
  static char why[256];
  close_env();
  unlink(datapath);
  unlink(lockpath);
  int rc = env_open(&env, datapath, 0);
  if (rc) return snprintf(why, sizeof why, "mdb_env_open: %s", mdb_strerror(rc)), why;
  MDB_stat st;
  mdb_env_stat(env, &st);
  psize = st.ms_psize;
  MDB_txn *txn;
  MDB_dbi d;
  if ((rc = mdb_txn_begin(env, NULL, 0, &txn))) return snprintf(why, sizeof why, "mdb_txn_begin: %s", mdb_strerror(rc)), why;
  if ((rc = mdb_dbi_open(txn, "t0", MDB_CREATE, &d))) {
    mdb_txn_abort(txn);
    return snprintf(why, sizeof why, "creating t0: %s", mdb_strerror(rc)), why;
  }
  if ((rc = mdb_txn_commit(txn))) return snprintf(why, sizeof why, "committing t0: %s", mdb_strerror(rc)), why;
  slot[0] = (int)d;
  return NULL;
}

static int ensure_wtxn(void) {
  if (wtxn) return 0;
  return mdb_txn_begin(env, NULL, 0, &wtxn);
}

/** Whether tree t exists as txn sees it (LMDB's main database is the authority; the handle table must agree). */
static int exists_in(MDB_txn *txn, int t, int *exists) {
  char name[16];
  tree_name(t, name);
  MDB_val k = {.mv_size = strlen(name), .mv_data = name}, v;
  int rc = mdb_get(txn, MAIN_DBI, &k, &v);
  if (rc && rc != MDB_NOTFOUND) return rc;
  *exists = rc == 0 && !(txn == wtxn && pending_drop[t]);
  return 0;
}

/** The handle of tree t in the writer's view (the open write txn, or the committed state), -1 if it has none. */
static int writer_handle(int t) { return slot[t] >= 0 && !(wtxn && pending_drop[t]) ? slot[t] : -1; }

/** Checks that LMDB and the handle table agree on whether t exists for txn; answers a failure if not. */
static int check_tree(MDB_txn *txn, int t, int *exists) {
  int rc = exists_in(txn, t, exists);
  if (rc) return reply_mdb("reading the main database", rc), -1;
  if (*exists != (writer_handle(t) >= 0))
    return fail("tree %d %s in LMDB's main database but the agent's handle table says otherwise", t,
                *exists ? "exists" : "does not exist"),
           -1;
  return 0;
}

static void key_of(int k, unsigned char *b) {
  b[0] = (unsigned char)(k >> 24), b[1] = (unsigned char)(k >> 16), b[2] = (unsigned char)(k >> 8), b[3] = (unsigned char)k;
}
static long key_from(const MDB_val *v) {
  const unsigned char *b = v->mv_data;
  return v->mv_size == 4 ? (long)b[0] << 24 | (long)b[1] << 16 | (long)b[2] << 8 | (long)b[3] : -1;
}

static void put_data(FILE *f, const MDB_val *v) {
  fputc('[', f);
  for (size_t i = 0; i < v->mv_size; i++) fprintf(f, i ? ",%u" : "%u", ((unsigned char *)v->mv_data)[i]);
  fputc(']', f);
}

static void reply_data(const MDB_val *v) {
  printf("{\"id\":%ld,\"ok\":true,\"obs\":{\"data\":", id);
  put_data(stdout, v);
  printf("}}\n");
  fflush(stdout);
}

/** A read txn on the last committed state for the writer's reads when no write txn is open. */
static MDB_txn *view_txn(int *rc) {
  if (wtxn) return *rc = 0, wtxn;
  MDB_txn *txn = NULL;
  *rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
  return txn;
}
static void end_view(MDB_txn *txn) {
  if (txn && txn != wtxn) mdb_txn_abort(txn);
}

static int commit_wtxn(void) {
  if (!wtxn) return 0;
  for (int t = 0; t < MAX_TREES; t++)
    if (pending_drop[t]) {
      int rc = mdb_drop(wtxn, (MDB_dbi)slot[t], 1); // deletes the (emptied) record and closes the handle
      if (rc) {
        mdb_txn_abort(wtxn);
        wtxn = NULL;
        return rc;
      }
      slot[t] = -1;
      pending_drop[t] = 0;
      slot_new[t] = 0;
    }
  int rc = mdb_txn_commit(wtxn);
  wtxn = NULL;
  for (int t = 0; t < MAX_TREES; t++) {
    if (rc && slot_new[t]) slot[t] = -1; // a failed commit aborts: the handles it opened are closed
    slot_new[t] = 0;
  }
  return rc;
}

static void abort_wtxn(void) {
  if (!wtxn) return;
  mdb_txn_abort(wtxn);
  wtxn = NULL;
  for (int t = 0; t < MAX_TREES; t++) {
    if (slot_new[t]) slot[t] = -1; // handles opened by an aborted txn are closed
    slot_new[t] = 0;
    pending_drop[t] = 0;
  }
}

// ---- files

static int read_file(const char *path, unsigned char **buf, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) < 0) return close(fd), -1;
  *len = (size_t)st.st_size;
  *buf = malloc(*len ? *len : 1);
  if (!*buf) return close(fd), -1;
  size_t got = 0;
  while (got < *len) {
    ssize_t r = pread(fd, *buf + got, *len - got, (off_t)got);
    if (r <= 0) return close(fd), free(*buf), *buf = NULL, -1;
    got += (size_t)r;
  }
  close(fd);
  return 0;
}

static int write_file(const char *path, const unsigned char *buf, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < len) {
    ssize_t r = pwrite(fd, buf + done, len - done, (off_t)done);
    if (r <= 0) return close(fd), -1;
    done += (size_t)r;
  }
  return close(fd);
}

static void remove_tree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char p[PATH_MAX];
      snprintf(p, sizeof p, "%s/%s", path, e->d_name);
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
      else unlink(p);
    }
    closedir(d);
  }
  rmdir(path);
}

// ---- the file's own structure: meta pages and a walk of every page (LMDB's on-disk format, mdb.c)

#define PAGEHDRSZ 16
#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define P_META 0x08
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define P_INVALID (~(uint64_t)0)

struct disk_db { // MDB_db
  uint32_t pad;
  uint16_t flags, depth;
  uint64_t branch, leaf, overflow, entries, root;
};
struct disk_meta { // MDB_meta
  uint32_t magic, version;
  uint64_t address, mapsize;
  struct disk_db dbs[2];
  uint64_t last_pg, txnid;
};
_Static_assert(sizeof(struct disk_db) == 48, "MDB_db is 48 bytes");
_Static_assert(sizeof(struct disk_meta) == 136, "MDB_meta is 136 bytes");

static uint16_t u16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/** Meta slot i of an image, or 0 if the image is too short or the page is no meta page. */
static int meta_of(const unsigned char *img, size_t size, unsigned ps, int i, struct disk_meta *m) {
  size_t off = (size_t)i * ps;
  if (off + PAGEHDRSZ + sizeof *m > size || !(u16(img + off + 10) & P_META)) return 0;
  memcpy(m, img + off + PAGEHDRSZ, sizeof *m);
  return m->magic == 0xBEEFC0DE;
}

struct audit {
  const unsigned char *img;
  size_t size;
  unsigned ps;
  uint64_t npages;     // the newest meta's last page + 1
  uint64_t filepages;  // whole pages in the file: pages in use must be among them; free ones need not be (LMDB
                       // frees pages it allocated and never wrote, past the file's end, and reuses them later)
  unsigned char *mark; // 0 unseen, 1 meta, 2 in use, 3 free
  uint64_t *freepg;
  size_t nfree, capfree;
  uint64_t used, entries;
  char problem[256];
};
struct walked {
  uint64_t branch, leaf, overflow, entries;
  unsigned depth;
};

static int problem(struct audit *a, const char *fmt, ...) {
  if (a->problem[0]) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->problem, sizeof a->problem, fmt, ap);
  va_end(ap);
  return -1;
}

static int claim(struct audit *a, uint64_t pg, uint64_t n, const char *what) {
  if (pg < 2 || n == 0 || pg >= a->npages || n > a->npages - pg)
    return problem(a, "%s page %llu (+%llu) is outside pages 2..%llu", what, (unsigned long long)pg,
                   (unsigned long long)n - 1, (unsigned long long)a->npages - 1);
  if (pg + n > a->filepages)
    return problem(a, "%s page %llu (+%llu) is in use but past the file's end (%llu pages)", what, (unsigned long long)pg,
                   (unsigned long long)n - 1, (unsigned long long)a->filepages);
  for (uint64_t i = pg; i < pg + n; i++) {
    if (a->mark[i]) return problem(a, "page %llu is reached twice (%s)", (unsigned long long)i, what);
    a->mark[i] = 2;
    a->used++;
  }
  return 0;
}

static int walk_db(struct audit *a, const struct disk_db *db, int kind, const char *name);

/** The page pg of a tree at depth d (1 = its root); kind 0 the freelist, 1 the main database, 2 a named one. */
static int walk(struct audit *a, uint64_t pg, unsigned d, int kind, struct walked *w, const char *name) {
  if (d > 32) return problem(a, "%s is deeper than 32", name);
  if (claim(a, pg, 1, name)) return -1;
  const unsigned char *p = a->img + pg * a->ps;
  if (u64(p) != pg) return problem(a, "page %llu of %s says it is page %llu", (unsigned long long)pg, name, (unsigned long long)u64(p));
  uint16_t flags = u16(p + 10), lower = u16(p + 12), upper = u16(p + 14);
  if (lower < PAGEHDRSZ || lower > upper || upper > a->ps || (lower - PAGEHDRSZ) % 2)
    return problem(a, "page %llu of %s has a bad header (lower %u, upper %u)", (unsigned long long)pg, name, lower, upper);
  unsigned n = (lower - PAGEHDRSZ) / 2;
  if (d > w->depth) w->depth = d;
  if (flags & P_BRANCH) {
    w->branch++;
    for (unsigned i = 0; i < n; i++) {
      unsigned at = u16(p + PAGEHDRSZ + 2 * i);
      if (at < upper || at + 8 > a->ps) return problem(a, "page %llu of %s has a node outside it", (unsigned long long)pg, name);
      uint64_t child = (uint64_t)u16(p + at) | (uint64_t)u16(p + at + 2) << 16 | (uint64_t)u16(p + at + 4) << 32;
      if (walk(a, child, d + 1, kind, w, name)) return -1;
    }
    return 0;
  }
  if (!(flags & P_LEAF)) return problem(a, "page %llu of %s has flags 0x%x: neither branch nor leaf", (unsigned long long)pg, name, flags);
  w->leaf++;
  w->entries += n;
  for (unsigned i = 0; i < n; i++) {
    unsigned at = u16(p + PAGEHDRSZ + 2 * i);
    if (at < upper || at + 8 > a->ps) return problem(a, "page %llu of %s has a node outside it", (unsigned long long)pg, name);
    uint32_t dsize = (uint32_t)u16(p + at) | (uint32_t)u16(p + at + 2) << 16;
    uint16_t nflags = u16(p + at + 4), ksize = u16(p + at + 6);
    const unsigned char *key = p + at + 8, *data = key + ksize;
    if (at + 8u + ksize + ((nflags & F_BIGDATA) ? 8u : dsize) > a->ps)
      return problem(a, "page %llu of %s has a node longer than the page", (unsigned long long)pg, name);
    if (nflags & F_BIGDATA) {
      uint64_t opg = u64(data);
      if (opg < 2 || opg >= a->npages || opg >= a->filepages)
        return problem(a, "%s points to overflow page %llu, outside pages 2..%llu or the file (%llu pages)", name, (unsigned long long)opg,
                       (unsigned long long)a->npages - 1, (unsigned long long)a->filepages);
      const unsigned char *op = a->img + opg * a->ps;
      uint32_t pages = u32(op + 12);
      if (!(u16(op + 10) & P_OVERFLOW) || u64(op) != opg)
        return problem(a, "%s points to page %llu as overflow, which it is not", name, (unsigned long long)opg);
      if ((uint64_t)pages * a->ps < (uint64_t)dsize + PAGEHDRSZ)
        return problem(a, "overflow page %llu of %s is shorter than its value", (unsigned long long)opg, name);
      if (claim(a, opg, pages, name)) return -1;
      w->overflow += pages;
      data = op + PAGEHDRSZ;
    }
    if (kind == 1 && (nflags & F_SUBDATA)) {
      struct disk_db db;
      char sub[24];
      if (dsize != sizeof db) return problem(a, "a named database record in the main database is %u bytes", dsize);
      memcpy(&db, data, sizeof db);
      snprintf(sub, sizeof sub, "%.*s", ksize < 16 ? ksize : 16, (const char *)key);
      if (walk_db(a, &db, 2, sub)) return -1;
    } else if (kind == 0) { // a freelist record: an IDL, [count, pgno...]
      uint64_t count = dsize >= 8 ? u64(data) : 0;
      if (dsize < 8 || (count + 1) * 8 > dsize) return problem(a, "a freelist record is malformed (%u bytes, count %llu)", dsize, (unsigned long long)count);
      for (uint64_t j = 0; j < count; j++) {
        if (a->nfree == a->capfree) {
          size_t cap = a->capfree ? 2 * a->capfree : 256;
          uint64_t *m = realloc(a->freepg, cap * sizeof *m);
          if (!m) return problem(a, "out of memory");
          a->freepg = m;
          a->capfree = cap;
        }
        a->freepg[a->nfree++] = u64(data + 8 * (j + 1));
      }
    }
  }
  return 0;
}

static int walk_db(struct audit *a, const struct disk_db *db, int kind, const char *name) {
  struct walked w = {0};
  if (db->root == P_INVALID) {
    if (db->depth || db->branch || db->leaf || db->overflow || db->entries)
      return problem(a, "%s is empty but its record counts pages or entries", name);
    return 0;
  }
  if (walk(a, db->root, 1, kind, &w, name)) return -1;
  if (w.depth != db->depth || w.branch != db->branch || w.leaf != db->leaf || w.overflow != db->overflow || w.entries != db->entries)
    return problem(a, "%s's record says depth %u, %llu branch, %llu leaf, %llu overflow pages, %llu entries; its pages: %u, %llu, %llu, %llu, %llu",
                   name, db->depth, (unsigned long long)db->branch, (unsigned long long)db->leaf, (unsigned long long)db->overflow,
                   (unsigned long long)db->entries, w.depth, (unsigned long long)w.branch, (unsigned long long)w.leaf,
                   (unsigned long long)w.overflow, (unsigned long long)w.entries);
  if (kind == 2) a->entries += w.entries;
  return 0;
}

/**
 * Every page of the newest meta's state is a meta page, reached exactly once from a tree (the freelist's, the main
 * database's, a named database's, overflow pages included), or free exactly once, and each tree's record counts
 * what its pages hold. Returns 0, or -1 with a->problem set. The caller frees a->mark and a->freepg.
 */
static int audit_image(struct audit *a, const unsigned char *img, size_t size, unsigned ps) {
  memset(a, 0, sizeof *a);
  a->img = img, a->size = size, a->ps = ps;
  struct disk_meta m[2];
  int ok0 = meta_of(img, size, ps, 0, &m[0]), ok1 = meta_of(img, size, ps, 1, &m[1]);
  if (!ok0 || !ok1) return problem(a, "meta page %d is not a valid LMDB meta page", ok0 ? 1 : 0);
  const struct disk_meta *cur = &m[m[0].txnid < m[1].txnid];
  a->npages = cur->last_pg + 1;
  a->filepages = size / ps;
  if (a->npages < 2 || a->npages > (uint64_t)1 << 40)
    return problem(a, "the meta (txn %llu) says the last page is %llu", (unsigned long long)cur->txnid, (unsigned long long)cur->last_pg);
  a->mark = calloc(a->npages, 1);
  if (!a->mark) return problem(a, "out of memory");
  a->mark[0] = a->mark[1] = 1;
  if (walk_db(a, &cur->dbs[0], 0, "the freelist") || walk_db(a, &cur->dbs[1], 1, "the main database")) return -1;
  for (size_t i = 0; i < a->nfree; i++) {
    uint64_t pg = a->freepg[i];
    if (pg < 2 || pg >= a->npages) return problem(a, "free page %llu is outside pages 2..%llu", (unsigned long long)pg, (unsigned long long)a->npages - 1);
    if (a->mark[pg] == 2) return problem(a, "page %llu is both in use and free", (unsigned long long)pg);
    if (a->mark[pg] == 3) return problem(a, "page %llu is free twice", (unsigned long long)pg);
    a->mark[pg] = 3;
  }
  for (uint64_t pg = 2; pg < a->npages; pg++)
    if (!a->mark[pg]) return problem(a, "page %llu is neither in use nor free (leaked)", (unsigned long long)pg);
  return 0;
}

// ---- content: a hash of everything the trees hold, to compare a recovered image with the states it may be

static void fnv(uint64_t *h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) *h = (*h ^ b[i]) * 0x100000001b3ULL;
}

/**
 * The content of every named database of txn, in the main database's order: names, keys and values. `dbi_for`
 * gives a handle for a name (the agent's table, or mdb_dbi_open in a child). Entries per tree go to counts.
 */
static int content_hash(MDB_txn *txn, int (*dbi_for)(MDB_txn *, const char *, MDB_dbi *), uint64_t *hash, long *counts) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (int t = 0; t < MAX_TREES; t++) counts[t] = -1;
  MDB_cursor *c, *tc;
  int rc = mdb_cursor_open(txn, MAIN_DBI, &c);
  if (rc) return rc;
  MDB_val k, v, tk, tv;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    char name[32];
    int t = -1;
    snprintf(name, sizeof name, "%.*s", (int)(k.mv_size < 31 ? k.mv_size : 31), (char *)k.mv_data);
    fnv(&h, name, strlen(name) + 1);
    MDB_dbi d;
    if ((rc = dbi_for(txn, name, &d))) break;
    if ((rc = mdb_cursor_open(txn, d, &tc))) break;
    long n = 0;
    for (rc = mdb_cursor_get(tc, &tk, &tv, MDB_FIRST); rc == 0; rc = mdb_cursor_get(tc, &tk, &tv, MDB_NEXT)) {
      uint64_t sizes[2] = {tk.mv_size, tv.mv_size};
      fnv(&h, sizes, sizeof sizes);
      fnv(&h, tk.mv_data, tk.mv_size);
      fnv(&h, tv.mv_data, tv.mv_size);
      n++;
    }
    mdb_cursor_close(tc);
    if (rc != MDB_NOTFOUND) break;
    if (sscanf(name, "t%d", &t) == 1 && t >= 0 && t < MAX_TREES) counts[t] = n;
    fnv(&h, &n, sizeof n);
  }
  mdb_cursor_close(c);
  if (rc != MDB_NOTFOUND) return rc;
  *hash = h;
  return 0;
}

/** The agent's own handles, for read txns on the last committed state. */
static int committed_dbi(MDB_txn *txn, const char *name, MDB_dbi *d) {
  (void)txn;
  int t;
  if (sscanf(name, "t%d", &t) != 1 || t < 0 || t >= MAX_TREES || slot[t] < 0 || slot_new[t]) return MDB_BAD_DBI;
  *d = (MDB_dbi)slot[t];
  return 0;
}

/** In a child's own environment: the database by name. */
static int open_dbi(MDB_txn *txn, const char *name, MDB_dbi *d) { return mdb_dbi_open(txn, name, 0, d); }

static int committed_content(uint64_t *hash, long *counts) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
  if (rc) return rc;
  rc = content_hash(txn, committed_dbi, hash, counts);
  mdb_txn_abort(txn);
  return rc;
}

// ---- a commit under watch, and the crash images it allows

static unsigned char *before; // the file before the commit: what the disk held
static size_t before_len;

/** Commit the open write txn logging its steps; the file as it was before is kept in `before`. */
static int watched_commit(int drop_sync, const char **why) {
  free(before);
  before = NULL;
  if (read_file(datapath, &before, &before_len)) return *why = "reading the data file before the commit failed", -1;
  struct stat st;
  if (stat(datapath, &st)) return *why = "stat of the data file failed", -1;
  clear_steps();
  watch.dev = st.st_dev, watch.ino = st.st_ino, watch.psize = psize;
  watch.drop_sync = drop_sync, watch.dropped = 0, watch.failed = 0;
  watch.on = 1;
  int rc = commit_wtxn();
  watch.on = 0;
  if (watch.failed) return *why = "out of memory while logging the commit", -1;
  if (rc) return *why = mdb_strerror(rc), -1;
  return 0;
}

/**
 * The crash image after `after` steps: the file before the commit, the writes before the last flush among those
 * steps, and of the writes after it those whose index (0 = the first after the flush) is in `kept` (a bit array).
 * Returns its length (the image is written to *img, grown as needed).
 */
static size_t build_image(unsigned char **img, size_t *cap, size_t after, const unsigned char *kept) {
  if (after > nsteps) after = nsteps;
  size_t last_flush = 0; // steps before it are durable
  for (size_t i = 0; i < after; i++)
    if (steps[i].flush) last_flush = i + 1;
  // the file's length is what the applied writes make it (a lost write that would extend it leaves it shorter);
  // a gap below an applied write reads as zeros
  size_t len = before_len, pending = 0;
  for (size_t i = 0; i < after; i++) {
    if (steps[i].flush) continue;
    int applied = i < last_flush || (kept[pending >> 3] >> (pending & 7) & 1);
    if (i >= last_flush) pending++;
    if (applied && (size_t)steps[i].off + steps[i].len > len) len = (size_t)steps[i].off + steps[i].len;
  }
  if (len > *cap) {
    unsigned char *n = realloc(*img, len);
    if (!n) die("out of memory for a crash image of %zu bytes", len);
    *img = n;
    *cap = len;
  }
  memcpy(*img, before, before_len);
  memset(*img + before_len, 0, len - before_len); // a hole reads as zeros
  pending = 0;
  for (size_t i = 0; i < after; i++) {
    if (steps[i].flush) continue;
    int applied = i < last_flush || (kept[pending >> 3] >> (pending & 7) & 1);
    if (i >= last_flush) pending++;
    if (applied) memcpy(*img + steps[i].off, steps[i].data, steps[i].len);
  }
  return len;
}

/** The writes issued after the last flush among the first `after` steps. */
static size_t pending_writes(size_t after) {
  size_t n = 0;
  for (size_t i = 0; i < after && i < nsteps; i++) n = steps[i].flush ? 0 : n + 1;
  return n;
}

// ---- ops

static int tree_arg(const char *op) {
  long long t = num(op, "tree", -1);
  return t >= 0 && t < ntrees && t < MAX_TREES ? (int)t : -1;
}

static void do_scan(MDB_txn *txn, int dbi) {
  MDB_cursor *c;
  int rc = mdb_cursor_open(txn, (MDB_dbi)dbi, &c);
  if (rc) return reply_mdb("mdb_cursor_open", rc);
  begin_answer();
  fprintf(out, "{\"entries\":[");
  MDB_val k, v;
  int first = 1;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    fprintf(out, "%s[%ld,", first ? "" : ",", key_from(&k));
    put_data(out, &v);
    fputc(']', out);
    first = 0;
  }
  mdb_cursor_close(c);
  fprintf(out, "]}");
  if (rc != MDB_NOTFOUND) {
    fclose(out);
    free(outbuf);
    outbuf = NULL;
    return reply_mdb("scanning", rc);
  }
  end_answer("obs");
}

static unsigned char valbuf[MAX_VALUE];

static void crash_op(long long after, long long keep);

static void do_op(const char *op) {
  int t = tree_arg(op), rc, exists;
  long long k = num(op, "key", -1);
  unsigned char kb[4] = {0, 0, 0, 0};
  if (k >= (1LL << 31)) return fail("key %lld does not fit the agent's 4-byte keys", k);
  if (k >= 0) key_of((int)k, kb);
  MDB_val key = {.mv_size = 4, .mv_data = kb}, val;
  if (str_is(op, "op", "put") || str_is(op, "op", "del")) {
    int put = str_is(op, "op", "put");
    long n = put ? bytes_of(op, "data", valbuf, MAX_VALUE) : 0;
    if (t < 0 || k < 0 || n < 0) return fail("a malformed %s", put ? "put" : "del");
    if ((rc = ensure_wtxn())) return reply_mdb("mdb_txn_begin", rc);
    if (check_tree(wtxn, t, &exists)) return;
    if (!exists) return reply_error("ENOENT");
    val.mv_size = (size_t)n, val.mv_data = valbuf;
    rc = put ? mdb_put(wtxn, (MDB_dbi)slot[t], &key, &val, 0) : mdb_del(wtxn, (MDB_dbi)slot[t], &key, NULL);
    if (rc == MDB_NOTFOUND && !put) return reply_error("NOTFOUND");
    if (rc) return reply_mdb(put ? "mdb_put" : "mdb_del", rc);
    return reply_ok();
  }
  if (str_is(op, "op", "get") || str_is(op, "op", "scan")) {
    int get = str_is(op, "op", "get");
    if (t < 0 || (get && k < 0)) return fail("a malformed %s", get ? "get" : "scan");
    MDB_txn *txn = view_txn(&rc);
    if (rc) return reply_mdb("mdb_txn_begin", rc);
    if (check_tree(txn, t, &exists)) return end_view(txn);
    if (!exists) return end_view(txn), reply_error("ENOENT");
    if (!get) return do_scan(txn, slot[t]), end_view(txn);
    rc = mdb_get(txn, (MDB_dbi)slot[t], &key, &val);
    if (rc == MDB_NOTFOUND) reply_error("NOTFOUND");
    else if (rc) reply_mdb("mdb_get", rc);
    else reply_data(&val);
    return end_view(txn);
  }
  if (str_is(op, "op", "commit")) {
    if ((rc = commit_wtxn())) return fail("mdb_txn_commit: %s", mdb_strerror(rc));
    return reply_ok();
  }
  if (str_is(op, "op", "abort")) return abort_wtxn(), reply_ok();
  if (str_is(op, "op", "create")) {
    if (t < 0) return fail("a malformed create");
    if ((rc = ensure_wtxn())) return reply_mdb("mdb_txn_begin", rc);
    if (check_tree(wtxn, t, &exists)) return;
    if (exists) return reply_error("EEXIST");
    if (pending_drop[t]) { // dropped in this txn: its record is still there, emptied
      pending_drop[t] = 0;
      return reply_ok();
    }
    char name[16];
    tree_name(t, name);
    MDB_dbi d;
    if ((rc = mdb_dbi_open(wtxn, name, MDB_CREATE, &d))) return reply_mdb("mdb_dbi_open", rc);
    slot[t] = (int)d;
    slot_new[t] = 1;
    return reply_ok();
  }
  if (str_is(op, "op", "drop")) {
    if (t < 0) return fail("a malformed drop");
    if ((rc = ensure_wtxn())) return reply_mdb("mdb_txn_begin", rc);
    if (check_tree(wtxn, t, &exists)) return;
    if (!exists) return reply_error("ENOENT");
    if (t == 0) return reply_error("EINVAL");
    // Empty it now (its pages go on this txn's free list); its record goes with mdb_drop(del=1) at commit, which
    // closes the handle for the whole environment: until then readers that begin still find the committed tree.
    if ((rc = mdb_drop(wtxn, (MDB_dbi)slot[t], 0))) return reply_mdb("mdb_drop", rc);
    pending_drop[t] = 1;
    return reply_ok();
  }
  if (str_is(op, "op", "begin-read") || str_is(op, "op", "read") || str_is(op, "op", "end-read")) {
    long long r = num(op, "reader", -1);
    if (r < 0 || r >= nreaders || r >= MAX_READERS) return fail("a malformed %s", op);
    if (str_is(op, "op", "begin-read")) {
      if (readers[r].txn) return reply_error("EINVAL");
      MDB_txn *txn;
      if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) return reply_mdb("mdb_txn_begin (read-only)", rc);
      // The committed trees are those with handles the whole environment knows (not opened by the open write txn);
      // each record is loaded now (mdb_stat), so the reader never looks a name up again after a drop renames slots.
      for (int u = 0; u < MAX_TREES; u++) {
        readers[r].dbi[u] = -1;
        if (u >= ntrees) continue;
        int committed = slot[u] >= 0 && !slot_new[u], there;
        char name[16];
        tree_name(u, name);
        MDB_val nk = {.mv_size = strlen(name), .mv_data = name}, nv;
        there = mdb_get(txn, MAIN_DBI, &nk, &nv) == 0;
        if (there != committed) {
          mdb_txn_abort(txn);
          return fail("tree %d %s in the reader's snapshot but the handle table says otherwise", u, there ? "exists" : "does not exist");
        }
        MDB_stat st;
        if (committed && (rc = mdb_stat(txn, (MDB_dbi)slot[u], &st))) {
          mdb_txn_abort(txn);
          return reply_mdb("mdb_stat", rc);
        }
        if (committed) readers[r].dbi[u] = slot[u];
      }
      readers[r].txn = txn;
      return reply_ok();
    }
    if (str_is(op, "op", "end-read")) {
      if (!readers[r].txn) return reply_error("EINVAL");
      mdb_txn_abort(readers[r].txn);
      readers[r].txn = NULL;
      return reply_ok();
    }
    if (!readers[r].txn) return reply_error("EINVAL");
    if (t < 0 || k < 0) return fail("a malformed read");
    if (readers[r].dbi[t] < 0) return reply_error("ENOENT");
    rc = mdb_get(readers[r].txn, (MDB_dbi)readers[r].dbi[t], &key, &val);
    if (rc == MDB_NOTFOUND) return reply_error("NOTFOUND");
    if (rc) return reply_mdb("mdb_get (reader)", rc);
    return reply_data(&val);
  }
  if (str_is(op, "op", "crash")) {
    long long after = num(op, "after", -1), keep = num(op, "keep", -1);
    if (after < 0 || keep < 0) return fail("a malformed crash");
    return crash_op(after, keep);
  }
  fail("an op the lmdb flavour does not have (LMDB has no patch, snapshot, clone, send or space)");
}

/** Commit under watch, lose power after `after` steps keeping `keep`'s unflushed writes, recover from the image. */
static void crash_op(long long after, long long keep) {
  MDB_envinfo info;
  mdb_env_info(env, &info);
  size_t last = info.me_last_txnid, inflight = wtxn ? mdb_txn_id(wtxn) : last + 1;
  const char *why;
  if (wtxn) {
    if (watched_commit(0, &why)) return fail("the commit before the crash failed: %s", why);
    mdb_env_info(env, &info);
    if (info.me_last_txnid != last && nsteps == 0) return fail("the commit wrote txn %zu, but the interposer saw none of its writes", info.me_last_txnid);
  } else {
    free(before);
    before = NULL;
    clear_steps();
    if (read_file(datapath, &before, &before_len)) return fail("reading the data file failed: %s", strerror(errno));
  }
  unsigned char kept[4] = {(unsigned char)keep, (unsigned char)(keep >> 8), (unsigned char)(keep >> 16), (unsigned char)(keep >> 24)};
  unsigned char kept_all[4096]; // bits past keep's 31 are not kept
  memset(kept_all, 0, sizeof kept_all);
  memcpy(kept_all, kept, sizeof kept);
  if (pending_writes((size_t)after) > 8 * sizeof kept_all) return fail("more than %zu writes since a flush", 8 * sizeof kept_all);
  unsigned char *img = NULL;
  size_t cap = 0, len = build_image(&img, &cap, (size_t)after, kept_all);
  close_env(); // readers and the open transaction are gone with the power
  int w = write_file(datapath, img, len);
  free(img);
  if (w) return fail("writing the crash image failed: %s", strerror(errno));
  unlink(lockpath);
  int rc = env_open(&env, datapath, 0);
  if (rc) return fail("LMDB cannot open the crash image (after %lld steps, keep %lld): %s", after, keep, mdb_strerror(rc));
  if ((rc = open_handles())) return fail("reading the recovered main database failed: %s", mdb_strerror(rc));
  mdb_env_info(env, &info);
  if (info.me_last_txnid == inflight && inflight != last) return reply("{\"recovered\":\"inflight\"}");
  if (info.me_last_txnid == last) return reply("{\"recovered\":\"last\"}");
  fail("LMDB recovered txn %zu, neither the last committed (%zu) nor the in-flight one (%zu)", info.me_last_txnid, last, inflight);
}

// ---- the env view

static int reader_line(const char *msg, void *ctx) {
  FILE *f = ctx;
  int pid;
  size_t tid, txnid;
  if (sscanf(msg, "%d %zx %zu", &pid, &tid, &txnid) == 3) fprintf(f, "%s%zu", ftell(f) > 0 ? "," : "", txnid);
  return 0;
}

/**
 * The named databases a meta's main database holds, read from the image itself (the older meta's pages are intact:
 * what its successor freed is not reused while that successor is the last committed txn): "name":root|null, ...
 * Returns 0, or -1 if a page is out of bounds or malformed.
 */
static int put_roots(FILE *f, const unsigned char *img, size_t size, unsigned ps, uint64_t pg, unsigned depth, int *first) {
  if (pg == P_INVALID) return 0;
  if (depth > 32 || pg < 2 || pg >= size / ps) return -1;
  const unsigned char *p = img + pg * ps;
  uint16_t flags = u16(p + 10), lower = u16(p + 12), upper = u16(p + 14);
  if (u64(p) != pg || lower < PAGEHDRSZ || lower > upper || upper > ps) return -1;
  for (unsigned i = 0; i < (lower - PAGEHDRSZ) / 2u; i++) {
    unsigned at = u16(p + PAGEHDRSZ + 2 * i);
    if (at < upper || at + 8 > ps) return -1;
    if (flags & P_BRANCH) {
      uint64_t child = (uint64_t)u16(p + at) | (uint64_t)u16(p + at + 2) << 16 | (uint64_t)u16(p + at + 4) << 32;
      if (put_roots(f, img, size, ps, child, depth + 1, first)) return -1;
      continue;
    }
    if (!(flags & P_LEAF)) return -1;
    uint32_t dsize = (uint32_t)u16(p + at) | (uint32_t)u16(p + at + 2) << 16;
    uint16_t nflags = u16(p + at + 4), ksize = u16(p + at + 6);
    struct disk_db db;
    int t;
    char name[24];
    if (!(nflags & F_SUBDATA) || dsize != sizeof db || at + 8u + ksize + dsize > ps) continue;
    memcpy(&db, p + at + 8 + ksize, sizeof db);
    snprintf(name, sizeof name, "%.*s", ksize < 16 ? ksize : 16, (const char *)p + at + 8);
    if (sscanf(name, "t%d", &t) != 1) continue;
    if (db.root == P_INVALID) fprintf(f, "%s\"%d\":null", *first ? "" : ",", t);
    else fprintf(f, "%s\"%d\":%llu", *first ? "" : ",", t, (unsigned long long)db.root);
    *first = 0;
  }
  return 0;
}

static void put_db(FILE *f, const char *name, const struct disk_db *db) {
  fprintf(f, "\"%s\":", name);
  if (db->root == P_INVALID) fprintf(f, "null");
  else fprintf(f, "%llu", (unsigned long long)db->root);
}

static void view_env(void) {
  MDB_envinfo info;
  mdb_env_info(env, &info);
  // the lock file's reader table, before this view's own read txn takes a slot
  char *lt = NULL;
  size_t ltlen = 0;
  FILE *ltf = open_memstream(&lt, &ltlen);
  if (!ltf) return fail("open_memstream: %s", strerror(errno));
  mdb_reader_list(env, reader_line, ltf);
  fclose(ltf);
  unsigned char *img = NULL;
  size_t len = 0;
  if (read_file(datapath, &img, &len)) return free(lt), fail("reading the data file: %s", strerror(errno));
  begin_answer();
  fprintf(out, "{\"psize\":%u,\"lastTxn\":%zu,\"lastPage\":%zu,\"open\":", psize, info.me_last_txnid, info.me_last_pgno);
  if (wtxn) fprintf(out, "%zu", mdb_txn_id(wtxn));
  else fprintf(out, "null");
  fprintf(out, ",\"fileBytes\":%zu,\"metas\":[", len);
  for (int i = 0; i < 2; i++) {
    struct disk_meta m;
    if (!meta_of(img, len, psize, i, &m)) {
      fprintf(out, "%snull", i ? "," : "");
      continue;
    }
    fprintf(out, "%s{\"txn\":%llu,\"lastPage\":%llu,", i ? "," : "", (unsigned long long)m.txnid, (unsigned long long)m.last_pg);
    put_db(out, "free", &m.dbs[0]);
    fputc(',', out);
    put_db(out, "main", &m.dbs[1]);
    fprintf(out, ",\"roots\":{");
    int first_root = 1;
    if (put_roots(out, img, len, psize, m.dbs[1].root, 1, &first_root)) {
      fclose(out);
      free(outbuf);
      free(img);
      return fail("meta slot %d's main database is unreadable in the file", i);
    }
    fprintf(out, "}}");
  }
  fprintf(out, "],\"lockTable\":[%s],\"readers\":{", lt ? lt : "");
  free(lt);
  int first = 1;
  for (int r = 0; r < MAX_READERS; r++)
    if (readers[r].txn) fprintf(out, "%s\"%d\":%zu", first ? "" : ",", r, mdb_txn_id(readers[r].txn)), first = 0;
  fprintf(out, "},\"freelist\":{");
  MDB_txn *rtxn;
  MDB_cursor *c;
  int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &rtxn);
  if (!rc) {
    if (!(rc = mdb_cursor_open(rtxn, FREE_DBI, &c))) {
      MDB_val k, v;
      first = 1;
      for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        size_t txn, *idl = v.mv_data;
        memcpy(&txn, k.mv_data, sizeof txn);
        fprintf(out, "%s\"%zu\":[", first ? "" : ",", txn);
        for (size_t j = 1; j <= idl[0]; j++) fprintf(out, j > 1 ? ",%zu" : "%zu", idl[j]);
        fputc(']', out);
        first = 0;
      }
      mdb_cursor_close(c);
      if (rc == MDB_NOTFOUND) rc = 0;
    }
    mdb_txn_abort(rtxn);
  }
  if (rc) {
    fclose(out);
    free(outbuf);
    free(img);
    return fail("reading the freelist: %s", mdb_strerror(rc));
  }
  // the trees as the open write txn sees them (the committed state if none is open)
  MDB_txn *txn = view_txn(&rc);
  if (rc) {
    fclose(out);
    free(outbuf);
    free(img);
    return fail("mdb_txn_begin: %s", mdb_strerror(rc));
  }
  fprintf(out, "},\"trees\":{");
  first = 1;
  for (int t = 0; t < ntrees && t < MAX_TREES; t++) {
    int d = writer_handle(t);
    if (d < 0) continue;
    MDB_stat st;
    if ((rc = mdb_stat(txn, (MDB_dbi)d, &st))) break;
    fprintf(out, "%s\"%d\":{\"entries\":%zu,\"depth\":%u,\"branch\":%zu,\"leaf\":%zu,\"overflow\":%zu}", first ? "" : ",", t,
            st.ms_entries, st.ms_depth, st.ms_branch_pages, st.ms_leaf_pages, st.ms_overflow_pages);
    first = 0;
  }
  end_view(txn);
  if (rc) {
    fclose(out);
    free(outbuf);
    free(img);
    return fail("mdb_stat: %s", mdb_strerror(rc));
  }
  struct audit a;
  int bad = audit_image(&a, img, len, psize);
  fprintf(out, "},\"audit\":{\"ok\":%s,\"pages\":%llu,\"used\":%llu,\"free\":%zu,\"pastEnd\":%llu", bad ? "false" : "true",
          (unsigned long long)a.npages, (unsigned long long)a.used, a.nfree,
          (unsigned long long)(a.npages > a.filepages ? a.npages - a.filepages : 0));
  if (bad) {
    fprintf(out, ",\"problem\":");
    json_string(out, a.problem);
  }
  fprintf(out, "}}");
  free(a.mark);
  free(a.freepg);
  free(img);
  end_answer("state");
}

// ---- the crash campaign's check of one commit (engines/lmdb/crash.ts)

static uint64_t rng_state;
static uint64_t rng(void) { // splitmix64
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/** A set of 64-bit image fingerprints (open addressing), to verify each distinct crash image once. */
static uint64_t *seen;
static size_t seen_cap, seen_n;
static int seen_add(uint64_t h) {
  if (h == 0) h = 1;
  if (2 * (seen_n + 1) > seen_cap) {
    size_t cap = seen_cap ? 2 * seen_cap : 1024;
    uint64_t *n = calloc(cap, sizeof *n);
    if (!n) die("out of memory");
    for (size_t i = 0; i < seen_cap; i++)
      if (seen[i])
        for (size_t j = seen[i] & (cap - 1);; j = (j + 1) & (cap - 1))
          if (!n[j]) {
            n[j] = seen[i];
            break;
          }
    free(seen);
    seen = n;
    seen_cap = cap;
  }
  for (size_t j = h & (seen_cap - 1);; j = (j + 1) & (seen_cap - 1)) {
    if (seen[j] == h) return 0;
    if (!seen[j]) {
      seen[j] = h;
      seen_n++;
      return 1;
    }
  }
}

struct verdict {
  int status; // 0 opened and read, 1 open failed, 2 read failed, 4 the child died
  size_t txnid;
  uint64_t hash;
  long counts[MAX_TREES];
  char problem[320]; // what failed (status != 0)
  char audit[256];   // what the page audit found wrong (status 0), or ""
};

/** In a child: open the image with LMDB, read every tree, audit its pages. */
static void verify_child(int fd, const unsigned char *img, size_t len) {
  alarm(10);
  struct verdict v;
  memset(&v, 0, sizeof v);
  MDB_env *e;
  int rc = env_open(&e, imagepath, MDB_RDONLY | MDB_NOLOCK);
  if (rc) {
    v.status = 1;
    snprintf(v.problem, sizeof v.problem, "mdb_env_open: %s", mdb_strerror(rc));
  } else {
    MDB_envinfo info;
    mdb_env_info(e, &info);
    v.txnid = info.me_last_txnid;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(e, NULL, MDB_RDONLY, &txn)) || (rc = content_hash(txn, open_dbi, &v.hash, v.counts))) {
      v.status = 2;
      snprintf(v.problem, sizeof v.problem, "reading: %s", mdb_strerror(rc));
    } else {
      struct audit a;
      if (audit_image(&a, img, len, psize)) snprintf(v.audit, sizeof v.audit, "%s", a.problem);
    }
  }
  ssize_t w = write(fd, &v, sizeof v);
  _exit(w == (ssize_t)sizeof v ? 0 : 1);
}

static int verify(const unsigned char *img, size_t len, struct verdict *v) {
  if (write_file(imagepath, img, len)) return -1;
  int p[2];
  if (pipe2(p, O_CLOEXEC)) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return close(p[0]), close(p[1]), -1;
  if (pid == 0) {
    close(p[0]);
    verify_child(p[1], img, len);
  }
  close(p[1]);
  memset(v, 0, sizeof *v);
  size_t got = 0;
  while (got < sizeof *v) {
    ssize_t r = read(p[0], (char *)v + got, sizeof *v - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(p[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) continue;
  if (got != sizeof *v) {
    memset(v, 0, sizeof *v);
    v->status = 4;
    if (WIFSIGNALED(status)) snprintf(v->problem, sizeof v->problem, "reading the image killed LMDB with signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(v->problem, sizeof v->problem, "the verifying child exited with status %d", WEXITSTATUS(status));
  }
  return 0;
}

static void put_counts(FILE *f, const long *counts) {
  fputc('{', f);
  int first = 1;
  for (int t = 0; t < MAX_TREES; t++)
    if (counts[t] >= 0) fprintf(f, "%s\"%d\":%ld", first ? "" : ",", t, counts[t]), first = 0;
  fputc('}', f);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/**
 * What a crash image that is not exactly the last or the in-flight state did: LMDB could not open it, a read
 * failed, reading it killed the process, LMDB read wrong content without an error, or the content is right but the
 * page audit fails (a page both free and in use, a leak: damage a later write would spread).
 */
enum kind { K_OPEN, K_READ, K_SIGNAL, K_SILENT, K_AUDIT, K_KINDS };
static const char *const kind_names[K_KINDS] = {"open", "read", "signal", "silent", "audit"};

static void crashcheck(const char *req) {
  int drop = (int)num(req, "drop", 0);
  long long sample = num(req, "sample", 64), seed = num(req, "seed", 1);
  if (sample < 2) sample = 2;
  MDB_envinfo info;
  mdb_env_info(env, &info);
  size_t last = info.me_last_txnid, inflight = wtxn ? mdb_txn_id(wtxn) : last + 1;
  uint64_t h_last, h_inflight;
  long c_last[MAX_TREES], c_inflight[MAX_TREES];
  int rc = committed_content(&h_last, c_last);
  if (rc) return fail("reading the committed state: %s", mdb_strerror(rc));
  const char *why;
  double t0 = now_ms();
  if (wtxn && watched_commit(drop, &why)) return fail("the commit failed: %s", why);
  double t_commit = now_ms() - t0;
  mdb_env_info(env, &info);
  int wrote = info.me_last_txnid != last;
  if (wrote && info.me_last_txnid != inflight) return fail("the commit made txn %zu, not %zu", info.me_last_txnid, inflight);
  if (wrote && nsteps == 0) return fail("the commit wrote txn %zu, but the interposer saw none of its writes", inflight);
  if ((rc = committed_content(&h_inflight, c_inflight))) return fail("reading the committed state: %s", mdb_strerror(rc));
  begin_answer();
  fprintf(out, "{\"last\":%zu,\"inflight\":%zu,\"wrote\":%s,\"commitMs\":%.3f,\"steps\":[", last, inflight, wrote ? "true" : "false", t_commit);
  size_t writes = 0;
  for (size_t i = 0; i < nsteps; i++) {
    if (steps[i].flush) fprintf(out, "%s\"flush\"", i ? "," : "");
    else fprintf(out, "%s%lld", i ? "," : "", (long long)(steps[i].off / psize)), writes++;
  }
  fprintf(out, "]");
  // every prefix of the steps; for each, every subset of the writes since the last flush (or a sample)
  rng_state = (uint64_t)seed * 0x2545F4914F6CDD1DULL + inflight;
  if (seen) memset(seen, 0, seen_cap * sizeof *seen);
  seen_n = 0;
  unsigned char *img = NULL, kept[4096];
  size_t cap = 0, pairs = 0, states = 0, got_last = 0, got_inflight = 0, violations = 0, examples = 0, sampled = 0;
  double t_verify = 0;
  size_t kinds[K_KINDS] = {0};
  fprintf(out, ",\"examples\":[");
  for (size_t after = 0; after <= nsteps && wrote; after++) {
    size_t j = pending_writes(after), first_pending = 0;
    if (j > 8 * sizeof kept) {
      fclose(out);
      free(outbuf);
      free(img);
      return fail("more than %zu writes between flushes", 8 * sizeof kept);
    }
    for (size_t i = 0, w = 0; i < after; i++)
      if (!steps[i].flush) w++;
      else first_pending = w; // writes before the last flush, by index
    int all = j < 63 && (1ULL << j) <= (unsigned long long)sample;
    if (!all) sampled++;
    unsigned long long subsets = all ? 1ULL << j : (unsigned long long)sample;
    for (unsigned long long s = 0; s < subsets; s++) {
      memset(kept, 0, (j + 7) / 8 + 1);
      if (all) {
        for (size_t b = 0; b < j; b++)
          if (s >> b & 1) kept[b >> 3] |= (unsigned char)(1 << (b & 7));
      } else if (s == 1) {
        memset(kept, 0xff, (j + 7) / 8 + 1); // the full set; s == 0 is the empty one
      } else if (s > 1) {
        for (size_t b = 0; b < j; b++)
          if (rng() & 1) kept[b >> 3] |= (unsigned char)(1 << (b & 7));
      }
      pairs++;
      // the image is determined by the writes it applies: a run [0, m) of the issue order and the rest; m is as long
      // as it goes, so two (prefix, subset) pairs that apply the same writes get the same fingerprint
      size_t run = 0;
      while (run < j && (kept[run >> 3] >> (run & 7) & 1)) run++;
      uint64_t fp = 0xcbf29ce484222325ULL, m = first_pending + run;
      fnv(&fp, &m, sizeof m);
      for (size_t b = run; b < j; b++)
        if (kept[b >> 3] >> (b & 7) & 1) {
          uint64_t idx = first_pending + b;
          fnv(&fp, &idx, sizeof idx);
        }
      if (!seen_add(fp)) continue;
      size_t len = build_image(&img, &cap, after, kept);
      struct verdict v;
      double tv = now_ms();
      if (verify(img, len, &v)) {
        fclose(out);
        free(outbuf);
        free(img);
        return fail("verifying a crash image: %s", strerror(errno));
      }
      t_verify += now_ms() - tv;
      states++;
      const char *what = NULL;
      enum kind kind = K_OPEN;
      char msg[700];
      int right_last = v.status == 0 && v.txnid == last && v.hash == h_last;
      int right_inflight = v.status == 0 && v.txnid == inflight && v.hash == h_inflight;
      if (v.status) {
        what = v.problem;
        kind = v.status == 1 ? K_OPEN : v.status == 2 ? K_READ : K_SIGNAL;
      } else if (!right_last && !right_inflight) {
        snprintf(msg, sizeof msg, "LMDB read without an error txn %zu with %s content (last committed: txn %zu, in flight: txn %zu)%s%s", v.txnid,
                 v.hash == h_last ? "the last committed txn's" : v.hash == h_inflight ? "the in-flight txn's" : "neither state's", last, inflight,
                 v.audit[0] ? "; page audit: " : "", v.audit);
        what = msg, kind = K_SILENT;
      } else if (v.audit[0]) {
        snprintf(msg, sizeof msg, "the content is the %s state's, but the page audit fails: %s", right_last ? "last committed" : "in-flight", v.audit);
        what = msg, kind = K_AUDIT;
      } else if (right_last) got_last++;
      else got_inflight++;
      if (!what) continue;
      violations++;
      kinds[kind]++;
      if (examples >= 3) continue;
      fprintf(out, "%s{\"after\":%zu,\"kept\":[", examples ? "," : "", after);
      for (size_t b = 0, f = 1; b < j; b++)
        if (kept[b >> 3] >> (b & 7) & 1) fprintf(out, "%s%zu", f ? "" : ",", b), f = 0;
      fprintf(out, "],\"pending\":%zu,\"kind\":\"%s\",\"what\":", j, kind_names[kind]);
      json_string(out, what);
      if (v.status == 0) {
        fprintf(out, ",\"recoveredTxn\":%zu,\"entries\":", v.txnid);
        put_counts(out, v.counts);
      }
      fputc('}', out);
      examples++;
    }
  }
  free(img);
  fprintf(out, "],\"sampledPrefixes\":%zu,\"pairs\":%zu,\"states\":%zu,\"recoveredLast\":%zu,\"recoveredInflight\":%zu,\"violations\":%zu,\"writes\":%zu,\"verifyMs\":%.3f,\"entriesLast\":",
          sampled, pairs, states, got_last, got_inflight, violations, writes, t_verify);
  put_counts(out, c_last);
  fprintf(out, ",\"entriesInflight\":");
  put_counts(out, c_inflight);
  fprintf(out, ",\"kinds\":{");
  for (int i = 0; i < K_KINDS; i++) fprintf(out, "%s\"%s\":%zu", i ? "," : "", kind_names[i], kinds[i]);
  fprintf(out, "}}");
  end_answer("state");
}

// ---- commit timing (scripts/lmdb-facts.ts)

static void bench(const char *req) {
  long long commits = num(req, "commits", 100), nosync = num(req, "nosync", 0);
  if (commits < 1 || commits > 100000) return fail("commits must be 1..100000");
  char bdir[PATH_MAX + 16], bpath[PATH_MAX + 32];
  snprintf(bdir, sizeof bdir, "%s/bench", dir);
  remove_tree(bdir);
  if (mkdir(bdir, 0700)) return fail("mkdir %s: %s", bdir, strerror(errno));
  snprintf(bpath, sizeof bpath, "%s/data.mdb", bdir);
  MDB_env *e;
  int rc = env_open(&e, bpath, nosync ? MDB_NOSYNC : 0);
  if (rc) return remove_tree(bdir), fail("mdb_env_open: %s", mdb_strerror(rc));
  MDB_txn *txn;
  MDB_dbi d;
  double in_commit = 0, t0 = now_ms();
  for (long long i = 0; i < commits && !rc; i++) {
    unsigned char kb[4], vb[16];
    key_of((int)(i % 1024), kb);
    memset(vb, (int)(i & 0xff), sizeof vb);
    MDB_val k = {.mv_size = 4, .mv_data = kb}, v = {.mv_size = sizeof vb, .mv_data = vb};
    if ((rc = mdb_txn_begin(e, NULL, 0, &txn))) break;
    if ((rc = mdb_dbi_open(txn, "t0", MDB_CREATE, &d)) || (rc = mdb_put(txn, d, &k, &v, 0))) {
      mdb_txn_abort(txn);
      break;
    }
    double c0 = now_ms();
    rc = mdb_txn_commit(txn);
    in_commit += now_ms() - c0;
  }
  double total = now_ms() - t0;
  mdb_env_close(e);
  remove_tree(bdir);
  if (rc) return fail("bench: %s", mdb_strerror(rc));
  begin_answer();
  fprintf(out, "{\"commits\":%lld,\"nosync\":%s,\"totalMs\":%.3f,\"commitMs\":%.4f}", commits, nosync ? "true" : "false", total, in_commit / (double)commits);
  end_answer("state");
}

// ---- main

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static long geometry(const char *g, const char *key, long dflt) {
  if (!g) return dflt;
  long long v = num(g, key, dflt);
  return (long)v;
}

int main(int argc, char **argv) {
  if (argc != 2) die("usage: %s FOLDER (a folder for its environments, made if missing)", argv[0]);
  const char *g = getenv("COWCHECK_GEOMETRY");
  if (g && !strstr(g, "\"flavour\":\"lmdb\"")) die("speaks the snapshot layer's lmdb flavour only (geometry %s)", g);
  ntrees = geometry(g, "trees", 4);
  nreaders = geometry(g, "readers", 2);
  if (ntrees < 1 || ntrees > MAX_TREES) die("trees must be 1..%d", MAX_TREES);
  if (nreaders < 0 || nreaders > MAX_READERS) die("readers must be 0..%d", MAX_READERS);
  if (mkdir(argv[1], 0700) && errno != EEXIST) die("mkdir %s: %s", argv[1], strerror(errno));
  if (snprintf(dir, sizeof dir, "%s/agent-XXXXXX", argv[1]) >= (int)sizeof dir) die("folder name too long");
  if (!mkdtemp(dir)) die("mkdtemp in %s: %s", argv[1], strerror(errno));
  snprintf(datapath, sizeof datapath, "%s/data.mdb", dir);
  snprintf(lockpath, sizeof lockpath, "%s/data.mdb-lock", dir);
  snprintf(imagepath, sizeof imagepath, "%s/image.mdb", dir);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction stop = {0};
  stop.sa_handler = on_stop; // no SA_RESTART: a read waiting for the next request returns
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGINT, &stop, NULL);
  sigaction(SIGHUP, &stop, NULL);
  const char *why = fresh_env();
  if (why) {
    remove_tree(dir);
    die("%s", why);
  }
  printf("{\"hello\":{\"protocol\":1,\"layer\":\"snapshot\",\"name\":\"lmdb\",\"features\":[\"reset\",\"env\",\"abort\",\"crash\"]}}\n");
  fflush(stdout);
  char *line = NULL;
  size_t cap = 0;
  while (!stop_requested && getline(&line, &cap, stdin) > 0) {
    id = (long)num(line, "id", -1);
    const char *op = strstr(line, "\"op\":{");
    const char *cc = strstr(line, "\"crashcheck\":{");
    const char *bn = strstr(line, "\"bench\":{");
    if ((op || cc || bn || find_key(line, "inspect")) && !env)
      fail("no environment is open (the last crash image or reset could not be opened): reset starts a fresh one");
    else if (op) do_op(op + 5);
    else if (cc) crashcheck(cc + 13);
    else if (bn) bench(bn + 8);
    else if (find_key(line, "reset")) {
      why = fresh_env();
      if (why) fail("reset: %s", why);
      else printf("{\"id\":%ld,\"ok\":true}\n", id), fflush(stdout);
    } else if (str_is(line, "inspect", "env")) view_env();
    else if (find_key(line, "inspect")) fail("this agent offers the env view only: LMDB's pages are not the model's nodes");
    else if (find_key(line, "bye")) break;
    else fail("a request this agent does not understand");
  }
  free(line);
  close_env();
  remove_tree(dir);
  return 0;
}
