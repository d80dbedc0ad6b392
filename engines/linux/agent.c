// cowcheck's Linux agent: the kernel this machine runs, as an mm engine over the JSON-lines protocol
// (docs/protocol.md). A controller keeps one real worker process per cowcheck pid: spawn forks a fresh worker
// from the controller, fork forks that worker, exit ends it. Each worker performs the ops on its own address
// space, in a window of `pages` pages at a fixed, huge-aligned address. Files are memfds (shmem, as the model's
// files are) shared by every worker, and hugetlb memfds likewise. Compiled on first use by engines/linux/index.ts;
// not committed as a binary.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef COWCHECK_URING
#include <liburing.h>
#endif

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define MAX_PROCS 64
#define MAX_FILES 64
#define BASE ((uintptr_t)0x200000000000ULL) /* 32 TiB: huge-aligned, far from anything the loader maps */

static long page_size, cells, window, huge_pages, nfiles, nhfiles, ndfiles;
static int files[MAX_FILES];
/** hugetlb memfds (MFD_HUGETLB, feature "hugetlb"), numbered apart from the files. */
static int hfiles[MAX_FILES];
/** Disk files (feature "disk"): O_TMPFILEs on a disk filesystem, numbered apart from the files. */
static int dfiles[MAX_FILES];

/** The descriptor of file `f` of its kind, or -1 if there is no such file. */
static int file_fd(long f, int hugetlb, int disk) {
  if (hugetlb && disk) return -1;
  long n = hugetlb ? nhfiles : disk ? ndfiles : nfiles;
  return f < 0 || f >= n ? -1 : hugetlb ? hfiles[f] : disk ? dfiles[f] : files[f];
}
/** In a worker: which pages of its window are mapped private and anonymous (fork copies it along). */
static unsigned char *private_anon;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "cowcheck linux agent: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

// ---- requests between controller and workers

enum kind { K_MMAP, K_MUNMAP, K_MPROTECT, K_MADVISE, K_READ, K_WRITE, K_FILL, K_MREMAP, K_COLLAPSE, K_EXEC, K_FORK, K_EXIT, K_GET, K_UNPIN, K_PINREAD, K_LONGTERM, K_PINWRITE, K_FREAD, K_FWRITE };
enum advice { A_DONTNEED, A_DONTFORK, A_DOFORK, A_WIPEONFORK, A_KEEPONFORK, A_HUGEPAGE, A_NOHUGEPAGE, A_MERGEABLE, A_UNMERGEABLE, A_PAGEOUT };
static const char *advice_names[] = {"dontneed", "dontfork", "dofork", "wipeonfork", "keeponfork", "hugepage", "nohugepage", "mergeable", "unmergeable", "pageout"};
static const int advice_values[] = {MADV_DONTNEED, MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_PAGEOUT};

struct req {
  int kind, page, pages, prot_rw, shared, file, advice, cell, value, handle, to, new_pages, hugetlb, disk;
};
/** S_POOL: a SIGBUS on a hugetlb page, the pool out of pages (no observation: the machine's limit, not the kernel's answer). */
enum status { S_OK, S_ERRNO, S_SEGV, S_DATA, S_CHILD, S_POOL };
/** A worker's answer; S_DATA is followed on the channel by `len` bytes of cells (a page's, or a range's). */
struct rep {
  int status, err, child_pid, len;
};
/** The most pages one read, fill or pin covers (MM_MAX_SPAN), and the cells they hold at most. */
#define MAX_SPAN 1024
static unsigned char data[MAX_SPAN * 4096];

static void *addr(long page) { return (void *)(BASE + (uintptr_t)page * (uintptr_t)page_size); }

// ---- the worker

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t guarded;

static volatile sig_atomic_t fault_sig;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  if (!guarded) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
  fault_sig = sig;
  fault_addr = info->si_addr;
  siglongjmp(fault_jmp, 1);
}

/** Whether `a` lies in a hugetlb mapping (/proc/self/maps names its file: anon_hugepage, or a hugetlb memfd). */
static int in_hugetlb(void *a) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f) return 0;
  char line[512];
  int found = 0;
  unsigned long lo, hi;
  while (!found && fgets(line, sizeof line, f))
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (unsigned long)a >= lo && (unsigned long)a < hi)
      found = strstr(line, "/anon_hugepage") || strstr(line, "cowcheck-hugetlb-file") ? 1 : -1;
  fclose(f);
  return found == 1;
}

static void send_fd(int sock, int fd, struct rep *r) {
  char buf[CMSG_SPACE(sizeof(int))];
  memset(buf, 0, sizeof buf);
  struct iovec iov = {.iov_base = r, .iov_len = sizeof *r};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (sendmsg(sock, &msg, 0) < 0) _exit(1);
}

/** An answer that may carry a descriptor: the descriptor, -1 if none came with it, -2 if no whole answer came. */
static int recv_fd(int sock, struct rep *r) {
  char buf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = r, .iov_len = sizeof *r};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof buf};
  if (recvmsg(sock, &msg, MSG_WAITALL) != (ssize_t)sizeof *r) return -2;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

/** Close every descriptor but the worker's channel and the files: nothing else may keep a channel open. */
static void keep_only(int sock) {
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0); // the protocol's pipes are the controller's alone
    dup2(null, 1);
  }
  for (int fd = 3; fd < 1024; fd++) {
    int keep = fd == sock;
    for (long i = 0; i < nfiles; i++) keep |= fd == files[i];
    for (long i = 0; i < nhfiles; i++) keep |= fd == hfiles[i];
    for (long i = 0; i < ndfiles; i++) keep |= fd == dfiles[i];
    if (!keep) close(fd);
  }
}

/** A GUP reference (FOLL_GET) is a page vmspliced into a pipe the worker keeps: the pipe holds the page itself. */
#define MAX_HANDLES 256
#define MAX_PIPES 16 /* a range's pages spread over pipes of at most pipe-max-size each (1 MiB: 256 pages) */
static int pipes[MAX_HANDLES + 1][MAX_PIPES][2];
static long pipe_pages[MAX_HANDLES + 1]; // pages the reference covers (0: handle h is no pipe of this worker)
static long per_pipe;                    // pages one pipe may hold

/** Pages one pipe may hold: /proc/sys/fs/pipe-max-size (a limit even for root without CAP_SYS_RESOURCE). */
static void pipe_limit(void) {
  long bytes = 0;
  FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");
  if (!f || fscanf(f, "%ld", &bytes) != 1) bytes = 1 << 20;
  if (f) fclose(f);
  per_pipe = bytes / page_size > 0 ? bytes / page_size : 1;
}

/** Let go of handle h's pipes. */
static void drop_pipes(int h) {
  for (int i = 0; i < MAX_PIPES && pipes[h][i][0]; i++) {
    close(pipes[h][i][0]);
    close(pipes[h][i][1]);
    pipes[h][i][0] = pipes[h][i][1] = 0;
  }
  pipe_pages[h] = 0;
}

// Longterm pins (feature "longterm"): the worker registers the page as the one fixed buffer of an io_uring of its
// own (io_sqe_buffer_register → pin_user_pages_fast with FOLL_WRITE | FOLL_LONGTERM, by its mm, so MMF_HAS_PINNED
// is set as a real pin sets it). The ring holds the pin: across exec (the new image maps the inherited ring
// again), until unpin or exit unregisters it — synchronously, where a closed ring would unpin later, from a
// workqueue. A device's view of the frame: pinWrite is a READ_FIXED from a pipe into the page, pinRead a
// WRITE_FIXED of the page into a pipe. (An io_uring cannot travel over SCM_RIGHTS, so the controller cannot hold it.)
static uintptr_t ring_addr[MAX_HANDLES + 1]; // the pinned range's address; 0: handle h is no ring of this worker
static long ring_pages[MAX_HANDLES + 1];
#ifdef COWCHECK_URING
static struct io_uring rings[MAX_HANDLES + 1];
static struct io_uring_params ring_params[MAX_HANDLES + 1];
#define RING_PARAMS sizeof(struct io_uring_params)
#else
#define RING_PARAMS 0
#endif

/** Pin `pages` pages from `page` as handle h (one fixed buffer); 0, or -errno. */
static int ring_pin(int h, long page, long pages) {
#ifdef COWCHECK_URING
  memset(&ring_params[h], 0, sizeof ring_params[h]);
  int e = io_uring_queue_init_params(2, &rings[h], &ring_params[h]);
  if (e < 0) return e;
  struct iovec iov = {.iov_base = addr(page), .iov_len = (size_t)(pages * page_size)};
  e = io_uring_register_buffers(&rings[h], &iov, 1);
  if (e < 0) {
    io_uring_queue_exit(&rings[h]);
    return e;
  }
  ring_addr[h] = (uintptr_t)addr(page);
  ring_pages[h] = pages;
  return 0;
#else
  (void)h, (void)page, (void)pages;
  return -EOPNOTSUPP;
#endif
}

/** Unpin handle h (unregister: unpin_user_pages now), or with `keep_pin` only let go of this process's ring. */
static void ring_release(int h, int keep_pin) {
#ifdef COWCHECK_URING
  if (!ring_addr[h]) return;
  if (!keep_pin) io_uring_unregister_buffers(&rings[h]);
  io_uring_queue_exit(&rings[h]);
#endif
  (void)keep_pin;
  ring_addr[h] = 0;
}

/** One fixed-buffer I/O between handle h's page (`len` bytes from byte `at`) and a pipe: the CQE's result, or -errno. */
static int ring_io(int h, int into_page, long at, unsigned char *buf, unsigned len) {
#ifdef COWCHECK_URING
  int pp[2];
  if (pipe(pp) < 0) return -errno;
  if (len > 4096) fcntl(pp[1], F_SETPIPE_SZ, (int)len); // the whole range in one I/O
  int res = into_page && write(pp[1], buf, len) != (ssize_t)len ? -EIO : 0;
  struct io_uring_sqe *sqe = res ? NULL : io_uring_get_sqe(&rings[h]);
  if (!res && !sqe) res = -EBUSY;
  if (!res) {
    void *a = (void *)(ring_addr[h] + (uintptr_t)at);
    if (into_page) io_uring_prep_read_fixed(sqe, pp[0], a, len, 0, 0);
    else io_uring_prep_write_fixed(sqe, pp[1], a, len, 0, 0);
    struct io_uring_cqe *cqe;
    res = io_uring_submit_and_wait(&rings[h], 1);
    if (res >= 0) res = io_uring_wait_cqe(&rings[h], &cqe);
    if (res >= 0) {
      res = cqe->res;
      io_uring_cqe_seen(&rings[h], cqe);
    }
  }
  if (res == (int)len && !into_page && read(pp[0], buf, len) != (ssize_t)len) res = -EIO;
  close(pp[0]);
  close(pp[1]);
  return res;
#else
  (void)h, (void)into_page, (void)at, (void)buf, (void)len;
  return -EOPNOTSUPP;
#endif
}

/**
 * execve this very binary as a worker (`--worker`): what it needs to go on is in its arguments, the descriptors
 * it keeps are inherited. The new image answers the exec request once it runs. Returns only if execve failed.
 */
static void exec_worker(int sock) {
  char conf[64], fds[MAX_FILES * 12 + 1] = "", hfds[MAX_FILES * 12 + 1] = "", dfds[MAX_FILES * 12 + 1] = "";
  static char refs[MAX_HANDLES * (24 + MAX_PIPES * 24) + 1];
  *refs = 0;
  snprintf(conf, sizeof conf, "%d,%ld,%ld,%ld,%ld", sock, page_size, cells, window, huge_pages);
  fcntl(sock, F_SETFD, 0); // the channel was made close-on-exec
  for (long i = 0; i < nfiles; i++) snprintf(fds + strlen(fds), sizeof fds - strlen(fds), "%s%d", i ? "," : "", files[i]);
  for (long i = 0; i < nhfiles; i++) snprintf(hfds + strlen(hfds), sizeof hfds - strlen(hfds), "%s%d", i ? "," : "", hfiles[i]);
  for (long i = 0; i < ndfiles; i++) snprintf(dfds + strlen(dfds), sizeof dfds - strlen(dfds), "%s%d", i ? "," : "", dfiles[i]);
  for (int h = 1; h <= MAX_HANDLES; h++)
    if (pipe_pages[h]) {
      snprintf(refs + strlen(refs), sizeof refs - strlen(refs), "%s%d:%ld", *refs ? "," : "", h, pipe_pages[h]);
      for (int i = 0; i < MAX_PIPES && pipes[h][i][0]; i++)
        snprintf(refs + strlen(refs), sizeof refs - strlen(refs), ":%d:%d", pipes[h][i][0], pipes[h][i][1]);
    }
  // each ring as handle:fd:address:its io_uring_params in hex, for io_uring_queue_mmap in the new image
  static char pins[MAX_HANDLES * (56 + 2 * RING_PARAMS) + 1];
  *pins = 0;
#ifdef COWCHECK_URING
  for (int h = 1; h <= MAX_HANDLES; h++) {
    if (!ring_addr[h]) continue;
    fcntl(rings[h].ring_fd, F_SETFD, 0); // io_uring_setup made it close-on-exec
    char *at = pins + strlen(pins);
    at += sprintf(at, "%s%d:%d:%lx:%ld:", *pins ? "," : "", h, rings[h].ring_fd, (unsigned long)ring_addr[h], ring_pages[h]);
    for (size_t i = 0; i < RING_PARAMS; i++) at += sprintf(at, "%02x", ((unsigned char *)&ring_params[h])[i]);
  }
#endif
  char *argv[] = {"cowcheck-linux-worker", "--worker", conf, fds, refs, pins, hfds, dfds, NULL};
  execv("/proc/self/exe", argv);
  fcntl(sock, F_SETFD, FD_CLOEXEC);
}

