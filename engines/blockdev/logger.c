/* The block-device logger of engines/blockdev: a libfuse3 file system whose one disk file a loop device stands on,
 * logging every write and fsync the loop device sends, in the order they arrive (CrashMonkey's block-level
 * recording in user space: this kernel has no dm-log-writes). cowcheck builds it on first use (engines/blockdev).
 *
 * Usage: logger MOUNTPOINT IMAGE SIZE_BYTES LOG
 *   MOUNTPOINT/disk  a regular file of SIZE_BYTES backed by IMAGE (created, or truncated, to SIZE_BYTES of zeros),
 *                    opened direct_io: no page cache sits between the loop device and this program.
 *   MOUNTPOINT/mark  each write(2) to it appends a mark record holding the bytes written, less one trailing newline.
 * It runs in the foreground and single-threaded (fuse_main with -s -f), prints "ready\n" on stdout once the kernel
 * has initialised the mount, and ends on unmount, on SIGTERM/SIGINT/SIGHUP, and 10 s after the end of its standard
 * input (a pipe from its parent: the parent's death, SIGKILL included, closes it; the delay lets the parent's watchdog
 * detach the loop device first, so that what stands on it is unmounted without I/O errors). On a signal or the end of
 * input libfuse unmounts lazily on the way out. (Not PR_SET_PDEATHSIG: it fires at once, and when the spawning thread
 * ends rather than the process.)
 *
 * LOG is created (or truncated); records are appended with write(2) as the requests arrive (not fsynced: readers on
 * this machine see a record once the request that made it has been answered). Each record is a 24-byte header in
 * little-endian byte order, then its data:
 *   u32 kind, u32 flags, u64 offset, u64 length
 *   kind 1 write  `length` bytes written to disk at `offset`; the bytes follow.
 *   kind 2 flush  fsync of disk (the loop device's flush); flags 1 for fdatasync; offset and length 0.
 *   kind 3 mark   `length` bytes of label follow; offset 0.
 *   kind 4 zero   fallocate punch-hole or zero-range of disk (the loop's discard or write-zeroes): [offset,
 *                 offset + length) reads as zeros afterwards; no data.
 */
#define FUSE_USE_VERSION 35
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the log is little-endian: write the header fields byte-swapped here"
#endif

enum { REC_WRITE = 1, REC_FLUSH = 2, REC_MARK = 3, REC_ZERO = 4 };
enum { GRACE_SECONDS = 10 };

struct header {
  uint32_t kind, flags;
  uint64_t offset, length;
};

static int image_fd = -1, log_fd = -1;
static uint64_t disk_size;
static pthread_t loop_thread;