__attribute__((noreturn)) static void worker(int channel) {
  volatile int sock = channel; // changes when this process becomes a forked child's worker; survives siglongjmp
  signal(SIGTERM, SIG_DFL); // a worker dies at once; only the controller has knobs to put back
  signal(SIGINT, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  struct sigaction sa = {0};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_NODEFER | SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  for (;;) {
    struct req q;
    struct rep r;
    r.err = r.child_pid = r.len = 0;
    ssize_t n = recv(sock, &q, sizeof q, MSG_WAITALL);
    if (n != (ssize_t)sizeof q) _exit(0); // the controller is gone
    volatile int rc = 0;
    r.status = S_OK;
    switch (q.kind) {
      case K_MMAP: {
        int flags = MAP_FIXED | (q.shared ? MAP_SHARED : MAP_PRIVATE) | (q.file < 0 ? MAP_ANONYMOUS : 0);
        // MAP_HUGETLB of the PMD size (MAP_HUGE_SHIFT is 26): the pages come from the pool hugetlb_ensure opened
        if (q.hugetlb && q.file < 0) flags |= MAP_HUGETLB | __builtin_ctzl((unsigned long)(huge_pages * page_size)) << 26;
        int fd = file_fd(q.file, q.hugetlb, q.disk);
        void *p = mmap(addr(q.page), (size_t)q.pages * page_size, PROT_READ | (q.prot_rw ? PROT_WRITE : 0), flags, fd, 0);
        rc = p == MAP_FAILED ? -1 : 0;
        // (collapse's bookkeeping: hugetlb memory is never collapsed; its length was rounded up to huge pages)
        long n = q.hugetlb ? (q.pages + huge_pages - 1) / huge_pages * huge_pages : q.pages;
        if (!rc) memset(private_anon + q.page, !q.shared && q.file < 0 && !q.hugetlb, (size_t)(q.page + n <= window ? n : window - q.page));
        break;
      }
      case K_MUNMAP:
        rc = munmap(addr(q.page), (size_t)q.pages * page_size);
        if (!rc) memset(private_anon + q.page, 0, (size_t)q.pages);
        break;
      case K_MPROTECT: rc = mprotect(addr(q.page), (size_t)q.pages * page_size, PROT_READ | (q.prot_rw ? PROT_WRITE : 0)); break;
      case K_MADVISE:
        rc = madvise(addr(q.page), (size_t)q.pages * page_size, advice_values[q.advice]);
        // reclaim skips a folio another kernel thread holds for the moment (locked, or off the LRU: khugepaged's
        // scan, compaction); asked again, it takes what it can (the model's pageout is idempotent)
        if (!rc && q.advice == A_PAGEOUT) rc = madvise(addr(q.page), (size_t)q.pages * page_size, MADV_PAGEOUT);
        break;
      case K_COLLAPSE: { // khugepaged's work, now; it gives up silently, so its result is not an observation
        // Only anonymous memory: khugepaged leaves shmem alone unless shmem_enabled allows huge pages (the default
        // is never), while MADV_COLLAPSE would ignore that setting and collapse shmem's page cache.
        long base = q.page - q.page % huge_pages, anon = 1;
        for (long i = 0; i < huge_pages && base + i < window; i++) anon &= private_anon[base + i];
        if (anon) madvise(addr(base), (size_t)huge_pages * page_size, MADV_COLLAPSE);
        break;
      }
      case K_EXEC: // a fresh image, so a fresh mm; the channel, the files and the GUP pipes are inherited
        exec_worker(sock);
        rc = -1;
        break;
      case K_READ:
      case K_WRITE:
      case K_FILL: { // page by page: the first page that faults ends it, the pages before keep a fill
        long stride = page_size / cells;
        guarded = 1;
        if (sigsetjmp(fault_jmp, 1)) {
          guarded = 0;
          // a hugetlb fault that finds no page in the pool is SIGBUS (hugetlb_no_page, hugetlb_wp)
          r.status = fault_sig == SIGBUS && in_hugetlb(fault_addr) ? S_POOL : S_SEGV;
          break;
        }
        if (q.kind == K_WRITE) ((volatile unsigned char *)addr(q.page))[q.cell * stride] = (unsigned char)q.value;
        else if (q.kind == K_FILL) {
          for (long pg = 0; pg < q.pages; pg++) memset(addr(q.page + pg), q.value, (size_t)page_size);
        } else {
          for (long pg = 0; pg < q.pages; pg++) {
            volatile unsigned char *p = addr(q.page + pg);
            for (long i = 0; i < cells; i++) data[pg * cells + i] = p[i * stride];
          }
          r.status = S_DATA;
          r.len = (int)(q.pages * cells);
        }
        guarded = 0;
        break;
      }
      case K_FREAD:
      case K_FWRITE: { // /proc/self/mem (mem_rw): get_user_pages with FOLL_FORCE; opened now, as this mm is the worker's own
        static unsigned char *buf;
        if (!buf && !(buf = malloc((size_t)page_size))) _exit(1);
        int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
        if (fd < 0) _exit(1);
        long stride = page_size / cells;
        off_t at = (off_t)(uintptr_t)addr(q.page);
        if (q.kind == K_FWRITE) {
          buf[0] = (unsigned char)q.value;
          rc = pwrite(fd, buf, 1, at + q.cell * stride) == 1 ? 0 : -1;
        } else if (pread(fd, buf, (size_t)page_size, at) == page_size) {
          for (long i = 0; i < cells; i++) data[i] = buf[i * stride];
          r.status = S_DATA;
          r.len = (int)cells;
        } else rc = -1;
        int e = errno;
        close(fd);
        errno = e;
        break;
      }
      case K_MREMAP: { // MREMAP_MAYMOVE | MREMAP_FIXED with `to` (to ≥ 0); resized in place without
        long kept = q.new_pages < q.pages ? q.new_pages : q.pages, dest = q.to < 0 ? q.page : q.to;
        void *p = q.to < 0 ? mremap(addr(q.page), (size_t)q.pages * page_size, (size_t)q.new_pages * page_size, 0, (void *)0)
                           : mremap(addr(q.page), (size_t)q.pages * page_size, (size_t)q.new_pages * page_size, MREMAP_MAYMOVE | MREMAP_FIXED, addr(q.to));
        rc = p == MAP_FAILED ? -1 : 0;
        if (rc) break;
        // what is private and anonymous where (for collapse): the kept part moves, a growth is like the last page
        // (roughly: a move of several VMAs leaves what is mapped across from a gap in the source, taken as not)
        unsigned char last = private_anon[q.page + q.pages - 1];
        if (dest == q.page) { // in place: the kept part stays, a shrink drops the tail
          if (q.new_pages < q.pages) memset(private_anon + q.page + q.new_pages, 0, (size_t)(q.pages - q.new_pages));
        } else { // moved: the ranges do not overlap (mremap refuses that)
          memmove(private_anon + dest, private_anon + q.page, (size_t)kept);
          memset(private_anon + q.page, 0, (size_t)q.pages);
        }
        if (q.new_pages > q.pages) memset(private_anon + dest + q.pages, last, (size_t)(q.new_pages - q.pages));
        break;
      }
      case K_FORK: {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) _exit(1);
        pid_t child = fork();
        if (child < 0) _exit(1);
        if (child == 0) { // the new worker: the same loop on its own channel (no recursion: fork chains are long)
          close(sock);
          close(sv[0]);
          // The parent's references are the parent's: a copy of a pipe descriptor would keep its page referenced.
          for (int h = 1; h <= MAX_HANDLES; h++) {
            ring_release(h, 1); // the ring stays the parent's, pin and all
            drop_pipes(h);
          }
          sock = sv[1];
          continue;
        }
        close(sv[1]);
        r.status = S_CHILD;
        r.child_pid = child;
        send_fd(sock, sv[0], &r);
        close(sv[0]);
        continue;
      }
      case K_EXIT: // references first: the controller takes the channel's close for "everything is released"
        for (int h = 1; h <= MAX_HANDLES; h++) {
          ring_release(h, 0);
          drop_pipes(h);
        }
        _exit(0);
      case K_GET: { // one pipe buffer per page: vmsplice gets every page (all or nothing, as the model's range pin)
        long done = 0;
        for (int i = 0; rc == 0 && done < q.pages; i++) {
          long n = q.pages - done < per_pipe ? q.pages - done : per_pipe;
          int *pp = pipes[q.handle][i];
          if (i >= MAX_PIPES || pipe(pp) < 0) {
            if (i >= MAX_PIPES) errno = EMSGSIZE; // no observation: the engine fails
            rc = -1;
            break;
          }
          if (n > 1 && fcntl(pp[1], F_SETPIPE_SZ, (int)(n * page_size)) < n * page_size) {
            errno = EMSGSIZE;
            rc = -1;
            break;
          }
          struct iovec iov = {.iov_base = addr(q.page + done), .iov_len = (size_t)(n * page_size)};
          ssize_t got = vmsplice(pp[1], &iov, 1, SPLICE_F_NONBLOCK);
          if (got != n * page_size) {
            if (got >= 0) errno = EFAULT;
            rc = -1;
          }
          done += n;
        }
        pipe_pages[q.handle] = q.pages;
        if (rc) {
          int e = errno;
          drop_pipes(q.handle);
          errno = e;
        }
        break;
      }
      case K_UNPIN:
        if (ring_addr[q.handle]) {
          ring_release(q.handle, 0);
          break;
        }
        drop_pipes(q.handle);
        break;
      case K_LONGTERM: { // FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE, by this mm
        int e = ring_pin(q.handle, q.page, q.pages);
        if (e < 0) {
          errno = -e;
          rc = -1;
        }
        break;
      }
      case K_PINWRITE: {
        unsigned char b = (unsigned char)q.value;
        long at = (q.cell / cells) * page_size + (q.cell % cells) * (page_size / cells);
        int e = ring_io(q.handle, 1, at, &b, 1);
        if (e != 1) {
          errno = e < 0 ? -e : EIO;
          rc = -1;
        }
        break;
      }
      case K_PINREAD: {
        static unsigned char *buf;
        if (!buf && !(buf = malloc((size_t)(MAX_SPAN * page_size)))) _exit(1);
        long stride = page_size / cells, n = ring_addr[q.handle] ? ring_pages[q.handle] : pipe_pages[q.handle];
        size_t bytes = (size_t)(n * page_size);
        if (ring_addr[q.handle]) {
          // in pieces a pipe can hold
          for (size_t at = 0, chunk; rc == 0 && at < bytes; at += chunk) {
            chunk = (size_t)(per_pipe * page_size) < bytes - at ? (size_t)(per_pipe * page_size) : bytes - at;
            int e = ring_io(q.handle, 0, (long)at, buf + at, (unsigned)chunk);
            if (e != (int)chunk) {
              errno = e < 0 ? -e : EIO;
              rc = -1;
            }
          }
          if (rc) break;
        } else {
          // tee duplicates each pipe's page references into a second pipe, which is read: the first keeps them.
          size_t done = 0;
          for (int i = 0; rc == 0 && i < MAX_PIPES && pipes[q.handle][i][0]; i++) {
            int t[2];
            if (pipe(t) < 0) {
              rc = -1;
              break;
            }
            size_t chunk = (size_t)(per_pipe * page_size) < bytes - done ? (size_t)(per_pipe * page_size) : bytes - done;
            fcntl(t[1], F_SETPIPE_SZ, (int)chunk);
            size_t end = done + chunk;
            if (tee(pipes[q.handle][i][0], t[1], chunk, SPLICE_F_NONBLOCK) == (ssize_t)chunk)
              for (ssize_t k; done < end && (k = read(t[0], buf + done, end - done)) > 0;) done += (size_t)k;
            if (done != end) rc = -1;
            close(t[0]);
            close(t[1]);
          }
          if (!rc && done != bytes) rc = -1;
          if (rc) break;
        }
        for (long pg = 0; pg < n; pg++)
          for (long i = 0; i < cells; i++) data[pg * cells + i] = buf[pg * page_size + i * stride];
        r.status = S_DATA;
        r.len = (int)(n * cells);
        break;
      }
    }
    if (rc < 0) {
      r.status = S_ERRNO;
      r.err = errno;
    }
    if (send(sock, &r, sizeof r, 0) != (ssize_t)sizeof r) _exit(0);
    if (r.status == S_DATA && send(sock, data, (size_t)r.len, 0) != (ssize_t)r.len) _exit(0);
  }
}