/* Append a record: header and data with one writev, continued if the kernel takes less. */
static int append(uint32_t kind, uint32_t flags, uint64_t offset, uint64_t length, const void *data, size_t n) {
  struct header h = {kind, flags, offset, length};
  struct iovec iov[2] = {{&h, sizeof h}, {(void *)data, n}};
  struct iovec *v = iov;
  int count = n ? 2 : 1;
  while (count > 0) {
    ssize_t done = writev(log_fd, v, count);
    if (done < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    while (count > 0 && (size_t)done >= v->iov_len) {
      done -= (ssize_t)v->iov_len;
      v++;
      count--;
    }
    if (count > 0) {
      v->iov_base = (char *)v->iov_base + done;
      v->iov_len -= (size_t)done;
    }
  }
  return 0;
}

enum file { NONE, ROOT, DISK, MARK };

static enum file which(const char *path) {
  if (strcmp(path, "/") == 0) return ROOT;
  if (strcmp(path, "/disk") == 0) return DISK;
  if (strcmp(path, "/mark") == 0) return MARK;
  return NONE;
}

/* The end of standard input: after a grace period in which the parent's watchdog may detach the loop device and
 * unmount (ending this program cleanly), stop the loop as SIGTERM does (libfuse's handler ends the session). */
static void *watch_input(void *unused) {
  (void)unused;
  char buf[256];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
  sleep(GRACE_SECONDS);
  pthread_kill(loop_thread, SIGTERM);
  return NULL;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn, (void)cfg;
  /* Called in the loop's thread once libfuse's signal handlers are in place: the watcher may signal it now. It
   * starts with the stop signals blocked, so that a SIGTERM sent to the process interrupts the loop's read. */
  loop_thread = pthread_self();
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  pthread_t watcher;
  if (pthread_create(&watcher, NULL, watch_input, NULL) == 0) pthread_detach(watcher);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (write(1, "ready\n", 6) != 6) perror("logger: stdout");
  return NULL;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  memset(st, 0, sizeof *st);
  st->st_uid = getuid();
  st->st_gid = getgid();
  switch (which(path)) {
    case ROOT:
      st->st_mode = S_IFDIR | 0755;
      st->st_nlink = 2;
      return 0;
    case DISK:
      st->st_mode = S_IFREG | 0600;
      st->st_nlink = 1;
      st->st_size = (off_t)disk_size;
      return 0;
    case MARK:
      st->st_mode = S_IFREG | 0200;
      st->st_nlink = 1;
      return 0;
    default:
      return -ENOENT;
  }
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
  (void)off, (void)fi, (void)flags;
  if (which(path) != ROOT) return -ENOTDIR;
  fill(buf, ".", NULL, 0, 0);
  fill(buf, "..", NULL, 0, 0);
  fill(buf, "disk", NULL, 0, 0);
  fill(buf, "mark", NULL, 0, 0);
  return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi) {
  enum file f = which(path);
  if (f != DISK && f != MARK) return -ENOENT;
  fi->direct_io = 1;
  return 0;
}

/* O_TRUNC on mark (a shell's `>`): nothing to truncate. The disk keeps its size. */
static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  (void)fi;
  enum file f = which(path);
  if (f == MARK) return 0;
  if (f == DISK) return (uint64_t)size == disk_size ? 0 : -EPERM;
  return -ENOENT;
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  if (which(path) != DISK) return 0;
  if ((uint64_t)off >= disk_size) return 0;
  if (size > disk_size - (uint64_t)off) size = disk_size - (uint64_t)off;
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(image_fd, buf + done, size - done, off + (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    done += (size_t)n;
  }
  return (int)done;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  switch (which(path)) {
    case MARK: {
      size_t n = size > 0 && buf[size - 1] == '\n' ? size - 1 : size;
      int r = append(REC_MARK, 0, 0, n, buf, n);
      return r < 0 ? r : (int)size;
    }
    case DISK:
      break;
    default:
      return -ENOENT;
  }
  if ((uint64_t)off > disk_size || size > disk_size - (uint64_t)off) return -ENOSPC;
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(image_fd, buf + done, size - done, off + (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    done += (size_t)n;
  }
  int r = append(REC_WRITE, 0, (uint64_t)off, size, buf, size);
  return r < 0 ? r : (int)size;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)fi;
  if (which(path) != DISK) return 0;
  return append(REC_FLUSH, datasync ? 1 : 0, 0, 0, NULL, 0);
}

static int op_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi) {
  (void)fi;
  if (which(path) != DISK) return -EOPNOTSUPP;
  if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))) return -EOPNOTSUPP;
  if (off < 0 || len <= 0 || (uint64_t)off > disk_size || (uint64_t)len > disk_size - (uint64_t)off) return -EINVAL;
  if (fallocate(image_fd, mode | FALLOC_FL_KEEP_SIZE, off, len) < 0) return -errno;
  return append(REC_ZERO, 0, (uint64_t)off, (uint64_t)len, NULL, 0);
}

static const struct fuse_operations ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .truncate = op_truncate,
    .read = op_read,
    .write = op_write,
    .fsync = op_fsync,
    .fallocate = op_fallocate,
};

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s MOUNTPOINT IMAGE SIZE_BYTES LOG\n", argv[0]);
    return 2;
  }
  char *end;
  errno = 0;
  unsigned long long size = strtoull(argv[3], &end, 10);
  if (errno || *end || size == 0) {
    fprintf(stderr, "logger: bad size %s\n", argv[3]);
    return 2;
  }
  disk_size = size;
  image_fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (image_fd < 0 || ftruncate(image_fd, (off_t)size) < 0) {
    fprintf(stderr, "logger: image %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  log_fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    fprintf(stderr, "logger: log %s: %s\n", argv[4], strerror(errno));
    return 1;
  }
  char *args[] = {argv[0], "-s", "-f", "-o", "fsname=cowcheck-blockdev,subtype=cowcheck-blockdev", argv[1], NULL};
  return fuse_main(6, args, &ops, NULL);
}