// ---- the controller

struct proc {
  int sock;
  pid_t pid;
  int mergeable; // MADV_MERGEABLE succeeded here (or in the parent it forked from): its mm is on ksmd's list
};
static struct proc procs[MAX_PROCS + 1]; // by cowcheck pid; sock 0 = free
static int is_ring[MAX_HANDLES + 1]; // by handle: a longterm pin (an io_uring), not a GUP reference (a pipe)
static int is_range[MAX_HANDLES + 1]; // by handle: taken with `pages` (pinRead answers {"pages"})
static long span_of[MAX_HANDLES + 1]; // by handle: the pages it covers
static int handles[MAX_HANDLES + 1];      // by handle: the cowcheck pid whose worker holds it; 0 = free

static int lowest_free(void) {
  for (int i = 1; i <= MAX_PROCS; i++)
    if (!procs[i].sock) return i;
  return 0;
}

static int hugetlb_ok;

// ---- disk files (feature "disk"): the model's disk files are O_TMPFILEs in a directory on a disk filesystem
// (not tmpfs or ramfs: shmem is what the plain files are), as cow.c's tmpfile() is where /tmp is on a disk. The
// first of $COWCHECK_DISK_DIR, /var/tmp and /tmp that is one. An O_TMPFILE has no name: nothing is left behind.
static const char *disk_dir;

static const char *disk_dir_offered(void) {
  const char *dirs[] = {getenv("COWCHECK_DISK_DIR"), "/var/tmp", "/tmp"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    struct statfs st;
    if (!dirs[i] || statfs(dirs[i], &st) < 0 || st.f_type == 0x01021994 /* TMPFS_MAGIC */ || st.f_type == (long)0x858458f6 /* RAMFS_MAGIC */)
      continue;
    int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    close(fd);
    return dirs[i];
  }
  return NULL;
}

static void make_files(void) {
  for (long i = 0; i < nfiles; i++) {
    if (files[i] > 0) close(files[i]);
    char name[32];
    snprintf(name, sizeof name, "cowcheck-file-%ld", i);
    files[i] = memfd_create(name, 0);
    if (files[i] < 0 || ftruncate(files[i], window * page_size) < 0) die("memfd: %s", strerror(errno));
  }
  // hugetlb memfds of the PMD size (MFD_HUGE_SHIFT is 26): a truncate reserves nothing, faults take pool pages
  for (long i = 0; hugetlb_ok && i < nhfiles; i++) {
    if (hfiles[i] > 0) close(hfiles[i]);
    char name[40];
    snprintf(name, sizeof name, "cowcheck-hugetlb-file-%ld", i);
    hfiles[i] = memfd_create(name, MFD_HUGETLB | (unsigned)__builtin_ctzl((unsigned long)(huge_pages * page_size)) << 26);
    if (hfiles[i] < 0 || ftruncate(hfiles[i], (window - window % huge_pages) * page_size) < 0) die("hugetlb memfd: %s", strerror(errno));
  }
  for (long i = 0; disk_dir && i < ndfiles; i++) {
    if (dfiles[i] > 0) close(dfiles[i]);
    dfiles[i] = open(disk_dir, O_TMPFILE | O_RDWR, 0600);
    if (dfiles[i] < 0 || ftruncate(dfiles[i], window * page_size) < 0) die("a disk file in %s: %s", disk_dir, strerror(errno));
  }
}

/**
 * Wait until the worker's channel closes: a process closes its files after its address space is torn down
 * (do_exit: exit_mm before exit_files), so from then on nothing of it maps or references a page. Without the
 * wait, the next op could find pages still mapped by a process that has been told to exit.
 */
static int await_gone(int sock) {
  char b[sizeof(struct rep)];
  struct pollfd p = {.fd = sock, .events = POLLIN};
  for (;;) {
    if (poll(&p, 1, 5000) <= 0) return -1;
    ssize_t n = recv(sock, b, sizeof b, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return 0;
  }
}

static int longterm_ok;

/** Whether io_uring works here (compiled with liburing, not disabled by kernel.io_uring_disabled). */
static int longterm_offered(void) {
#ifdef COWCHECK_URING
  struct io_uring r;
  if (io_uring_queue_init(1, &r, 0) < 0) return 0;
  io_uring_queue_exit(&r);
  return 1;
#else
  return 0;
#endif
}

static void kill_all(void) {
  memset(handles, 0, sizeof handles);
  memset(is_ring, 0, sizeof is_ring);
  for (int i = 1; i <= MAX_PROCS; i++)
    if (procs[i].sock) kill(procs[i].pid, SIGKILL);
  for (int i = 1; i <= MAX_PROCS; i++) {
    if (!procs[i].sock) continue;
    await_gone(procs[i].sock);
    close(procs[i].sock);
    procs[i].sock = 0;
  }
}

// A tiny reader for the flat JSON objects cowcheck sends (keys are unique within the op object).
static const char *find_key(const char *obj, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(obj, pat);
  return p ? p + strlen(pat) : NULL;
}
/** A number field, or `dflt` if absent or null; anything outside ±2^30 reads as -1 (out of every range we accept). */
static long num(const char *obj, const char *key, long dflt) {
  const char *p = find_key(obj, key);
  if (!p || !strncmp(p, "null", 4)) return dflt;
  long v = strtol(p, NULL, 10);
  return v > (1L << 30) || v < -(1L << 30) ? -1 : v;
}
static int is_true(const char *obj, const char *key) {
  const char *p = find_key(obj, key);
  return p && !strncmp(p, "true", 4);
}
static int str_is(const char *obj, const char *key, const char *value) {
  const char *p = find_key(obj, key);
  size_t n = strlen(value);
  return p && p[0] == '"' && !strncmp(p + 1, value, n) && p[n + 1] == '"';
}

static long id;
/** While an op runs under a sequence's THP policy, its reply waits in the buffer until the knobs are back. */
static int hold_replies;
static void flush_replies(void) {
  if (!hold_replies) fflush(stdout);
}

static void reply(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("{\"id\":%ld,\"ok\":true,\"obs\":", id);
  vprintf(fmt, ap);
  printf("}\n");
  flush_replies();
  va_end(ap);
}
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("{\"id\":%ld,\"ok\":false,\"error\":{\"message\":\"", id);
  for (const char *c = msg; *c; c++) {
    if (*c == '"' || *c == '\\') putchar('\\');
    if ((unsigned char)*c >= 0x20) putchar(*c);
  }
  printf("\"}}\n");
  flush_replies();
}
static void reply_errno(int e) {
  const char *name = e == ESRCH ? "ESRCH" : e == EINVAL ? "EINVAL" : e == ENOMEM ? "ENOMEM" : e == EFAULT ? "EFAULT" : e == EPERM ? "EPERM" : e == EBADF ? "EBADF" : e == EIO ? "EIO" : NULL;
  if (name) reply("{\"error\":\"%s\"}", name);
  else fail("a syscall failed with %s, which is no mm observation", strerrorname_np(e) ? strerrorname_np(e) : "an unknown errno");
}
/** A page's cells as {"data": […]}, or (`range`) every page's as {"pages": [[…], …]}. */
static void reply_data(const unsigned char *d, long len, int range) {
  printf("{\"id\":%ld,\"ok\":true,\"obs\":{\"%s\":%s", id, range ? "pages" : "data", range ? "[" : "");
  for (long pg = 0; pg * cells < len; pg++) {
    printf("%s[", pg ? "," : "");
    for (long i = 0; i < cells; i++) printf(i ? ",%u" : "%u", d[pg * cells + i]);
    printf("]");
  }
  printf("%s}}\n", range ? "]" : "");
  flush_replies();
}

/**
 * SIGTERM, SIGINT or SIGHUP asks the controller to stop: a ksmScan in progress ends at once and puts ksmd's knobs back
 * (ksm_restore), then the agent ends its workers and exits. The default action would leave ksmd scanning flat out.
 */
static volatile sig_atomic_t stop_requested;
static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

// ---- KSM: ksmd is machine-wide, so the controller drives it, under a lock, and restores every knob it touched
// before the op answers (smart_scan would skip pages that did not merge before; sleep would slow the scans).

#define KSM "/sys/kernel/mm/ksm/"
static const char *ksm_knobs[] = {"pages_to_scan", "sleep_millisecs", "smart_scan", "run"};
#define KSM_KNOBS (sizeof ksm_knobs / sizeof *ksm_knobs)

static int ksm_rw(const char *knob, char *buf, size_t n, int write) {
  char path[128];
  snprintf(path, sizeof path, KSM "%s", knob);
  int fd = open(path, write ? O_WRONLY : O_RDONLY);
  if (fd < 0) return -1;
  ssize_t k = write ? (ssize_t)(pwrite(fd, buf, strlen(buf), 0) == (ssize_t)strlen(buf)) - 1 : pread(fd, buf, n - 1, 0);
  close(fd);
  if (k < 0) return -1;
  if (!write) buf[k] = 0;
  return 0;
}

static long ksm_full_scans(void) {
  char b[32];
  return ksm_rw("full_scans", b, sizeof b, 0) ? -1 : strtol(b, NULL, 10);
}

/** ksmd's count of pages scanned: it moves whenever ksmd works, for whoever woke it. */
static long ksm_pages_scanned(void) {
  char b[32];
  return ksm_rw("pages_scanned", b, sizeof b, 0) ? -1 : strtol(b, NULL, 10);
}

/** pages_scanned when this agent last looked (after its own ksmScan, or at an inspect); -1 if unreadable. */
static long ksm_seen = -1;

/** khugepaged's count of collapses it made (MADV_COLLAPSE, the agent's `collapse`, is not counted); -1 if unreadable. */
static long khugepaged_collapsed(void) {
  char b[32];
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed", "re");
  long n = f && fgets(b, sizeof b, f) ? strtol(b, NULL, 10) : -1;
  if (f) fclose(f);
  return n;
}
static long khugepaged_seen = -1;

/** Whether this agent can drive ksmd: its knobs writable. */
static int ksm_usable(void) {
  for (size_t i = 0; i < KSM_KNOBS; i++) {
    char path[128];
    snprintf(path, sizeof path, KSM "%s", ksm_knobs[i]);
    if (access(path, W_OK)) return 0;
  }
  return ksm_full_scans() >= 0;
}

/** KSM as the model has it: ksmd usable, and max_page_sharing at its default (KSM_MAX_PAGE_SHARING, 256). */
static int ksm_offered(void) {
  char b[32];
  return ksm_usable() && !ksm_rw("max_page_sharing", b, sizeof b, 0) && strtol(b, NULL, 10) == 256;
}

#define KSM_LOCK "/run/cowcheck-ksm.lock"
#define KSM_SAVED "/run/cowcheck-ksm.saved" /* the knobs as they were before an agent touched them */

static int ksm_lock(void) {
  int lock = open(KSM_LOCK, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock >= 0 && flock(lock, LOCK_EX) == 0) return lock;
  if (lock >= 0) close(lock);
  return -1;
}

/**
 * Under the lock: the knobs' original values. An agent killed mid-scan leaves KSM_SAVED behind; whoever finds it
 * restores from it first, so ksmd never keeps (or takes for original) the fast settings.
 */
static int ksm_originals(char saved[KSM_KNOBS][32]) {
  FILE *f = fopen(KSM_SAVED, "r");
  if (f) {
    int ok = 1;
    for (size_t i = 0; i < KSM_KNOBS; i++) ok &= fscanf(f, "%31s", saved[i]) == 1;
    fclose(f);
    if (ok) {
      ksm_rw("run", saved[KSM_KNOBS - 1], 0, 1);
      for (size_t i = 0; i + 1 < KSM_KNOBS; i++) ksm_rw(ksm_knobs[i], saved[i], 0, 1);
      return 0;
    }
  }
  for (size_t i = 0; i < KSM_KNOBS; i++) {
    if (ksm_rw(ksm_knobs[i], saved[i], 32, 0)) return -1;
    saved[i][strcspn(saved[i], "\n")] = 0;
  }
  return 0;
}

static void ksm_restore(char saved[KSM_KNOBS][32]) {
  ksm_rw("run", saved[KSM_KNOBS - 1], 0, 1); // stop ksmd first, then put the rest back as they were
  for (size_t i = 0; i + 1 < KSM_KNOBS; i++) ksm_rw(ksm_knobs[i], saved[i], 0, 1);
  unlink(KSM_SAVED);
}

/** At start: put back what an agent killed mid-scan left behind. */
static void ksm_recover(void) {
  if (access(KSM_SAVED, F_OK)) return;
  int lock = ksm_lock();
  char saved[KSM_KNOBS][32];
  if (lock >= 0 && ksm_originals(saved) == 0) ksm_restore(saved);
  if (lock >= 0) close(lock);
}

/** A worker's /proc/PID/<name>, opened to read; -1 (errno) if it cannot be. */
static int proc_fd(pid_t os_pid, const char *name) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)os_pid, name);
  return open(path, O_RDONLY | O_CLOEXEC);
}

/**
 * Whether ksmd has anything of this process's to merge: /proc/PID/ksm_stat's ksm_mergeable (6.14+:
 * ksm_process_mergeable, some VMA is VM_MERGEABLE; ksm_madvise sets that only on a vma_ksm_compatible VMA, and
 * madvise never reaches one for a range with no VMA); where the kernel does not say, what this agent saw: a
 * MADV_MERGEABLE that succeeded here or in a parent.
 */
static int ksm_listed(const struct proc *p) {
  char buf[512];
  int fd = proc_fd(p->pid, "ksm_stat");
  ssize_t got = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  buf[got > 0 ? got : 0] = 0;
  const char *said = strstr(buf, "ksm_mergeable: ");
  return said ? said[15] == 'y' : p->mergeable;
}

/** Run ksmd until three more full scans have passed (a page enters the unstable tree once it held still for a scan). */
static void ksm_scan(void) {
  int any = 0;
  for (int i = 1; i <= MAX_PROCS; i++) any |= procs[i].sock && ksm_listed(&procs[i]);
  if (!any) return reply("{\"ok\":true}"); // nothing of ours on ksmd's list: nothing to merge
  int lock = ksm_lock();
  if (lock < 0) return fail("cannot lock %s: %s", KSM_LOCK, strerror(errno));
  char saved[KSM_KNOBS][32];
  if (ksm_originals(saved)) {
    close(lock);
    return fail("reading /sys/kernel/mm/ksm failed: %s", strerror(errno));
  }
  FILE *f = fopen(KSM_SAVED, "w");
  int ok = f != NULL;
  for (size_t i = 0; ok && i < KSM_KNOBS; i++) ok &= fprintf(f, "%s\n", saved[i]) > 0;
  if (f) ok &= fclose(f) == 0;
  char fast[][16] = {"100000", "0", "0", "1"};
  long start = ksm_full_scans(), now = start;
  for (size_t i = 0; ok && i < KSM_KNOBS; i++) ok &= ksm_rw(ksm_knobs[i], fast[i], 0, 1) == 0;
  // ksmd does not scan at all while no process has mergeable memory: a count that stands still for 200 ms means
  // there is nothing (more) to merge (a process killed by reset may leave its mm on ksmd's list for a scan or two,
  // then ksmd stops mid-wait).
  int still = 0, waited = 0;
  for (; ok && !stop_requested && now < start + 3 && still < 400 && waited < 10000; waited++) {
    usleep(500);
    long n = ksm_full_scans();
    still = n == now ? still + 1 : 0;
    now = n;
  }
  ksm_restore(saved);
  ksm_seen = ksm_pages_scanned(); // this scan was ours
  close(lock);
  if (stop_requested) return fail("stopped by a signal during ksmScan");
  if (!ok) return fail("driving /sys/kernel/mm/ksm failed: %s", strerror(errno));
  if (waited >= 10000) return fail("ksmd was still scanning after 5 s");
  reply("{\"ok\":true}");
}

// ---- THP policy (feature "mthp"): hugepages-<size>kB/enabled are machine-wide. The model starts from every
// order below the PMD's "never" and the PMD's "inherit" (of the top level's "madvise"). A sequence's thpPolicy ops
// only record the policy it wants; the knobs are set for each of its ops alone (faults happen only in ops), under
// THP_LOCK held exclusively, with every knob it changes saved to THP_SAVED first and put back before the lock is let go, so
// two runs with policies never meet each other's. Runs without one take no lock (docs/linux.md: run mthp alone on
// a machine where others compare structure). An agent killed mid-op leaves THP_SAVED; the next agent to start or
// to apply a policy restores from it.

#define THP "/sys/kernel/mm/transparent_hugepage/"
#define THP_LOCK "/run/cowcheck-thp.lock"
#define THP_SAVED "/run/cowcheck-thp.saved"
#define MAX_ORDER 12
static const char *thp_modes[] = {"always", "madvise", "never", "inherit"};
static int thp_lock_fd = -1;
static int thp_held; // the exclusive lock

static void thp_knob(long order, char *path, size_t n) {
  snprintf(path, n, THP "hugepages-%ldkB/enabled", (page_size >> 10) << order);
}

/** The knob's current mode (the bracketed word), or "" if there is no knob. */
static void thp_read(long order, char out[16]) {
  char path[128], buf[128];
  thp_knob(order, path, sizeof path);
  out[0] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
  close(fd);
  if (k <= 0) return;
  buf[k] = 0;
  char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
  if (a && b && b - a - 1 < 16) {
    memcpy(out, a + 1, (size_t)(b - a - 1));
    out[b - a - 1] = 0;
  }
}

static int thp_write(long order, const char *mode) {
  char path[128];
  thp_knob(order, path, sizeof path);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int ok = pwrite(fd, mode, strlen(mode), 0) == (ssize_t)strlen(mode);
  close(fd);
  return ok ? 0 : -1;
}

/** The longest an op waits for another agent's policy to end: under the engine's per-message timeout (10 s). */
#define THP_WAIT_MS 8000

/**
 * Take the lock exclusively, waiting at most THP_WAIT_MS; -1 with errno ETIMEDOUT past that (another run's op keeps
 * its policy longer), or if the lock file cannot be opened (not root).
 */
static int thp_lock(void) {
  if (thp_lock_fd < 0) thp_lock_fd = open(THP_LOCK, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (thp_lock_fd < 0) return -1;
  for (int waited = 0; flock(thp_lock_fd, LOCK_EX | LOCK_NB) < 0; waited++) {
    if ((errno != EWOULDBLOCK && errno != EINTR) || stop_requested) return -1;
    if (waited >= THP_WAIT_MS) {
      errno = ETIMEDOUT;
      return -1;
    }
    usleep(1000);
  }
  thp_held = 1;
  return 0;
}

static void thp_unlock(void) {
  if (thp_held) flock(thp_lock_fd, LOCK_UN);
  thp_held = 0;
}

/** Under the exclusive lock: put back the knobs THP_SAVED lists (an agent of ours changed them), then forget it. */
static void thp_put_back(void) {
  FILE *f = fopen(THP_SAVED, "re");
  if (!f) return;
  long order;
  char mode[16];
  while (fscanf(f, "%ld %15s", &order, mode) == 2) thp_write(order, mode);
  fclose(f);
  unlink(THP_SAVED);
}

/** Whether every THP order is where the model starts: below the PMD "never" (or no knob), the PMD "inherit". */
static const char *thp_baseline_error(long pmd_order) {
  static char why[160];
  for (long o = 2; o <= pmd_order && o <= MAX_ORDER; o++) {
    char m[16];
    thp_read(o, m);
    const char *want = o == pmd_order ? "inherit" : "never";
    // the PMD's "madvise" is its "inherit" of the top level's "madvise": the same behaviour
    if (m[0] && strcmp(m, want) && !(o == pmd_order && !strcmp(m, "madvise"))) {
      snprintf(why, sizeof why, THP "hugepages-%ldkB/enabled is %s; the model starts from %s", (page_size >> 10) << o, m, want);
      return why;
    }
  }
  return NULL;
}

/** At start: restore what an agent killed while changing the policy left, then check the starting point. */
static void thp_recover(long pmd_order) {
  if (thp_lock()) return; // not root, or another run's policy in force: nothing to check against
  thp_put_back();
  const char *why = thp_baseline_error(pmd_order);
  thp_unlock();
  if (why) die("%s", why);
}


/** The policy the sequence set, by order ("" where it set none), and whether it set any. */
static char thp_want[MAX_ORDER + 1][16];
static int thp_wants;

/** thpPolicy: recorded for the sequence's later ops (thp_apply); EINVAL for an order without a knob. */
static void thp_policy(const char *op, long pmd_order) {
  long order = num(op, "order", -1);
  int mode = -1;
  for (int i = 0; i < 4; i++)
    if (str_is(op, "enabled", thp_modes[i])) mode = i;
  char now[16] = "";
  if (order >= 2 && order <= pmd_order && order <= MAX_ORDER) thp_read(order, now);
  if (!now[0] || mode < 0) return reply("{\"error\":\"EINVAL\"}");
  snprintf(thp_want[order], sizeof thp_want[order], "%s", thp_modes[mode]);
  thp_wants = 1;
  reply("{\"ok\":true}");
}

/**
 * Before an op of a sequence that set a policy: the exclusive lock, then the knobs the sequence wants otherwise than
 * they are saved to THP_SAVED (as they were) and set. A knob already as wanted is not written: every write of one
 * restarts khugepaged's bookkeeping (anon_enabled_store: start_stop_khugepaged, set_recommended_min_free_kbytes).
 */
static int thp_apply(long pmd_order) {
  if (thp_lock()) return -1;
  thp_put_back(); // a killed agent's knobs first: its saved file is not ours to overwrite
  char was[MAX_ORDER + 1][16] = {{0}};
  int changes = 0;
  for (long o = 2; o <= pmd_order && o <= MAX_ORDER; o++) {
    if (!thp_want[o][0]) continue;
    thp_read(o, was[o]);
    if (!was[o][0]) { // thpPolicy found the knob: it cannot be read now
      int e = errno ? errno : EIO;
      thp_unlock();
      errno = e;
      return -1;
    }
    if (strcmp(was[o], thp_want[o])) changes++;
    else was[o][0] = 0;
  }
  if (!changes) return 0;
  FILE *f = fopen(THP_SAVED, "we");
  int ok = f != NULL;
  for (long o = 2; ok && o <= pmd_order && o <= MAX_ORDER; o++)
    if (was[o][0]) ok &= fprintf(f, "%ld %s\n", o, was[o]) > 0;
  if (f) ok &= fclose(f) == 0;
  for (long o = 2; ok && o <= pmd_order && o <= MAX_ORDER; o++)
    if (was[o][0]) ok &= thp_write(o, thp_want[o]) == 0;
  if (!ok) {
    int e = errno;
    thp_put_back();
    thp_unlock();
    errno = e;
    return -1;
  }
  return 0;
}

/** After it: every knob as it was, the lock let go. */
static void thp_unapply(void) {
  thp_put_back();
  thp_unlock();
}

/** THP as the model has it: the top level "madvise" (the agent never changes it). */
static int thp_top_madvise(void) {
  char top[64] = "";
  FILE *f = fopen(THP "enabled", "re");
  if (!f) return 0;
  int ok = fgets(top, sizeof top, f) != NULL && strstr(top, "[madvise]");
  fclose(f);
  return ok;
}

/** The policy is offered where the knobs are writable (root). */
static int mthp_ok;
static int thp_offered(long pmd_order) {
  char path[128];
  thp_knob(pmd_order, path, sizeof path);
  return access(path, W_OK) == 0;
}

// ---- swap (feature "swap"): MADV_PAGEOUT needs a swap device. The agent makes its own, a zram device (what the
// model knows: SWP_SYNCHRONOUS_IO), on the first pageout, with vm.page-cluster 0 (no swap readahead), both
// machine-wide: every agent using it holds SWAP_USERS shared; the last to let go (or the next agent to start,
// after a killed one) swaps it off, removes the device and puts page-cluster back, under SWAP_LOCK. SWAP_STATE
// names the device and the page-cluster it found.

#define SWAP_LOCK "/run/cowcheck-swap.lock"
#define SWAP_USERS "/run/cowcheck-swap.users"
#define SWAP_STATE "/run/cowcheck-swap.state"
#define PAGE_CLUSTER "/proc/sys/vm/page-cluster"
static int swap_ok;         // the feature is offered

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int e = errno;
  close(fd);
  errno = e;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/** Record a shared setting's state file (created, root's alone); a failed write leaves no file behind. */
static int save_state(const char *path, const char *text) {
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -1;
  int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  if (!ok) unlink(path);
  return ok ? 0 : -1;
}

static int read_file(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t got = read(fd, buf, n - 1);
  close(fd);
  if (got < 0) return -1;
  buf[got] = 0;
  buf[strcspn(buf, "\n")] = 0;
  return 0;
}

/** Root, zram, and zswap off (with zswap, do_swap_page never reads a large folio back: alloc_swap_folio). */
static int swap_offered(void) {
  char z[8] = "N";
  if (geteuid() != 0 || access("/sys/class/zram-control/hot_add", W_OK)) return 0;
  read_file("/sys/module/zswap/parameters/enabled", z, sizeof z);
  return z[0] == 'N' || z[0] == '0';
}

/**
 * A machine-wide setting agents share (the swap device, the hugetlb pool): `lock` serializes changes, each agent
 * using it holds `users` shared (`held`), `state` says what to put back; the last user lets `teardown` put it
 * back, and so does the next agent to start after a killed one.
 */
struct shared {
  const char *lock, *users, *state;
  void (*teardown)(void);
  int held; // this agent's shared hold on `users`, or -1
};

static int shared_lock(const struct shared *s) {
  int lock = open(s->lock, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock >= 0 && flock(lock, LOCK_EX) == 0) return lock;
  if (lock >= 0) close(lock);
  return -1;
}

/** Let go of the setting; the last user puts it back. At start (nothing held), a killed agent's is swept. */
static void shared_release(struct shared *s) {
  if (s->held < 0 && access(s->state, F_OK)) return;
  int lock = shared_lock(s);
  if (lock < 0) return;
  int users = s->held >= 0 ? s->held : open(s->users, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (users >= 0) {
    flock(users, LOCK_UN);
    if (flock(users, LOCK_EX | LOCK_NB) == 0) s->teardown();
    close(users);
  }
  s->held = -1;
  close(lock);
}

/**
 * Before using the setting: this agent holds it, `setup` (under the lock) making it first if no agent has (it
 * returns 0, or -1 with errno set; then the teardown puts back whatever its state file records).
 */
static int shared_ensure(struct shared *s, int (*setup)(void)) {
  if (s->held >= 0) return 0;
  int lock = shared_lock(s);
  if (lock < 0) return -1;
  int users = open(s->users, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
  int rc = users < 0 || flock(users, LOCK_SH) ? -1 : setup();
  int e = errno;
  if (rc && users >= 0) {
    s->teardown(); // nobody else holds it: setup made it, so far as it got
    close(users);
  }
  close(lock);
  if (rc) {
    errno = e;
    return -1;
  }
  s->held = users;
  return 0;
}

/** Under SWAP_LOCK, nobody holding SWAP_USERS: take down the device SWAP_STATE names and put page-cluster back. */
static void swap_teardown(void) {
  char state[128], dev[64];
  int num = -1, cluster = -1;
  if (read_file(SWAP_STATE, state, sizeof state) || sscanf(state, "%d %d", &num, &cluster) != 2) {
    unlink(SWAP_STATE);
    return;
  }
  snprintf(dev, sizeof dev, "/dev/zram%d", num);
  swapoff(dev);
  char path[96], text[16];
  snprintf(path, sizeof path, "/sys/block/zram%d/reset", num);
  write_file(path, "1");
  snprintf(text, sizeof text, "%d", num);
  write_file("/sys/class/zram-control/hot_remove", text);
  if (cluster >= 0) {
    snprintf(text, sizeof text, "%d", cluster);
    write_file(PAGE_CLUSTER, text);
  }
  unlink(SWAP_STATE);
}

static struct shared swap_device = {SWAP_LOCK, SWAP_USERS, SWAP_STATE, swap_teardown, -1};

/** A swap file header (mkswap's): version 1, the last page, "SWAPSPACE2" at the end of the first page. */
static int swap_format(const char *dev, long bytes) {
  int fd = open(dev, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char *page = calloc(1, (size_t)page_size);
  uint32_t head[3] = {1, (uint32_t)(bytes / page_size - 1), 0};
  memcpy(page + 1024, head, sizeof head);
  memcpy(page + page_size - 10, "SWAPSPACE2", 10);
  int ok = pwrite(fd, page, (size_t)page_size, 0) == page_size && fsync(fd) == 0;
  free(page);
  close(fd);
  return ok ? 0 : -1;
}

/** Under SWAP_LOCK: the device SWAP_STATE names, or a new one made now (then named there). */
static int swap_setup(void) {
  char state[128], text[32], dev[64];
  int num = -1, cluster = -1, rc = 0;
  if (read_file(SWAP_STATE, state, sizeof state) || sscanf(state, "%d %d", &num, &cluster) != 2) {
    const long bytes = 1L << 30; // far more than the windows need: swap is never half full (vm_swap_full)
    int fd = open("/sys/class/zram-control/hot_add", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0) close(fd);
    num = got > 0 ? atoi(text) : -1;
    char path[96], cur[16] = "";
    read_file(PAGE_CLUSTER, cur, sizeof cur);
    cluster = cur[0] ? atoi(cur) : -1;
    snprintf(state, sizeof state, "%d %d\n", num, cluster);
    rc = num < 0 ? -1 : save_state(SWAP_STATE, state); // first: a crash below is swept
    snprintf(path, sizeof path, "/sys/block/zram%d/disksize", num);
    snprintf(text, sizeof text, "%ld", bytes);
    snprintf(dev, sizeof dev, "/dev/zram%d", num);
    if (!rc) rc = write_file(path, text);
    if (!rc) rc = swap_format(dev, bytes);
    if (!rc) rc = swapon(dev, SWAP_FLAG_PREFER | (32767 & SWAP_FLAG_PRIO_MASK)); // before any other swap
    if (!rc) rc = write_file(PAGE_CLUSTER, "0");
  }
  return rc;
}

/** Before a pageout: this agent holds the device, made now if no agent has one. */
static int swap_ensure(void) {
  return shared_ensure(&swap_device, swap_setup);
}

// ---- hugetlb (feature "hugetlb"): the pages come from the hugetlb pool of the PMD size, which is empty until
// someone sizes it. The agent lets the pool grow on demand (nr_overcommit_hugepages: surplus pages come from the
// buddy allocator at reservation and go back when freed) on the first hugetlb mmap; machine-wide, so shared as
// the swap device is: every agent using it holds HUGETLB_USERS shared; the last to let go (or the next agent to
// start, after a killed one) puts the value HUGETLB_STATE saved back, under HUGETLB_LOCK.

#define HUGETLB_LOCK "/run/cowcheck-hugetlb.lock"
#define HUGETLB_USERS "/run/cowcheck-hugetlb.users"
#define HUGETLB_STATE "/run/cowcheck-hugetlb.state"
/** Surplus huge pages allowed on top of what was allowed: 2 GiB of 2 MiB pages, far more than the windows hold. */
#define HUGETLB_SURPLUS 1024

static void hugetlb_knob(char *path, size_t n) {
  snprintf(path, n, "/sys/kernel/mm/hugepages/hugepages-%ldkB/nr_overcommit_hugepages", huge_pages * page_size / 1024);
}

/** Root, and a hugetlb size equal to the PMD's with its overcommit knob. */
static int hugetlb_offered(void) {
  char path[128];
  hugetlb_knob(path, sizeof path);
  return geteuid() == 0 && access(path, W_OK) == 0;
}


/**
 * Under HUGETLB_LOCK, nobody holding HUGETLB_USERS: the overcommit HUGETLB_STATE saved goes back (the record stays
 * if that fails, for the next agent to try).
 */
static void hugetlb_teardown(void) {
  char state[64], path[128];
  hugetlb_knob(path, sizeof path);
  if (read_file(HUGETLB_STATE, state, sizeof state) || !state[0] || write_file(path, state) == 0) unlink(HUGETLB_STATE);
}

static struct shared hugetlb_pool = {HUGETLB_LOCK, HUGETLB_USERS, HUGETLB_STATE, hugetlb_teardown, -1};

/** Under HUGETLB_LOCK: the pool open already (HUGETLB_STATE saved), or opened now. */
static int hugetlb_setup(void) {
  int rc = 0;
  char state[64], path[128], text[32];
  if (read_file(HUGETLB_STATE, state, sizeof state) || !state[0]) {
    hugetlb_knob(path, sizeof path);
    rc = read_file(path, state, sizeof state);
    // the value found is saved first, so a crash after the knob is raised is swept; if saving fails, nothing changed
    if (!rc) rc = save_state(HUGETLB_STATE, state);
    snprintf(text, sizeof text, "%ld", atol(state) + HUGETLB_SURPLUS);
    if (!rc) rc = write_file(path, text);
  }
  return rc;
}

/** Before a hugetlb mmap: this agent holds the pool open, opened now if no agent has. */
static int hugetlb_ensure(void) {
  return shared_ensure(&hugetlb_pool, hugetlb_setup);
}

// ---- the pagemap view (feature "pagemap"): what /proc tells root about each worker's window, for the structural
// comparison with the model (docs/linux.md). Per present page: its PFN and flags; per VMA: AnonHugePages.

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_MMAP_EXCLUSIVE (1ULL << 56)
#define PM_PFN_MASK ((1ULL << 55) - 1)
enum { KPF_ANON = 12, KPF_HUGE = 17, KPF_KSM = 21, KPF_THP = 22, KPF_ZERO_PAGE = 24 };
/** The flags of one page in the view, as bits: what the view's decoder in views/mm/pagemap.ts reads. */
enum { V_EXCLUSIVE = 1, V_FILE = 2, V_ANON = 4, V_KSM = 8, V_THP = 16, V_ZERO = 32, V_HUGETLB = 64 };
static int kpageflags = -1;

/** PFNs are shown to CAP_SYS_ADMIN only, and kpageflags to root: both, or no view. */
static int force_ok;

/**
 * Whether a write through /proc/self/mem reaches a read-only private mapping (FOLL_FORCE), as it does unless
 * proc_mem.force_override= (or CONFIG_PROC_MEM_NO_FORCE) refuses it.
 */
static int force_offered(void) {
  unsigned char *p = mmap(NULL, (size_t)page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 0;
  int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  unsigned char one = 1;
  int ok = fd >= 0 && pwrite(fd, &one, 1, (off_t)(uintptr_t)p) == 1 && p[0] == 1;
  if (fd >= 0) close(fd);
  munmap(p, (size_t)page_size);
  return ok;
}

static int pagemap_offered(void) {
  if (kpageflags < 0) kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  if (kpageflags < 0) return 0;
  static volatile char probe[1 << 12] __attribute__((aligned(4096)));
  probe[0] = 1;
  int fd = open("/proc/self/pagemap", O_RDONLY);
  uint64_t e = 0;
  int ok = fd >= 0 && pread(fd, &e, 8, (off_t)((uintptr_t)probe / (uintptr_t)page_size) * 8) == 8 && (e & PM_PRESENT) && (e & PM_PFN_MASK);
  if (fd >= 0) close(fd);
  return ok;
}

/** A run of the view: n pages from v on, at x, x + 1, ... (pfns or slots), with the same bits. */
struct run {
  long v, n;
  uint64_t x;
  int bits, first, with_bits;
};

static void run_flush(FILE *out, struct run *r) {
  if (!r->n) return;
  if (r->with_bits) fprintf(out, "%s[%ld,%llu,%d,%ld]", r->first ? "" : ",", r->v, (unsigned long long)r->x, r->bits, r->n);
  else fprintf(out, "%s[%ld,%llu,%ld]", r->first ? "" : ",", r->v, (unsigned long long)r->x, r->n);
  r->first = 0;
}

static void run_add(FILE *out, struct run *r, long v, uint64_t x, int bits) {
  if (r->n && v == r->v + r->n && x == r->x + (uint64_t)r->n && bits == r->bits) {
    r->n++;
    return;
  }
  run_flush(out, r);
  r->v = v, r->x = x, r->bits = bits, r->n = 1;
}

/** The KSM pages a view met, one entry per mapping in the workers' windows (pfns). */
static uint64_t *ksm_met;
static size_t ksm_met_n, ksm_met_cap;
static void ksm_met_add(uint64_t pfn) {
  if (ksm_met_n == ksm_met_cap) {
    size_t cap = ksm_met_cap ? 2 * ksm_met_cap : 256;
    uint64_t *grown = realloc(ksm_met, cap * sizeof *grown);
    if (!grown) return; // (a mapping not counted only makes a foreign sharer look likelier)
    ksm_met = grown, ksm_met_cap = cap;
  }
  ksm_met[ksm_met_n++] = pfn;
}
static int pfn_order(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/**
 * Whether a KSM page the workers map is mapped elsewhere too (/proc/kpagecount above the workers' mappings): ksmd
 * is machine-wide, so a page may merge with another process's page of the same contents (another run's, or a
 * worker of an earlier sequence still exiting), which the model cannot know. -1 if kpagecount cannot be read.
 */
static int ksm_foreign(void) {
  static int kpagecount = -2;
  if (kpagecount == -2) kpagecount = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
  if (kpagecount < 0) return -1;
  qsort(ksm_met, ksm_met_n, sizeof *ksm_met, pfn_order);
  for (size_t i = 0, j; i < ksm_met_n; i = j) {
    for (j = i; j < ksm_met_n && ksm_met[j] == ksm_met[i]; j++) {}
    uint64_t count = 0;
    if (pread(kpagecount, &count, 8, (off_t)(ksm_met[i] * 8)) != 8) return -1;
    if (count > j - i) return 1;
  }
  return 0;
}

/** The last view_pages' bits of each page of the window (0: not present); view_vmas' PMD-mapped pages. */
static unsigned char *view_bits, *view_pmd;

/**
 * One pass over the window's pagemap: present pages as runs [vpage, pfn, bits, n] to `out`; swap PTEs (with
 * `swapped`) as runs [vpage, slot, n] to `swapped` (slot: type << 32 | offset).
 */
static int view_pages(FILE *out, FILE *swapped, int fd) {
  static uint64_t e[1 << 16];
  memset(view_bits, 0, (size_t)window);
  struct run pages = {.first = 1, .with_bits = 1}, swaps = {.first = 1};
  for (long at = 0; at < window; at += 1 << 16) {
    long n = window - at < (1 << 16) ? window - at : (1 << 16);
    if (pread(fd, e, (size_t)n * 8, (off_t)((BASE / (uintptr_t)page_size) + (uintptr_t)at) * 8) != n * 8) return -1;
    for (long i = 0; i < n; i++) {
      if (!(e[i] & PM_PRESENT)) {
        uint64_t frame = e[i] & PM_PFN_MASK; // swp_type | swp_offset << MAX_SWAPFILES_SHIFT (5)
        if (swapped && e[i] & PM_SWAP) run_add(swapped, &swaps, at + i, (frame & 31) << 32 | frame >> 5, 0);
        continue;
      }
      uint64_t pfn = e[i] & PM_PFN_MASK, k = 0;
      if (pread(kpageflags, &k, 8, (off_t)(pfn * 8)) != 8) k = 0;
      int bits = (e[i] & PM_MMAP_EXCLUSIVE ? V_EXCLUSIVE : 0) | (e[i] & PM_FILE ? V_FILE : 0) | (k >> KPF_ANON & 1 ? V_ANON : 0) |
                 (k >> KPF_KSM & 1 ? V_KSM : 0) | (k >> KPF_THP & 1 ? V_THP : 0) | (k >> KPF_ZERO_PAGE & 1 ? V_ZERO : 0) |
                 (k >> KPF_HUGE & 1 ? V_HUGETLB : 0);
      view_bits[at + i] = (unsigned char)bits;
      if (bits & V_KSM) ksm_met_add(pfn);
      run_add(out, &pages, at + i, pfn, bits);
    }
  }
  run_flush(out, &pages);
  if (swapped) run_flush(swapped, &swaps);
  return 0;
}

/** A worker's /proc/PID/<name> as a stream, to read. */
static FILE *proc_file(pid_t os_pid, const char *name) {
  int fd = proc_fd(os_pid, name);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
  if (fd >= 0 && !f) close(fd);
  return f;
}

/**
 * smaps: each VMA inside the window, in pages, with its PMD-mapped anonymous THP (AnonHugePages) in pages. Where
 * PAGEMAP_SCAN is missing (before Linux 6.7): smaps walks every VMA of the worker, its libraries too.
 */
static int view_vmas_smaps(FILE *out, pid_t os_pid) {
  FILE *f = proc_file(os_pid, "smaps");
  if (!f) return -1;
  char *line = NULL;
  size_t cap = 0;
  int first = 1, open_vma = 0;
  while (getline(&line, &cap, f) > 0) {
    unsigned long start, end, kb;
    if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      open_vma = start >= BASE && end <= BASE + (uintptr_t)window * (uintptr_t)page_size;
      if (open_vma) fprintf(out, first ? "[%ld,%ld" : ",[%ld,%ld", (long)((start - BASE) / (unsigned long)page_size), (long)((end - BASE) / (unsigned long)page_size));
      if (open_vma) first = 0;
    } else if (open_vma && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
      fprintf(out, ",%ld]", (long)(kb * 1024 / (unsigned long)page_size));
      open_vma = 0;
    }
  }
  free(line);
  fclose(f);
  return open_vma ? -1 : 0; // a VMA without its AnonHugePages line: smaps is not what this reader knows
}

/** PAGEMAP_SCAN (Linux 6.7, include/uapi/linux/fs.h), named here: the system's headers may be older. */
struct scan_region {
  uint64_t start, end, categories;
};
struct scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define SCAN_IOCTL _IOWR('f', 16, struct scan_arg)
#define SCAN_PRESENT (1ULL << 3) /* PAGE_IS_PRESENT */
#define SCAN_HUGE (1ULL << 6)    /* PAGE_IS_HUGE: met at the PMD level (pagemap_thp_category) or a hugetlb entry */

/**
 * The same as view_vmas_smaps without walking the worker's other VMAs: the VMAs from maps, and AnonHugePages as
 * smaps_pmd_entry counts it (an anonymous folio mapped by a PMD; not the huge zero page, not hugetlb): the pages
 * PAGEMAP_SCAN finds present at the PMD level whose kpageflags (view_pages) say anonymous and not hugetlb (a
 * migration entry, which smaps counts, is not present: the page view has it as absent too). 1 if the kernel has no
 * PAGEMAP_SCAN (ENOTTY).
 */
static int view_vmas(FILE *out, int pagemap, pid_t os_pid) {
  static int unscannable;
  if (unscannable) return 1;
  unsigned char *pmd = view_pmd;
  memset(pmd, 0, (size_t)window);
  struct scan_region vec[64];
  uint64_t end = BASE + (uint64_t)window * (uint64_t)page_size;
  for (uint64_t at = BASE; at < end;) {
    struct scan_arg a = {.size = sizeof a, .start = at, .end = end, .vec = (uintptr_t)vec, .vec_len = 64,
                         .category_mask = SCAN_PRESENT | SCAN_HUGE, .return_mask = SCAN_HUGE};
    long n = ioctl(pagemap, SCAN_IOCTL, &a);
    if (n < 0 && errno == ENOTTY) { // a kernel without it; EINVAL would be this agent's mistake, and fails
      unscannable = 1;
      return 1;
    }
    if (n < 0) return -1;
    for (long i = 0; i < n; i++)
      for (uint64_t v = vec[i].start; v < vec[i].end; v += (uint64_t)page_size) pmd[(v - BASE) / (uint64_t)page_size] = 1;
    if (a.walk_end <= at) { // the walk went nowhere: never seen, and not to be taken for the end
      errno = EIO;
      return -1;
    }
    at = a.walk_end;
  }
  FILE *f = proc_file(os_pid, "maps");
  if (!f) return -1;
  char *line = NULL;
  size_t cap = 0;
  int first = 1;
  while (getline(&line, &cap, f) > 0) {
    unsigned long start, stop;
    if (sscanf(line, "%lx-%lx ", &start, &stop) != 2 || start < BASE || stop > end) continue;
    long from = (long)((start - BASE) / (unsigned long)page_size), to = (long)((stop - BASE) / (unsigned long)page_size), huge = 0;
    for (long p = from; p < to; p++) huge += pmd[p] && (view_bits[p] & (V_ANON | V_HUGETLB)) == V_ANON;
    fprintf(out, first ? "[%ld,%ld,%ld]" : ",[%ld,%ld,%ld]", from, to, huge);
    first = 0;
  }
  free(line);
  fclose(f);
  return 0;
}

/** COWCHECK_VIEW_CHECK (the tests): every view's VMAs read through smaps too, and a difference is the agent's failure. */
static int view_check = -1;
static char view_mismatch[400];

/**
 * One reading of the view into *text; 0, -1 (errno) if /proc could not be read, or 1 where COWCHECK_VIEW_CHECK found
 * the two readings of a worker's VMAs apart (view_mismatch says how).
 */
static int view_once(char **text) {
  size_t size = 0;
  FILE *out = open_memstream(text, &size); // the answer goes out whole, or not at all
  if (!out) return -1;
  fprintf(out, "{\"id\":%ld,\"ok\":true,\"state\":{\"procs\":[", id);
  int first = 1, bad = 0, mismatch = 0;
  ksm_met_n = 0;
  for (int i = 1; i <= MAX_PROCS && !bad; i++) {
    if (!procs[i].sock) continue;
    fprintf(out, first ? "{\"pid\":%d,\"pages\":[" : ",{\"pid\":%d,\"pages\":[", i);
    first = 0;
    char *swaps = NULL;
    size_t swaps_size = 0;
    FILE *swapped = swap_ok ? open_memstream(&swaps, &swaps_size) : NULL;
    int pagemap = proc_fd(procs[i].pid, "pagemap");
    bad |= pagemap < 0 || view_pages(out, swapped, pagemap) || (swap_ok && !swapped);
    if (swapped) fclose(swapped);
    fprintf(out, "],\"vmas\":[");
    char *vmas = NULL;
    size_t vmas_size = 0;
    FILE *vo = open_memstream(&vmas, &vmas_size);
    int scanned = bad || !vo ? -1 : view_vmas(vo, pagemap, procs[i].pid);
    if (scanned > 0 && view_check) {
      snprintf(view_mismatch, sizeof view_mismatch, "this kernel has no PAGEMAP_SCAN: no second reading to hold smaps to");
      mismatch = 1;
    }
    if (scanned > 0) scanned = view_vmas_smaps(vo, procs[i].pid);
    if (vo) fclose(vo);
    if (!scanned && view_check && !mismatch) {
      char *smaps = NULL;
      size_t smaps_size = 0;
      FILE *so = open_memstream(&smaps, &smaps_size);
      int got = so ? view_vmas_smaps(so, procs[i].pid) : -1;
      if (so) fclose(so);
      if (got) bad = 1;
      else if (strcmp(vmas, smaps)) {
        snprintf(view_mismatch, sizeof view_mismatch, "pid %d: [%.150s] through PAGEMAP_SCAN and maps, [%.150s] from smaps", i, vmas, smaps);
        mismatch = 1;
      }
      free(smaps);
    }
    bad |= scanned < 0;
    if (vmas) fputs(vmas, out);
    free(vmas);
    if (pagemap >= 0) close(pagemap);
    if (swaps) fprintf(out, "],\"swapped\":[%s", swaps);
    free(swaps);
    fprintf(out, "]}");
  }
  int e = errno;
  // The daemons that change address spaces on their own time, read after the pages so that whatever those show
  // has been counted: ksmd worked outside this agent's ksmScan (another run drove it, or it runs on its own);
  // khugepaged collapsed something (it wakes every scan_sleep_millisecs).
  long scanned = ksm_pages_scanned(), collapsed = khugepaged_collapsed();
  fprintf(out, "]");
  int foreign = bad ? -1 : ksm_foreign();
  if (foreign >= 0) fprintf(out, ",\"ksmForeign\":%s", foreign ? "true" : "false");
  if (ksm_seen >= 0 && scanned >= 0) fprintf(out, ",\"ksmdRan\":%s", scanned != ksm_seen ? "true" : "false");
  if (khugepaged_seen >= 0 && collapsed >= 0) fprintf(out, ",\"khugepagedRan\":%s", collapsed != khugepaged_seen ? "true" : "false");
  fprintf(out, "}}\n");
  ksm_seen = scanned;
  khugepaged_seen = collapsed;
  fclose(out);
  errno = e;
  return bad ? -1 : mismatch;
}

static void view(void) {
  if (view_check < 0) view_check = getenv("COWCHECK_VIEW_CHECK") != NULL;
  long ksm_before = ksm_seen, khugepaged_before = khugepaged_seen;
  char *text = NULL;
  int r = view_once(&text);
  // a THP migrating between the readings shows in one only (smaps_pmd_entry counts a migration entry's folio,
  // PAGEMAP_SCAN finds it not present): read the whole view once more before calling it a difference
  if (r > 0) {
    free(text);
    text = NULL;
    ksm_seen = ksm_before, khugepaged_seen = khugepaged_before; // the discarded reading looked at nothing
    r = view_once(&text);
  }
  if (r < 0) fail("reading /proc for a worker failed: %s", strerror(errno));
  else if (r > 0) fail("COWCHECK_VIEW_CHECK: %s", view_mismatch);
  else fputs(text, stdout);
  free(text);
  fflush(stdout);
}

/** Send one request to a worker and read its answer; a worker that is gone is the engine's failure. */
static int ask(int pid, struct req *q, struct rep *r) {
  int sock = procs[pid].sock;
  if (send(sock, q, sizeof *q, MSG_NOSIGNAL) != (ssize_t)sizeof *q || recv(sock, r, sizeof *r, MSG_WAITALL) != (ssize_t)sizeof *r ||
      (r->status == S_DATA && (r->len < 0 || r->len > (int)sizeof data || recv(sock, data, (size_t)r->len, MSG_WAITALL) != (ssize_t)r->len))) {
    fail("the worker for pid %d (os pid %d) died", pid, (int)procs[pid].pid);
    return -1;
  }
  return 0;
}

static void spawn(void) {
  int pid = lowest_free();
  if (!pid) return fail("more than %d processes", MAX_PROCS);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return fail("socketpair: %s", strerror(errno));
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return fail("fork: %s", strerror(e));
  }
  if (child == 0) {
    keep_only(sv[1]);
    worker(sv[1]);
  }
  close(sv[1]);
  procs[pid] = (struct proc){.sock = sv[0], .pid = child};
  reply("{\"pid\":%d}", pid);
}

static long pmd_order;

static void do_op(const char *op) {
  if (str_is(op, "op", "spawn")) return spawn();
  if (str_is(op, "op", "thpPolicy")) return mthp_ok ? thp_policy(op, pmd_order) : fail("thpPolicy needs feature mthp");
  if (str_is(op, "op", "ksmScan")) return ksm_scan();
  if (str_is(op, "op", "fileRead") || str_is(op, "op", "fileWrite")) {
    long f = num(op, "file", -1), page = num(op, "page", -1);
    int hugetlb = is_true(op, "hugetlb"), disk = is_true(op, "disk");
    if (hugetlb && !hugetlb_ok) return fail("a hugetlb memfd needs feature hugetlb");
    if (disk && !disk_dir) return fail("a disk file needs feature disk");
    int fd = file_fd(f, hugetlb, disk);
    if (fd < 0) return reply("{\"error\":\"EBADF\"}");
    // hugetlbfs has no write(2): the kernel answers EINVAL before looking at anything else (vfs_write)
    if (hugetlb && str_is(op, "op", "fileWrite") && pwrite(fd, "", 1, 0) < 0) return reply_errno(errno);
    if (page < 0 || page >= window) return reply("{\"error\":\"EINVAL\"}");
    unsigned char d[4096];
    long stride = page_size / cells;
    if (str_is(op, "op", "fileRead")) {
      for (long i = 0; i < cells; i++) {
        ssize_t got = pread(fd, &d[i], 1, page * page_size + i * stride);
        if (got == 0 && hugetlb) d[i] = 0; // past a hugetlb memfd's whole huge pages: nothing, read as zeros
        else if (got != 1) return fail("pread: %s", strerror(errno));
      }
      return reply_data(d, cells, 0);
    }
    long cell = num(op, "cell", -1);
    if (cell < 0 || cell >= cells) return reply("{\"error\":\"EINVAL\"}");
    d[0] = (unsigned char)num(op, "value", 0);
    if (pwrite(fd, d, 1, page * page_size + cell * stride) != 1) return fail("pwrite: %s", strerror(errno));
    return reply("{\"ok\":true}");
  }
  struct req q = {0};
  struct rep r;
  q.file = -1;
  if (str_is(op, "op", "pinWrite")) {
    long h = num(op, "handle", -1);
    if (h < 1 || h > MAX_HANDLES || !handles[h]) return reply("{\"error\":\"EBADF\"}");
    if (!is_ring[h]) return reply("{\"error\":\"EPERM\"}"); // a GUP reference: nothing writes through it
    q.cell = (int)num(op, "cell", -1);
    q.value = (int)num(op, "value", 0);
    if (q.cell < 0 || q.cell >= cells * span_of[h]) return reply("{\"error\":\"EINVAL\"}"); // cells number the range
    q.kind = K_PINWRITE;
    q.handle = (int)h;
    if (ask(handles[h], &q, &r) < 0) return;
    if (r.status == S_ERRNO) return fail("writing through the io_uring fixed buffer failed: %s", strerror(r.err));
    return reply("{\"ok\":true}");
  }
  if (str_is(op, "op", "unpin") || str_is(op, "op", "pinRead")) {
    long h = num(op, "handle", -1);
    if (h < 1 || h > MAX_HANDLES || !handles[h]) return reply("{\"error\":\"EBADF\"}");
    q.kind = str_is(op, "op", "unpin") ? K_UNPIN : K_PINREAD;
    q.handle = (int)h;
    int holder = handles[h];
    if (q.kind == K_UNPIN) handles[h] = is_ring[h] = 0;
    if (ask(holder, &q, &r) < 0) return;
    if (r.status == S_ERRNO) return fail("reading a reference failed: %s", strerror(r.err));
    return r.status == S_DATA ? reply_data(data, r.len, is_range[h]) : reply("{\"ok\":true}");
  }
  long pid = num(op, "pid", -1);
  if (pid < 1 || pid > MAX_PROCS || !procs[pid].sock) return reply("{\"error\":\"ESRCH\"}");
  q.page = (int)num(op, "page", 0);
  q.pages = (int)num(op, "pages", 1);
  int range = find_key(op, "pages") != NULL; // a read or pin of a range answers {"pages"}
  if (str_is(op, "op", "fork")) {
    q.kind = K_FORK;
    int child = lowest_free();
    if (!child) return fail("more than %d processes", MAX_PROCS);
    if (send(procs[pid].sock, &q, sizeof q, MSG_NOSIGNAL) != (ssize_t)sizeof q) return fail("the worker for pid %ld died", pid);
    int sock = recv_fd(procs[pid].sock, &r);
    if (sock < 0) return fail("the worker for pid %ld died while forking", pid);
    procs[child] = (struct proc){.sock = sock, .pid = r.child_pid, .mergeable = procs[pid].mergeable}; // ksm_fork
    return reply("{\"pid\":%d}", child);
  }
  if (str_is(op, "op", "exit")) {
    q.kind = K_EXIT;
    for (int h = 1; h <= MAX_HANDLES; h++)
      if (handles[h] == pid) handles[h] = is_ring[h] = 0; // the worker lets go of its pins and pipes first
    send(procs[pid].sock, &q, sizeof q, MSG_NOSIGNAL);
    int gone = await_gone(procs[pid].sock);
    close(procs[pid].sock);
    procs[pid].sock = 0;
    if (gone < 0) return fail("the worker for pid %ld did not exit within 5 s", pid);
    return reply("{\"ok\":true}");
  }
  if (str_is(op, "op", "exec")) q.kind = K_EXEC;
  else if (str_is(op, "op", "pin")) {
    int longterm = str_is(op, "kind", "longterm") && is_true(op, "write");
    if (!str_is(op, "kind", "get") && !(longterm && longterm_ok)) return fail("only GUP references (kind get) and writable longterm pins are offered");
    // vmsplice and io_uring take their references by GUP-fast (get_user_pages_fast, pin_user_pages_fast)
    const char *fast = find_key(op, "fast");
    if (fast && !strncmp(fast, "false", 5)) return fail("references are taken by GUP-fast here (vmsplice, io_uring): a slow-path pin (fast: false) is not offered");
    if (q.page < 0 || q.pages < 1 || q.pages > MAX_SPAN || (long)q.page + q.pages > window || (!longterm && is_true(op, "write"))) return reply("{\"error\":\"EINVAL\"}");
    int h = 1;
    while (h <= MAX_HANDLES && handles[h]) h++;
    if (h > MAX_HANDLES) return fail("more than %d references", MAX_HANDLES);
    q.kind = longterm ? K_LONGTERM : K_GET;
    q.handle = h;
    if (ask(pid, &q, &r) < 0) return;
    if (r.status == S_ERRNO) return reply_errno(r.err);
    handles[h] = (int)pid;
    is_ring[h] = longterm;
    is_range[h] = range;
    span_of[h] = q.pages;
    return reply("{\"handle\":%d}", h);
  }
  else if (str_is(op, "op", "forceRead") || str_is(op, "op", "forceWrite")) {
    if (!force_ok) return fail("forced accesses need feature force (writes through /proc/self/mem are refused here)");
    q.kind = str_is(op, "op", "forceRead") ? K_FREAD : K_FWRITE;
    q.pages = 1;
    if (q.page < 0 || q.page >= window) return reply("{\"error\":\"EINVAL\"}");
    if (q.kind == K_FWRITE) {
      q.cell = (int)num(op, "cell", -1);
      q.value = (int)num(op, "value", 0);
      if (q.cell < 0 || q.cell >= cells) return reply("{\"error\":\"EINVAL\"}");
    }
  }
  else if (str_is(op, "op", "mremap")) {
    // the layer's rules first: no zero length, the window (for a move, the destination's too)
    q.kind = K_MREMAP;
    q.new_pages = (int)num(op, "newPages", -1);
    q.to = find_key(op, "to") ? (int)num(op, "to", -1) : -1;
    long dest = q.to < 0 ? q.page : q.to;
    if (find_key(op, "to") && q.to < 0) return reply("{\"error\":\"EINVAL\"}");
    if (q.page < 0 || q.pages < 1 || q.new_pages < 1 || (long)q.page + q.pages > window || dest + q.new_pages > window)
      return reply("{\"error\":\"EINVAL\"}");
  }
  else if (str_is(op, "op", "read") || str_is(op, "op", "write") || str_is(op, "op", "fill") || str_is(op, "op", "collapse")) {
    q.kind = str_is(op, "op", "read") ? K_READ : str_is(op, "op", "write") ? K_WRITE : str_is(op, "op", "fill") ? K_FILL : K_COLLAPSE;
    if (q.kind != K_READ && q.kind != K_FILL) q.pages = 1;
    if (q.page < 0 || q.pages < 1 || q.pages > MAX_SPAN || (long)q.page + q.pages > window) return reply("{\"error\":\"EINVAL\"}");
    if (q.kind == K_FILL) q.value = (int)num(op, "value", 0);
    if (q.kind == K_WRITE) {
      q.cell = (int)num(op, "cell", -1);
      q.value = (int)num(op, "value", 0);
      if (q.cell < 0 || q.cell >= cells) return reply("{\"error\":\"EINVAL\"}");
    }
  } else {
    // Range ops, checked in the model's order: a file that does not exist, then the window (a zero length is
    // left to the kernel: EINVAL for mmap and munmap, success for mprotect and madvise).
    if (str_is(op, "op", "mmap")) {
      q.kind = K_MMAP;
      q.hugetlb = is_true(op, "hugetlb");
      if (q.hugetlb && (!hugetlb_ok || hugetlb_ensure()))
        return fail(hugetlb_ok ? "opening the hugetlb pool failed: %s" : "a hugetlb mmap needs feature hugetlb%s", hugetlb_ok ? strerror(errno) : "");
      q.disk = is_true(op, "disk");
      if (q.disk && !disk_dir) return fail("a disk file needs feature disk");
      if (num(op, "file", -2) != -2) {
        q.file = (int)num(op, "file", -1);
        if (file_fd(q.file, q.hugetlb, q.disk) < 0) return reply("{\"error\":\"EBADF\"}");
      }
      q.shared = is_true(op, "shared");
      q.prot_rw = str_is(op, "prot", "rw");
    } else if (str_is(op, "op", "munmap")) q.kind = K_MUNMAP;
    else if (str_is(op, "op", "mprotect")) {
      q.kind = K_MPROTECT;
      q.prot_rw = str_is(op, "prot", "rw");
    } else if (str_is(op, "op", "madvise")) {
      q.kind = K_MADVISE;
      q.advice = -1;
      for (int i = 0; i < (int)(sizeof advice_names / sizeof *advice_names); i++)
        if (str_is(op, "advice", advice_names[i])) q.advice = i;
      if (q.advice < 0) return fail("unknown madvise advice");
      if (q.advice == A_PAGEOUT && (!swap_ok || swap_ensure()))
        return fail(swap_ok ? "setting up a zram swap device failed: %s" : "pageout needs the swap feature%s", swap_ok ? strerror(errno) : "");
    } else return fail("an op this agent does not offer");
    if (q.page < 0 || q.pages < 0 || (q.pages > 0 && (long)q.page + q.pages > window)) return reply("{\"error\":\"EINVAL\"}");
  }
  if (ask(pid, &q, &r) < 0) return;
  if (q.kind == K_EXEC) procs[pid].mergeable = 0; // a new mm
  if (q.kind == K_MADVISE && q.advice == A_MERGEABLE && (r.status == S_OK || r.err == ENOMEM)) procs[pid].mergeable = 1;
  switch (r.status) {
    case S_OK: return reply("{\"ok\":true}");
    case S_ERRNO:
      // a hugetlb mapping whose reservation found no pages: the machine's limit, not an answer the model could give
      if (q.kind == K_MMAP && q.hugetlb && r.err == ENOMEM)
        return fail("a hugetlb mmap could not reserve its pages (ENOMEM): the hugetlb pool has no page left");
      return reply_errno(r.err);
    case S_SEGV: return reply("{\"fault\":\"SEGV\"}");
    case S_POOL: return fail("SIGBUS on a hugetlb page: the hugetlb pool has no page left (nr_overcommit_hugepages, or no free 2 MiB block)");
    case S_DATA: return reply_data(data, r.len, range);
    default: return fail("the worker answered status %d", r.status);
  }
}

static long geometry(const char *g, const char *key) {
  const char *p = g ? find_key(g, key) : NULL;
  if (!p) die("COWCHECK_GEOMETRY has no \"%s\" (got %s)", key, g ? g : "nothing");
  return strtol(p, NULL, 10);
}

/** A worker after exec (exec_worker): take back the geometry and the inherited descriptors, answer the exec. */
__attribute__((noreturn)) static void worker_main(char **argv) {
  int sock = -1;
  if (sscanf(argv[2], "%d,%ld,%ld,%ld,%ld", &sock, &page_size, &cells, &window, &huge_pages) != 5) _exit(1);
  pipe_limit();
  for (char *p = argv[3]; *p; p += strcspn(p, ","), p += *p == ',') files[nfiles++] = (int)strtol(p, NULL, 10);
  for (char *p = argv[6]; *p; p += strcspn(p, ","), p += *p == ',') hfiles[nhfiles++] = (int)strtol(p, NULL, 10);
  for (char *p = argv[7]; *p; p += strcspn(p, ","), p += *p == ',') dfiles[ndfiles++] = (int)strtol(p, NULL, 10);
  for (char *p = argv[4]; *p; p += strcspn(p, ","), p += *p == ',') {
    char *at;
    long h = strtol(p, &at, 10);
    if (h < 1 || h > MAX_HANDLES || *at != ':') _exit(1);
    pipe_pages[h] = strtol(at + 1, &at, 10);
    for (int i = 0; *at == ':' && i < MAX_PIPES; i++) {
      pipes[h][i][0] = (int)strtol(at + 1, &at, 10);
      if (*at != ':') _exit(1);
      pipes[h][i][1] = (int)strtol(at + 1, &at, 10);
    }
  }
#ifdef COWCHECK_URING
  for (char *p = argv[5]; *p; p += strcspn(p, ","), p += *p == ',') {
    int h, fd, n = 0;
    unsigned long a;
    long pages;
    if (sscanf(p, "%d:%d:%lx:%ld:%n", &h, &fd, &a, &pages, &n) != 4 || h < 1 || h > MAX_HANDLES) _exit(1);
    ring_pages[h] = pages;
    for (size_t i = 0; i < RING_PARAMS; i++) {
      unsigned byte;
      if (sscanf(p + n + 2 * i, "%2x", &byte) != 1) _exit(1);
      ((unsigned char *)&ring_params[h])[i] = (unsigned char)byte;
    }
    if (io_uring_queue_mmap(fd, &ring_params[h], &rings[h]) < 0) _exit(1);
    rings[h].sq.sqe_head = rings[h].sq.sqe_tail = *rings[h].sq.ktail; // where the old image left the queue
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    ring_addr[h] = a;
  }
#endif
  fcntl(sock, F_SETFD, FD_CLOEXEC);
  private_anon = calloc((size_t)window, 1); // nothing is mapped in a fresh image
  if (!private_anon) _exit(1);
  struct rep r = {.status = S_OK};
  if (send(sock, &r, sizeof r, 0) != (ssize_t)sizeof r) _exit(0);
  worker(sock);
}

// ---- races on the real kernel (docs/races.md): a race program's two threads truly concurrent

struct racer {
  volatile int *stop;
  unsigned char *p;
  size_t len;
  int huge; // the huge zero page race: zap, read back in, read through /proc/self/mem
  int mem;
  long rounds;
};

/** The second thread: MADV_DONTNEED of the range over and over (and, for the huge race, the reads after it). */
static void *zap_loop(void *arg) {
  struct racer *r = arg;
  unsigned char b;
  while (!*r->stop) {
    madvise(r->p, r->len, MADV_DONTNEED);
    if (r->huge) {
      b = *(volatile unsigned char *)r->p; // maps the huge zero page again
      if (pread(r->mem, &b, 1, (off_t)(uintptr_t)r->p) != 1) die("the read through /proc/self/mem failed: %s", strerror(errno)); // a FOLL_TOUCH follow of its PMD
    }
    r->rounds++;
  }
  return NULL;
}

/**
 * --race NAME ATTEMPTS: the race program NAME of fuzz/mm/races.ts with its threads truly concurrent, as LTP's
 * dirtyc0w runs it. The first thread writes the read-only private mapping through /proc/self/mem ATTEMPTS times
 * while the second zaps it; every 1,024 writes (and at the end) the file (dirtyc0w: a memfd page holding 'A') or a
 * second range of the huge zero page (huge-zero-dirty-cow) must still hold what it held. Prints one JSON line.
 */
static int race_main(const char *name, long attempts) {
  long ps = sysconf(_SC_PAGESIZE);
  int huge = !strcmp(name, "huge-zero-dirty-cow");
  if (!huge && strcmp(name, "dirtyc0w")) die("no race named %s here (dirtyc0w, huge-zero-dirty-cow)", name);
  int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  if (mem < 0) die("/proc/self/mem: %s", strerror(errno));
  size_t len = (size_t)ps;
  unsigned char *p, *witness = NULL, b;
  int fd = -1;
  if (huge) {
    long hpage = 0;
    FILE *hf = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
    if (!hf || fscanf(hf, "%ld", &hpage) != 1) die("no THP here (hpage_pmd_size)");
    fclose(hf);
    len = (size_t)hpage;
    unsigned char *area = mmap(NULL, 3 * len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) die("mmap: %s", strerror(errno));
    p = (unsigned char *)(((uintptr_t)area + len - 1) & ~(uintptr_t)(len - 1));
    witness = p + len;
    if (madvise(p, 2 * len, MADV_HUGEPAGE)) die("MADV_HUGEPAGE: %s", strerror(errno));
    b = *(volatile unsigned char *)p;
    b = *(volatile unsigned char *)witness;
  } else {
    fd = memfd_create("cowcheck-race", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, ps) || pwrite(fd, "A", 1, 0) != 1) die("the file: %s", strerror(errno));
    p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) die("mmap: %s", strerror(errno));
  }
  volatile int stop = 0;
  struct racer r = {.stop = &stop, .p = p, .len = len, .huge = huge, .mem = mem};
  pthread_t t;
  if (pthread_create(&t, NULL, zap_loop, &r)) die("pthread_create failed");
  long done = 0, violations = 0;
  const unsigned char poke = 0x2a;
  for (; done < attempts; done++) {
    if (pwrite(mem, &poke, 1, (off_t)(uintptr_t)p) != 1) die("the forced write failed: %s", strerror(errno));
    if ((done & 1023) == 1023 || done == attempts - 1) {
      if (huge ? *(volatile unsigned char *)witness != 0 : pread(fd, &b, 1, 0) != 1 || b != 'A') violations++;
    }
  }
  stop = 1;
  pthread_join(t, NULL);
  printf("{\"race\":\"%s\",\"attempts\":%ld,\"zaps\":%ld,\"violations\":%ld}\n", name, done, r.rounds, violations);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 8 && !strcmp(argv[1], "--worker")) worker_main(argv);
  if (argc == 4 && !strcmp(argv[1], "--race")) return race_main(argv[2], strtol(argv[3], NULL, 10));
  const char *g = getenv("COWCHECK_GEOMETRY");
  page_size = geometry(g, "pageSize");
  cells = geometry(g, "cellsPerPage");
  window = geometry(g, "pages");
  nfiles = geometry(g, "files");
  nhfiles = find_key(g, "hugetlbFiles") ? geometry(g, "hugetlbFiles") : 0; // optional
  ndfiles = find_key(g, "diskFiles") ? geometry(g, "diskFiles") : 0; // optional
  long order = pmd_order = geometry(g, "hugeOrder");
  if (page_size != sysconf(_SC_PAGESIZE)) die("pageSize %ld, but this machine's pages are %ld bytes", page_size, sysconf(_SC_PAGESIZE));
  pipe_limit();
  long hpage = 0;
  FILE *hf = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
  if (hf) {
    if (fscanf(hf, "%ld", &hpage) != 1) hpage = 0;
    fclose(hf);
  }
  huge_pages = 1L << order;
  if (hpage && hpage != huge_pages * page_size) die("hugeOrder %ld, but this machine's PMD-sized pages are %ld bytes (order %d)", order, hpage, __builtin_ctzl((unsigned long)(hpage / page_size)));
  if (cells < 1 || cells > page_size || page_size % cells) die("cellsPerPage %ld must divide pageSize %ld", cells, page_size);
  if (nfiles > MAX_FILES || nhfiles > MAX_FILES || ndfiles > MAX_FILES) die("at most %d files of each kind", MAX_FILES);
  // The window must be free: nothing of the agent's own may sit there.
  void *w = mmap(addr(0), (size_t)window * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (w != addr(0)) die("the window at %p is not free: %s", addr(0), strerror(errno));
  munmap(w, (size_t)window * page_size);
  signal(SIGCHLD, SIG_IGN); // workers are reaped by the kernel
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_CHILD_SUBREAPER, 1); // a worker whose forking worker exited is still ours
  if (hugetlb_offered()) shared_release(&hugetlb_pool); // a killed agent's pool, if nobody uses it
  hugetlb_ok = hugetlb_offered() && window % huge_pages == 0;
  disk_dir = disk_dir_offered();
  make_files();
  private_anon = calloc((size_t)window, 1);
  view_bits = calloc((size_t)window, 1);
  view_pmd = calloc((size_t)window, 1);
  if (!private_anon || !view_bits || !view_pmd) die("out of memory");
  if (ksm_usable()) {
    ksm_recover();
    ksm_seen = ksm_pages_scanned();
  }
  khugepaged_seen = khugepaged_collapsed();
  int thp = thp_top_madvise();
  if (thp) thp_recover(order);
  mthp_ok = thp && thp_offered(order);
  longterm_ok = longterm_offered();
  force_ok = force_offered();
  swap_ok = swap_offered();
  if (swap_ok) shared_release(&swap_device); // a killed agent's device, if nobody uses it
  // One CPU for every worker: a page faulted in waits in that CPU's LRU batch, which only MADV_PAGEOUT's
  // lru_add_drain on the same CPU puts on the LRU, where reclaim finds it.
  cpu_set_t one;
  CPU_ZERO(&one);
  int cpu = sched_getcpu();
  CPU_SET(cpu < 0 ? 0 : cpu, &one);
  sched_setaffinity(0, sizeof one, &one);
  printf("{\"hello\":{\"protocol\":1,\"layer\":\"mm\",\"name\":\"linux\",\"features\":[\"reset\",\"file\",\"gup\",\"range\",\"mremap\"%s%s%s%s%s%s%s%s%s]}}\n",
         thp ? ",\"thp\"" : "", mthp_ok ? ",\"mthp\"" : "", ksm_offered() ? ",\"ksm\"" : "", pagemap_offered() ? ",\"pagemap\"" : "",
         longterm_ok ? ",\"longterm\"" : "", swap_ok ? ",\"swap\"" : "", hugetlb_ok ? ",\"hugetlb\"" : "", disk_dir ? ",\"disk\"" : "",
         force_ok ? ",\"force\"" : "");
  fflush(stdout);
  char *line = NULL;
  size_t cap = 0;
  struct sigaction stop = {0};
  stop.sa_handler = on_stop; // no SA_RESTART: a read waiting for the next request returns
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGINT, &stop, NULL);
  sigaction(SIGHUP, &stop, NULL);
  while (!stop_requested && getline(&line, &cap, stdin) > 0) {
    id = num(line, "id", -1);
    const char *op = strstr(line, "\"op\":{");
    if (op) {
      // a sequence that set a THP policy has the knobs to itself for each of its ops (another such run waits);
      // other ops take no lock, so a run without a policy never waits on one with it (docs/linux.md: run mthp
      // campaigns alone on a machine when others compare structure)
      if (thp && thp_wants) {
        if (thp_apply(pmd_order)) fail("setting the THP policy failed: %s", errno == ETIMEDOUT ? "another run held the knobs over 8 s" : strerror(errno));
        else {
          // the reply goes out once the knobs are back: the next op (of any run) never meets this one's policy
          hold_replies = 1;
          do_op(op + 5);
          thp_unapply();
          hold_replies = 0;
          fflush(stdout);
        }
      } else
        do_op(op + 5);
    } else if (find_key(line, "reset")) {
      kill_all();
      memset(thp_want, 0, sizeof thp_want); // the next sequence starts from the model's starting point
      thp_wants = 0;
      make_files();
      printf("{\"id\":%ld,\"ok\":true}\n", id);
      fflush(stdout);
    } else if (str_is(line, "inspect", "pagemap")) view();
    else if (find_key(line, "bye")) break;
    else fail("a request this agent does not understand");
  }
  kill_all();
  shared_release(&swap_device);
  shared_release(&hugetlb_pool);
  return 0;
}
